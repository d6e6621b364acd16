"""A sweep directory: sweep.json (the spec), packs/<name>/ (one run directory per pack), results.parquet.

    SWEEP/
      sweep.json          {"format": 1, "spec": {...}}: what resume compares against
      packs/000-add-p97-e27/   an ordinary run directory (config.json, metrics.sqlite, checkpoints/, ...)
      results.parquet     one row per member of every finished pack (sweep/results.py)
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..checks import check_output_dir
from ..errors import ConfigError, RunNotFoundError
from ..run import load
from ..store.atomic import write_text_atomic
from ..store.run_dir import CONFIG_FILE, read_status, write_config
from .packing import Pack
from .spec import SweepSpec, parse_spec

SWEEP_FILE = "sweep.json"
RESULTS_FILE = "results.parquet"
PACKS_DIR = "packs"
FORMAT_VERSION = 1


def _canonical(spec: SweepSpec) -> str:
    return json.dumps(spec.to_dict(), sort_keys=True, ensure_ascii=False)


def is_sweep_dir(path: Path) -> bool:
    return (path / SWEEP_FILE).is_file()


def read_spec(sweep_dir: Path) -> SweepSpec:
    """The spec a sweep directory was created with.

    Raises:
        RunNotFoundError: the path holds no sweep.json (or an unreadable one).
    """
    path = sweep_dir / SWEEP_FILE
    if not path.is_file():
        raise RunNotFoundError(f"sweep: {sweep_dir} holds no {SWEEP_FILE}; not a grokscope sweep directory")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        version, data = document["format"], document["spec"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise RunNotFoundError(f"sweep: {path} is not a grokscope sweep file") from None
    if version != FORMAT_VERSION:
        raise RunNotFoundError(f"sweep: {path} has format {version}, this grokscope reads {FORMAT_VERSION}")
    return parse_spec(data)


def open_sweep_dir(out: Path, spec: SweepSpec) -> Path:
    """Create `out/<spec name>` with its sweep.json, or reopen it when it holds the same spec (resume).

    Raises:
        ConfigError: `out` is a file, or the directory holds a different spec.
    """
    check_output_dir(out)
    sweep_dir = out / spec.name
    if is_sweep_dir(sweep_dir):
        if _canonical(read_spec(sweep_dir)) != _canonical(spec):
            raise ConfigError(f"out: {sweep_dir} holds a different sweep spec named {spec.name!r}; "
                              "use another --out or rename the spec")
        return sweep_dir
    (sweep_dir / PACKS_DIR).mkdir(parents=True, exist_ok=True)
    write_text_atomic(sweep_dir / SWEEP_FILE, json.dumps({"format": FORMAT_VERSION, "spec": spec.to_dict()},
                                                         indent=2, ensure_ascii=False))
    return sweep_dir


def pack_dir(sweep_dir: Path, pack: Pack) -> Path:
    return sweep_dir / PACKS_DIR / pack.name


def is_finished(run_dir: Path) -> bool:
    """Whether a pack's run directory says its training finished."""
    return read_status(run_dir).get("state") == "finished"


def prepare_pack_dir(run_dir: Path, pack: Pack, device: torch.device) -> None:
    """Create the pack's run directory with its config, or check that an existing one holds the same config.

    Raises:
        ConfigError: the directory holds another config (the sweep directory was edited by hand).
    """
    if (run_dir / CONFIG_FILE).is_file():
        if load(run_dir).config != pack.config:
            raise ConfigError(f"out: {run_dir} holds another config than its pack; remove it to retrain the pack")
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    write_config(run_dir, pack.config, device)
