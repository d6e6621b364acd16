"""Running a sweep: plan the packs, train the unfinished ones (local or Ray backend), keep the table current.

Resume is the plain re-run: a pack whose run directory says "finished" is read, not trained; a pack
that was interrupted continues from its resume checkpoint (`grokscope.resume`); a pack never started
starts. The results table is rewritten (atomically) after every pack that finishes.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from .. import metric_names as names
from ..errors import ConfigError
from ..footprint import check_packs
from ..training import Progress
from ..training.launch import resume
from ..training.trainer import resolve_device
from .directory import (
    is_finished,
    open_sweep_dir,
    pack_dir,
    prepare_pack_dir,
    read_spec,
)
from .packing import Pack, pack_cells
from .results import pack_rows, results_frame, write_results
from .spec import SweepSpec

BACKENDS = ("local", "ray")


@dataclass
class SweepProgress:
    """What a sweep's progress callback receives: the sweep's tally and, while a pack trains locally,
    that pack's trainer Progress (`detail`; None for the event that a pack finished or was found finished). On Ray
    several packs train at once, and their events interleave."""

    packs_done: int
    packs_total: int
    members_grokked: int
    members_total: int
    pack: Pack
    detail: Progress | None = None
    node: str | None = None  # the Ray node training the pack (None locally)


def plan(spec: SweepSpec) -> list[Pack]:
    """The packs a spec trains, in order (deterministic: a re-run plans the same packs)."""
    return pack_cells(spec.cells(), spec.max_pack)


def other_running_tasks() -> int | None:
    """Tasks running or runnable right now besides this process (/proc/loadavg's fourth field, an instant count,
    unlike the load averages that still remember a run that just ended); None where /proc does not say."""
    try:
        running = int(Path("/proc/loadavg").read_text().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0, running - 1)


def default_threads() -> int | None:
    """The thread count `train` and `demo` pin when none is given: the cores that other running tasks leave free
    (at least 1) where any are running, else None (torch's own, one per core). On the loaded 2-core machine of
    issue 20, 200 steps took 365 s at 2 threads and 58 s at 1."""
    others = other_running_tasks()
    if not others:
        return None
    return max(1, (os.cpu_count() or 1) - others)


@contextlib.contextmanager
def pinned_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op thread count set to `threads` for the block (None: left as it is), then restored."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_pack(run_dir: Path, pack: Pack, *, progress: Callable[[Progress], None] | None = None,
               after_step: Callable[[int], None] | None = None) -> None:
    """Train one pack into its run directory, from its resume checkpoint where it has one."""
    prepare_pack_dir(run_dir, pack, resolve_device(pack.config.device))
    resume(run_dir, progress=progress, after_step=after_step)


class Tally:
    """Rows of the finished packs, the results table they make, and the progress events."""

    def __init__(self, sweep_dir: Path, packs: list[Pack], axes: list[str],
                 progress: Callable[[SweepProgress], None] | None):
        self.sweep_dir, self.packs, self.axes, self.progress = sweep_dir, packs, axes, progress
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.members_total = sum(p.n_members for p in packs)

    def _grokked(self) -> int:
        return sum(bool(row["generalized"]) for rows in self.rows.values() for row in rows)

    def report(self, pack: Pack, detail: Progress | None = None, node: str | None = None) -> None:
        if self.progress is None:
            return
        grokked = self._grokked()
        if detail is not None:  # members of the training pack above the threshold at this evaluation
            grokked += int((detail.metrics[names.TEST_ACC] >= pack.config.generalize_acc).sum())
        self.progress(SweepProgress(len(self.rows), len(self.packs), grokked, self.members_total, pack, detail, node))

    def add(self, pack: Pack, rows: list[dict[str, Any]], *, write: bool = True) -> None:
        self.rows[pack.name] = rows
        if write:
            self.write()
        self.report(pack)

    def write(self) -> None:
        if self.rows:
            write_results(self.sweep_dir, results_frame([row for rows in self.rows.values() for row in rows]))


def _train_pack_process(sweep_dir: str, pack_name: str, threads: int) -> None:
    """A worker process's job: re-plan the sweep from its sweep.json and train one pack (only strings cross
    the process boundary, so nothing but the sweep directory's own JSON is read back)."""
    pack = next(p for p in plan(read_spec(Path(sweep_dir))) if p.name == pack_name)
    with pinned_threads(threads):
        train_pack(pack_dir(Path(sweep_dir), pack), pack)


def _run_parallel(sweep_dir: Path, tally: Tally, jobs: int, threads: int) -> None:
    """Unfinished packs in `jobs` worker processes (spawned, `threads` torch threads each); progress per finished pack."""
    import concurrent.futures
    import multiprocessing

    pending = [pack for pack in tally.packs if not is_finished(pack_dir(sweep_dir, pack))]
    for pack in tally.packs:
        if pack not in pending:
            tally.add(pack, pack_rows(pack_dir(sweep_dir, pack), pack, tally.axes), write=False)
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_train_pack_process, str(sweep_dir), pack.name, threads): pack for pack in pending}
        for future in concurrent.futures.as_completed(futures):
            future.result()  # a worker's exception is raised here, with its traceback
            pack = futures[future]
            tally.add(pack, pack_rows(pack_dir(sweep_dir, pack), pack, tally.axes))


def _run_local(sweep_dir: Path, tally: Tally, after_step: Callable[[str, int], None] | None) -> None:
    for pack in tally.packs:
        run_dir = pack_dir(sweep_dir, pack)
        trained = not is_finished(run_dir)
        if trained:
            hook = None if after_step is None else (lambda step, name=pack.name: after_step(name, step))
            train_pack(run_dir, pack, progress=lambda p, pack=pack: tally.report(pack, p), after_step=hook)
        tally.add(pack, pack_rows(run_dir, pack, tally.axes), write=trained)


def check_options(*, backend: str, address: str | None, threads: int | None, jobs: int = 1,
                  gpus_per_pack: float | None = None) -> None:
    """Raise ConfigError for an unknown backend, an address without Ray or malformed, Ray missing, or a bad thread,
    job or GPU count."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"jobs: must be a positive integer, got {jobs!r}")
    if jobs > 1 and backend != "local":
        raise ConfigError("jobs: only with backend local (Ray schedules its own tasks)")
    if backend not in BACKENDS:
        raise ConfigError(f"backend: must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if address is not None and backend != "ray":
        raise ConfigError("address: only with backend ray")
    if gpus_per_pack is not None:
        if backend != "ray":
            raise ConfigError("gpus-per-pack: only with backend ray")
        if isinstance(gpus_per_pack, bool) or not isinstance(gpus_per_pack, (int, float)) or not (
                0 < gpus_per_pack <= 1 or float(gpus_per_pack).is_integer() and 1 <= gpus_per_pack <= 64):
            raise ConfigError(f"gpus-per-pack: must be a fraction in (0, 1] or a whole number up to 64 (Ray's rule), "
                              f"got {gpus_per_pack!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ConfigError(f"threads: must be a positive integer, got {threads!r}")
    if backend == "ray":
        from .ray_backend import check_ray, parse_address

        check_ray()
        if address is not None:
            parse_address(address)


def run_sweep(spec: SweepSpec, out: str | Path = "sweeps", *, backend: str = "local", address: str | None = None,
              threads: int | None = None, jobs: int = 1, gpus_per_pack: float | None = None, progress: Callable[[SweepProgress], None] | None = None,
              after_step: Callable[[str, int], None] | None = None, force: bool = False) -> Path:
    """Train every cell of a sweep into `out/<spec name>` (resuming what a previous call left); returns that directory.

    Args:
        spec: a validated SweepSpec (`load_spec`).
        out: parent of the sweep directory.
        backend: "local" (packs one after another in this process) or "ray" (each pack a Ray task).
        address: a Ray cluster's address (backend "ray"; None starts or reuses a local instance).
        threads: torch threads per pack (pinned so that tables compare across backends); None keeps
            this process's setting locally and means 1 on Ray.
        jobs: local packs trained at once, each in its own process (pinned to `threads`, 1 by default: several
            processes at 2+ threads each slow a shared CPU several-fold, notes-on-issues); with jobs > 1 progress
            comes per finished pack and `after_step` is not called.
        progress: called with a SweepProgress at every evaluation of a local pack and when a pack finishes.
        after_step: called as (pack name, step) after every update of a local pack (tests interrupt with it).
        gpus_per_pack: GPUs a Ray task asks for when its pack runs on CUDA (1 by default; a fraction shares a GPU
            among small packs).
        force: train packs the memory and disk estimate (footprint.py) would refuse.

    Raises:
        ConfigError: an unknown backend, an address without Ray or malformed, Ray not installed, a non-positive
            thread count, a pack too large for this machine's memory or disk, a request no Ray node can satisfy, or
            `out/<name>` holding another spec; nothing is written then.
        GrokscopeError: no Ray cluster answers at `address` (before anything is written), or a pack's Ray task
            failed (one line naming the pack; the other packs keep what they wrote and a re-run resumes them).
    """
    check_options(backend=backend, address=address, threads=threads, jobs=jobs, gpus_per_pack=gpus_per_pack)
    gpus_per_pack = 1 if gpus_per_pack is None else gpus_per_pack
    packs = plan(spec)
    if backend == "local":  # a Ray node's memory is its own, not this machine's
        unfinished = [pack for pack in packs if not is_finished(pack_dir(Path(out) / spec.name, pack))]
        check_packs([(pack.name, pack.config) for pack in unfinished], Path(out), concurrent=jobs, force=force)
        cluster: contextlib.AbstractContextManager = contextlib.nullcontext()
    else:
        from .ray_backend import ray_cluster, run_ray

        threads = 1 if threads is None else threads
        cluster = ray_cluster(address, packs, threads, gpus_per_pack)  # address and resources checked before anything is written
        out = Path(out).absolute()  # the workers' working directories are not the driver's
    with cluster:
        sweep_dir = open_sweep_dir(Path(out), spec)
        tally = Tally(sweep_dir, packs, spec.axes, progress)
        if backend == "local" and jobs > 1:
            _run_parallel(sweep_dir, tally, jobs, 1 if threads is None else threads)
        elif backend == "local":
            with pinned_threads(threads):
                _run_local(sweep_dir, tally, after_step)
        else:
            run_ray(sweep_dir, tally, threads=threads, gpus_per_pack=gpus_per_pack)
        tally.write()
    return sweep_dir
