"""Static figures for papers (`grokscope report RUN --figures DIR`): PNG and SVG drawn with matplotlib
from the same data as the HTML report.

curves: loss and accuracy on a log step axis, phases shaded and named in the legend, early warning marked;
the lines and their labels are the page's `curves` (one test curve where the mirror-held-out one repeats it).
progress: the restricted and excluded loss beside train and test loss (Nanda et al. 2023, Fig. 7); spectrum: W_E's
Fourier norms over training; clock: the embedding on each key frequency's plane at the last checkpoint.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np

from .. import metric_names as names
from ..operations import task_title
from ..store.atomic import write_atomic

PHASES = (("memorization", "#1f77b4"), ("circuit formation", "#ff7f0e"), ("cleanup", "#2ca02c"))
COLORS = {names.TRAIN_LOSS: "#1f77b4", names.TEST_LOSS: "#d62728", names.MIRROR_LOSS: "#ff7f0e",
          names.TRAIN_ACC: "#1f77b4", names.TEST_ACC: "#d62728", names.MIRROR_ACC: "#ff7f0e",
          names.RESTRICTED_LOSS: "#2ca02c", names.EXCLUDED_LOSS: "#9467bd"}


def unpacked(packed: dict[str, Any]) -> np.ndarray:
    """The inverse of `report.data.packed`."""
    return np.frombuffer(base64.b64decode(packed["f32"]), dtype="<f4").reshape(packed["shape"])


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window
    import matplotlib.pyplot as plt

    return plt


def _draw_panel(ax, data: dict[str, Any], panel: str) -> None:
    """The page's curves of `panel` that have a colour here (labels as on the page), each as a line or, for an
    ensemble, the median with the 10–90% band."""
    for curve in data["curves"]:
        series = data["scalars"].get(curve["metric"])
        if curve["panel"] != panel or curve["metric"] not in COLORS or series is None:
            continue
        color = COLORS[curve["metric"]]
        steps = np.asarray(series["steps"], dtype=float)
        values = unpacked(series["values"])
        keep = steps > 0
        if values.shape[0] > 1:
            lo, mid, hi = np.nanquantile(values[:, keep], [0.1, 0.5, 0.9], axis=0)
            ax.fill_between(steps[keep], lo, hi, color=color, alpha=0.15, linewidth=0)
            ax.plot(steps[keep], mid, color=color, label=f"{curve['label']} (median)")
        else:
            ax.plot(steps[keep], values[0, keep], color=color, label=curve["label"])


def _shade_phases(ax, data: dict[str, Any]) -> None:
    member = data["summary"]["members"][data["focus"]]
    phases, last = member["phases"], max(data["summary"]["steps"], 2)
    edges = [1, phases["memorization_end"], phases["cleanup_start"], phases["cleanup_end"], last]
    for i, (phase, color) in enumerate(PHASES):
        if edges[i] is None:
            break
        end = last if edges[i + 1] is None else edges[i + 1]
        ax.axvspan(edges[i], end, color=color, alpha=0.1, linewidth=0, label=phase)
        if edges[i + 1] is None:
            break
    if member["early_warning_step"]:
        ax.axvline(member["early_warning_step"], color="#b00", linestyle=":", linewidth=1.2, label="early warning")


def _legend_below(ax) -> None:
    """The lines and the phase shading named under the axes, where they cover no curve."""
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)


def _save(fig, folder: Path, stem: str) -> list[Path]:
    paths = []
    for suffix in ("png", "svg"):
        path = folder / f"{stem}.{suffix}"
        write_atomic(path, lambda tmp, suffix=suffix: fig.savefig(tmp, format=suffix, dpi=150, bbox_inches="tight"))
        paths.append(path)
    return paths


def write_figures(data: dict[str, Any], folder: str | Path) -> list[Path]:
    """Write the report's main figures into `folder` as PNG and SVG; returns the paths written."""
    plt = _pyplot()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    title = task_title(data['config']['task'], data['config']['p'])
    written = []

    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, panel in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        _draw_panel(ax, data, panel)
        _shade_phases(ax, data)
        ax.set(xscale="log", xlabel="step", ylabel=panel)
        _legend_below(ax)
    loss_ax.set_yscale("log")
    fig.suptitle(f"{title}: loss and accuracy")
    written += _save(fig, folder, "curves")
    plt.close(fig)

    if names.RESTRICTED_LOSS in data["scalars"]:
        fig, ax = plt.subplots(figsize=(6.5, 4))
        _draw_panel(ax, data, "progress")  # the final keys' curves: the live ones have no colour here
        _shade_phases(ax, data)
        ax.set(xscale="log", yscale="log", xlabel="step", ylabel="loss", title=f"{title}: progress measures")
        _legend_below(ax)
        written += _save(fig, folder, "progress")
        plt.close(fig)

    spectrum = data.get("spectrum")
    if spectrum:
        z = unpacked(spectrum["median"]).T  # [K, T]
        steps = np.asarray(spectrum["steps"], dtype=float)
        keep = steps > 0
        fig, ax = plt.subplots(figsize=(8, 3.8))
        mesh = ax.pcolormesh(steps[keep], spectrum["frequencies"], z[:, keep], shading="nearest", cmap="viridis")
        fig.colorbar(mesh, ax=ax, label="norm of W_E's component")
        ax.set(xscale="log", xlabel="step", ylabel="frequency k", title=f"{title}: Fourier spectrum of W_E")
        written += _save(fig, folder, "spectrum")
        plt.close(fig)

    clock = data.get("clock")
    if clock and clock["frequencies"]:
        coords = unpacked(clock["coords"])[-1]  # [K, n, 2] at the last checkpoint
        n, count = coords.shape[1], coords.shape[0]
        fig, axes = plt.subplots(1, count, figsize=(3.2 * count, 3.2), squeeze=False)
        for ax, k, points in zip(axes[0], clock["frequencies"], coords, strict=True):
            angle = (k * np.arange(n)) % n
            ax.scatter(points[:, 0], points[:, 1], c=angle, cmap="hsv", vmin=0, vmax=n, s=18)
            for a, (x, y) in enumerate(points):
                ax.annotate(str(a), (x, y), fontsize=6, ha="center", va="bottom")
            ax.set_aspect("equal")
            ax.set_title(f"frequency {k}", fontsize=10)
        fig.suptitle(f"{title}: the clock at step {clock['steps'][-1]}")
        written += _save(fig, folder, "clock")
        plt.close(fig)
    return written
