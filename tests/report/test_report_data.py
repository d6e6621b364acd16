"""The report's data and files, without a browser: what each panel will draw, and the CLI around it."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from grokscope import get_preset, train
from grokscope import metric_names as names
from grokscope.report import render_report, report_data
from grokscope.report.data import MIRROR_NOTE, MIRROR_TWINS, packed
from grokscope.report.figures import unpacked, write_figures


def test_packed_round_trips_float32_with_nan():
    values = np.array([[1.5, np.nan, -2.0], [3.0, 4.0, 1e-7]])
    back = unpacked(packed(values))
    assert back.shape == (2, 3) and back.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(back), np.isnan(values))
    np.testing.assert_allclose(back[~np.isnan(back)], values[~np.isnan(values)], rtol=1e-7)


def test_report_data_holds_every_member_and_evaluation(grokked_run):
    data = report_data(grokked_run)
    with grokked_run.metrics() as store:
        steps, by_member = store.series(names.TEST_ACC)
    series = data["scalars"][names.TEST_ACC]
    assert series["steps"] == steps
    values = unpacked(series["values"])
    assert values.shape == (2, len(steps))
    np.testing.assert_allclose(values[1], by_member[1], rtol=1e-6)
    # the shuffle warning's statistic has its own panel, every member at every evaluation, and rises as the clock forms
    assert ("warning", names.EMBED_PEAK_Z) in {(c["panel"], c["metric"]) for c in data["curves"]}
    z = unpacked(data["scalars"][names.EMBED_PEAK_Z]["values"])
    assert z.shape == (2, len(steps)) and (z[:, -1] > z[:, 0] + 3).all()
    # the clock has one frame per weights checkpoint and one plane per final key frequency
    clock = data["clock"]
    assert clock["steps"] == grokked_run.checkpoint_steps()
    assert unpacked(clock["coords"]).shape == (len(clock["steps"]), len(clock["frequencies"]), 31, 2)
    assert clock["frequencies"] == data["mechanism"]["key_frequencies"]
    # at the end the residues sit on a circle on every key frequency's plane: radii nearly equal
    radii = np.linalg.norm(unpacked(clock["coords"])[-1], axis=-1)  # [K, n]
    assert (radii.std(axis=1) / radii.mean(axis=1) < 0.3).all()
    neurons = data["neurons"]
    assert set(neurons["frequencies"]) <= set(clock["frequencies"]) and len(neurons["frequencies"]) >= 1
    assert min(neurons["fve"]) > 0.5
    assert unpacked(data["attention"]["grid"]).shape == (4, 31, 31)
    assert unpacked(data["spectrum"]["median"]).shape == (len(data["spectrum"]["steps"]), 15)


def test_report_of_a_task_without_fourier_view_says_so(tmp_path):
    config = get_preset("tiny").replace(task="x^3+xy", symmetric_split=False, max_steps=30, eval_every=10, eval_log_points=0, checkpoints=2)
    run = train(config, tmp_path)
    data = report_data(run)
    assert "clock" not in data and data["spectrum"] is None
    assert any("additive" in note or "Fourier" in note for note in data["notes"])
    html = render_report(data)
    assert html.count("<script") >= 3 and "x^3+xy" in html


def test_report_html_is_self_contained(grokked_run, tmp_path):
    html = render_report(report_data(grokked_run))
    # nothing to fetch: no external script, stylesheet or image (the browser test also watches requests)
    assert re.search(r"<(script|link|img)[^>]+(src|href)=\"(?!data:)", html) is None
    assert "Plotly" in html and 'id="grokscope-data"' in html
    data_text = html.split('id="grokscope-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data_text)["run"] == grokked_run.path.name


@pytest.fixture(scope="module")
def figures(grokked_run, tmp_path_factory):
    """The grokked run's figures, drawn once for the tests that read them: the paths written."""
    return write_figures(report_data(grokked_run), tmp_path_factory.mktemp("figures"))


def test_figures_are_written_as_png_and_svg(figures):
    written = figures
    stems = {p.stem for p in written}
    assert stems == {"curves", "progress", "spectrum", "clock"}
    for path in written:
        head = path.read_bytes()[:8]
        assert head.startswith(b"\x89PNG") if path.suffix == ".png" else b"<?xml" in head


def test_figures_name_the_phase_shading_and_draw_one_test_curve_for_a_symmetric_split(figures):
    svg = next(path for path in figures if path.name == "curves.svg").read_text()  # matplotlib writes each text as a comment beside its glyphs
    for label in ("memorization", "circuit formation", "cleanup", "early warning", "test accuracy (= mirror held out)"):
        assert f"<!-- {label}" in svg, label
    assert "(mirror held out)" not in svg


def _drawn(data, metric):
    return [c["label"] for c in data["curves"] if c["metric"] == metric and c["panel"] in ("loss", "accuracy")]


def test_a_symmetric_split_draws_one_test_curve_and_says_why(grokked_run):
    data = report_data(grokked_run)  # the tiny preset: symmetric_split=True
    assert grokked_run.config.symmetric_split and data["mirror_note"] == MIRROR_NOTE
    for test, mirror in MIRROR_TWINS:
        assert data["scalars"][mirror] == data["scalars"][test]  # logged, equal, and drawn once
        assert _drawn(data, mirror) == [] and _drawn(data, test)[0].endswith("(= mirror held out)")


def test_a_split_without_symmetry_draws_the_mirror_curves_apart(tmp_path):
    short = dict(max_steps=20, eval_every=10, eval_log_points=0, instruments=False, checkpoints=2)
    data = report_data(train(get_preset("tiny").replace(symmetric_split=False, **short), tmp_path))
    assert data["mirror_note"] is None
    for test, mirror in MIRROR_TWINS:
        assert data["scalars"][mirror] != data["scalars"][test]
        assert _drawn(data, mirror) and "mirror" not in _drawn(data, test)[0]
    # x-y is not commutative: no mirror-held-out series at all, and nothing to say about them
    data = report_data(train(get_preset("tiny").replace(task="x-y", symmetric_split=False, **short), tmp_path))
    assert data["mirror_note"] is None and not any(mirror in data["scalars"] for _, mirror in MIRROR_TWINS)


def _cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "grokscope", *args], capture_output=True, text=True, **kwargs)


def test_cli_report_writes_the_page_and_figures(grokked_run, tmp_path):
    out = tmp_path / "sub" / "r.html"
    result = _cli("report", str(grokked_run.path), "--out", str(out), "--figures", str(tmp_path / "figs"))
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 1_000_000 and (tmp_path / "figs" / "clock.svg").is_file()


def test_cli_report_rejects_a_bad_member_and_writes_nothing(grokked_run, tmp_path):
    out = tmp_path / "r.html"
    result = _cli("report", str(grokked_run.path), "--out", str(out), "--member", "5")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "member" in result.stderr
    assert not out.exists()


def test_an_unformed_model_shows_its_strongest_few_frequencies(tmp_path):
    config = get_preset("tiny").replace(max_steps=5, eval_every=5, eval_log_points=0, checkpoints=2)
    data = report_data(train(config, tmp_path))
    candidates = data["mechanism"]["key_frequencies"]
    assert len(candidates) > 6  # every neuron's best frequency, before any sparsity
    assert 1 <= len(data["clock"]["frequencies"]) <= 6 and set(data["clock"]["frequencies"]) <= set(candidates)
    assert any("no sparse set yet" in note for note in data["notes"])
