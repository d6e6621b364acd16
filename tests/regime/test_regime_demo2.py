"""Demo 2, quick preset: in one sub-period nothing that reads the environment separates the rule model from the
shortcut model; in four, the environment measure does; and `grokscope regime demo2` through the command line."""

from __future__ import annotations

import json

import pytest
import torch
from regime_helpers import one_thread  # noqa: F401 (an autouse fixture)
from typer.testing import CliRunner

from grokscope import cli
from grokscope.errors import ConfigError
from grokscope.regime import demo2
from grokscope.regime.demo2 import (
    ENVIRONMENT_MEASURES,
    MEASURES,
    Demo2Preset,
    run_demo2,
)


@pytest.fixture(scope="module")
def quick():
    torch.set_num_threads(1)
    return run_demo2("quick")  # ~8 s on one thread


def test_single_period_environment_and_code_measures_sit_at_half(quick):
    single = quick.blocks[0]
    assert single.case == "single-period" and single.n_periods == 1
    for m in ENVIRONMENT_MEASURES + ("prequential_bits", "prequential_bits_time", "regime_specificity_bits",
                                     "effective_rank"):
        score = single.auroc[m]
        assert score.low <= 0.5 <= score.high, (m, score)
    # What does separate them in one sub-period ranks the shortcut model as the simpler one (it is), never as the
    # photograph, and the route ablation only says which column each reads.
    assert single.auroc["weight_norm"].value < 0.5
    assert single.auroc["train_ablation_shortcut"].value == 1.0 and single.auroc["train_ablation_state"].value == 0.0
    assert single.answers["rule"]["not identifiable from training data"] == 6
    assert single.answers["shortcut"]["not identifiable from training data"] == 6


def test_multi_period_environment_measure_separates(quick):
    multi = quick.blocks[1]
    assert multi.case == "multi-period" and multi.n_periods == 4
    assert multi.auroc["irmv1_z2"].low >= 0.85 and multi.auroc["irmv1_penalty"].low >= 0.85
    assert multi.answers["rule"]["compressed"] == 6 and multi.answers["shortcut"]["photographed"] == 6


def test_the_truth_holds_in_both_cases(quick):
    for block in quick.blocks:
        assert block.auroc["excess_failure"].value == 1.0  # the shortcut model fails after the shift, the rule not
        assert block.route_check["rule_other"] < 0.02 < 0.2 < block.route_check["rule_own"]
        assert block.route_check["shortcut_other"] < 0.02 < 0.2 < block.route_check["shortcut_own"]
    table = quick.to_markdown()
    for m in MEASURES:
        assert f"| {m} | " in table
    json.dumps(quick.to_dict(), allow_nan=False)


def test_preset_refusals():
    with pytest.raises(ConfigError, match="seeds: need at least 2"):
        Demo2Preset("x", seeds=(0,), plain_seeds=())
    with pytest.raises(ConfigError, match="preset: must be one of"):
        run_demo2("huge")


def test_demo2_command_prints_and_writes(tmp_path, monkeypatch, quick):
    calls = []
    monkeypatch.setattr(demo2, "run_demo2", lambda preset, progress=None, runs=None: calls.append(preset) or quick)
    out = tmp_path / "demo2.json"
    result = CliRunner().invoke(cli.app, ["regime", "demo2", "--preset", "full", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert calls == ["full"] and "| irmv1_z2 | " in result.stdout
    assert [b["case"] for b in json.loads(out.read_text())["blocks"]] == ["single-period", "multi-period"]


@pytest.mark.parametrize("args, message", [
    (["--preset", "huge"], "preset: must be one of"),
    (["--out", "table.txt"], "out: must end in .md or .json"),
])
def test_demo2_command_refuses_bad_input_with_one_line_and_exit_2(tmp_path, args, message):
    args = [str(tmp_path / a) if a == "table.txt" else a for a in args]
    result = CliRunner().invoke(cli.app, ["regime", "demo2", *args])
    assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())
