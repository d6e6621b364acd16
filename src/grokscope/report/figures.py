"""Static figures for papers (`grokscope report RUN --figures DIR`): PNG and SVG drawn with matplotlib
from the same data as the HTML report.

curves: loss and accuracy on a log step axis, phases shaded, early warning marked; progress: the
restricted and excluded loss beside train and test loss (Nanda et al. 2023, Fig. 7); spectrum: W_E's
Fourier norms over training; clock: the embedding on each key frequency's plane at the last checkpoint.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import numpy as np

from .. import metric_names as names
from ..store.atomic import write_atomic

PHASE_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c")
LINES = {names.TRAIN_LOSS: ("train", "#1f77b4"), names.TEST_LOSS: ("test", "#d62728"),
         names.MIRROR_LOSS: ("test, mirror held out", "#ff7f0e"), names.TRAIN_ACC: ("train", "#1f77b4"),
         names.TEST_ACC: ("test", "#d62728"), names.MIRROR_ACC: ("test, mirror held out", "#ff7f0e"),
         names.RESTRICTED_LOSS: ("restricted (final keys)", "#2ca02c"), names.EXCLUDED_LOSS: ("excluded (final keys)", "#9467bd")}


def unpacked(packed: dict[str, Any]) -> np.ndarray:
    """The inverse of `report.data.packed`."""
    return np.frombuffer(base64.b64decode(packed["f32"]), dtype="<f4").reshape(packed["shape"])


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window
    import matplotlib.pyplot as plt

    return plt


def _draw_series(ax, data: dict[str, Any], metric: str) -> None:
    series = data["scalars"].get(metric)
    if series is None:
        return
    label, color = LINES[metric]
    steps = np.asarray(series["steps"], dtype=float)
    values = unpacked(series["values"])
    keep = steps > 0
    if values.shape[0] > 1:
        lo, mid, hi = np.nanquantile(values[:, keep], [0.1, 0.5, 0.9], axis=0)
        ax.fill_between(steps[keep], lo, hi, color=color, alpha=0.15, linewidth=0)
        ax.plot(steps[keep], mid, color=color, label=f"{label} (median)")
    else:
        ax.plot(steps[keep], values[0, keep], color=color, label=label)


def _shade_phases(ax, data: dict[str, Any]) -> None:
    member = data["summary"]["members"][data["focus"]]
    phases, last = member["phases"], max(data["summary"]["steps"], 2)
    edges = [1, phases["memorization_end"], phases["cleanup_start"], phases["cleanup_end"], last]
    for i, color in enumerate(PHASE_COLORS):
        if edges[i] is None:
            break
        end = last if edges[i + 1] is None else edges[i + 1]
        ax.axvspan(edges[i], end, color=color, alpha=0.07, linewidth=0)
        if edges[i + 1] is None:
            break
    if member["early_warning_step"]:
        ax.axvline(member["early_warning_step"], color="#b00", linestyle=":", linewidth=1.2, label="early warning")


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
    title = f"{data['config']['task']} mod {data['config']['p']}"
    written = []

    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, metrics, ylabel in ((loss_ax, (names.TRAIN_LOSS, names.TEST_LOSS, names.MIRROR_LOSS), "loss"),
                                (acc_ax, (names.TRAIN_ACC, names.TEST_ACC, names.MIRROR_ACC), "accuracy")):
        for metric in metrics:
            _draw_series(ax, data, metric)
        _shade_phases(ax, data)
        ax.set_xscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
    loss_ax.set_yscale("log")
    acc_ax.legend(fontsize=8)
    fig.suptitle(f"{title}: loss and accuracy")
    written += _save(fig, folder, "curves")
    plt.close(fig)

    if names.RESTRICTED_LOSS in data["scalars"]:
        fig, ax = plt.subplots(figsize=(6.5, 4))
        for metric in (names.TRAIN_LOSS, names.TEST_LOSS, names.RESTRICTED_LOSS, names.EXCLUDED_LOSS):
            _draw_series(ax, data, metric)
        _shade_phases(ax, data)
        ax.set(xscale="log", yscale="log", xlabel="step", ylabel="loss", title=f"{title}: progress measures")
        ax.legend(fontsize=8)
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
