"""A regime zoo is a core run (task "table"): its rows stored with it, trained by the core trainer, resumed after
SIGKILL to the same weights and metrics, and read by `runs`, `show`, `report`, `serve` and `monitor` beside core
and digits runs; the stored table's refusals; the step's column permutation and the cool-down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from grokscope import get_preset, load, train
from grokscope import metric_names as names
from grokscope.cli import app
from grokscope.config import RunConfig
from grokscope.errors import CheckpointError, ConfigError
from grokscope.monitor.run_monitor import MonitorOptions
from grokscope.regime import RegimeSpec
from grokscope.regime.models import (
    Members,
    TrainSettings,
    train_zoo,
    zoo_config,
    zoo_data,
    zoo_table,
)
from grokscope.report import render_report, report_data, write_report
from grokscope.report.server import Dashboard
from grokscope.store.table import TABLE_FILE
from grokscope.training.optim import lr_scale
from grokscope.training.sampler import shuffled_rows

runner = CliRunner()
SPEC = RegimeSpec(n_regimes=4, train_days=512, n_shift_regimes=2, shift_regime_days=32, scale=2.0)
SETTINGS = TrainSettings(hidden=(8,), max_steps=30, lr=1e-2, batch_size=64, param_dtype="float64", record_steps=(10, 20))
MEMBERS = Members(("C", "P", "E"), (0, 1, 2), (0.1, 0.0, 1.0), (1.0, 2.0, 1.0))

# Trains the zoo above through the core's train() exactly as train_members does, a resume checkpoint every 5 steps;
# with a step count as argv[2], the process SIGKILLs itself after that update (no cleanup runs).
SCRIPT = """
import os, signal, sys
from grokscope.regime import RegimeSpec
from grokscope.regime.models import Members, TrainSettings, zoo_config, zoo_data, zoo_table
from grokscope.training.launch import train
spec = RegimeSpec(n_regimes=4, train_days=512, n_shift_regimes=2, shift_regime_days=32, scale=2.0)
settings = TrainSettings(hidden=(8,), max_steps=30, lr=1e-2, batch_size=64, param_dtype="float64", record_steps=(10, 20))
members = Members(("C", "P", "E"), (0, 1, 2), (0.1, 0.0, 1.0), (1.0, 2.0, 1.0))
data = zoo_data(spec, members, settings)
kill = int(sys.argv[2]) if len(sys.argv) > 2 else -1
def after(step):
    if step == kill:
        os.kill(os.getpid(), signal.SIGKILL)
run = train(zoo_config(members, settings, data.d_in).replace(resume_every=5), sys.argv[1],
            table=zoo_table(data, members), name="zoo", after_step=after)
print(run.path)
"""


def _python(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=300)


def test_a_killed_zoo_resumes_to_the_uninterrupted_weights_and_metrics(tmp_path):
    whole = _python("-c", SCRIPT, str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr
    reference = load(whole.stdout.strip().splitlines()[-1])
    killed = _python("-c", SCRIPT, str(tmp_path / "killed"), "13")
    assert killed.returncode == -9  # SIGKILL after step 13; its last resume checkpoint is step 10
    run_dir = next((tmp_path / "killed").iterdir())
    assert load(run_dir).status()["state"] == "stopped"
    resumed = _python("-m", "grokscope", "train", "--resume", str(run_dir))  # the CLI reads the stored table back
    assert resumed.returncode == 0, resumed.stderr
    run = load(run_dir)
    assert run.status()["state"] == "finished" and run.checkpoint_steps() == reference.checkpoint_steps()
    for name, tensor in reference.model().params.items():
        assert torch.equal(run.model().params[name], tensor), name
    with run.metrics() as ours, reference.metrics() as theirs:
        rows = ours.rows()
        assert rows == theirs.rows() and {names.SHIFT_LOSS, names.SHIFT_EXCESS_FAILURE} <= {r[2] for r in rows}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """A directory holding a regime zoo, a digits run and an x+y run."""
    root = tmp_path_factory.mktemp("mixed")
    torch.set_num_threads(1)
    zoo = train_zoo(SPEC, MEMBERS, SETTINGS, out=root, name="regime-zoo")
    digits = train(get_preset("omnigrok-digits-quick").replace(d_mlp=16, max_steps=20, eval_every=10, device="cpu"), root)
    core = train(RunConfig(task="x+y", p=13, frac=0.5, seeds=(0,), d_model=16, d_mlp=32, max_steps=5, device="cpu"), root)
    return root, zoo, digits, core


def test_the_zoo_read_back_from_its_run_is_its_history(mixed):
    _, zoo, _, _ = mixed
    run = load(zoo.path)
    assert run.config.task == "table" and (zoo.path / TABLE_FILE).is_file()
    assert sorted(zoo.history) == [10, 20, 30]
    with run.metrics() as store:
        steps, shift = store.series_tensor(names.SHIFT_LOSS, 3)
        assert json.loads(store.meta("feature_groups")) == ["state", "id"]
    assert torch.equal(shift[:, steps.index(30)], zoo.final["shift_loss"])
    # what the history calls failure is the logged ratio, and the kinds are the table's permuted columns
    torch.testing.assert_close(zoo.final["failure"], zoo.final["shift_loss"] / zoo.final["val_loss"])
    table = run.table()
    assert table.permuted[0].tolist() == [False] + [True] * 5 and table.permuted[1].tolist() == [True] + [False] * 5
    assert not table.permuted[2].any()
    assert run.member_data(1).inputs.shape == (1, *table.x.shape[1:])


def test_a_directory_of_regime_digits_and_core_runs_lists_shows_reports_serves_and_monitors(mixed):
    root, zoo, digits, core = mixed
    listed = runner.invoke(app, ["runs", str(root)], terminal_width=200)
    assert listed.exit_code == 0, listed.output
    assert all(run.path.name in listed.stdout for run in (zoo, digits, core))
    shown = runner.invoke(app, ["show", str(zoo.path)], terminal_width=250)
    assert shown.exit_code == 0, shown.output
    text = shown.stdout.replace("┃", "│")
    assert "│ permuted" in text and "shift loss" in text and "ablation id" in text and "no accuracy" in text
    summary = json.loads(runner.invoke(app, ["show", str(zoo.path), "--json"]).stdout)
    assert [m["permuted_groups"] for m in summary["members"]] == [["id"], ["state"], []]
    assert summary["members"][0]["final_shift_loss"] == pytest.approx(float(zoo.final["shift_loss"][0]))
    for run in (digits, core):
        assert runner.invoke(app, ["show", str(run.path)], terminal_width=200).exit_code == 0
    mixed_compare = runner.invoke(app, ["compare", str(zoo.path), str(core.path)])  # steps against final losses
    assert mixed_compare.exit_code == 2 and mixed_compare.stderr.startswith("error: runs: ")
    served = {row["name"]: row for row in Dashboard(root).runs()}
    assert {served[r.path.name]["state"] for r in (zoo, digits, core)} == {"finished"}
    data = report_data(load(zoo.path))
    assert {names.SHIFT_LOSS, names.SHIFT_FAILURE, names.SHIFT_EXCESS_FAILURE} <= set(data["scalars"])
    assert any("stored table" in note for note in data["notes"])
    assert "stored table of 6 columns" in render_report(data)
    report = load(zoo.path).monitor(MonitorOptions(measures=("weight_norm", "route_ablation")))
    with load(zoo.path).metrics() as store:
        steps, ablation = store.vector_array(names.ROUTE_ABLATION, [0, 1, 2])
    assert report is not None and steps == load(zoo.path).checkpoint_steps()
    final = torch.tensor(ablation)[:, -1]  # [E, G]: state, id on the training rows
    assert final[0, 0] > 10 * final[0, 1].abs() and final[1, 1] > 10 * final[1, 0].abs()  # C reads the state, P the id
    with pytest.raises(ConfigError, match="^prequential: a stored table"):
        load(zoo.path).monitor(MonitorOptions(measures=("prequential",)))


@pytest.mark.slow
def test_the_zoo_report_draws_its_losses_and_shift_panel_in_a_browser(mixed, page, tmp_path):
    _, zoo, _, _ = mixed
    path = write_report(load(zoo.path), tmp_path / "report.html")
    page.open(path.as_uri())
    assert page.errors == []
    drawn = page.page.evaluate("""() => ({shift: document.getElementById('shift-section').hidden,
        metrics: [...new Set(['plot-loss', 'plot-shift'].flatMap((id) => document.getElementById(id).data
            .map((t) => t.meta && t.meta.metric)).filter(Boolean))].sort(),
        head: [...document.querySelectorAll('#summary th')].map((th) => th.textContent)})""")
    assert drawn["shift"] is False
    assert drawn["metrics"] == sorted([names.TRAIN_LOSS, names.TEST_LOSS, names.SHIFT_LOSS, names.SHIFT_FAILURE,
                                       names.SHIFT_EXCESS_FAILURE])
    assert "permuted groups" in drawn["head"] and "final shift loss" in drawn["head"]
    assert not any(h.startswith("phases") for h in drawn["head"])  # no phases or accuracy for a scalar target


def test_compare_sets_arms_of_a_zoo_against_each_other_by_their_final_failure(tmp_path):
    members = Members(("E",) * 6, (0, 1, 2) * 2, (0.0,) * 3 + (1.0,) * 3, (1.0,) * 6)
    zoo = train_zoo(SPEC, members, SETTINGS, out=tmp_path)
    shown = json.loads(runner.invoke(app, ["show", str(zoo.path), "--json"]).stdout)["members"]
    result = runner.invoke(app, ["compare", str(zoo.path), "--json", "--out", str(tmp_path / "arms.csv")])
    assert result.exit_code == 0, result.output
    table = json.loads(result.stdout)
    assert table["outcome"] == "excess_failure" and table["control"] == "wd=0.0" and table["by"] == ["wd"]
    control, decayed = table["arms"]
    excess = [m["final_excess_failure"] for m in shown]
    assert control["median"]["excess_failure"] == pytest.approx(float(np.median(excess[:3])))
    assert decayed["ratio"] == pytest.approx(float(np.median(excess[3:]) / np.median(excess[:3])))
    assert decayed["paired"] == 3 and decayed["paired_lower"] == sum(b < a for a, b in zip(excess[:3], excess[3:]))
    assert 0 < decayed["p_mann_whitney"] <= 1 and decayed["ratio_low"] <= decayed["ratio"] <= decayed["ratio_high"]
    assert (tmp_path / "arms.csv").read_text().startswith("wd,arm,members,test_loss_median")
    printed = runner.invoke(app, ["compare", str(zoo.path)], terminal_width=200)
    assert printed.exit_code == 0 and "ratio of excess failure" in printed.stdout and "control" in printed.stdout
    refused = runner.invoke(app, ["compare", str(zoo.path), "--threshold", "0.9"])
    assert refused.exit_code == 2 and refused.stderr.startswith("error: threshold: a stored table's runs")


def test_bad_tables_are_refused_in_one_line_before_anything_is_written(tmp_path):
    data = zoo_data(SPEC, MEMBERS, SETTINGS)
    config, table = zoo_config(MEMBERS, SETTINGS, data.d_in), zoo_table(data, MEMBERS)
    out = tmp_path / "out"
    one_more = table.test.clone()
    one_more[0, 0] = True  # member 0 holds out one row more than the others
    bad = {"tensor train must be bool": replace(table, train=table.train.double()),
           "same number of held-out": replace(table, test=one_more),
           "groups must name": replace(table, groups={"state": [99]}),
           "holds 2 members": table.members([0, 1])}
    for message, wrong in bad.items():
        with pytest.raises(ConfigError, match=f"^table: .*{message}"):
            train(config, out, table=wrong)
    with pytest.raises(ConfigError, match="^task: a run of task 'table' trains on rows a program hands it"):
        train(config, out)
    assert not out.exists()
    cli = runner.invoke(app, ["train", "--preset", "tiny", "--set", "task=table", "--set", "arch=mlp_stack", "--set",
                              "loss=squared_error", "--set", "p=6", "--set", "symmetric_split=false", "--out", str(out)])
    assert cli.exit_code == 2 and cli.stderr.strip().startswith("error: task:") and not out.exists()
    with pytest.raises(ConfigError, match="^loss: squared_error fits a stored table"):
        RunConfig(task="x+y", p=7, loss="squared_error")


def test_a_damaged_stored_table_stops_a_resume_in_one_line(tmp_path):
    data = zoo_data(SPEC, MEMBERS, SETTINGS)
    run = train(zoo_config(MEMBERS, SETTINGS, data.d_in).replace(max_steps=4), tmp_path, table=zoo_table(data, MEMBERS))
    (run.path / TABLE_FILE).write_bytes(b"not a table")
    with pytest.raises(CheckpointError, match="table.safetensors: unreadable"):
        run.table()
    resumed = runner.invoke(app, ["train", "--resume", str(run.path)])
    assert resumed.exit_code == 1 and len(resumed.stderr.strip().splitlines()) == 1, resumed.output


def test_the_step_permutation_moves_real_rows_only_and_depends_on_the_member_seed():
    seeds = torch.tensor([3, 4])
    rows = torch.tensor([[5, 9, 2, 7, 0], [1, 8, 6, 4, 3]])
    weights = torch.tensor([[0.25] * 4 + [0.0], [0.2] * 5])  # member 0's last position is padding
    moved = shuffled_rows(seeds, 7, rows, weights)
    assert sorted(moved[0, :4].tolist()) == sorted(rows[0, :4].tolist()) and moved[0, 4] == rows[0, 4]
    assert sorted(moved[1].tolist()) == sorted(rows[1].tolist()) and not torch.equal(moved, rows)
    alone = shuffled_rows(seeds[1:], 7, rows[1:], weights[1:])
    assert torch.equal(alone[0], moved[1])  # the same packed or alone
    assert not torch.equal(shuffled_rows(seeds, 8, rows, weights), moved)  # a new order each step


def test_the_learning_rate_cools_down_linearly_to_zero_after_the_warm_up():
    config = RunConfig(task="x+y", p=7, max_steps=100, warmup_steps=10, cooldown_frac=0.2)
    assert [lr_scale(s, config) for s in (0, 5, 10, 80, 90, 100)] == pytest.approx([0, 0.5, 1, 1, 0.5, 0])
    assert lr_scale(50, config.replace(cooldown_frac=0.0)) == 1.0
    with pytest.raises(ConfigError, match="^cooldown_frac: must be in"):
        config.replace(cooldown_frac=1.5)


def test_a_zoo_config_carries_its_settings_cool_down_and_recorded_steps():
    data = zoo_data(SPEC, MEMBERS, SETTINGS)
    config = zoo_config(MEMBERS, SETTINGS, data.d_in)
    assert (config.cooldown_frac, config.warmup_steps, config.beta2, config.loss) == (0.2, 0, 0.999, "squared_error")
    assert config.eval_every == 10 and config.per_member("wd") == (0.1, 0.0, 1.0)


def test_zoo_settings_the_core_cannot_train_are_refused_by_name():
    with pytest.raises(ConfigError, match="^hidden: one or more layers of one width"):
        TrainSettings(hidden=(16, 8))
    with pytest.raises(ConfigError, match="^act_fn"):
        TrainSettings(act_fn="tanh")
