"""The Ray backend: each unfinished pack is one Ray task; rows come back to the driver, which writes the table.

Workers write each pack's run directory under the sweep directory, so on a cluster of several
machines that directory must be on a filesystem every node sees (NFS or similar). A task asks for
one GPU when the cluster has any, and for `threads` CPUs; torch in the task uses exactly `threads`
threads (Ray's workers default to one per CPU asked for; notes-on-issues: pin both backends to compare).
Ray is an optional extra: `pip install 'grokscope[ray]'`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError
from .directory import is_finished, pack_dir
from .packing import Pack
from .results import pack_rows


def check_ray() -> None:
    """Raise ConfigError (before anything is written) when Ray is not installed."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ConfigError("backend: ray needs the optional extra: pip install 'grokscope[ray]'") from None


def _train_pack_task(run_dir: str, pack: Pack, axes: list[str], threads: int) -> list[dict[str, Any]]:
    """Runs inside a Ray worker: train the pack with pinned threads, return its rows."""
    from .runner import train_pack

    torch.set_num_threads(threads)
    train_pack(Path(run_dir), pack)
    return pack_rows(Path(run_dir), pack, axes)


def run_ray(sweep_dir: Path, tally, *, address: str | None, threads: int) -> None:
    """Train the tally's unfinished packs as Ray tasks; finished ones are read here, as locally.

    Connects to `address` (or starts a local instance) unless Ray is already initialized in this
    process, and shuts down only what it started.
    """
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    try:
        gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
        task = ray.remote(num_cpus=threads, num_gpus=gpus)(_train_pack_task)
        pending: dict[Any, Pack] = {}
        for pack in tally.packs:
            run_dir = pack_dir(sweep_dir, pack)
            if is_finished(run_dir):
                tally.add(pack, pack_rows(run_dir, pack, tally.axes), write=False)
            else:
                pending[task.remote(str(run_dir), pack, tally.axes, threads)] = pack
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            pack = pending.pop(done[0])
            tally.add(pack, ray.get(done[0]))
    finally:
        if started:
            ray.shutdown()
