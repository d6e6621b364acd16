"""The report and the dashboard in headless Chromium: no console errors, every plot with its data points,
the step slider moving the clock, and the dashboard following a run while it trains.

Screenshots land in each test's temporary directory (pytest prints its path on failure).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import tiny_config

from grokscope import get_preset, train
from grokscope.analysis.compare import compare
from grokscope.report import write_report
from grokscope.report.data import CURVES, report_data
from grokscope.report.figures import unpacked

# monitor: only once `grokscope monitor` ran; shift: a stored table's (tests/regime/test_regime_runs.py draws it)
SCALAR_PANELS = sorted({panel for panel, _, _ in CURVES} - {"monitor", "shift"})
MONITOR_METRICS = [metric for panel, metric, _ in CURVES if panel == "monitor"]

TRACES = """(id) => Array.from(document.getElementById(id).data || []).map((t) => ({
    kind: t.meta && t.meta.kind, metric: t.meta && t.meta.metric, member: t.meta && t.meta.member,
    n: (t.x || []).length, drawn: (t.y || []).filter((v) => v !== null).length, frame: t.meta && t.meta.frame}))"""


def _positive_steps(data, metric):
    return sum(1 for step in data["scalars"][metric]["steps"] if step > 0)


def _traces(page, plot_id):
    return page.page.evaluate(TRACES, plot_id)


@pytest.mark.slow
def test_report_draws_every_panel_with_its_points(grokked_run, page, tmp_path):
    data = report_data(grokked_run)
    path = write_report(grokked_run, tmp_path / "report.html")
    requests = []
    page.page.on("request", lambda request: requests.append(request.url))
    page.open(path.as_uri())
    page.screenshot(tmp_path / "report.png")
    assert page.errors == []
    assert [url for url in requests if not url.startswith(("file:", "data:"))] == []  # opens offline
    E = grokked_run.config.n_members

    for panel in SCALAR_PANELS:  # one line per member and metric, with a point per evaluation (step > 0: log axis)
        traces = _traces(page, f"plot-{panel}")
        metrics = [c["metric"] for c in data["curves"] if c["panel"] == panel and c["metric"] in data["scalars"]]
        assert metrics, panel
        for metric in metrics:
            members = [t for t in traces if t["kind"] == "member" and t["metric"] == metric]
            assert sorted(t["member"] for t in members) == list(range(E)), (panel, metric)
            assert all(t["n"] == _positive_steps(data, metric) for t in members), (panel, metric)
            assert sum(t["drawn"] for t in members) > 0
            medians = [t for t in traces if t["kind"] == "median" and t["metric"] == metric]
            assert len(medians) == 1 and medians[0]["n"] == _positive_steps(data, metric)
        assert page.page.locator(f"#plot-{panel} .scatterlayer .trace").count() >= len(metrics) * E

    # phases shaded and the early warning marked on the loss plot
    shapes = page.page.evaluate("() => document.getElementById('plot-loss').layout.shapes.map((s) => s.name)")
    assert "memorization" in shapes and "early warning" in shapes

    spectrum = page.page.evaluate("() => { const t = document.getElementById('plot-spectrum').data[0]; return [t.z.length, t.z[0].length]; }")
    assert spectrum == [15, sum(1 for s in data["spectrum"]["steps"] if s > 0)]

    # the clock: one plot per key frequency, one slider frame per checkpoint, the slider moves the points
    K, C = len(data["clock"]["frequencies"]), len(data["clock"]["steps"])
    assert page.page.locator("#plot-clock .clock").count() == K
    assert page.page.eval_on_selector("#clock-slider", "s => Number(s.max) + 1") == C
    last = page.page.evaluate("() => document.getElementById('plot-clock-0').data[0].x.slice()")
    assert len(last) == 31
    page.page.evaluate("() => { const s = document.getElementById('clock-slider'); s.value = 0; s.dispatchEvent(new Event('input')); }")
    first = page.page.evaluate("() => document.getElementById('plot-clock-0').data[0].x.slice()")
    assert _traces(page, "plot-clock-0")[0]["frame"] == 0
    assert page.page.inner_text("#clock-step").startswith("step 0 ")
    expected = unpacked(data["clock"]["coords"])
    np.testing.assert_allclose(first, expected[0, 0, :, 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(last, expected[-1, 0, :, 0], rtol=1e-5, atol=1e-6)
    assert not np.allclose(first, last)
    page.screenshot(tmp_path / "report-clock-step0.png")

    assert page.page.locator("#plot-neurons .grid").count() == len(data["neurons"]["neurons"]) >= 1
    assert page.page.locator("#plot-attention .grid").count() == grokked_run.config.n_heads
    assert "key frequencies" in page.page.inner_text("#mechanism")
    assert page.page.locator("#summary tr").count() == 1 + E
    # one arm (two seeds, nothing else differs): no arms figure; grokked: no softmax collapse
    assert page.page.evaluate("() => [document.getElementById('arms-section').hidden, document.getElementById('collapse-note').hidden]") == [True, True]
    assert "softmax collapse" not in shapes
    assert page.page.evaluate("() => document.getElementById('monitor-section').hidden") is True  # not monitored
    assert page.errors == []


@pytest.mark.slow
def test_report_draws_the_monitor_panel_once_the_run_is_monitored(monitored_run, page, tmp_path):
    """The monitored copy of the grokked run (conftest): one trace per member and monitor series with a point per
    measured checkpoint (step > 0), plus each series' median and band."""
    run = monitored_run
    data = report_data(run)
    page.open(write_report(run, tmp_path / "report.html").as_uri())
    page.page.locator("#monitor-section").screenshot(path=str(tmp_path / "report-monitor.png"))
    assert page.page.evaluate("() => document.getElementById('monitor-section').hidden") is False
    E, traces = run.config.n_members, _traces(page, "plot-monitor")
    assert all(metric in data["scalars"] for metric in MONITOR_METRICS)
    members = [t for t in traces if t["kind"] == "member"]
    assert len(members) == E * len(MONITOR_METRICS)
    assert sum(t["kind"] == "median" for t in traces) == len(MONITOR_METRICS)
    assert sum(t["kind"] == "band" for t in traces) == 2 * len(MONITOR_METRICS)
    for metric in MONITOR_METRICS:
        lines = [t for t in members if t["metric"] == metric]
        assert sorted(t["member"] for t in lines) == list(range(E)), metric
        assert all(t["n"] == _positive_steps(data, metric) for t in lines), metric  # one point per checkpoint > 0
    assert page.page.locator("#plot-monitor .scatterlayer .trace").count() == len(traces)
    assert page.errors == []


@pytest.mark.slow
def test_report_draws_one_generalized_fraction_curve_per_arm(page, tmp_path):
    """tests/test_compare.py's arms (the tiny preset, seeds 1-3 × wd ∈ {1, 0}), 300 steps: one step-function trace
    per arm, named as compare's table names it, ending at the arm's generalized fraction."""
    config = get_preset("tiny").replace(seeds=(1, 2, 3, 1, 2, 3), wd=(1.0,) * 3 + (0.0,) * 3, max_steps=300,
                                        instruments=False, checkpoints=2)
    run = train(config, tmp_path / "runs")
    table = compare([run])
    page.open(write_report(run, tmp_path / "report.html").as_uri())
    page.page.locator("#arms-section").screenshot(path=str(tmp_path / "report-arms.png"))
    traces = page.page.evaluate("""() => document.getElementById('plot-arms').data.map((t) => ({
        kind: t.meta.kind, arm: t.meta.arm, name: t.name, type: t.type, shape: t.line.shape, y: Array.from(t.y)}))""")
    assert [t["arm"] for t in traces] == [a.arm for a in table.arms] == ["wd=1.0", "wd=0.0"]
    for trace, arm in zip(traces, table.arms):
        assert (trace["kind"], trace["type"], trace["shape"]) == ("arm", "scatter", "hv")  # SVG, a step function
        assert trace["name"] == f"{arm.arm} ({arm.generalized}/{arm.members})"
        assert trace["y"][-1] == pytest.approx(arm.generalized / arm.members, abs=1e-12)
    assert table.arms[0].generalized > table.arms[1].generalized  # weight decay groks, no decay does not (yet)
    assert page.page.locator("#plot-arms .scatterlayer .trace").count() == len(table.arms)
    rows = page.page.locator("#arms-table tr").all_inner_texts()
    assert len(rows) == 1 + len(table.arms) and rows[2].split("\t")[:2] == ["wd=0.0", "0/3"]
    assert page.errors == []


@pytest.mark.slow
def test_report_says_where_softmax_collapse_stopped_a_member(page, tmp_path):
    """test_levers.py's provoked collapse (float32, no weight decay): the note names the member, the step and the
    remedies; the loss panel marks the step; the summary table has it."""
    config = tiny_config(arch="mlp", d_model=16, d_mlp=64, seeds=(0, 1), frac=0.8, wd=0.0, lr=3e-2, param_dtype="float32",
                         loss_dtype="float32", max_steps=100, eval_every=25, instruments=False, checkpoints=2, resume_every=1000)
    run = train(config, tmp_path / "runs")
    verdict = run.summary()["members"][0]["softmax_collapse"]
    assert verdict is not None
    page.open(write_report(run, tmp_path / "report.html").as_uri())
    page.screenshot(tmp_path / "report-collapse.png")
    note = page.page.inner_text("#collapse-note")
    assert "Softmax collapse stopped" in note and f"member 0 (seed 0): from step {verdict['step']} " in note
    assert "StableMax (--set loss=stablemax)" in note and "float64 loss (--set loss_dtype=float64)" in note
    marks = page.page.evaluate("""() => document.getElementById('plot-loss').layout.shapes
        .filter((s) => s.name === 'softmax collapse').map((s) => s.x0)""")
    assert marks == [verdict["step"]]
    assert f"from step {verdict['step']}" in page.page.inner_text("#summary tr:nth-child(2)")
    assert page.errors == []


@pytest.mark.slow
def test_large_ensemble_report_draws_bands_and_members_on_demand(page, tmp_path):
    config = get_preset("tiny").replace(seeds=tuple(range(33)), max_steps=40, eval_every=10, eval_log_points=10, checkpoints=2)
    run = train(config, tmp_path / "runs")
    path = write_report(run, tmp_path / "report.html")
    page.open(path.as_uri())
    traces = _traces(page, "plot-accuracy")
    assert [t for t in traces if t["kind"] == "member"] == []  # 33 members: median and band, no spaghetti
    steps = _positive_steps(report_data(run), "test/acc")
    assert {t["n"] for t in traces if t["metric"] == "test/acc"} == {steps}
    assert sum(t["kind"] == "band" for t in traces if t["metric"] == "test/acc") == 2
    page.page.select_option("#member-select", "17")
    members = [t for t in _traces(page, "plot-accuracy") if t["kind"] == "member"]
    assert {t["member"] for t in members} == {17} and all(t["n"] == steps for t in members)
    page.screenshot(tmp_path / "report-40-members.png")
    assert page.errors == []


def _start(args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "grokscope", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, **kwargs)


@pytest.mark.slow
def test_dashboard_follows_a_run_while_it_trains(page, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    server = _start(["serve", str(runs), "--port", "0"])
    trainer = None
    try:
        url = re.search(r"http://\S+/", server.stdout.readline()).group(0)
        # no weight decay: it never generalizes, so it is still training while we watch
        trainer = _start(["train", "--preset", "tiny", "--set", "wd=0", "--set", "max_steps=100000", "--out", str(runs)])
        index = page.open(url, ready="window.dashboard && document.querySelector('#runs tbody tr[data-run]')"
                                              " && document.querySelector('#runs tbody tr td.step').textContent > 0")
        first = int(index.page.inner_text("#runs tbody tr td.step"))
        index.page.wait_for_function(f"Number(document.querySelector('#runs tbody tr td.step').textContent) > {first}", timeout=60_000)
        assert index.page.inner_text("#runs tbody tr td.running") == "running"
        index.screenshot(tmp_path / "dashboard.png")
        assert index.errors == []

        index.page.click("#runs tbody tr a")  # the same tab, still recording console errors
        report = index
        report.page.wait_for_function("window.grokscope && window.grokscope.ready === true", timeout=60_000)
        points = "document.getElementById('plot-loss').data.find((t) => t.meta.kind === 'member').x.length"
        before = report.page.evaluate(f"() => {points}")
        renders = report.page.evaluate("() => window.grokscope.renders")
        report.page.wait_for_function(f"window.grokscope.renders > {renders} && {points} > {before}", timeout=60_000)
        assert report.page.evaluate("() => window.grokscope.data.live") is True
        report.screenshot(tmp_path / "dashboard-run.png")
        assert report.errors == []
    finally:
        for process in (trainer, server):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
