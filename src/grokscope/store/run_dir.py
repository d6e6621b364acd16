"""A run directory: config.json, status.json, metrics.sqlite, checkpoints/, resume.safetensors, .lock."""

from __future__ import annotations

import fcntl
import json
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import torch

from ..config import RunConfig
from ..errors import ConfigError, RunLockedError, RunNotFoundError
from ..operations import get_operation
from ..version import __version__
from .atomic import write_text_atomic

CONFIG_FILE = "config.json"
STATUS_FILE = "status.json"
METRICS_FILE = "metrics.sqlite"


def _git_commit() -> str | None:
    """The commit of grokscope's own checkout (an editable install), or None for an installed package."""
    checkout = Path(__file__).resolve().parents[3]  # src/grokscope/store/run_dir.py -> the repository root
    if not (checkout / ".git").exists() or not (checkout / "src" / "grokscope").is_dir():
        return None
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True,
                                text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return (result.stdout.strip() or None) if result.returncode == 0 else None


def base_provenance(device: torch.device) -> dict[str, Any]:
    """Versions, device and thread settings that any result depends on (notes-on-issues: provenance)."""

    return {
        "grokscope_version": __version__,
        "git_commit": _git_commit(),
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def provenance(device: torch.device, config: RunConfig) -> dict[str, Any]:
    """base_provenance and the run's numerics settings (dtypes, TF32)."""
    return {**base_provenance(device), "param_dtype": config.param_dtype, "loss_dtype": config.loss_dtype,
            "tf32": config.tf32}


def unique_run_dir(out: Path, name: str) -> Path:
    """Create a fresh directory `out/<time stamp>-<name>` (a numeric suffix where that exists)."""
    out.mkdir(parents=True, exist_ok=True)
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"
    for suffix in range(1000):
        path = out / (base if suffix == 0 else f"{base}-{suffix}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RunLockedError(f"out: could not create a unique run directory under {out}")


def new_run_dir(out: Path, config: RunConfig) -> Path:
    """Create a fresh, uniquely named run directory under `out`."""
    return unique_run_dir(out, f"{get_operation(config.task).slug}-p{config.p}-e{config.n_members}")


def write_config(run_dir: Path, config: RunConfig, device: torch.device, **extra_provenance: Any) -> None:
    """config.json: the config and its provenance (plus `extra_provenance`, e.g. where imported weights came from)."""
    document = {"config": config.to_dict(), "provenance": {**provenance(device, config), **extra_provenance}}
    write_text_atomic(run_dir / CONFIG_FILE, json.dumps(document, indent=2, ensure_ascii=False))


def read_config(run_dir: Path) -> tuple[RunConfig, dict[str, Any]]:
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        raise RunNotFoundError(f"run: {run_dir} holds no {CONFIG_FILE}; not a grokscope run directory")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        config = document["config"]
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
        raise RunNotFoundError(f"run: {path} is not a grokscope config (unreadable or without 'config')") from None
    if document.get("kind") == "digits":  # grokscope 0.1's own digits loop (DigitsConfig), gone since digits is a core task
        raise RunNotFoundError(f"run: {run_dir} was written by grokscope 0.1's separate digits loop, which no longer "
                               "exists; train it again with grokscope digits")
    if not isinstance(config, dict):
        raise RunNotFoundError(f"run: {path} is not a grokscope config ('config' is not a table)")
    try:
        return RunConfig.from_dict(config), document.get("provenance", {})
    except ConfigError as error:  # a file changed by hand or by another version: not the user's typing, so exit 1
        raise RunNotFoundError(f"run: {path} holds an invalid config ({error})") from None


def write_status(run_dir: Path, **status: Any) -> None:
    write_text_atomic(run_dir / STATUS_FILE, json.dumps(status, indent=2))


STOPPED_NOTE = "its writer ended before the stop rule (killed or interrupted); grokscope train --resume continues it"


def read_status(run_dir: Path) -> dict[str, Any]:
    """status.json, with `running` read as `stopped` where no process holds the run's lock any more (a run killed
    by SIGTERM or SIGKILL, or a machine that went down, never wrote its last status)."""
    path = run_dir / STATUS_FILE
    status = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"state": "unknown"}
    if status.get("state") == "running" and not is_locked(run_dir):
        status = {**status, "state": "stopped", "note": STOPPED_NOTE}
    return status


def is_locked(run_dir: Path) -> bool:
    """True while a process holds the run's writer lock (RunLock), this one included."""
    path = run_dir / ".lock"
    if not path.is_file():
        return False
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


class RunLock:
    """An exclusive advisory lock on a run directory, held by its one writer."""

    def __init__(self, run_dir: Path):
        self.path = run_dir / ".lock"
        self.handle = None

    def __enter__(self) -> "RunLock":
        self.handle = open(self.path, "a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise RunLockedError(f"run: {self.path.parent} is being written by another process") from None
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(str(os.getpid()))
        self.handle.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.handle is not None
        fcntl.flock(self.handle, fcntl.LOCK_UN)
        self.handle.close()
