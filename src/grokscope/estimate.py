"""The dry run as a library call: what a config would train, its memory, disk and a time estimate, nothing written."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from .config import RunConfig
from .footprint import Footprint, check_footprint
from .training.trainer import Trainer, resolve_device

TIMED_STEPS = 4  # the first step pays for allocation; the median of the rest is the estimate
PROBE_MEMBERS = 8  # steps are timed on at most this many members and scaled to E (a CPU step grows ~linearly in E)


@dataclass(frozen=True)
class RunEstimate:
    """What `train --dry-run` reports: the footprint (footprint.py, from the shapes alone) and seconds_per_step, the
    median of a few steps timed in memory on `timed_members` of the members, scaled to all of them."""

    task: str
    p: int
    arch: str
    n_train: tuple[int, ...]
    full_batch: bool
    device: str
    footprint: Footprint
    seconds_per_step: float
    timed_members: int
    max_steps: int


def estimate_run(config: RunConfig, out: Path | None = None, *, force: bool = False) -> RunEstimate:
    """Check the footprint first (ConfigError, nothing allocated, when it does not fit unless `force`), then build
    the trainer for at most PROBE_MEMBERS members in memory (no run directory) and time a few steps."""
    device = resolve_device(config.device)
    size = check_footprint(config, out, device=str(device), force=force)
    probe = config if config.n_members <= PROBE_MEMBERS else config.replace(
        seeds=config.seeds[:PROBE_MEMBERS],
        **{name: values[:PROBE_MEMBERS] for name, values in config.per_member_values().items()})
    trainer = Trainer(probe, Path("(dry run: nothing written)"), device=device)
    timings = []
    for step in range(TIMED_STEPS):
        start = time.perf_counter()
        trainer.train_step(step, None)
        timings.append(time.perf_counter() - start)
    per_step = statistics.median(timings[1:]) * config.n_members / probe.n_members
    n_train = tuple(trainer.data.n_train.tolist())
    if probe is not config:  # the other members' split sizes from arithmetic (a symmetric split may add a pair)
        n_train = tuple(int(f * size.n_pairs) for f in config.per_member("frac"))
    return RunEstimate(task=config.task, p=config.p, arch=config.arch, n_train=n_train,
                       full_batch=config.batch_size is None, device=str(device), footprint=size,
                       seconds_per_step=per_step, timed_members=probe.n_members, max_steps=config.max_steps)
