"""`grokscope monitor-validate` on real monitored runs: a grokking arm and a control that does not grok."""

from __future__ import annotations

import json

import pytest
from monitor_helpers import one_thread  # noqa: F401 (an autouse fixture)
from typer.testing import CliRunner

from grokscope import cli, get_preset, train
from grokscope.analysis.monitor_validation import EARLY_WARNING, MEASURES
from grokscope.monitor import MonitorOptions, monitor_run

CHEAP = ("weight_norm", "effective_lr", "effective_rank", "route_ablation")


@pytest.fixture(scope="module")
def arms(tmp_path_factory):
    """The tiny preset (x+y mod 31) with four seeds, and the same with 30% of the pairs (too few to grok in the
    budget); a checkpoint every 100 steps, the cheap measures at each."""
    root = tmp_path_factory.mktemp("arms")
    base = get_preset("tiny").replace(seeds=(1, 2, 3, 5), checkpoint_every=100, patience=100_000, max_steps=1_200)
    runs = {"grok": train(base, root / "grok"), "small_fraction": train(base.replace(frac=0.3), root / "small_fraction")}
    for run in runs.values():
        monitor_run(run, MonitorOptions(measures=CHEAP))
    return runs


@pytest.mark.slow
def test_the_table_scores_every_measure_against_ground_truth_that_orders_compression_before_grokking(arms, tmp_path):
    out = tmp_path / "table.md"
    result = CliRunner().invoke(cli.app, ["monitor-validate", "--grok", str(arms["grok"].path), "--control",
                                          str(arms["small_fraction"].path), "--lead", "100", "--resamples", "200",
                                          "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    (table,) = json.loads(result.stdout)["tables"]
    truth = table["ground_truth"]
    assert truth["grok"]["grokked"] >= 3 and truth["small_fraction"]["grokked"] == 0
    assert truth["grok"]["memorized"] == truth["small_fraction"]["memorized"] == 4
    # The ground truth's own order: the restricted loss halves no later than held-out accuracy reaches 95%.
    assert truth["grok"]["compressed_before_grokked"] == truth["grok"]["grokked"]
    rows = {row["measure"]: row for row in table["rows"]}
    assert set(rows) == {*MEASURES, EARLY_WARNING}
    assert 0 <= rows["weight_norm"]["auroc"]["small_fraction"] <= 1
    assert rows["llc"]["auroc"]["small_fraction"] != rows["llc"]["auroc"]["small_fraction"]  # not measured: NaN
    assert rows["weight_norm"]["alarm"]["n_grokked"] + rows["weight_norm"]["alarm"]["n_controls"] <= 4  # held-back half
    text = out.read_text()
    assert "| weight_norm |" in text and "AUROC vs small_fraction" in text


@pytest.mark.parametrize("extra, message", [
    (["--out", "table.txt"], "out: must end in .md or .json"),
    (["--lead", "-1"], "lead, resamples, grokked_acc"),
])
def test_bad_options_exit_2_with_one_line(arms, tmp_path, extra, message):
    args = ["monitor-validate", "--grok", str(arms["grok"].path), "--control", str(arms["small_fraction"].path)]
    result = CliRunner().invoke(cli.app, args + [a if a != "table.txt" else str(tmp_path / a) for a in extra])
    assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "table.txt").exists()


def test_an_unmonitored_run_is_refused_by_name(tmp_path):
    run = train(get_preset("tiny").replace(max_steps=20, checkpoints=2, eval_every=10), tmp_path / "runs")
    result = CliRunner().invoke(cli.app, ["monitor-validate", "--grok", str(run.path), "--control", str(run.path)])
    assert result.exit_code == 2 and "has no monitor values; run `grokscope monitor" in result.output
