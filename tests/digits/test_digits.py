"""Omnigrok's digits (Liu, Michaud, Tegmark 2023) as a core task: the config's refusals, the feature table, the
mlp_stack arch behind the Ensemble, the effect, resume, the monitor, and a directory shared with other runs."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from grokscope import get_preset, load, train
from grokscope import metric_names as names
from grokscope.cli import app
from grokscope.config import RunConfig
from grokscope.dataset import RunData
from grokscope.errors import ConfigError
from grokscope.models import Ensemble
from grokscope.monitor.run_monitor import MonitorOptions, default_llc, llc_settings
from grokscope.monitor.stacked import replicate
from grokscope.report import render_report, report_data
from grokscope.report.server import Dashboard
from grokscope.training.launch import resume


@pytest.fixture(autouse=True)
def one_thread():
    # The MLP's small batched matmuls ran ~20x slower with two threads on a shared 2-core CPU.
    torch.set_num_threads(1)


runner = CliRunner()
SMALL = dict(d_mlp=16, max_steps=40, eval_every=10, eval_log_points=0, checkpoints=2, checkpoint_every=20,
             resume_every=10, device="cpu")


def digits_config(**changes) -> RunConfig:
    return get_preset("omnigrok-digits-quick").replace(**{**SMALL, **changes})


@pytest.mark.parametrize("changes, field", [
    (dict(task="x+y", p=13), "arch"), (dict(arch="nanda"), "arch"), (dict(p=63), "p"), (dict(layout="a b ="), "layout"),
    (dict(act_fn="quadratic"), "act_fn"), (dict(use_biases=False), "use_biases"), (dict(init="nanda2023"), "init"),
    (dict(normalization="pre"), "normalization"), (dict(init_scale_biases=1), "init_scale_biases"),
    (dict(frac=0.0001), "frac"),
])
def test_settings_that_do_not_suit_the_task_are_refused_by_field(changes, field):
    with pytest.raises(ConfigError, match=rf"^{field}:"):
        digits_config(**changes)


def test_the_table_is_sklearn_digits_split_per_member_from_its_seed_only():
    config = digits_config(seeds=(3, 5, 3), init_scale=8.0)
    data = RunData.build(config, torch.device("cpu"))
    assert data.inputs.shape == (1797, 64) and data.inputs.dtype == torch.float64
    assert float(data.inputs.min()) == 0.0 and float(data.inputs.max()) == 1.0  # pixels 0..16 over 16
    assert sorted(data.targets[:, 0].unique().tolist()) == list(range(10))
    assert data.n_train.tolist() == [1000, 1000, 1000]  # Omnigrok's 1,000 training images
    assert torch.equal(data.train_mask[0], data.train_mask[2]) and not torch.equal(data.train_mask[0], data.train_mask[1])
    assert torch.equal(data.test_mask, ~data.train_mask)


def test_init_scale_multiplies_every_parameter_or_only_the_weights():
    config = digits_config(seeds=(4, 4), init_scale=(8.0, 1.0), param_dtype="float64")
    params = {name: t.detach() for name, t in Ensemble.create(config).params.items()}
    assert set(params) == {f"layers.{l}.{k}" for l in range(3) for k in "Wb"}
    assert params["layers.0.W"].shape == (2, 64, 16) and params["layers.2.b"].shape == (2, 10)
    for name, t in params.items():
        torch.testing.assert_close(t[0], 8 * t[1], rtol=1e-12, atol=0)
    bound = 1 / 64**0.5  # nn.Linear's default: uniform in ±1/sqrt(fan_in)
    assert bound >= float(params["layers.0.W"][1].detach().abs().max()) > 0.95 * bound
    weights_only = Ensemble.create(config.replace(init_scale_biases=False)).params
    assert torch.equal(weights_only["layers.1.b"][0], weights_only["layers.1.b"][1])
    torch.testing.assert_close(weights_only["layers.1.W"][0], 8 * weights_only["layers.1.W"][1], rtol=1e-12, atol=0)


def test_the_ensemble_is_a_stacked_model_whose_rows_are_its_members():
    model = Ensemble.create(digits_config(seeds=(0, 1), init_scale=(8.0, 1.0), param_dtype="float64"))
    x = torch.rand(2, 5, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    stack = model.stacked()
    rows = stack.outputs(replicate(stack.parameters(), 3), x.repeat_interleave(3, dim=0))  # [6, 5, 1, 10]
    torch.testing.assert_close(rows[::3], model.logits(x))
    _, cache = model.run_with_cache(x)
    assert cache["layers.1.hook_post"].shape == (2, 5, 16) and float(cache["layers.1.hook_post"].detach().min()) >= 0  # ReLU


def test_a_packed_member_trains_as_it_does_alone(tmp_path):
    small = dict(max_steps=12, eval_every=4, checkpoint_every=4, param_dtype="float64", instruments=False)
    packed = train(digits_config(seeds=(0, 7, 2), init_scale=(8.0, 3.0, 1.0), wd=(0.1, 0.05, 0.0), lr=(1e-3, 2e-3, 1e-3),
                                 **small), tmp_path / "packed")
    alone = train(digits_config(seeds=(7,), init_scale=3.0, wd=0.05, lr=2e-3, **small), tmp_path / "alone")
    for name, t in alone.model().params.items():
        torch.testing.assert_close(packed.model().params[name][1:2], t, rtol=1e-10, atol=0)


@pytest.mark.slow
def test_large_init_memorizes_long_before_it_generalizes_and_small_init_generalizes_at_once(tmp_path):
    # The quick preset's settings at half its budget, one seed at each α. Measured (docs/digits.md): α = 8 at step
    # 1,500 train 0.84-0.93 / held out 0.53-0.56 and climbing; α = 1 held out 0.98-0.99 from step 500.
    run = train(get_preset("omnigrok-digits-quick").replace(seeds=(0, 0), init_scale=(8.0, 1.0), max_steps=1_500,
                                                            checkpoints=2, checkpoint_every=0, device="cpu"), tmp_path)
    with run.metrics() as store:
        steps, train_acc = store.series_tensor(names.TRAIN_ACC, 2)
        _, test_acc = store.series_tensor(names.TEST_ACC, 2)
    early, late = steps.index(500), steps.index(1_500)
    assert float(test_acc[1, early]) >= 0.95  # α = 1: generalized at once
    assert float(test_acc[0, early]) <= 0.5
    assert float(train_acc[0, late]) >= 0.7 and float(train_acc[0, late] - test_acc[0, late]) >= 0.2  # α = 8: fits first
    assert float(test_acc[0, late]) >= float(test_acc[0, early]) + 0.15  # ... and generalizes later


class Interrupted(Exception):
    pass


def test_an_interrupted_digits_run_resumes_to_the_uninterrupted_trajectory(tmp_path):
    # In-process (tests/test_resume.py kills a real process with SIGKILL): the run stops after step 13 with no cleanup
    # beyond closing its files, its last resume checkpoint at step 10.
    config = digits_config(param_dtype="float64", max_steps=30, eval_every=5, resume_every=5, checkpoint_every=10)
    reference = train(config, tmp_path / "whole")

    def interrupt(step: int) -> None:
        if step == 13:
            raise Interrupted

    with pytest.raises(Interrupted):
        train(config, tmp_path / "killed", after_step=interrupt)
    run = resume(next((tmp_path / "killed").iterdir()))
    assert run.status()["state"] == "finished"
    assert run.checkpoint_steps() == reference.checkpoint_steps()
    for name, tensor in reference.model().params.items():
        assert torch.equal(run.model().params[name], tensor), name
    with run.metrics() as ours, reference.metrics() as theirs:
        assert ours.rows() == theirs.rows() and len(ours.rows()) > 0


@pytest.fixture(scope="module")
def mixed_runs(tmp_path_factory):
    """A directory holding a digits run (trained and monitored) beside an x+y run."""
    root = tmp_path_factory.mktemp("mixed")
    torch.set_num_threads(1)
    digits = train(digits_config(seeds=(0, 0), init_scale=(8.0, 1.0)), root)
    llc, _ = llc_settings({"burn_in": 5, "draws": 20}, default_llc(digits.config))
    digits.monitor(MonitorOptions(llc=llc, llc_chains=1))
    core = train(RunConfig(task="x+y", p=13, frac=0.5, seeds=(0,), d_model=16, d_mlp=32, max_steps=5, device="cpu"), root)
    return root, digits, core


def test_the_monitor_measures_a_digits_run_with_its_calibrated_llc_and_no_route_ablation(mixed_runs):
    _, run, _ = mixed_runs
    with run.metrics() as store:
        record = json.loads(store.meta("monitor"))
        present = set(store.names())
        assert store.series(names.WEIGHT_NORM)[0] == run.checkpoint_steps()
    assert {names.LLC, names.PREQUENTIAL_BITS, names.WEIGHT_NORM, names.EFFECTIVE_LR, names.EFFECTIVE_RANK} <= present
    assert "route_ablation" not in record["options"]["measures"]  # pixels have no operands to ablate
    assert record["options"]["llc"]["epsilon"] == 3e-5 and record["options"]["llc"]["nbeta"] == 300.0  # digits' own
    assert record["hook"] == "layers.1.hook_post"


def test_a_directory_of_digits_and_core_runs_lists_shows_reports_and_serves(mixed_runs):
    root, digits, core = mixed_runs
    old = root / "digits-e2-from-0.1"  # what grokscope 0.1's own digits loop left: another config format
    old.mkdir(exist_ok=True)
    (old / "config.json").write_text(json.dumps({"kind": "digits", "config": {"d_hidden": 200, "weight_decay": 0.1}}))
    listed = runner.invoke(app, ["runs", str(root)], terminal_width=200)
    assert listed.exit_code == 0, listed.output
    assert digits.path.name in listed.stdout and core.path.name in listed.stdout
    assert "unreadable" in listed.stdout and "separate digits loop" in listed.stdout  # one bad directory hides none
    refused = runner.invoke(app, ["show", str(old)])
    assert refused.exit_code == 1 and "grokscope digits" in refused.stderr and "d_hidden" not in refused.stderr
    for run in (digits, core):
        shown = runner.invoke(app, ["show", str(run.path), "--json"])
        assert shown.exit_code == 0 and json.loads(shown.stdout)["config"]["task"] == run.config.task
    table = runner.invoke(app, ["show", str(digits.path)], terminal_width=200).stdout
    assert "│ α " in table.replace("┃", "│") and "8.000" in table and "1.000" in table  # the members' α labels them
    served = {row["name"]: row for row in Dashboard(root).runs()}
    assert served[digits.path.name]["state"] == "finished" and served[digits.path.name]["task"] == "digits"
    assert served[core.path.name]["state"] == "finished"
    data = report_data(load(digits.path))
    assert any("image classification has none" in note for note in data["notes"])
    assert names.LLC in data["scalars"] and names.TEST_ACC in data["scalars"]
    assert "digits (8x8 pixels)" in render_report(data)


@pytest.mark.parametrize("args, field", [
    (["--init-scale", "8,1,1"], "init_scale"), (["--preset", "nanda2023"], "preset"), (["--wd", "-1"], "wd"),
    (["--seeds", "x"], "seeds"), (["--max-steps", "0"], "max_steps"), (["--threads", "0"], "threads"),
])
def test_cli_refuses_bad_input_with_exit_2_and_writes_nothing(tmp_path, args, field):
    out = tmp_path / "runs"
    result = runner.invoke(app, ["digits", "--preset", "omnigrok-digits-quick", *args, "--out", str(out)])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and f"{field}:" in result.output
    assert not out.exists()


def test_cli_dry_run_prints_the_plan_and_writes_nothing(tmp_path):
    out = tmp_path / "runs"
    result = runner.invoke(app, ["digits", "--preset", "omnigrok-digits-quick", "--init-scale", "8,1,8,1", "--dry-run",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "digits (8x8 pixels), 1797 examples, train per member [1000, 1000, 1000, 1000]" in result.output
    assert "arch mlp_stack" in result.output and not out.exists()


def test_cli_trains_a_core_run_and_writes_its_report(tmp_path):
    result = runner.invoke(app, ["digits", "--preset", "omnigrok-digits-quick", "--max-steps", "20", "--no-monitor",
                                 "--threads", "1", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    run = load(result.stdout.strip().splitlines()[-1])
    assert run.config.init_scale == (8.0, 8.0, 1.0, 1.0) and run.config.max_steps == 20
    assert (run.path / "report.html").is_file() and (run.path / "summary.json").is_file()
    with run.metrics() as store:
        assert store.meta("monitor") is None  # --no-monitor
