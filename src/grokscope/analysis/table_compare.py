"""Arms of a stored table's members compared over seeds (task "table": the regime demos' zoos).

A scalar target has no accuracy and so no step at which a member generalized: what an arm changes is where its
members end. Per arm (formed as `compare` forms them, compare.member_arms): the members' final held-out loss
(`test/loss`), failure under the shift (`shift/failure`) and, where the table holds the true rule, excess failure
(`shift/excess_failure`): median and interquartile range. Against the control, on the outcome (excess failure where
logged, else failure): the ratio median(arm) / median(control) with a BCa bootstrap interval over members
(censored_stats.bootstrap_median_ratio, nothing censored here) and Mann–Whitney's two-sided p
(censored_stats.mann_whitney_u, scipy); where the arms share seeds, the paired seeds on which the arm ended lower.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..run import Run
from .censored_stats import bootstrap_median_ratio, mann_whitney_u
from .compare import load_runs, member_arms
from .summary import table_finals

FINALS = ("test_loss", "failure", "excess_failure")  # summary.TABLE_FINALS' keys an arm is described by


@dataclass(frozen=True)
class TableArm:
    """One row: the arm, its members, each final's median and quartiles (None where not logged), and the outcome's
    ratio to the control with its interval, p and paired count (None for the control itself)."""

    arm: str
    settings: dict[str, Any]
    members: int
    median: dict[str, float | None]
    q25: dict[str, float | None]
    q75: dict[str, float | None]
    ratio: float | None
    ratio_low: float | None
    ratio_high: float | None
    p_mann_whitney: float | None
    paired_lower: int | None
    paired: int | None


@dataclass(frozen=True)
class TableComparison:
    by: tuple[str, ...]
    outcome: str  # the final the ratio and p are computed on
    control: str
    resamples: int
    seed: int
    arms: tuple[TableArm, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"by": list(self.by), "outcome": self.outcome, "control": self.control, "resamples": self.resamples,
                "seed": self.seed, "arms": [dataclasses.asdict(a) for a in self.arms]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, ensure_ascii=False)

    def to_csv(self) -> str:
        """One line per arm: its settings, then each final's median and quartiles, then the outcome's test."""
        rows = []
        for a in self.arms:
            row: dict[str, Any] = {**a.settings, "arm": a.arm, "members": a.members}
            for key in FINALS:
                row |= {f"{key}_median": a.median[key], f"{key}_q25": a.q25[key], f"{key}_q75": a.q75[key]}
            rows.append(row | {k: getattr(a, k) for k in ("ratio", "ratio_low", "ratio_high", "p_mann_whitney",
                                                          "paired_lower", "paired")})
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return text.getvalue()


def _finals(run: Run) -> dict[str, np.ndarray]:
    """key -> [E] the last evaluation's value of each of FINALS (NaN where the run does not log it)."""
    n = run.config.n_members
    with run.metrics() as store:
        _, finals = table_finals(store, n)
    return {key: finals[key].numpy() if key in finals else np.full(n, np.nan) for key in FINALS}


def _quantile(values: np.ndarray, q: float) -> float | None:
    kept = values[~np.isnan(values)]
    return float(np.quantile(kept, q)) if kept.size else None


def compare_tables(runs: Sequence[Run | str | Path], *, by: Sequence[str] | None = None, control: str | None = None,
                   resamples: int = 2_000, seed: int = 0) -> TableComparison:
    """The comparison of the arms formed by the members of stored tables' runs (see the module docstring).

    Raises:
        ConfigError: a run that is not a stored table's, an unknown `by` field or control, a single arm.
    """
    loaded = load_runs(runs, table=True)
    grouped = member_arms(loaded, by, control)
    finals = {run.path: _finals(run) for run in loaded}
    values: dict[str, dict[str, list[float]]] = {label: {key: [] for key in FINALS} for label in grouped.settings}
    seeds: dict[str, dict[int, float]] = {label: {} for label in grouped.settings}
    outcome = "excess_failure" if any(not np.isnan(f["excess_failure"]).all() for f in finals.values()) else "failure"
    for run, e, label in grouped.members:
        for key in FINALS:
            values[label][key].append(float(finals[run.path][key][e]))
        seeds[label].setdefault(run.config.seeds[e], float(finals[run.path][outcome][e]))  # the first of each seed
    base = np.array(values[grouped.control][outcome])
    arms = []
    for label, settings in grouped.settings.items():
        arrays = {key: np.array(v) for key, v in values[label].items()}
        row: dict[str, Any] = dict(arm=label, settings=settings, members=len(arrays[outcome]),
                                   median={k: _quantile(a, 0.5) for k, a in arrays.items()},
                                   q25={k: _quantile(a, 0.25) for k, a in arrays.items()},
                                   q75={k: _quantile(a, 0.75) for k, a in arrays.items()},
                                   ratio=None, ratio_low=None, ratio_high=None, p_mann_whitney=None, paired_lower=None,
                                   paired=None)
        if label != grouped.control:
            mine = arrays[outcome]
            row["ratio"] = float(np.median(mine) / np.median(base))
            row["ratio_low"], row["ratio_high"] = bootstrap_median_ratio(mine, base, resamples=resamples, seed=seed)
            row["p_mann_whitney"] = mann_whitney_u(mine, base)[1]
            shared = [s for s in seeds[label] if s in seeds[grouped.control]]
            if shared:
                row["paired"] = len(shared)
                row["paired_lower"] = sum(seeds[label][s] < seeds[grouped.control][s] for s in shared)
        arms.append(TableArm(**row))
    return TableComparison(grouped.by, outcome, grouped.control, resamples, seed, tuple(arms))
