"""What `grokscope demo` leaves beside the run: summary.json and an accuracy/loss plot (SVG, no dependencies).

The plot uses a log step axis, where memorization (early) and grokking (late) are both visible.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from .run import Run
from .store import metric_names as names
from .store.atomic import write_text_atomic

_COLORS = {names.TRAIN_ACC: "#1f77b4", names.TEST_ACC: "#d62728", names.MIRROR_ACC: "#ff7f0e",
           names.TRAIN_LOSS: "#1f77b4", names.TEST_LOSS: "#d62728"}
WIDTH, HEIGHT, MARGIN = 640, 280, 48


def _panel(series: dict[str, tuple[list[int], list[float | None]]], *, title: str, y_range: tuple[float, float],
           y_offset: int, log_y: bool) -> list[str]:
    """SVG elements of one panel: axes, a polyline per series (log step axis), legend."""
    all_steps = [s for steps, _ in series.values() for s in steps if s > 0]
    x_max = math.log10(max(all_steps)) if all_steps else 1.0
    lo, hi = (math.log10(y_range[0]), math.log10(y_range[1])) if log_y else y_range
    w, h = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN

    def xy(step: int, value: float) -> str:
        y = math.log10(max(value, y_range[0])) if log_y else value
        return f"{MARGIN + w * math.log10(max(step, 1)) / x_max:.1f},{y_offset + MARGIN + h * (1 - (y - lo) / (hi - lo)):.1f}"

    parts = [f'<text x="{MARGIN}" y="{y_offset + MARGIN - 12}" font-size="14">{title}</text>',
             f'<rect x="{MARGIN}" y="{y_offset + MARGIN}" width="{w}" height="{h}" fill="none" stroke="#888"/>']
    for decade in range(int(x_max) + 1):
        x = MARGIN + w * decade / x_max
        parts.append(f'<text x="{x:.1f}" y="{y_offset + HEIGHT - MARGIN + 16}" font-size="11" text-anchor="middle">{10**decade:g}</text>')
    ticks = [10.0**k for k in range(math.ceil(lo), math.floor(hi) + 1)] if log_y else [0.0, 0.5, 1.0]
    for tick in ticks:
        y = xy(1, tick).split(",")[1]
        parts.append(f'<text x="{MARGIN - 6}" y="{y}" font-size="11" text-anchor="end" dominant-baseline="middle">{tick:g}</text>')
    for i, (name, (steps, values)) in enumerate(series.items()):
        color = _COLORS.get(name, "#333")
        points = " ".join(xy(s, v) for s, v in zip(steps, values) if v is not None)
        parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.5"/>')
        parts.append(f'<text x="{WIDTH - MARGIN - 130 * (len(series) - i)}" y="{y_offset + MARGIN - 12}" font-size="12" '
                     f'fill="{color}">{name}</text>')
    return parts


def curves_svg(run: Run, member: int = 0) -> str:
    """Accuracy and loss of one member against the step (log axis), as an SVG document."""
    store = run.metrics()
    try:
        available = set(store.names())
        wanted = [names.TRAIN_ACC, names.TEST_ACC, names.MIRROR_ACC, names.TRAIN_LOSS, names.TEST_LOSS]
        series = {}
        for name in wanted:
            if name in available:
                steps, by_member = store.series(name)
                series[name] = (steps, by_member[member])
    finally:
        store.close()
    accs = {k: v for k, v in series.items() if k.endswith("/acc")}
    losses = {k: v for k, v in series.items() if k.endswith("/loss")}
    finite = [v for _, values in losses.values() for v in values if v is not None and v > 0]
    loss_range = (max(min(finite, default=1e-6), 1e-8), max(finite, default=10.0))
    body = _panel(accs, title=f"accuracy, member {member}", y_range=(0.0, 1.0), y_offset=0, log_y=False)
    body += _panel(losses, title="loss (step and loss on log scales)", y_range=loss_range, y_offset=HEIGHT, log_y=True)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{2 * HEIGHT}" '
            f'font-family="sans-serif">{"".join(body)}</svg>\n')


def write_demo_files(run: Run) -> list[Path]:
    """Write summary.json and curves.svg into the run directory; returns their paths."""
    summary_path, svg_path = run.path / "summary.json", run.path / "curves.svg"
    write_text_atomic(summary_path, json.dumps(run.summary(), indent=2, ensure_ascii=False))
    write_text_atomic(svg_path, curves_svg(run))
    return [summary_path, svg_path]
