"""The report's views as Plotly figures from the Python API (`run.figure`) and a Run's HTML repr for notebooks."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from grokscope import metric_names as names
from grokscope.errors import ConfigError


def test_curves_draw_loss_and_accuracy_per_member(grokked_run):
    figure = grokked_run.figure("curves")
    assert isinstance(figure, go.Figure)
    assert sorted(t.name for t in figure.data) == sorted(f"{label} · member {e}" for e in range(2) for label in
                                                        ("train loss", "test loss", "train accuracy", "test accuracy"))
    with grokked_run.metrics() as store:
        steps, acc = store.series_tensor(names.TEST_ACC, 2)
    (member1,) = [t for t in figure.data if t.name == "test accuracy · member 1"]
    assert list(member1.y) == acc[1].tolist() and len(member1.x) == len(steps)
    assert figure.layout.xaxis2.type == "log"


def test_progress_spectrum_and_clock_read_the_instruments(grokked_run):
    progress = grokked_run.figure("progress")
    assert {"restricted loss · member 0", "excluded loss · member 1"} <= {t.name for t in progress.data}
    spectrum = grokked_run.figure("spectrum", member=1)
    (heatmap,) = spectrum.data
    n = grokked_run.config.p
    assert isinstance(heatmap, go.Heatmap) and len(heatmap.z) == n // 2  # frequencies 1..(p-1)/2, one row each
    clock = grokked_run.figure("clock")
    keys = grokked_run.analyze(member=0).key_frequencies
    assert [t.name for t in clock.data] == [f"k = {k}" for k in keys] and all(len(t.x) == n for t in clock.data)


def test_bad_kinds_and_members_are_refused_by_name(grokked_run):
    with pytest.raises(ConfigError, match="^kind: must be one of curves, progress, spectrum, clock"):
        grokked_run.figure("loss")
    with pytest.raises(ConfigError, match="^member:"):
        grokked_run.figure("clock", member=5)


def test_a_run_shows_itself_in_a_notebook_as_a_member_table(grokked_run):
    page = grokked_run._repr_html_()
    summary = grokked_run.summary()
    assert "<table>" in page and grokked_run.path.name in page and "x+y mod 31" in page
    assert page.count("<tr>") == 1 + len(summary["members"])
    assert f"<td>{summary['members'][0]['steps_to_generalize']}</td>" in page
