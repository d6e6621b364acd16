"""The digits run's report: one self-contained HTML file (Plotly inline) in the run directory.

Panels share the step axis: train and test accuracy per member (the ×α of each member in its
legend entry, large-α members in warm colours, α ≤ 1 in cool ones), then one panel per monitor
measure. The figures' data sits in one JSON script element (`#digits-data`).
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from string import Template
from typing import Any

from .. import metric_names as names
from ..report.html import plotly_js, script_json
from ..store.atomic import write_text_atomic
from ..store.metrics import MetricsStore
from .config import DigitsConfig

PANELS: tuple[tuple[str, str], ...] = (
    (names.TRAIN_ACC, "train accuracy"),
    (names.TEST_ACC, "test accuracy"),
    (names.LLC, "LLC λ̂ (training data; NaN where a chain was flagged)"),
    (names.WEIGHT_NORM, "weight norm ‖w‖₂"),
    (names.EFFECTIVE_LR, "effective LR ‖w_t − w_prev‖ / ‖w_prev‖"),
    (names.EFFECTIVE_RANK, "effective rank of the last hidden layer"),
    (names.PREQUENTIAL_BITS, "prequential code length of the training labels (bits, linear probe)"),
)
WARM = ("#d62728", "#ff7f0e", "#8c564b", "#e377c2", "#bcbd22", "#9467bd")
COOL = ("#1f77b4", "#17becf", "#2ca02c", "#7f7f7f", "#393b79", "#637939")

_PAGE = Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>$title</title>
<style>body{font-family:system-ui,sans-serif;margin:1rem 2rem;color:#222}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:.5rem}
.panel{height:340px}</style>
<script>$plotly</script></head>
<body><h1>$title</h1><p>$summary</p>
<div class="grid" id="panels"></div>
<script id="digits-data" type="application/json">$data</script>
<script>
const data = JSON.parse(document.getElementById("digits-data").textContent);
const root = document.getElementById("panels");
for (const panel of data.panels) {
  const div = document.createElement("div");
  div.className = "panel";
  root.appendChild(div);
  const traces = panel.traces.map(t => ({x: t.steps, y: t.values, name: t.label, mode: "lines+markers",
    marker: {size: 4}, line: {color: t.color, dash: t.dash}, connectgaps: false}));
  Plotly.newPlot(div, traces, {title: {text: panel.title, font: {size: 13}}, margin: {t: 40, r: 10, b: 40, l: 55},
    xaxis: {title: "step", type: data.log_x ? "log" : "linear"}, yaxis: {type: panel.log_y ? "log" : "linear"},
    legend: {font: {size: 10}}}, {responsive: true});
}
</script></body></html>
""")


def member_labels(config: DigitsConfig) -> list[dict[str, str]]:
    """Per member: legend label and colour (α > 1 warm, α ≤ 1 cool, so ×8 and ×1 are told apart)."""
    alphas, wds = config.per_member("init_scale"), config.per_member("weight_decay")
    out, warm, cool = [], 0, 0
    for e, (seed, alpha, wd) in enumerate(zip(config.seeds, alphas, wds)):
        if alpha > 1:
            color, warm = WARM[warm % len(WARM)], warm + 1
        else:
            color, cool = COOL[cool % len(COOL)], cool + 1
        out.append({"label": f"m{e} ×{alpha:g} wd {wd:g} seed {seed}", "color": color,
                    "dash": "solid" if alpha > 1 else "dot"})
    return out


def report_data(run_dir: Path) -> dict[str, Any]:
    """The panels of a digits run: per panel, one trace per member (steps and values; None where missing)."""
    saved = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    config = DigitsConfig.from_dict(saved["config"])
    labels = member_labels(config)
    panels = []
    with MetricsStore(run_dir / "metrics.sqlite", readonly=True) as store:
        for name, title in PANELS:
            steps, by_member = store.series(name)
            if not steps:
                continue
            traces = [{**labels[e], "steps": steps, "values": by_member.get(e, [None] * len(steps))}
                      for e in range(config.n_members)]
            panels.append({"metric": name, "title": title, "traces": traces,
                           "log_y": name in (names.WEIGHT_NORM, names.EFFECTIVE_LR)})
    return {"run": run_dir.name, "config": config.to_dict(), "panels": panels, "log_x": False}


def render(data: dict[str, Any]) -> str:
    config = data["config"]
    summary = (f"MLP 64-{config['d_hidden']}-{config['d_hidden']}-10 on scikit-learn digits, {config['n_train']} training "
               f"images per member, loss {config['loss']}, AdamW lr {config['lr']}, weight decay {config['weight_decay']}, "
               f"batch {config['batch_size']}, init scale per member {config['init_scale']}. Monitor measures read "
               f"the training images only.")
    return _PAGE.substitute(title=escape(f"grokscope · Omnigrok digits · {data['run']}"), summary=escape(summary),
                            plotly=plotly_js(), data=script_json(data))


def write_report(run_dir: Path) -> Path:
    """Write `report.html` into the run directory (atomically) and return its path."""
    path = run_dir / "report.html"
    write_text_atomic(path, render(report_data(run_dir)))
    return path
