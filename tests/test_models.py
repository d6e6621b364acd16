import pytest
import torch
from conftest import tiny_config

from grokscope.models import Ensemble
from grokscope.models.forward import transformer_logits
from grokscope.tasks import inputs_and_targets


def _tokens(config):
    inputs, targets, _ = inputs_and_targets(config.table(), config.resolved("layout"))
    return inputs, targets


@pytest.mark.parametrize("arch", ["nanda", "power", "mlp"])
def test_member_of_ensemble_equals_lone_model(arch):
    """Member e of an E=3 ensemble computes the same logits and gradients as an E=1 model of its seed."""
    config = tiny_config(arch=arch, seeds=(4, 5, 6))
    inputs, targets = _tokens(config)
    rows = torch.randint(0, inputs.shape[0], (3, 40), generator=torch.Generator().manual_seed(0))
    ensemble = Ensemble.create(config)
    logits = ensemble.logits(inputs[rows])
    logits.sum().backward()
    for e, seed in enumerate(config.seeds):
        lone = Ensemble.create(config.replace(seeds=(seed,)))
        lone_logits = lone.logits(inputs[rows[e : e + 1]])
        lone_logits.sum().backward()
        torch.testing.assert_close(logits[e : e + 1], lone_logits, rtol=1e-12, atol=1e-12)
        for name, param in lone.trainable().items():
            torch.testing.assert_close(ensemble.params[name].grad[e : e + 1], param.grad, rtol=1e-10, atol=1e-12)


def test_shapes_follow_transformer_lens():
    config = tiny_config(seeds=(0, 1))
    params = Ensemble.create(config).params
    e, d, h, m, v = 2, 16, 4, 32, 14
    expected = {"embed.W_E": (e, v, d), "pos_embed.W_pos": (e, 3, d), "blocks.0.attn.W_Q": (e, h, d, d // h),
                "blocks.0.attn.W_O": (e, h, d // h, d), "blocks.0.attn.b_Q": (e, h, d // h), "blocks.0.mlp.W_in": (e, d, m),
                "blocks.0.mlp.b_in": (e, m), "blocks.0.mlp.W_out": (e, m, d), "unembed.W_U": (e, d, v), "unembed.b_U": (e, v)}
    for name, shape in expected.items():
        assert tuple(params[name].shape) == shape, name


def test_biases_train_as_the_code_they_follow():
    nanda = Ensemble.create(tiny_config(init="nanda2023"))
    assert {n for n, t in nanda.params.items() if ".b_" in n and t.requires_grad} == {"blocks.0.mlp.b_in", "blocks.0.mlp.b_out"}
    tl = Ensemble.create(tiny_config(init="transformer_lens", train_biases=False))
    assert not any(t.requires_grad for n, t in tl.params.items() if ".b_" in n)


def test_cache_has_named_activations():
    config = tiny_config(seeds=(0, 1))
    inputs, _ = _tokens(config)
    model = Ensemble.create(config)
    logits, cache = model.run_with_cache(inputs)
    n = inputs.shape[0]
    assert cache["blocks.0.attn.hook_pattern"].shape == (2, n, 4, 3, 3)
    assert cache["blocks.0.mlp.hook_post"].shape == (2, n, 3, 32)
    assert cache["blocks.0.hook_resid_post"].shape == (2, n, 3, 16)
    assert torch.allclose(cache["blocks.0.attn.hook_pattern"].sum(-1), torch.ones(()).double())
    assert (cache["blocks.0.attn.hook_pattern"].triu(1) == 0).all()  # causal
    torch.testing.assert_close(logits, model.logits(inputs))  # the fast path agrees with the cached one


def test_fast_path_matches_generic_forward_on_all_pairs():
    config = tiny_config(seeds=(0, 1, 2))
    inputs, _ = _tokens(config)
    model = Ensemble.create(config)
    torch.testing.assert_close(model.logits(inputs), transformer_logits(model.params, model.spec, inputs))


def test_power_model_scores_right_hand_side():
    config = tiny_config(arch="power", task="x-y", p=7)
    inputs, targets = _tokens(config)
    logits = Ensemble.create(config).logits(inputs)
    assert logits.shape == (1, 49, 2, 10)  # c and <eos>, over 7 elements + = op eos
    assert targets.shape == (49, 2)


def test_nanda_init_scales():
    config = tiny_config(p=113, d_model=128, d_mlp=512, param_dtype="float32")
    params = Ensemble.create(config).params
    assert abs(params["embed.W_E"].std().item() - 128**-0.5) < 0.01
    assert abs(params["unembed.W_U"].std().item() - 114**-0.5) < 0.01
    assert params["blocks.0.mlp.b_in"].abs().max() == 0


def _reference_nanda_logits(params, tokens):
    """One member of Nanda et al.'s model written independently: plain loops over heads, -inf causal mask."""
    x = params["embed.W_E"][tokens] + params["pos_embed.W_pos"][: tokens.shape[1]]  # [N, pos, d]
    n_heads = params["blocks.0.attn.W_Q"].shape[0]
    out = torch.zeros_like(x)
    for h in range(n_heads):
        q = x @ params["blocks.0.attn.W_Q"][h] + params["blocks.0.attn.b_Q"][h]
        k = x @ params["blocks.0.attn.W_K"][h] + params["blocks.0.attn.b_K"][h]
        v = x @ params["blocks.0.attn.W_V"][h] + params["blocks.0.attn.b_V"][h]
        scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
        scores = scores + torch.full_like(scores[0], float("-inf")).triu(1)
        out = out + scores.softmax(-1) @ v @ params["blocks.0.attn.W_O"][h]
    x = x + out + params["blocks.0.attn.b_O"]
    hidden = torch.relu(x @ params["blocks.0.mlp.W_in"] + params["blocks.0.mlp.b_in"])
    x = x + hidden @ params["blocks.0.mlp.W_out"] + params["blocks.0.mlp.b_out"]
    return (x @ params["unembed.W_U"] + params["unembed.b_U"])[:, -1]


def test_nanda_forward_matches_an_independent_implementation():
    config = tiny_config(seeds=(3,), init="transformer_lens")
    model = Ensemble.create(config)
    with torch.no_grad():  # biases non-zero so that every term is checked
        for name, tensor in model.params.items():
            if ".b_" in name:
                tensor.copy_(0.1 * torch.randn(tensor.shape, generator=torch.Generator().manual_seed(1), dtype=tensor.dtype))
    inputs, _ = _tokens(config)
    expected = _reference_nanda_logits(model.member(0), inputs)
    torch.testing.assert_close(transformer_logits(model.params, model.spec, inputs)[0, :, 0], expected)
    torch.testing.assert_close(model.logits(inputs)[0, :, 0], expected)  # the fast path too


def test_attention_rate_zero_is_uniform_attention_on_both_paths():
    config = tiny_config(seeds=(0, 1), attention_rate=0.0)
    model = Ensemble.create(config)
    inputs, _ = _tokens(config)
    logits, cache = model.run_with_cache(inputs)
    pattern = cache["blocks.0.attn.hook_pattern"][:, :, :, 2]  # the `=` query
    torch.testing.assert_close(pattern, torch.full_like(pattern, 1 / 3))
    torch.testing.assert_close(model.logits(inputs), logits)
    half = Ensemble.create(config.replace(attention_rate=0.5))
    torch.testing.assert_close(half.logits(inputs), transformer_logits(half.params, half.spec, inputs))
