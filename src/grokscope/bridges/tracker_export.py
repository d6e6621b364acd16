"""A finished run's metrics replayed into TensorBoard or Weights & Biases (`grokscope export --to tensorboard|wandb`),
for runs that trained without `--log-to`, and for every pack of a sweep directory.

Every scalar row of the run's metrics store (training and held-out metrics, the live instruments, the retrospective
measures, the monitor's values) goes to the tracker run of its member at its step, in step order: the same tracker
layout as live logging (training/trackers.py), so a run exported later reads like one logged live.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import ConfigError
from ..run import Run, list_runs, load
from ..sweep.directory import PACKS_DIR, is_sweep_dir
from ..training.trackers import check_trackers, open_trackers


def runs_under(path: Path) -> list[Run]:
    """The run at `path`, or every pack's run of the sweep directory at `path`."""
    return list_runs(path / PACKS_DIR) if is_sweep_dir(path) else [load(path)]


def export_run(run: Run, tracker: str, logdir: Path | None = None) -> int:
    """Replay `run`'s scalar metrics into `tracker`; returns the values logged. `logdir`: TensorBoard's event folder
    (default: the run directory's tensorboard/), W&B's local folder (default: the run directory)."""
    n = run.config.n_members
    by_step: dict[int, dict[str, list[float]]] = {}
    with run.metrics() as store:
        for member, step, name, value in store.rows():
            if value is not None and math.isfinite(value) and 0 <= member < n:
                by_step.setdefault(step, {}).setdefault(name, [math.nan] * n)[member] = value
    logged = 0
    for e in range(n):  # a member's whole history, then the next: one tracker run open at a time
        (tracker_run,) = open_trackers([tracker], run.path, run.config, logdir=logdir, members=[e])
        try:
            for step in sorted(by_step):
                tracker_run.log(step, by_step[step])
                logged += sum(1 for column in by_step[step].values() if math.isfinite(column[e]))
        finally:
            tracker_run.close()
    return logged


def export_tracker(path: Path, tracker: str, logdir: Path | None = None) -> list[tuple[Path, int]]:
    """Export the run or sweep at `path`; (run directory, values logged) for each run. With a sweep and a `logdir`,
    each pack gets its own subfolder (named after the pack)."""
    check_trackers([tracker])
    runs = runs_under(path)
    if not runs:
        raise ConfigError(f"run: {path} holds no finished pack to export")
    done = []
    for run in runs:
        target = None if logdir is None else (logdir / run.path.name if len(runs) > 1 else logdir)
        done.append((run.path, export_run(run, tracker, target)))
    return done
