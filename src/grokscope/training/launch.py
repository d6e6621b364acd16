"""Training a run: `train(config, out) -> Run` into a new run directory, `resume(path)` an existing one."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from ..config import RunConfig
from ..run import Run, load
from ..store.run_dir import RunLock, check_output_dir, new_run_dir, write_config
from .trainer import Progress, Trainer, resolve_device


def _train_into(run_dir: Path, config: RunConfig, device: torch.device,
                progress: Callable[[Progress], None] | None, after_step: Callable[[int], None] | None) -> Run:
    with RunLock(run_dir):
        Trainer(config, run_dir, device=device, on_progress=progress, after_step=after_step).run()
    return load(run_dir)


def train(config: RunConfig, out: str | Path = "runs", *, progress: Callable[[Progress], None] | None = None,
          after_step: Callable[[int], None] | None = None) -> Run:
    """Train a new run under `out`; returns it when training stops.

    Args:
        config: a validated RunConfig (invalid ones never get here: RunConfig raises ConfigError).
        out: the parent directory of run directories.
        progress: called at every evaluation with a Progress.
        after_step: called after every update with the step count (tests use it to interrupt a run).
    """
    out = Path(out)
    check_output_dir(out)
    device = resolve_device(config.device)
    run_dir = new_run_dir(out, config)
    write_config(run_dir, config, device)
    return _train_into(run_dir, config, device, progress, after_step)


def resume(path: str | Path, *, progress: Callable[[Progress], None] | None = None,
           after_step: Callable[[int], None] | None = None) -> Run:
    """Continue a run from its resume checkpoint to its stop rule (from step 0 if it never wrote one)."""
    run = load(path)
    return _train_into(run.path, run.config, resolve_device(run.config.device), progress, after_step)
