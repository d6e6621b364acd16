"""The report's main views as Plotly figures for a notebook (`run.figure(kind)`), and a run's HTML summary
(`Run._repr_html_`, what Jupyter shows for a `Run` at the end of a cell).

The figures draw what the report page draws, from the same stores: "curves" (train and held-out loss and accuracy
against step, log axis, a line per member), "progress" (Nanda et al. 2023's progress measures: restricted and
excluded loss beside train and test loss), "spectrum" (the Fourier norms of W_E per frequency over training, a
heatmap) and "clock" (each residue's final embedding on the (cos, sin) plane of each key frequency, coloured by
k·a mod n: a circle once the algorithm is built).
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import torch

from .. import metric_names as names
from ..errors import ConfigError
from ..instruments.grid import additive_grid, skip_note
from ..instruments.mechanism import clock_coordinates, clock_plane
from ..operations import task_title
from ..run import Run

FIGURES = ("curves", "progress", "spectrum", "clock")
_LINES = {"curves": ((1, names.TRAIN_LOSS, "train loss"), (1, names.TEST_LOSS, "test loss"),
                     (2, names.TRAIN_ACC, "train accuracy"), (2, names.TEST_ACC, "test accuracy")),
          "progress": ((1, names.TRAIN_LOSS, "train loss"), (1, names.TEST_LOSS, "test loss"),
                       (1, names.RESTRICTED_LOSS, "restricted loss"), (1, names.EXCLUDED_LOSS, "excluded loss"))}


def _series_figure(run: Run, kind: str):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows = max(row for row, _, _ in _LINES[kind])
    figure = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    n = run.config.n_members
    with run.metrics() as store:
        logged = set(store.names())
        for row, metric, label in _LINES[kind]:
            if metric not in logged:
                continue
            steps, values = store.series_tensor(metric, n)  # [E, T]
            x = np.maximum(np.asarray(steps, dtype=float), 1.0)  # step 0 on a log axis: drawn at 1
            for e in range(n):
                figure.add_trace(go.Scatter(x=x, y=values[e].numpy(), mode="lines", name=f"{label} · member {e}",
                                            legendgroup=label), row=row, col=1)
    figure.update_xaxes(type="log", title_text="step (log)", row=rows, col=1)
    figure.update_yaxes(type="log", title_text=run.config.loss.replace("_", "-"), row=1, col=1)
    if rows == 2:
        figure.update_yaxes(title_text="exact match", range=[-0.02, 1.02], row=2, col=1)
    figure.update_layout(title=f"{task_title(run.config.task, run.config.p)}: {kind}", height=300 * rows + 120)
    return figure


def _spectrum_figure(run: Run, member: int):
    import plotly.graph_objects as go

    with run.metrics() as store:
        steps, values = store.vector_array(names.EMBED_NORMS, [member])
    if not steps:
        raise ConfigError(f"kind: {run.path} logged no embedding spectrum (its task has no Fourier view or the "
                          "instruments were off)")
    norms = np.asarray(values, dtype=float)[0]  # [T, K]
    figure = go.Figure(go.Heatmap(x=np.maximum(np.asarray(steps, dtype=float), 1.0), y=np.arange(1, norms.shape[1] + 1),
                                  z=norms.T, colorbar={"title": "‖W_E‖² at k"}))
    figure.update_xaxes(type="log", title_text="step (log)")
    figure.update_yaxes(title_text="frequency k")
    figure.update_layout(title=f"Fourier spectrum of W_E, member {member}")
    return figure


def _clock_figure(run: Run, member: int):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    data = run.member_data(member)
    grid = additive_grid(data.table)
    if grid is None:
        raise ConfigError(f"kind: {skip_note(data.table)}")
    keys = run.analyze(member=member).key_frequencies
    if not keys:
        raise ConfigError(f"kind: member {member} has no key frequency at its last checkpoint: no clock yet")
    w_e = run.model().params["embed.W_E"][member, grid.classes].detach().double()  # [n, d_model], additive order
    figure = make_subplots(rows=1, cols=len(keys), subplot_titles=[f"k = {k}" for k in keys])
    residues = np.arange(grid.n)
    for i, k in enumerate(keys):
        coords = clock_coordinates(w_e, clock_plane(w_e, k)).numpy()  # [n, 2]
        figure.add_trace(go.Scatter(x=coords[:, 0], y=coords[:, 1], mode="markers", text=residues, name=f"k = {k}",
                                    marker={"color": (k * residues) % grid.n, "colorscale": "HSV"}), row=1, col=i + 1)
    figure.update_layout(title=f"The clock: member {member}'s embedding on each key frequency's plane", showlegend=False,
                         height=360, width=max(360, 300 * len(keys)))
    return figure


def figure(run: Run, kind: str, member: int = 0):
    """A `plotly.graph_objects.Figure` of one of the report's views (FIGURES); member: for spectrum and clock."""
    if kind not in FIGURES:
        raise ConfigError(f"kind: must be one of {', '.join(FIGURES)}, got {kind!r}")
    if not 0 <= member < run.config.n_members:
        raise ConfigError(f"member: must be in 0..{run.config.n_members - 1}, got {member}")
    with torch.no_grad():
        if kind == "spectrum":
            return _spectrum_figure(run, member)
        if kind == "clock":
            return _clock_figure(run, member)
        return _series_figure(run, kind)


def run_html(run: Run) -> str:
    """A short HTML summary of a run: task, state, and a row per member (its seed, steps to memorize and generalize,
    final accuracies)."""
    summary = run.summary()
    status = summary["status"]

    def cell(value: Any) -> str:
        return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else html.escape(str(value))

    head = ("member", "seed", "memorize", "generalize", "train acc", "test acc")
    rows = "".join("<tr>" + "".join(f"<td>{cell(m[k])}</td>" for k in ("member", "seed", "steps_to_memorize",
                                                                       "steps_to_generalize", "final_train_acc",
                                                                       "final_test_acc")) + "</tr>"
                   for m in summary["members"][:32])
    more = f"<p>{len(summary['members']) - 32} more members: run.summary()</p>" if len(summary["members"]) > 32 else ""
    return (f"<div><b>{html.escape(task_title(run.config.task, run.config.p))}</b> · {html.escape(run.path.name)} · "
            f"{html.escape(str(status.get('state')))} at step {summary['steps']} · threshold {summary['threshold']:.2f}"
            f"<table><tr>{''.join(f'<th>{h}</th>' for h in head)}</tr>{rows}</table>{more}</div>")
