"""Power et al. (2022, Fig. 1 right): steps to 99% validation accuracy against training-data fraction, per operation.

A cell is (task, frac) over its seeds. A seed that never reached the threshold is censored at the
budget: it counts as "later than any step" (+inf) in the median, so a cell whose median is censored
(at least half its seeds never generalized, for odd seed counts more than half) is drawn at the
budget with a hollow marker, never as if it had generalized there. The spread bar runs from the
fastest to the slowest seed (to the budget where a seed is censored).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .directory import read_spec
from .results import read_results

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FIGURE_SUFFIXES = (".png", ".svg")
DEFAULT_FIGURE = "fraction_curve.png"
CENSORED_NUDGE = 0.006  # horizontal offset between tasks' censored markers, in fraction units


def line_label(task: str, settings: dict) -> str:
    """`x+y` or, where other grid axes vary, `x+y wd=0.1 lr=0.001`: one line of the figure."""
    return " ".join([task, *(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"
                             for name, value in settings.items())])


def fraction_curve(frame: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per (task, by..., frac) cell: n seeds, n_generalized, median/low/high steps to generalize, censored, budget,
    and `line`, the figure line it belongs to (the task, and the `by` fields' values: other grid axes that vary, so
    that arms are never pooled into one line).

    median is +inf when censored; low and high are capped at the budget. Tasks keep the table's order.
    """
    rows = []
    for key, group in frame.groupby(["task", *by, "frac"], sort=False):
        task, frac, settings = key[0], key[-1], dict(zip(by, key[1:-1]))
        budget = int(group["budget"].max())
        steps = group["steps_to_generalize"].astype("Float64").to_numpy(dtype=float, na_value=math.inf)  # [seeds]
        median = float(np.median(steps))
        capped = np.minimum(steps, budget)
        rows.append({"task": task, "line": line_label(task, settings), **settings, "frac": float(frac), "n": len(steps), "n_generalized": int(np.isfinite(steps).sum()),
                     "median": median, "low": float(capped.min()), "high": float(capped.max()),
                     "censored": not math.isfinite(median), "budget": budget})
    curve = pd.DataFrame(rows)
    order = {task: i for i, task in enumerate(dict.fromkeys(frame["task"]))}
    return curve.sort_values(["task", *by, "frac"], key=lambda s: s.map(order) if s.name == "task" else s,
                             kind="stable").reset_index(drop=True)


def fraction_figure(frame: pd.DataFrame, *, title: str = "", threshold: float = 0.99, by: tuple[str, ...] = ()) -> "Figure":
    """The figure as a matplotlib Figure: per line (a task, and the `by` fields' values), one errorbar line (a point
    per cell, median and min-max) and hollow triangles at the budget on its censored cells."""
    from matplotlib.figure import Figure  # no pyplot: no global backend or figure state

    curve = fraction_curve(frame, by)
    budget = int(curve["budget"].max())
    fig = Figure(figsize=(9, 4.5))
    ax = fig.subplots()
    tasks = list(dict.fromkeys(curve["line"]))
    for i, (task, cells) in enumerate(curve.groupby("line", sort=False)):
        color = f"C{i % 10}"
        nudge = (i - (len(tasks) - 1) / 2) * CENSORED_NUDGE  # censored markers of several tasks side by side
        shown = cells["median"].clip(upper=budget)
        ax.errorbar(cells["frac"], shown, yerr=[shown - cells["low"], cells["high"] - shown], color=color,
                    marker="o", markersize=4, capsize=2, linewidth=1.2, label=task, zorder=2)
        censored = cells[cells["censored"]]
        ax.scatter(censored["frac"] + nudge, censored["budget"], marker="^", s=60, facecolors="white", edgecolors=color,
                   linewidths=1.5, zorder=3)
    ax.axhline(budget, color="grey", linestyle=":", linewidth=1)
    ax.scatter([], [], marker="^", facecolors="white", edgecolors="grey", label="never generalized (censored at budget)")
    ax.set_yscale("log")
    ax.set_xlabel("training data fraction")
    ax.set_ylabel(f"steps to {threshold:.0%} validation accuracy")
    ax.set_title(title or "steps to generalize vs training fraction (median, min-max over seeds)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_fraction_curve(frame: pd.DataFrame, path: str | Path, *, title: str = "", threshold: float = 0.99,
                        by: tuple[str, ...] = ()) -> Path:
    """Draw the figure to a .png or .svg file; returns its path.

    Raises:
        ConfigError: another file suffix.
    """
    path = Path(path)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        raise ConfigError(f"output: the figure must end in {' or '.join(FIGURE_SUFFIXES)}, got {path.name!r}")
    fig = fraction_figure(frame, title=title, threshold=threshold, by=by)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def plot_sweep(sweep_dir: str | Path, output: str | Path | None = None) -> Path:
    """Draw a sweep's fraction curve from its results table (to SWEEP/fraction_curve.png by default)."""
    sweep_dir = Path(sweep_dir)
    spec, frame = read_spec(sweep_dir), read_results(sweep_dir)
    threshold = float(spec.cells()[0].config.generalize_acc)
    return plot_fraction_curve(frame, sweep_dir / DEFAULT_FIGURE if output is None else output,
                               title=f"{spec.name}: steps to generalize vs training fraction", threshold=threshold,
                               by=varying_axes(spec, frame))


def varying_axes(spec, frame: pd.DataFrame) -> tuple[str, ...]:
    """The sweep's axes besides task, fraction and seed whose values differ in the table: each splits the lines."""
    axes = dict.fromkeys([*spec.grid, *(name for case in spec.cases for name in case)])
    return tuple(a for a in axes if a not in ("task", "frac", "seed") and a in frame and frame[a].nunique(dropna=False) > 1)
