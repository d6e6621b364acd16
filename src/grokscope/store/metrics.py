"""The metrics database of a run: SQLite in WAL mode, long format, one transaction per evaluation.

WAL lets a dashboard read while the trainer writes; a transaction per evaluation means a reader
sees all rows of an evaluation or none (never a torn row).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Iterable

import torch

from ..errors import CheckpointError, RunNotFoundError

SCHEMA_VERSION = 1
TABLES = ("meta", "scalars", "vectors")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scalars (
    member INTEGER NOT NULL, step INTEGER NOT NULL, name TEXT NOT NULL, value REAL,
    PRIMARY KEY (name, member, step)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS vectors (
    member INTEGER NOT NULL, step INTEGER NOT NULL, name TEXT NOT NULL, idx INTEGER NOT NULL, value REAL,
    PRIMARY KEY (name, member, step, idx)
) WITHOUT ROWID;
"""


class MetricsStore:
    """Reads and writes one run's `metrics.sqlite`."""

    def __init__(self, path: Path, *, readonly: bool = False):
        self.path, self.readonly = path, readonly
        if readonly:
            if not path.is_file():
                raise RunNotFoundError(f"run: {path} does not exist yet (the run has not started training)")
            self.conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
            version = self.schema_version()
            if version != SCHEMA_VERSION:
                raise CheckpointError(f"{path}: metrics schema version {version}, this grokscope reads {SCHEMA_VERSION}")
            missing = [name for name in TABLES if name not in self._tables()]
            if missing:
                raise CheckpointError(f"{path}: not a grokscope metrics database (no table {missing[0]})")
        else:
            existed = path.is_file() and path.stat().st_size > 0
            self.conn = sqlite3.connect(path)
            if existed:
                self._check_whole()
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            with self.conn:
                self.conn.executescript(_SCHEMA)
                self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def _tables(self) -> set[str]:
        return {row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    @classmethod
    def check(cls, path: Path) -> None:
        """Raise CheckpointError (one line) unless the database at path can take a writer's rows: what a command that
        computes for minutes before writing (monitor) checks first. Opened read-only: nothing is written."""
        store = cls(path, readonly=True)
        try:
            store._check_whole()
        finally:
            store.conn.close()

    def _check_whole(self) -> None:
        """Before a writer adds rows to an existing database: it is grokscope's, of this schema, and SQLite's
        quick_check finds it intact (a truncated or overwritten file is refused in one line, nothing written)."""
        try:
            version = self.schema_version()
            problems = [row[0] for row in self.conn.execute("PRAGMA quick_check")]
            problems += [f"no table {name}" for name in TABLES if name not in self._tables()]
        except CheckpointError:
            self.conn.close()
            raise
        except sqlite3.DatabaseError as err:
            problems = [str(err)]
        if problems != ["ok"]:
            problems = [p for p in problems if p != "ok"]
            self.conn.close()
            raise CheckpointError(f"{self.path}: the metrics database is damaged ({problems[0]}); restore it from a "
                                  "copy or train the run again")
        if version != SCHEMA_VERSION:
            self.conn.close()
            raise CheckpointError(f"{self.path}: metrics schema version {version}, this grokscope writes {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close; a writer first leaves WAL mode (when no reader holds the file), so a finished run's readers, which
        open it read-only, need no -wal or -shm file and leave none behind."""
        if not self.readonly:
            try:
                self.conn.execute("PRAGMA journal_mode=DELETE")
            except sqlite3.OperationalError:  # a dashboard is reading: WAL stays, as it must for that reader
                pass
        self.conn.close()

    def __enter__(self) -> "MetricsStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_meta(self, key: str, value: str) -> None:
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def vector_series(self, name: str, member: int) -> tuple[list[int], list[list[float]]]:
        """Steps and, at each, the vector metric's values (index order) for one member."""
        rows = self.conn.execute("SELECT step, idx, value FROM vectors WHERE name = ? AND member = ? ORDER BY step, idx",
                                 (name, member)).fetchall()
        steps: list[int] = []
        values: list[list[float]] = []
        for step, _, value in rows:
            if not steps or steps[-1] != step:
                steps.append(step)
                values.append([])
            values[-1].append(value)
        return steps, values

    def vector_array(self, name: str, members: list[int]) -> tuple[list[int], list[list[list[float]]]]:
        """Steps and values [len(members), steps, idx] of a vector metric for several members (one query);
        a member with no row at a step gets NaN there."""
        marks = ",".join("?" * len(members))
        rows = self.conn.execute(f"SELECT member, step, idx, value FROM vectors WHERE name = ? AND member IN ({marks})",
                                 (name, *members)).fetchall()
        steps = sorted({step for _, step, _, _ in rows})
        width = 1 + max((idx for _, _, idx, _ in rows), default=-1)
        slot, position = {m: i for i, m in enumerate(members)}, {s: i for i, s in enumerate(steps)}
        values = [[[float("nan")] * width for _ in steps] for _ in members]
        for member, step, idx, value in rows:
            values[slot[member]][position[step]][idx] = float("nan") if value is None else value
        return steps, values

    def schema_version(self) -> int:
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as err:
            raise CheckpointError(f"{self.path}: not a grokscope metrics database ({err})") from None
        if row is None:
            raise CheckpointError(f"{self.path}: metrics database has no schema version")
        return int(row[0])

    def write_evaluation(self, step: int, scalars: dict[str, torch.Tensor], vectors: dict[str, torch.Tensor] | None = None,
                         meta: dict[str, str] | None = None) -> None:
        """One evaluation in one transaction: scalars name -> [E], vectors name -> [E, n] and meta keys at `step`
        (replacing a resumed run's rows), so a concurrent reader sees all of it or none of it."""
        scalar_rows = [(member, step, name, None if v != v else float(v))  # NaN is stored as NULL
                       for name, tensor in scalars.items()
                       for member, v in enumerate(tensor.detach().double().cpu().tolist())]
        vector_rows = [(member, step, name, idx, float(v))
                       for name, tensor in (vectors or {}).items()
                       for member, row in enumerate(tensor.detach().double().cpu().tolist())
                       for idx, v in enumerate(row)]
        with self.conn:
            self.conn.executemany("INSERT OR REPLACE INTO scalars VALUES (?, ?, ?, ?)", scalar_rows)
            self.conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?, ?)", vector_rows)
            self.conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list((meta or {}).items()))

    def replace_metrics(self, names: Iterable[str], scalars: dict[int, dict[str, torch.Tensor]],
                        vectors: dict[int, dict[str, torch.Tensor]], meta: dict[str, str] | None = None) -> None:
        """Delete every row of `names` (both tables) and write the new ones, in one transaction.

        What a retrospective pass such as `grokscope monitor` writes: a second pass replaces the first
        instead of leaving rows of steps it no longer measures. A reader sees the old rows or the new.

        Args:
            names: the metric names whose rows are replaced (those not written again end up absent).
            scalars: step -> name -> [E] values (NaN stored as NULL). vectors: step -> name -> [E, n].
            meta: keys written into the `meta` table in the same transaction.
        """
        names = list(names)
        marks = ",".join("?" * len(names))
        scalar_rows = [(member, step, name, None if v != v else float(v))
                       for step, values in scalars.items() for name, tensor in values.items()
                       for member, v in enumerate(tensor.detach().double().cpu().tolist())]
        vector_rows = [(member, step, name, idx, None if v != v else float(v))
                       for step, values in vectors.items() for name, tensor in values.items()
                       for member, row in enumerate(tensor.detach().double().cpu().tolist()) for idx, v in enumerate(row)]
        with self.conn:
            self.conn.execute(f"DELETE FROM scalars WHERE name IN ({marks})", names)
            self.conn.execute(f"DELETE FROM vectors WHERE name IN ({marks})", names)
            self.conn.executemany("INSERT INTO scalars VALUES (?, ?, ?, ?)", scalar_rows)
            self.conn.executemany("INSERT INTO vectors VALUES (?, ?, ?, ?, ?)", vector_rows)
            self.conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", list((meta or {}).items()))

    def names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT name FROM scalars ORDER BY name")]

    def series(self, name: str) -> tuple[list[int], dict[int, list[float | None]]]:
        """Steps and, per member, the values of one scalar metric (None where missing or NaN)."""
        rows = self.conn.execute("SELECT member, step, value FROM scalars WHERE name = ? ORDER BY step", (name,)).fetchall()
        steps = sorted({step for _, step, _ in rows})
        position = {step: i for i, step in enumerate(steps)}
        by_member: dict[int, list[float | None]] = {}
        for member, step, value in rows:
            by_member.setdefault(member, [None] * len(steps))[position[step]] = value
        return steps, by_member

    def series_tensor(self, name: str, n_members: int) -> tuple[list[int], torch.Tensor]:
        """Steps and [n_members, steps] float64 values of one scalar metric, NaN where missing."""
        steps, by_member = self.series(name)
        missing = [None] * len(steps)
        values = [[float("nan") if v is None else v for v in by_member.get(e, missing)] for e in range(n_members)]
        return steps, torch.tensor(values, dtype=torch.float64).reshape(n_members, len(steps))

    def rows(self, names: Iterable[str] | None = None) -> list[tuple[int, int, str, float | None]]:
        """(member, step, name, value) rows, all or of the given names."""
        if names is None:
            return self.conn.execute("SELECT member, step, name, value FROM scalars ORDER BY name, member, step").fetchall()
        names = list(names)
        marks = ",".join("?" * len(names))
        query = f"SELECT member, step, name, value FROM scalars WHERE name IN ({marks}) ORDER BY name, member, step"
        return self.conn.execute(query, names).fetchall()

    def last_step(self) -> int | None:
        row = self.conn.execute("SELECT MAX(step) FROM scalars").fetchone()
        return row[0]
