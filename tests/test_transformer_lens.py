"""TransformerLens both ways, against the real package (transformer-lens 3.9.0, the test extra): a member as a
HookedTransformer, `grokscope export --to transformer-lens`, and `from_transformer_lens` back into a run."""

from __future__ import annotations

import json
import math

import pytest
import torch
import transformer_lens  # the test extra pins 3.9.0
from typer.testing import CliRunner

from grokscope import from_transformer_lens, get_preset, load, train
from grokscope.cli import app
from grokscope.dataset import RunData
from grokscope.errors import ConfigError

runner = CliRunner()
# transformer-lens 3.9.0 warns that 4.0 removes HookedTransformer (docs/bridges.md).
pytestmark = pytest.mark.filterwarnings("ignore:HookedTransformer is deprecated:DeprecationWarning")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Two members of the tiny preset (nanda arch, biases as Nanda et al.'s code trains them) after 150 steps."""
    return train(get_preset("tiny").replace(seeds=(7, 3), max_steps=150, checkpoints=3, device="cpu"),
                 tmp_path_factory.mktemp("tl"))


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal values, -inf (masked attention scores) where the other has -inf."""
    return a.shape == b.shape and torch.equal(torch.isfinite(a), torch.isfinite(b)) and \
        bool((a[torch.isfinite(a)] - b[torch.isfinite(b)]).abs().max() <= 1e-5)


def test_every_member_is_a_hooked_transformer_with_grokscopes_logits_and_activations(tiny_run):
    tokens = RunData.build(tiny_run.config, torch.device("cpu")).inputs  # every pair, [N, 3]
    logits, cache = tiny_run.model().run_with_cache(tokens)  # [E, N, 1, d_vocab_out]; hooks [E, N, ...]
    for e in range(tiny_run.config.n_members):
        model = tiny_run.hooked_transformer(member=e)
        assert isinstance(model, transformer_lens.HookedTransformer) and model.cfg.normalization_type is None
        tl_logits, tl_cache = model.run_with_cache(tokens)  # [N, 3, d_vocab_out]
        torch.testing.assert_close(tl_logits[:, -1], logits[e, :, 0], rtol=0, atol=1e-5)
        hooks = [name for name in cache if name != "logits"]
        assert len(hooks) == 15 and "blocks.0.attn.hook_pattern" in hooks and "blocks.0.mlp.hook_post" in hooks
        for name in hooks:
            assert name in tl_cache, name
            assert _same(cache[name][e], tl_cache[name]), name


def test_export_and_import_round_trip_to_identical_instruments(tiny_run, tmp_path):
    step = tiny_run.checkpoint_steps()[-1]
    target = tmp_path / "member1.safetensors"
    result = runner.invoke(app, ["export", str(tiny_run.path), "--to", "transformer-lens", "--member", "1",
                                 "--out", str(target)])
    assert result.exit_code == 0, result.output
    side = json.loads(target.with_suffix(".json").read_text())
    assert side["source"] == {**side["source"], "member": 1, "step": step} and side["hooked_transformer_config"]["d_model"] == 32
    config = tiny_run.config
    back = from_transformer_lens(target, task="x+y", p=config.p, frac=config.frac, symmetric_split=True, seeds=(3,),
                                 init="nanda2023", step=step, out=tmp_path / "runs")
    assert back.provenance["imported_from"] == "transformer_lens" and back.status()["stop_reason"] == "imported"
    for name, tensor in back.model().params.items():
        assert torch.equal(tensor[0], tiny_run.model().params[name][1]), name
    with back.metrics() as ours, tiny_run.metrics() as theirs:
        imported = {(s, n): v for _, s, n, v in ours.rows()}
        original = {(s, n): v for m, s, n, v in theirs.rows() if m == 1 and s == step}
    measured = {k: v for k, v in imported.items() if k[1].startswith(("measure/", "train/", "test"))}
    # Loss, accuracy and every instrument, to float64 rounding (one member evaluated alone against two packed).
    assert len(measured) >= 15
    assert {k: (v, original[k]) for k, v in measured.items() if not math.isclose(v, original[k], rel_tol=1e-12)} == {}
    assert back.analyze().key_frequencies == tiny_run.analyze(member=1).key_frequencies


def test_a_model_built_by_transformer_lens_imports_with_its_own_logits(tmp_path):
    # The TransformerLens Grokking demo's shape (d_vocab p + 1, logits over the p answers), small.
    p = 13
    cfg = transformer_lens.HookedTransformerConfig(n_layers=1, n_heads=4, d_model=16, d_head=4, d_mlp=32, act_fn="relu",
                                                   normalization_type=None, d_vocab=p + 1, d_vocab_out=p, n_ctx=3,
                                                   seed=999, device="cpu")
    model = transformer_lens.HookedTransformer(cfg)
    run = from_transformer_lens(model, task="x+y", p=p, frac=0.3, seeds=(999,), step=0, out=tmp_path)
    assert run.config.logits_over == "answers" and run.config.d_model == 16 and run.config.act_fn == "relu"
    tokens = RunData.build(run.config, torch.device("cpu")).inputs
    with torch.no_grad():
        torch.testing.assert_close(run.model().logits(tokens)[0, :, 0], model(tokens)[:, -1], rtol=0, atol=1e-5)
    assert runner.invoke(app, ["show", str(run.path), "--json"]).exit_code == 0
    assert runner.invoke(app, ["analyze", str(run.path)]).exit_code == 0


@pytest.mark.parametrize("args, field", [
    (["--to", "mlflow"], "to"), (["--to", "transformer-lens", "--member", "5"], "member"),
    (["--to", "transformer-lens", "--step", "77"], "step"), (["--to", "transformer-lens", "--out-suffix"], None),
])
def test_export_refuses_bad_input_with_one_line_and_writes_nothing(tiny_run, tmp_path, args, field):
    target = tmp_path / "x.safetensors"
    if field is None:  # an out path that is not .safetensors
        args, field = ["--to", "transformer-lens"], "out"
        target = tmp_path / "x.pt"
    result = runner.invoke(app, ["export", str(tiny_run.path), *args, "--out", str(target)])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1 and f"{field}:" in result.output
    assert list(tmp_path.iterdir()) == []


def test_only_the_nanda_arch_maps_and_nothing_is_unpickled(tmp_path):
    power = train(get_preset("tiny").replace(arch="power", max_steps=2, checkpoints=1, device="cpu"), tmp_path / "p")
    result = runner.invoke(app, ["export", str(power.path), "--to", "transformer-lens", "--out", str(tmp_path / "x.safetensors")])
    assert result.exit_code == 2 and result.output.startswith("error: arch: only the nanda arch")
    with pytest.raises(ConfigError, match="^model: a path must be an existing .safetensors"):
        from_transformer_lens(tmp_path / "weights.pt", out=tmp_path / "runs")
    state = load(power.path).model().member(0)
    with pytest.raises(ConfigError, match="^model: the state dict has LayerNorm"):
        from_transformer_lens(state, task="x+y", p=31, out=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
