"""Demo 3 (real market data): the quick preset offline, the date ranges each part reads, and the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

pytest.importorskip("arch")
pytest.importorskip("statsmodels")

from regime_helpers import one_thread  # noqa: F401 (an autouse fixture)

from grokscope import cli  # noqa: E402
from grokscope.regime import demo3  # noqa: E402
from grokscope.regime.demo3 import (  # noqa: E402
    BREAKS,
    fama_french_splits,
    predictor_rows,
    run_demo3,
    sp500_split,
)
from grokscope.regime.market import load_fama_french, load_sp500  # noqa: E402


@pytest.fixture(scope="module")
def quick():
    torch.set_num_threads(1)
    return run_demo3("quick")


def test_sp500_split_measures_before_2007_07_and_degrades_on_2007_07_to_2009_06_only():
    table = load_sp500()
    split = sp500_split(table)
    dates = table.dates
    start, cut, end = (np.datetime64(d) for d in ("2003-01-01", "2007-07-01", "2009-06-30"))
    assert dates[split.train].min() >= start and dates[split.train].max() < cut
    assert dates[split.validation].max() < cut
    assert dates[split.shift].min() >= cut and dates[split.shift].max() <= end
    assert len(np.intersect1d(split.train, split.validation)) == 0 and len(split.shift) == 504
    assert set(split.environments.tolist()) == {0, 1, 2, 3, 4}  # the training era's calendar years, 2003-2007


def test_fama_french_folds_train_on_earlier_decades_only():
    table = load_fama_french()
    for d, split in fama_french_splits(table, (1940, 1990)).items():
        assert table.dates[np.concatenate([split.train, split.validation])].max().year < d
        assert set(table.dates[split.shift].year // 10 * 10) == {d}
        assert split.environments.max() == (d - 1920) // 10 - 1  # one environment per training decade


def test_quick_reports_a_spearman_row_per_measure_and_break_statistic(quick):
    markdown = quick.to_markdown()
    sp, ff = quick.sp500, quick.fama_french
    for block, columns in ((sp, ("pooled", "lags", "all")), (ff, ("1940", "1950", "pooled", "decade mean"))):
        assert tuple(block.spearman) == columns
        rows = [m for _, section in predictor_rows(block.groups) for m in section]
        assert set(block.spearman["pooled"]) == set(rows)
        for m in rows:
            assert f"| {m} | " in markdown
            values = np.asarray(block.members[m], dtype=float)
            if np.ptp(values[np.isfinite(values)]) > 0:  # where the zoo varies, ρ is a number
                assert np.isfinite(block.spearman["pooled"][m].value), m
    for b in BREAKS:
        assert np.isfinite(sp.spearman["pooled"][f"break_{b}"].value)
        assert np.isfinite(sp.spearman["pooled"][f"shift_break_{b}"].value)
    assert "train_ablation_level" in sp.spearman["pooled"] and "train_ablation_level" not in ff.spearman["pooled"]
    assert set(quick.seconds) == {"sp500", "fama_french", "total"}


def test_quick_reads_the_eras_it_claims(quick):
    span = quick.sp500.dates["all"]
    assert "2003-01-01" <= span["measures"][0] and span["in_era"][1] <= "2007-06-30"
    assert span["degradation"] == ["2007-07-02", "2009-06-30"]
    for d, ff_span in quick.fama_french.dates.items():
        assert ff_span["in_era"][1] < f"{d}-01-01" and ff_span["degradation"][0].startswith(d[:3])
    # Degradation is the shift-era loss over the in-era validation loss of the same member.
    m = quick.sp500.members
    assert np.allclose(m["degradation"], np.asarray(m["shift_loss"]) / np.asarray(m["val_loss"]))


def test_lags_only_members_never_use_the_other_columns(quick):
    m = quick.sp500.members
    lags = np.asarray(m["feature_set"]) == "lags"
    for group in ("calendar", "level"):
        assert np.all(np.asarray(m[f"train_ablation_{group}"])[lags] == 0.0)
        assert np.all(np.asarray(m[f"val_ablation_{group}"])[~lags] != 0.0)
    json.dumps(quick.to_dict())  # serializable as it stands


def test_market_passes_its_options_and_writes_the_json(tmp_path, monkeypatch):
    received = {}

    class Fake:
        def to_markdown(self):
            return "| predictor |"

        def to_dict(self):
            return {"preset": "full"}

    def fake_run(preset, *, data, progress, runs=None):
        received.update(preset=preset, data=data)
        return Fake()

    monkeypatch.setattr(demo3, "run_demo3", fake_run)
    out = tmp_path / "demo3.json"
    result = CliRunner().invoke(cli.app, ["regime", "market", "--preset", "full", "--data", "sp500", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert received == {"preset": "full", "data": "sp500"} and json.loads(out.read_text()) == {"preset": "full"}


@pytest.mark.parametrize("args, message", [
    (["--preset", "huge"], "preset: must be one of"),
    (["--data", "nasdaq"], "data: must be one of"),
    (["--out", "table.txt"], "out: must end in .md or .json"),
])
def test_market_refuses_bad_input_with_one_line_and_exit_2(tmp_path, args, message):
    result = CliRunner().invoke(cli.app, ["regime", "market",
                                          *[str(tmp_path / a) if a == "table.txt" else a for a in args]])
    assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "table.txt").exists()
