"""A stored table (task "table"): `table.safetensors` in the run directory, written once before training.

The file holds `x [E, N, F]`, `y [E, N]`, the masks `train`, `test`, `shift [E, N]` and, where present,
`permuted`, `unseen [E, F]` and `rule [E, N]` (tasks.StoredTable); its metadata holds the format and the
feature groups as JSON. Reading checks every shape and dtype against the run's config and each other, so a
table that disagrees with the config is refused in one line (CheckpointError) before anything trains.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ..config import RunConfig
from ..errors import CheckpointError
from ..operations import get_operation
from ..tasks import StoredTable
from .checkpoints import load_tensors, save_tensors

TABLE_FILE = "table.safetensors"
TABLE_FORMAT = "grokscope-table-1"
_ROWS = ("y", "train", "test", "shift")  # [E, N] each
_OPTIONAL = ("permuted", "unseen", "rule")


def table_path(run_dir: Path) -> Path:
    return run_dir / TABLE_FILE


def save_table(run_dir: Path, table: StoredTable, config: RunConfig) -> Path:
    """Write the table atomically (checked first, so a bad table is refused before the file exists)."""
    check_table(table, table_path(run_dir), config)
    tensors = {"x": table.x.double(), "y": table.y.double(), "train": table.train, "test": table.test,
               "shift": table.shift}
    for name in _OPTIONAL:
        value = getattr(table, name)
        if value is not None:
            tensors[name] = value.double() if name == "rule" else value
    path = table_path(run_dir)
    save_tensors(path, {k: v.contiguous().cpu() for k, v in tensors.items()},
                 {"format": TABLE_FORMAT, "groups": json.dumps(table.groups)})
    return path


def check_table(table: StoredTable, path: Path, config: RunConfig) -> None:
    """CheckpointError naming the tensor unless the table's parts agree: [E, N, F] inputs, [E, N] rows and masks,
    [E, F] column masks, groups naming columns in 0..F-1, every member with training and held-out rows and the same
    number of held-out rows (route ablation permutes them as one [E, N_test] block); and with the config: E members
    (its seeds) of p columns."""
    x = table.x
    if x.dim() != 3 or not x.is_floating_point():
        raise CheckpointError(f"{path}: tensor x must be float [E, N, F], got {x.dtype} {list(x.shape)}")
    n_members, n_rows, n_cols = x.shape
    for name in _ROWS + _OPTIONAL:
        value = getattr(table, name)
        if value is None:
            continue
        shape = (n_members, n_cols) if name in ("permuted", "unseen") else (n_members, n_rows)
        boolean = name in ("train", "test", "shift", "permuted", "unseen")
        if tuple(value.shape) != shape or (value.dtype == torch.bool) != boolean:
            raise CheckpointError(f"{path}: tensor {name} must be {'bool' if boolean else 'float'} {list(shape)}, "
                                  f"got {value.dtype} {list(value.shape)}")
    if not bool(table.train.any(1).all()) or not bool(table.test.any(1).all()):
        raise CheckpointError(f"{path}: every member needs training rows and held-out (test) rows")
    if len(set(table.test.sum(1).tolist())) != 1:
        raise CheckpointError(f"{path}: every member needs the same number of held-out (test) rows")
    if not table.groups or not all(isinstance(c, int) and 0 <= c < n_cols for cols in table.groups.values()
                                   for c in cols) or not all(table.groups.values()):
        raise CheckpointError(f"{path}: groups must name non-empty lists of columns in 0..{n_cols - 1}, "
                              f"got {table.groups!r}")
    if n_members != config.n_members or n_cols != config.p:
        raise CheckpointError(f"{path}: holds {n_members} members of {n_cols} columns, the config has "
                              f"{config.n_members} members (seeds) and p = {config.p}")


def load_table(run_dir: Path, config: RunConfig) -> StoredTable:
    """The run's stored table, checked against itself and against the config (members, columns)."""
    path = table_path(run_dir)
    if not path.is_file():
        raise CheckpointError(f"{path}: missing; a run of task 'table' reads its rows from it")
    tensors, metadata = load_tensors(path, TABLE_FORMAT)
    unknown = sorted(set(tensors) - {"x", *_ROWS, *_OPTIONAL})
    missing = sorted({"x", *_ROWS} - set(tensors))
    if unknown or missing:
        raise CheckpointError(f"{path}: tensor {(missing or unknown)[0]} {'missing' if missing else 'unexpected'}")
    try:
        groups = json.loads(metadata.get("groups", ""))
    except json.JSONDecodeError:
        raise CheckpointError(f"{path}: its groups metadata is not JSON") from None
    if not isinstance(groups, dict):
        raise CheckpointError(f"{path}: groups must map names to column lists, got {groups!r}")
    table = StoredTable(get_operation("table"), tensors["x"].shape[-1] if tensors["x"].dim() else 0, tensors["x"],
                        tensors["y"], tensors["train"], tensors["test"], tensors["shift"], groups,
                        *(tensors.get(name) for name in _OPTIONAL))
    check_table(table, path, config)
    return table
