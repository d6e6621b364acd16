"""`grokscope regime demo1`: the quick preset at one B through the command line, and its refusals."""

from __future__ import annotations

import json

import pytest
from regime_helpers import one_thread  # noqa: F401 (an autouse fixture)
from typer.testing import CliRunner

from grokscope import cli
from grokscope.regime.measures import MEASURES


def test_demo1_prints_every_measure_and_writes_the_json(tmp_path):
    out, runs = tmp_path / "demo1.json", tmp_path / "runs"
    result = CliRunner().invoke(cli.app, ["regime", "demo1", "--b", "4", "--out", str(out), "--runs", str(runs)])
    assert result.exit_code == 0, result.output
    for measure in MEASURES:
        assert f"| {measure} | " in result.stdout
    assert "pairs kept / dropped" in result.stdout and "B*" in result.stdout
    (block,) = json.loads(out.read_text())["blocks"]
    assert block["n_regimes"] == 4 and set(block["auroc"]) >= set(MEASURES)
    # The route truth the demo rests on: P's predictions ignore the state, C's ignore the id.
    assert block["auroc"]["train_ablation_id"]["value"] == 1.0 and block["auroc"]["train_ablation_state"]["value"] == 0.0
    # --runs kept the zoo as a core run that the readers open
    (zoo,) = runs.iterdir()
    assert zoo.name.endswith("regime-demo1-b4")
    shown = CliRunner().invoke(cli.app, ["show", str(zoo), "--json"])
    members = json.loads(shown.stdout)["members"]
    assert shown.exit_code == 0 and [m["seed"] for m in members] == block["members"]["seed"]
    assert [m["final_shift_loss"] for m in members] == pytest.approx(block["members"]["shift_loss"])


@pytest.mark.parametrize("args, message", [
    (["--b", "0"], "n_regimes:"),
    (["--b", "four"], "b: must be a comma list"),
    (["--preset", "huge"], "preset: must be one of"),
    (["--out", "table.txt"], "out: must end in .md or .json"),
    (["--runs", "demo1.json"], "runs: "),  # a file, not a folder
])
def test_demo1_refuses_bad_input_with_one_line_and_exit_2(tmp_path, args, message):
    (tmp_path / "demo1.json").write_text("{}")
    result = CliRunner().invoke(cli.app, ["regime", "demo1", *[str(tmp_path / a) if a in ("table.txt", "demo1.json") else a
                                                              for a in args]])
    assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "table.txt").exists()
