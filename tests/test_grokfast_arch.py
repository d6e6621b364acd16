"""The `grokfast` arch: ironjr/grokfast main.py's decoder (pre-LN as its Block writes it, GELU MLP, final LayerNorm,
bias-free head), checked against a plain single-model reference built from one member's weights."""

import math

import pytest
import torch
import torch.nn.functional as F
from conftest import tiny_config

from grokscope import get_preset, train
from grokscope import metric_names as names
from grokscope.errors import ConfigError
from grokscope.models import Ensemble
from grokscope.tasks import inputs_and_targets


def _grokfast_config(**changes):
    return tiny_config(**{"task": "x*y", "arch": "grokfast", "n_layers": 2, **changes})


def _reference_logits(w: dict[str, torch.Tensor], tokens: torch.Tensor, n_layers: int, n_heads: int) -> torch.Tensor:
    """[N, d_vocab_out] logits at the last position of Grokfast's decoder, one model, sequence first as its code.

    w: one member's parameters under grokscope's names, turned back into torch's [out, in] module weights.
    """
    x = tokens.T  # [pos, N]
    n_pos, d = x.shape[0], w["embed.W_E"].shape[1]
    h = F.embedding(x, w["embed.W_E"]) + w["pos_embed.W_pos"][:n_pos, None]  # [pos, N, d_model]
    mask = torch.full((n_pos, n_pos), -math.inf, dtype=h.dtype).triu(1)
    for layer in range(n_layers):
        pre = f"blocks.{layer}"
        h = F.layer_norm(h, (d,), w[f"{pre}.ln1.w"], w[f"{pre}.ln1.b"])  # Grokfast: x = self.ln_1(x)
        in_proj = torch.cat([w[f"{pre}.attn.W_{n}"].transpose(1, 2).reshape(d, d) for n in "QKV"])  # [3 d_model, d_model]
        in_bias = torch.cat([w[f"{pre}.attn.b_{n}"].reshape(d) for n in "QKV"])
        out_proj = w[f"{pre}.attn.W_O"].reshape(d, d).T  # [d_model, n_heads d_head]
        a, _ = F.multi_head_attention_forward(h, h, h, d, n_heads, in_proj, in_bias, None, None, False, 0.0,
                                              out_proj, w[f"{pre}.attn.b_O"], training=False, need_weights=False,
                                              attn_mask=mask)
        h = h + a
        m = F.layer_norm(h, (d,), w[f"{pre}.ln2.w"], w[f"{pre}.ln2.b"])
        m = F.linear(F.gelu(F.linear(m, w[f"{pre}.mlp.W_in"].T, w[f"{pre}.mlp.b_in"])), w[f"{pre}.mlp.W_out"].T,
                     w[f"{pre}.mlp.b_out"])
        h = h + m
    h = F.layer_norm(h, (d,), w["ln_final.w"], w["ln_final.b"])
    return F.linear(h, w["unembed.W_U"].T)[-1]  # head: bias-free


def test_member_equals_single_model_reference():
    """Member e of an E=2 float64 ensemble gives the logits of a hand-written Grokfast decoder from its weights."""
    config = _grokfast_config(seeds=(3, 4))
    model = Ensemble.create(config)
    g = torch.Generator().manual_seed(0)
    for tensor in model.params.values():  # every parameter away from its init, so each mapping is exercised
        tensor.data.copy_(torch.randn(tensor.shape, generator=g, dtype=tensor.dtype) * 0.5 + 0.1)
    inputs, _, readout = inputs_and_targets(config.table(), "a op b =")
    assert readout == (3,) and inputs[0].tolist() == [0, 14, 0, 13]  # a op b =, op p + 1, = p
    logits = model.logits(inputs)  # [E, N, 1, d_vocab]
    assert logits.shape == (2, 169, 1, 15)
    for e in range(2):
        expected = _reference_logits(model.member(e), inputs, n_layers=2, n_heads=4)
        torch.testing.assert_close(logits[e, :, 0], expected, rtol=1e-10, atol=1e-10)


def test_member_of_ensemble_equals_lone_model():
    config = _grokfast_config(seeds=(5, 6))
    inputs, _, _ = inputs_and_targets(config.table(), "a op b =")
    ensemble = Ensemble.create(config)
    ensemble.logits(inputs).sum().backward()
    lone = Ensemble.create(config.replace(seeds=(6,)))
    lone.logits(inputs).sum().backward()
    torch.testing.assert_close(ensemble.logits(inputs)[1:], lone.logits(inputs), rtol=1e-12, atol=1e-12)
    for name, param in lone.trainable().items():
        torch.testing.assert_close(ensemble.params[name].grad[1:], param.grad, rtol=1e-10, atol=1e-12)


class _Block(torch.nn.Module):
    def __init__(self, d: int, n_heads: int):
        super().__init__()
        self.ln_1, self.ln_2 = torch.nn.LayerNorm(d), torch.nn.LayerNorm(d)
        self.attn = torch.nn.MultiheadAttention(d, n_heads)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(d, 4 * d), torch.nn.GELU(), torch.nn.Linear(4 * d, d))


def test_init_draws_what_grokfasts_modules_draw():
    """Member s's float32 weights are the ones torch's modules draw after manual_seed(s), in Grokfast's order."""
    config = _grokfast_config(seeds=(11,), param_dtype="float32", d_mlp=64)  # Grokfast: d_mlp = 4 d_model
    params = Ensemble.create(config).member(0)
    d, n_vocab = 16, 15
    with torch.random.fork_rng():
        torch.manual_seed(11)
        tok, pos = torch.nn.Embedding(n_vocab, d), torch.nn.Embedding(5, d)  # Grokfast: seq_len 5
        blocks = [_Block(d, 4) for _ in range(2)]
        torch.nn.LayerNorm(d)
        head = torch.nn.Linear(d, n_vocab, bias=False)
    assert torch.equal(params["embed.W_E"], tok.weight.detach())
    assert torch.equal(params["pos_embed.W_pos"], pos.weight.detach()[:4])
    for layer, block in enumerate(blocks):
        pre = f"blocks.{layer}"
        q, k, v = block.attn.in_proj_weight.detach().chunk(3)
        for name, w in zip("QKV", (q, k, v)):
            assert torch.equal(params[f"{pre}.attn.W_{name}"], w.reshape(4, 4, d).transpose(1, 2))
            assert not params[f"{pre}.attn.b_{name}"].any()
        assert torch.equal(params[f"{pre}.attn.W_O"], block.attn.out_proj.weight.detach().T.reshape(4, 4, d))
        assert not params[f"{pre}.attn.b_O"].any()
        assert torch.equal(params[f"{pre}.mlp.W_in"], block.mlp[0].weight.detach().T)
        assert torch.equal(params[f"{pre}.mlp.b_in"], block.mlp[0].bias.detach())
        assert torch.equal(params[f"{pre}.mlp.W_out"], block.mlp[2].weight.detach().T)
        assert torch.equal(params[f"{pre}.mlp.b_out"], block.mlp[2].bias.detach())
        assert torch.equal(params[f"{pre}.ln1.w"], torch.ones(d))
    assert torch.equal(params["unembed.W_U"], head.weight.detach().T)
    assert "unembed.b_U" not in params


def test_standard_pre_ln_keeps_the_raw_stream():
    """normalization "pre" adds attention to the un-normalized stream; "pre_grokfast" to LN1(x)."""
    config = _grokfast_config(seeds=(0,), n_layers=1)
    inputs, _, _ = inputs_and_targets(config.table(), "a op b =")
    grokfast = Ensemble.create(config)
    _, cache = grokfast.run_with_cache(inputs)
    torch.testing.assert_close(cache["blocks.0.hook_resid_mid"],
                               cache["blocks.0.ln1.hook_normalized"] + cache["blocks.0.hook_attn_out"])
    standard = Ensemble.create(config.replace(normalization="pre"))
    _, cache = standard.run_with_cache(inputs)
    torch.testing.assert_close(cache["blocks.0.hook_resid_mid"],
                               cache["blocks.0.hook_resid_pre"] + cache["blocks.0.hook_attn_out"])


@pytest.mark.parametrize("arch, normalization", [("nanda", "pre"), ("nanda", "pre_grokfast"), ("mlp", "pre")])
def test_pre_ln_refused_where_the_arch_has_no_layernorm(arch, normalization):
    with pytest.raises(ConfigError, match=r"^normalization: ") as error:
        tiny_config(arch=arch, normalization=normalization)
    assert "\n" not in str(error.value)


def test_preset_is_grokfasts_setting():
    config = get_preset("grokfast2024")
    assert (config.task, config.p, config.frac, config.arch, config.optimizer) == ("x*y", 97, 0.5, "grokfast", "adam")
    assert (config.grokfast, config.per_member("grokfast_alpha"), config.per_member("grokfast_lamb"), config.wd) == ("ema", (0.98,), (2.0,), 0.005)
    assert (config.resolved("normalization"), config.resolved("act_fn"), config.resolved("d_mlp")) == ("pre_grokfast", "gelu", 512)
    assert config.table().n_pairs == 97 * 97  # y = 0 kept; Grokfast's data has 97 * 96 (docs/levers.md)


def test_short_training_lowers_the_loss(tmp_path):
    """20 full-batch steps of the preset's optimizer and filter (float32 loss) on x*y mod 13."""
    config = _grokfast_config(seeds=(0, 1), optimizer="adam", wd=0.005, lr=1e-2, grokfast="ema", loss_dtype="float32",
                              max_steps=20, eval_every=10, instruments=False, collapse_diagnostics=False)
    run = train(config, tmp_path)
    steps, by_member = run.metrics().series(names.TRAIN_LOSS)
    for e in (0, 1):
        losses = [by_member[e][steps.index(step)] for step in (0, 10, 20)]
        assert losses[0] > losses[1] > losses[2] and losses[2] < 0.95 * losses[0], losses


def test_reproduction_specs_expand_to_their_arms():
    from grokscope.sweep import load_spec

    cells = load_spec("grokfast-decomposed").cells()
    arms = {(c.config.grokfast, c.config.per_member("grokfast_lamb")[0], c.config.per_member("wd")[0]) for c in cells}
    assert arms == {("ema", 0.0, 0.0), ("ema", 0.0, 0.005), ("ema", 0.0, 0.01), ("ema", 2.0, 0.005), ("ma", 5.0, 0.01)}
    assert len(cells) == 40 and all(c.config.arch == "grokfast" and c.config.generalize_acc == 0.95 for c in cells)
    for name in ("grokfast-decomposed-cpu", "nanda-decay-fraction", "nanda-decay-fraction-cpu", "no-decay-stablemax"):
        assert load_spec(name).cells()
