"""Training a run: `train(config, out) -> Run` into a new run directory, `resume(path)` an existing one."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import torch

from ..checks import check_output_dir
from ..config import RunConfig
from ..errors import CheckpointError, ConfigError, DiskFullError, is_disk_full
from ..footprint import check_footprint
from ..run import Run, load
from ..store.atomic import remove_stray_temporaries
from ..store.run_dir import RunLock, new_run_dir, unique_run_dir, write_config
from ..store.table import check_table, save_table
from ..tasks import StoredTable
from .trackers import check_trackers, open_trackers
from .trainer import Progress, Trainer, resolve_device


def _train_into(run_dir: Path, config: RunConfig, device: torch.device, progress: Callable[[Progress], None] | None,
                after_step: Callable[[int], None] | None, log_to: Sequence[str]) -> Run:
    with RunLock(run_dir):
        remove_stray_temporaries(run_dir)  # a killed writer's half-written files
        trackers = open_trackers(log_to, run_dir, config) if log_to else []

        def report(update: Progress) -> None:
            if trackers:
                values = {name: tensor.tolist() for name, tensor in update.metrics.items()}
                for tracker in trackers:
                    tracker.log(update.step, values)
            if progress is not None:
                progress(update)

        try:
            Trainer(config, run_dir, device=device, on_progress=report, after_step=after_step).run()
        except Exception as error:
            if is_disk_full(error):  # what was written whole stays: the run resumes once there is space
                raise DiskFullError(f"{run_dir}: no space left on device; free space, then: grokscope train --resume "
                                    f"{run_dir}") from error
            raise
        finally:
            for tracker in trackers:
                tracker.close()
    return load(run_dir)


def train(config: RunConfig, out: str | Path = "runs", *, progress: Callable[[Progress], None] | None = None,
          after_step: Callable[[int], None] | None = None, log_to: Sequence[str] = (), force: bool = False,
          table: StoredTable | None = None, name: str | None = None) -> Run:
    """Train a new run under `out`; returns it when training stops.

    Args:
        config: a validated RunConfig (invalid ones never get here: RunConfig raises ConfigError).
        out: the parent directory of run directories.
        progress: called at every evaluation with a Progress.
        after_step: called after every update with the step count (tests use it to interrupt a run).
        log_to: trackers fed at every evaluation, one tracker run per member: "tensorboard" (event files in the run
            directory's tensorboard/), "wandb" (training/trackers.py).
        force: train a run that the memory and disk estimate (footprint.py) would refuse.
        table: the rows of a run of task "table" (tasks.StoredTable, one set per member), written into the run
            directory beside its config (store/table.py), so that the run resumes and reads like any other.
        name: the run directory's name after its time stamp (default: task slug, p and members).

    Raises:
        ConfigError: before anything is written, for an unusable `out`, a tracker not installed, or a run
            larger than this machine's free memory (the GPU's on CUDA) or disk (footprint.check_footprint).
    """
    out = Path(out)
    check_output_dir(out)
    check_trackers(log_to)
    device = resolve_device(config.device)
    if (table is None) != (config.task != "table"):
        if table is None:
            raise ConfigError("task: a run of task 'table' trains on rows a program hands it (grokscope.train(config, "
                              "table=...); the regime demos do), which the command line cannot; resume one with "
                              "grokscope train --resume RUN")
        raise ConfigError(f"table: only a run of task 'table' trains on stored rows; task {config.task!r} builds its own")
    if table is not None:
        try:
            check_table(table, Path("table"), config)  # "table: tensor x must be ..."
        except CheckpointError as error:
            raise ConfigError(str(error)) from None
    check_footprint(config, out, device=str(device), force=force, n_rows=None if table is None else table.n_pairs)
    run_dir = new_run_dir(out, config) if name is None else unique_run_dir(out, name)
    write_config(run_dir, config, device)
    if table is not None:
        save_table(run_dir, table, config)
    return _train_into(run_dir, config, device, progress, after_step, log_to)


def resume(path: str | Path, *, progress: Callable[[Progress], None] | None = None,
           after_step: Callable[[int], None] | None = None, log_to: Sequence[str] = ()) -> Run:
    """Continue a run from its resume checkpoint to its stop rule (from step 0 if it never wrote one). With `log_to`,
    the trackers get the evaluations from the resume point on (TensorBoard appends to the members' folders; W&B
    starts new runs in the same group)."""
    check_trackers(log_to)
    run = load(path)
    return _train_into(run.path, run.config, resolve_device(run.config.device), progress, after_step, log_to)
