"""The results table of a sweep: one row per member, written as Parquet (readable from pandas and DuckDB).

Columns, in order: `cell` (index in the spec's expansion), `pack` (run directory under packs/),
`member` (index in that pack), the spec's axes (`task`, `frac`, `seed`, ...), then `task, p, seed,
frac, lr, wd` where not already axes, `budget` (max_steps), `steps_trained`, `stop_reason`,
`generalized` (test accuracy reached the threshold within the budget; False means censored at the
budget), and everything `Run.summary()` gives per member: `steps_to_memorize`,
`steps_to_generalize`, `grokking_delay`, final accuracies, mirror-held-out figures (commutative
tasks; empty otherwise), `diverged`, the phases (`phases_memorization_end`, ...), the early warning
and the live key frequencies (a JSON list as text). Steps are nullable integers: empty where never
reached.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ConfigError, RunNotFoundError
from ..run import load
from ..store.atomic import write_atomic
from .directory import RESULTS_FILE
from .packing import Pack
from .spec import SEED_AXIS, Cell

FORMATS = ("csv", "json", "parquet")
CELL_FIELDS = ("task", "p", "seed", "frac", "lr", "wd")
_TAKEN = {"member", "seed", "frac", "lr", "wd"}  # summary keys the row already has


def _flatten(member: dict[str, Any]) -> dict[str, Any]:
    """A summary member dict as flat columns: nested dicts prefixed by their key, lists as JSON text."""
    flat: dict[str, Any] = {}
    for key, value in member.items():
        if key in _TAKEN:
            continue
        if isinstance(value, dict):
            flat |= {f"{key}_{k}": v for k, v in value.items()}
        elif isinstance(value, (list, tuple)):
            flat[key] = json.dumps(list(value))
            flat[f"n_{key}"] = len(value)
        else:
            flat[key] = value
    return flat


def _axis_value(cell: Cell, axis: str) -> Any:
    """The cell's value on an axis: as the spec wrote it, or the config's where its case left the field alone."""
    if axis in cell.coords:
        return cell.coords[axis]
    return cell.config.seeds[0] if axis == SEED_AXIS else getattr(cell.config, axis)


def pack_rows(run_dir: Path, pack: Pack, axes: list[str]) -> list[dict[str, Any]]:
    """One row per member of a trained pack (plain Python values, so they travel through Ray as they are)."""
    summary = load(run_dir).summary()
    status = summary["status"]
    config = pack.config
    rows = []
    for e, (cell, member) in enumerate(zip(pack.cells, summary["members"])):
        row: dict[str, Any] = {"cell": cell.index, "pack": pack.name, "member": e}
        row |= {axis: _axis_value(cell, axis) for axis in axes}
        standard = {"task": config.task, "p": config.p, "seed": config.seeds[e], "frac": config.per_member("frac")[e],
                    "lr": config.per_member("lr")[e], "wd": config.per_member("wd")[e]}
        row |= {k: v for k, v in standard.items() if k not in axes}
        row |= {"budget": config.max_steps, "steps_trained": status.get("step"), "stop_reason": status.get("stop_reason"),
                "generalized": member["steps_to_generalize"] is not None}
        row |= _flatten(member)
        rows.append(row)
    return rows


def _is_step_column(name: str) -> bool:
    """Columns that hold steps (or step differences): integers even when every value is missing."""
    return "step" in name or name.startswith("phases_") or name in ("grokking_delay", "budget")


def _column_dtype(name: str, values: list[Any]) -> str:
    """A nullable pandas dtype from the Python types present (never from the values: 1.0 stays a float)."""
    present = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not present:
        return "Int64" if _is_step_column(name) else "Float64"
    if all(isinstance(v, bool) for v in present):
        return "boolean"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "Int64"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "Float64"
    if all(isinstance(v, str) for v in present):
        return "string"
    raise TypeError(f"results: column mixes types {sorted({type(v).__name__ for v in present})}")


def results_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The table from rows (any order), sorted by cell, with nullable typed columns.

    Rows are sorted before the columns are read off them, so the column order (first appearance over the
    sorted rows) does not depend on the order packs finished in (Ray returns them as they complete), nor on
    which pack's members carry fields the others lack (mirror-held-out figures, for commutative tasks only).
    """
    rows = sorted(rows, key=lambda row: row["cell"])
    columns = list(dict.fromkeys(k for row in rows for k in row))
    data = {c: pd.array([row.get(c) for row in rows], dtype=_column_dtype(c, [row.get(c) for row in rows])) for c in columns}
    return pd.DataFrame(data, columns=columns)


def write_results(sweep_dir: Path, frame: pd.DataFrame) -> Path:
    """Write results.parquet atomically (a reader sees the old table or the new one); returns its path."""
    path = sweep_dir / RESULTS_FILE
    write_atomic(path, lambda tmp: frame.to_parquet(tmp, index=False))
    return path


def read_results(sweep_dir: str | Path) -> pd.DataFrame:
    """The results table of a sweep directory.

    Raises:
        RunNotFoundError: no pack has finished yet (or the path is not a sweep directory).
    """
    path = Path(sweep_dir) / RESULTS_FILE
    if not path.is_file():
        raise RunNotFoundError(f"sweep: {path} does not exist (not a sweep directory, or no pack has finished yet)")
    return pd.read_parquet(path)


def export(frame: pd.DataFrame, fmt: str) -> str:
    """The table as CSV or JSON text (records, one object per member).

    Raises:
        ConfigError: fmt is not csv or json (Parquet is a file: see `write_results`).
    """
    if fmt == "csv":
        return frame.to_csv(index=False)
    if fmt == "json":
        return frame.to_json(orient="records", indent=1, force_ascii=False)
    raise ConfigError(f"format: must be one of {', '.join(FORMATS)}; got {fmt!r}")
