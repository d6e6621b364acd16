"""The report's layout in headless Chromium at a phone's, a small laptop's and a desktop's width: nothing wider
than the viewport, the toolbar over no title, a colour bar on every heatmap, legends clear of the axes, the
monitor as small multiples; and a symmetric split drawn as one test curve, with the reason given.

One monitored report (conftest's grokked run, symmetric split) is loaded once per width and shared by the tests;
screenshots land in the module's temporary directory.
"""

from __future__ import annotations

import pytest
from conftest import Page

from grokscope import get_preset, train
from grokscope.report import write_report
from grokscope.report.data import CURVES, MIRROR_TWINS

WIDTHS = (390, 900, 1400)
MONITOR_LABELS = [label for panel, _, label in CURVES if panel == "monitor"]
MIRROR_METRICS = [mirror for _, mirror in MIRROR_TWINS]

# Elements past the viewport's edges that nothing clips (an ancestor with overflow-x other than visible clips its
# content: a scrolling table, an SVG), and SVG text cut off by its own plot. Plotly's text ruler is parked far off
# screen on purpose.
OUTSIDE = """() => {
    const width = innerWidth, found = [];
    const clipped = (e) => { for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
        if (getComputedStyle(a).overflowX !== "visible") return true; } return false; };
    for (const e of document.body.querySelectorAll("*")) {
        if (e.closest("#js-plotly-tester")) continue;
        const r = e.getBoundingClientRect();
        if (r.width && (r.left < -0.5 || r.right > width + 0.5) && !clipped(e)) found.push(`${e.tagName}#${e.id}.${e.getAttribute("class")}`);
    }
    for (const svg of document.querySelectorAll(".js-plotly-plot svg.main-svg")) {
        const box = svg.getBoundingClientRect();
        for (const t of svg.querySelectorAll("text")) {
            const r = t.getBoundingClientRect();
            if (r.width && (r.left < box.left - 0.5 || r.right > box.right + 0.5)) found.push(`text "${t.textContent}" cut off`);
        }
    }
    return { scrollWidth: document.documentElement.scrollWidth, width: width, found: found };
}"""

# For every drawn plot: its toolbar's box (null where it has none) and the boxes of what the toolbar must not
# cover: the plot's caption, Plotly titles and annotations (the early-warning label, the monitor's row titles).
TOOLBAR = """() => Array.from(document.querySelectorAll(".js-plotly-plot")).filter((p) => p.getBoundingClientRect().width).map((p) => {
    const box = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
    const bar = p.querySelector(".modebar");
    const caption = p.closest("figure") && p.closest("figure").querySelector("figcaption");
    const titles = Array.from(p.querySelectorAll(".gtitle, .annotation"), box).concat(caption ? [box(caption)] : []);
    return { id: p.id, small: Boolean(p.closest("figure.small")), toolbar: bar ? box(bar) : null, titles: titles };
})"""

# For every plot with a legend: the legend's box and those of the axis titles and tick labels.
LEGENDS = """() => Array.from(document.querySelectorAll(".js-plotly-plot")).filter((p) => p.querySelector(".legend")).map((p) => {
    const box = (e) => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
    return { id: p.id, legend: box(p.querySelector(".legend")),
             axes: Array.from(p.querySelectorAll(".g-xtitle, .g-ytitle, .g-y2title, .xtick text, .ytick text, .y2tick text"), box) };
})"""


def _overlap(a, b) -> bool:
    """Whether boxes [left, top, right, bottom] share more than a pixel's sliver."""
    return min(a[2], b[2]) - max(a[0], b[0]) > 1 and min(a[3], b[3]) - max(a[1], b[1]) > 1


def _opened(browser, url: str, width: int) -> Page:
    page = Page(browser)
    page.page.set_viewport_size({"width": width, "height": 900})
    return page.open(url)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("layout")


@pytest.fixture(scope="module")
def pages(browser, monitored_run, folder):
    """The monitored report, open at each width."""
    url = write_report(monitored_run, folder / "report.html").as_uri()
    opened = {width: _opened(browser, url, width) for width in WIDTHS}
    yield opened
    for page in opened.values():
        page.close()


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_nothing_is_wider_than_the_viewport(pages, folder, width):
    page = pages[width]
    page.screenshot(folder / f"report-{width}.png")
    layout = page.page.evaluate(OUTSIDE)
    assert layout["found"] == []
    assert layout["scrollWidth"] <= layout["width"] == width
    assert page.errors == []


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_the_toolbar_covers_no_title(pages, width):
    plots = pages[width].page.evaluate(TOOLBAR)
    small, large = [p for p in plots if p["small"]], [p for p in plots if not p["small"]]
    assert small and all(p["toolbar"] is None for p in small)  # clock, neuron and attention panels: no toolbar
    assert large and all(p["toolbar"] is not None for p in large)
    for plot in large:
        assert plot["titles"], plot["id"]
        assert not any(_overlap(plot["toolbar"], title) for title in plot["titles"]), plot["id"]


@pytest.mark.slow
def test_every_heatmap_has_a_colour_bar(pages):
    heatmaps = pages[1400].page.evaluate("""() => Array.from(document.querySelectorAll(".js-plotly-plot"))
        .filter((p) => (p.data || []).some((t) => t.type === "heatmap"))
        .map((p) => p.querySelectorAll(".colorbar").length)""")
    assert len(heatmaps) >= 3  # the spectrum, at least one neuron, the attention heads
    assert heatmaps == [1] * len(heatmaps)


def _legends_over_axes(page: Page) -> tuple[set[str], list[str]]:
    """The plots with a legend, and those whose legend covers an axis title or tick label."""
    plots = page.page.evaluate(LEGENDS)
    assert all(plot["axes"] for plot in plots)
    return {p["id"] for p in plots}, [p["id"] for p in plots if any(_overlap(p["legend"], axis) for axis in p["axes"])]


@pytest.mark.slow
@pytest.mark.parametrize("width", WIDTHS)
def test_legends_clear_the_axis_titles_and_ticks(pages, width):
    with_legend, covering = _legends_over_axes(pages[width])
    assert {"plot-loss", "plot-norm", "plot-monitor"} <= with_legend
    assert covering == []


@pytest.mark.slow
def test_the_monitor_draws_one_subplot_per_quantity(pages):
    page = pages[1400].page
    assert page.locator("#plot-monitor .cartesianlayer .subplot").count() == len(MONITOR_LABELS)
    axes = page.evaluate("""() => document.getElementById('plot-monitor').data.map((t) => [t.meta.metric, t.yaxis])""")
    by_metric = {metric: {axis for m, axis in axes if m == metric} for metric, _ in axes}
    assert len(by_metric) == len(MONITOR_LABELS) and all(len(a) == 1 for a in by_metric.values())  # one axis a quantity
    assert len(set().union(*by_metric.values())) == len(MONITOR_LABELS)  # and no two share one
    titles = page.evaluate("""() => document.getElementById('plot-monitor').layout.annotations
        .filter((a) => a.name === 'subplot title').map((a) => a.text)""")
    assert titles == MONITOR_LABELS


def _mirror_view(page: Page) -> dict:
    return page.page.evaluate("""() => ({
        note: document.getElementById('mirror-note').hidden ? null : document.getElementById('mirror-note').textContent,
        metrics: document.getElementById('plot-accuracy').data.map((t) => t.meta.metric),
        headers: Array.from(document.querySelectorAll('#summary th'), (th) => th.textContent)})""")


@pytest.mark.slow
def test_a_symmetric_split_draws_one_test_curve_and_says_why(pages):
    view = _mirror_view(pages[900])
    assert "symmetric split" in view["note"] and "mirror is held out" in view["note"]
    assert "test/acc" in view["metrics"] and not set(MIRROR_METRICS) & set(view["metrics"])
    assert "steps to generalize" in view["headers"] and not any("mirror" in h for h in view["headers"])


@pytest.mark.slow
def test_a_split_without_symmetry_draws_the_mirror_curve_apart(browser, tmp_path):
    config = get_preset("tiny").replace(symmetric_split=False, max_steps=30, eval_every=10, eval_log_points=0,
                                        instruments=False, checkpoints=2)
    page = _opened(browser, write_report(train(config, tmp_path), tmp_path / "report.html").as_uri(), 900)
    try:
        view = _mirror_view(page)
        assert view["note"] is None
        assert {"test/acc", "test_mirror/acc"} <= set(view["metrics"])
        assert {"steps to generalize mirror", "final test mirror acc"} <= set(view["headers"])
        # one member: a legend entry per curve, three on the accuracy panel, which used to run into its step axis
        with_legend, covering = _legends_over_axes(page)
        assert "plot-accuracy" in with_legend and covering == []
        assert page.errors == []
    finally:
        page.close()
