"""The factorized fast path (models/fast.py) against the generic forward, logits and gradients, in float64."""

from __future__ import annotations

import pytest
import torch

from grokscope import RunConfig
from grokscope.models import Ensemble
from grokscope.models.fast import fast_last_logits, supports_fast_path
from grokscope.models.forward import Params, transformer_logits

N_PAIRS = 20


def _model(g: torch.Generator, **changes) -> Ensemble:
    """E = 3, p = 13; every bias filled with small random values so that each one matters."""
    config = RunConfig(p=13, seeds=(0, 1, 2), d_model=16, n_heads=4, d_mlp=32, param_dtype="float64", **changes)
    model = Ensemble.create(config)
    with torch.no_grad():
        for name, tensor in model.params.items():
            if name.rsplit(".", 1)[-1].startswith("b_"):
                tensor.copy_(0.1 * torch.randn(tensor.shape, generator=g, dtype=tensor.dtype))
    return model


def _operands(model: Ensemble, g: torch.Generator, shared: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """a, b: [N] shared by all members or [E, N] per member, drawn from the operand tokens."""
    shape = (N_PAIRS,) if shared else (model.n_members, N_PAIRS)
    n_operands = model.spec.d_vocab - 1  # the last token is `=`
    return torch.randint(0, n_operands, shape, generator=g), torch.randint(0, n_operands, shape, generator=g)


def _logits_and_grads(params: Params, logits: torch.Tensor, cotangent: torch.Tensor) -> tuple[torch.Tensor, dict]:
    trainable = {name: t for name, t in params.items() if t.requires_grad}
    # No allow_unused: a trainable parameter the path leaves out (b_K, whose gradient is exactly 0)
    # would get no gradient and so no weight decay.
    grads = torch.autograd.grad((logits * cotangent).sum(), list(trainable.values()))
    return logits.detach(), dict(zip(trainable, grads))


def _compare(model: Ensemble, params: Params, g: torch.Generator, shared: bool) -> None:
    a, b = _operands(model, g, shared)
    equals = model.spec.d_vocab - 1
    tokens = torch.stack((a, b, torch.full_like(a, equals)), dim=-1)  # [N, 3] or [E, N, 3]
    cotangent = torch.randn(model.n_members, N_PAIRS, 1, model.spec.d_vocab_out, generator=g, dtype=torch.float64)
    ref, ref_grads = _logits_and_grads(params, transformer_logits(params, model.spec, tokens), cotangent)
    out, grads = _logits_and_grads(params, fast_last_logits(params, model.spec, a, b, equals), cotangent)
    assert out.shape == (model.n_members, N_PAIRS, 1, model.spec.d_vocab_out)
    torch.testing.assert_close(out, ref, rtol=1e-12, atol=1e-12)
    scale = max(float(grad.abs().max()) for grad in ref_grads.values())
    for name, grad in ref_grads.items():
        torch.testing.assert_close(grads[name], grad, rtol=1e-10, atol=1e-12 * scale, msg=lambda m, name=name: f"{name}: {m}")


@pytest.mark.parametrize("shared", [False, True], ids=["per_member_tokens", "shared_tokens"])
@pytest.mark.parametrize(
    ("init", "train_biases"),
    [("nanda2023", True), ("transformer_lens", True), ("transformer_lens", False)],
    ids=["nanda_mlp_biases", "all_biases_trained", "biases_frozen"],
)
def test_fast_path_matches_generic_forward(init: str, train_biases: bool, shared: bool):
    g = torch.Generator().manual_seed(0)
    model = _model(g, init=init, train_biases=train_biases)
    assert supports_fast_path(model.spec)
    trained = {name.rsplit(".", 1)[-1] for name, t in model.params.items() if t.requires_grad and ".b_" in name}
    expected = {"transformer_lens": {"b_Q", "b_K", "b_V", "b_O", "b_in", "b_out", "b_U"}, "nanda2023": {"b_in", "b_out"}}
    assert trained == (expected[init] if train_biases else set())
    _compare(model, model.params, g, shared)


@pytest.mark.parametrize("shared", [False, True], ids=["per_member_tokens", "shared_tokens"])
def test_fast_path_without_bias_tensors(shared: bool):
    g = torch.Generator().manual_seed(1)
    model = _model(g, init="transformer_lens")
    params = {name: t for name, t in model.params.items() if ".b_" not in name}
    _compare(model, params, g, shared)


def test_fast_path_other_activation():
    g = torch.Generator().manual_seed(2)
    model = _model(g, init="transformer_lens", act_fn="gelu")
    _compare(model, model.params, g, shared=False)


def test_ensemble_logits_take_the_fast_path(monkeypatch):
    g = torch.Generator().manual_seed(3)
    model = _model(g, init="nanda2023")
    a, b = _operands(model, g, shared=False)
    tokens = torch.stack((a, b, torch.full_like(a, model.spec.d_vocab - 1)), dim=-1)  # [E, N, 3]
    calls = []
    import grokscope.models.ensemble as ensemble

    monkeypatch.setattr(ensemble, "fast_last_logits", lambda *args, **kw: calls.append(1) or fast_last_logits(*args, **kw))
    with torch.no_grad():
        torch.testing.assert_close(model.logits(tokens), transformer_logits(model.params, model.spec, tokens))
    assert calls == [1]
