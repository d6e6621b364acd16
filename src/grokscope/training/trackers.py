"""Experiment trackers labs already use, fed one member at a time: TensorBoard event files and Weights & Biases runs.

A member is one network (its seed and its per-member settings), so each tracker gets one run per member:
- TensorBoard: `<logdir>/member_<e>/events.out.tfevents...` (logdir: the run directory's `tensorboard/` by default),
  every scalar metric under its grokscope name (docs/metrics.md: `train/loss`, `test/acc`, `measure/restricted_loss`,
  `monitor/llc`, ...) at its step; `tensorboard --logdir runs` shows every run's members side by side.
- Weights & Biases: one run per member named `<run directory>/member<e>`, grouped by the run directory's name, with
  the member's config (its seed and per-member values, as if it trained alone) as the run's config; `WANDB_MODE=offline`
  writes them locally for `wandb sync`.

`training/launch.py` logs every evaluation live (`grokscope train --log-to`); `bridges/tracker_export.py` replays a
finished run's metrics (`grokscope export --to tensorboard|wandb`). Values are logged as float; a missing or
non-finite value (a member that diverged, a measure not defined yet) is left out rather than logged as NaN.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping, Sequence

from ..config import RunConfig
from ..errors import ConfigError

TRACKERS = ("tensorboard", "wandb")


def member_config(config: RunConfig, e: int, run_dir: Path) -> dict:
    """What a tracker run of member e records as its config: the member alone, its seed, and where it lives."""
    return {**config.member(e).to_dict(), "seed": config.seeds[e], "member": e, "grokscope_run": str(run_dir)}


def _finite(values: Mapping[str, Sequence[float]], e: int) -> dict[str, float]:
    out = {}
    for name, column in values.items():
        value = column[e]
        if value is not None and math.isfinite(float(value)):
            out[name] = float(value)
    return out


class TensorBoardTracker:
    """One TensorBoard SummaryWriter per member under `logdir/member_<e>` (`members`: those members only)."""

    def __init__(self, run_dir: Path, config: RunConfig, logdir: Path | None = None,
                 members: Sequence[int] | None = None):
        from torch.utils.tensorboard import (
            SummaryWriter,  # installed: open_trackers checked
        )

        root = Path(logdir) if logdir is not None else run_dir / "tensorboard"
        self.members = list(range(config.n_members)) if members is None else list(members)
        self.writers = [SummaryWriter(log_dir=str(root / f"member_{e}")) for e in self.members]

    def log(self, step: int, values: Mapping[str, Sequence[float]]) -> None:
        """values: metric name -> E values (per member, every member of the run) at `step`."""
        for e, writer in zip(self.members, self.writers):
            for name, value in _finite(values, e).items():
                writer.add_scalar(name, value, step)

    def close(self) -> None:
        for writer in self.writers:
            writer.close()


class WandbTracker:
    """One W&B run per member, grouped by the run directory's name (`members`: those members only)."""

    def __init__(self, run_dir: Path, config: RunConfig, *, project: str = "grokscope", directory: Path | None = None,
                 members: Sequence[int] | None = None):
        import wandb  # installed: open_trackers checked

        where = Path(directory) if directory is not None else run_dir
        where.mkdir(parents=True, exist_ok=True)
        self.members = list(range(config.n_members)) if members is None else list(members)
        self.runs = [wandb.init(project=project, group=run_dir.name, name=f"{run_dir.name}/member{e}", dir=str(where),
                                config=member_config(config, e, run_dir), reinit="create_new")
                     for e in self.members]

    def log(self, step: int, values: Mapping[str, Sequence[float]]) -> None:
        for e, run in zip(self.members, self.runs):
            row = _finite(values, e)
            if row:  # a step where the member has no value yet is no history row
                run.log(row, step=step)

    def close(self) -> None:
        for run in self.runs:
            run.finish()


def check_trackers(names: Sequence[str]) -> None:
    """Refuse (one line, before anything is written) a tracker that is unknown or whose package is missing."""
    import importlib.util

    for name in names:
        if name not in TRACKERS:
            raise ConfigError(f"log-to: must be {' or '.join(TRACKERS)}, got {name!r}")
        if importlib.util.find_spec(name) is None:
            raise ConfigError(f"log-to: {name} is not installed; pip install 'grokscope[{name}]'")


def open_trackers(names: Sequence[str], run_dir: Path, config: RunConfig, *, logdir: Path | None = None,
                  members: Sequence[int] | None = None) -> list[TensorBoardTracker | WandbTracker]:
    """The trackers called `names` for a run (`logdir`: TensorBoard's event folder, W&B's offline folder; `members`:
    a subset of the members, default all)."""
    check_trackers(names)
    opened = []
    for name in dict.fromkeys(names):
        opened.append(TensorBoardTracker(run_dir, config, logdir, members) if name == "tensorboard"
                      else WandbTracker(run_dir, config, directory=logdir, members=members))
    return opened
