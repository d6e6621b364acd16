"""Arms of members compared over seeds: who generalized, how fast, and how sure we are (issue 7).

An arm is the members that share the settings being compared: by default every config field whose
per-member value differs between the members given (one ensemble holding control and treatment, or
several runs), or the fields named by `by`. The seed is never an arm field: it is the replicate. Per
arm: members generalized / total, steps until held-out accuracy reaches the threshold (mirror-held-out
accuracy where the task has it, as `Run.summary` does), median and interquartile range with members that
never got there censored at their budget (`censored_stats`), the speed-up against a control arm with a
bootstrap interval, the log-rank p-value (and Mann–Whitney's where the arms share one budget), and, where the
arms share seeds, the fraction of paired seeds on which the arm was faster.
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

from ..checks import check_output_suffix
from ..config import RunConfig
from ..errors import ConfigError
from ..run import Run, load
from .censored_stats import (
    bootstrap_median_ratio,
    censored_quantile,
    logrank_p,
    mann_whitney_u,
)
from .first_steps import held_out_first_steps

TABLE_SUFFIXES = (".csv", ".json")
FIGURE_SUFFIXES = (".png", ".svg")
# Fields that say how a run is trained or recorded, not what it learns with: never arms.
_NOT_ARMS = frozenset({"seeds", "max_steps", "eval_every", "eval_log_points", "instruments", "collapse_diagnostics",
                       "generalize_acc", "patience", "checkpoints", "checkpoint_every", "resume_every", "device", "tf32", "cuda_graph",
                       "grokfast_max_gib"})
ARM_FIELDS = tuple(f.name for f in dataclasses.fields(RunConfig) if f.name not in _NOT_ARMS)


@dataclass(frozen=True)
class MemberOutcome:
    """One member: where it came from, its arm, and the first step its held-out accuracy reached the threshold."""

    run: str
    member: int
    seed: int
    arm: str
    step: int | None  # None: never reached within the budget (censored)
    budget: int  # the run's last evaluated step
    metric: str  # test_mirror/acc where the task has it, else test/acc

    @property
    def censored(self) -> bool:
        return self.step is None

    @property
    def steps(self) -> int:
        """Steps to the threshold, the budget where censored."""
        return self.budget if self.step is None else self.step


@dataclass(frozen=True)
class ArmResult:
    """One row of the comparison table (steps in training steps; `*_censored`: the true value is above it)."""

    arm: str
    settings: dict[str, Any]
    members: int
    generalized: int
    median: float
    median_censored: bool
    q25: float
    q25_censored: bool
    q75: float
    q75_censored: bool
    speedup: float | None  # median(control) / median(arm); None where both medians are censored
    speedup_bound: str | None  # "lower" or "upper" where one median is censored (the ratio is a bound)
    speedup_low: float | None  # bootstrap 95% interval
    speedup_high: float | None
    p_value: float | None  # log-rank against the control, two-sided; None where no member of either arm generalized
    p_mann_whitney: float | None  # Mann–Whitney U against the control, two-sided; None unless both share one budget
    paired_faster: int | None  # seeds shared with the control on which this arm was faster
    paired: int | None  # seeds shared with the control


@dataclass(frozen=True)
class Comparison:
    """The arms, the control, and how the numbers were made."""

    by: tuple[str, ...]
    threshold: float
    metric: str
    control: str
    resamples: int
    seed: int
    arms: tuple[ArmResult, ...]
    outcomes: tuple[MemberOutcome, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"by": list(self.by), "threshold": self.threshold, "metric": self.metric, "control": self.control,
                "censored_at": "budget (the run's last evaluated step)", "resamples": self.resamples, "seed": self.seed,
                "arms": [dataclasses.asdict(a) for a in self.arms]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, ensure_ascii=False)

    def to_csv(self) -> str:
        """One line per arm; the settings as `field` columns."""
        rows = [{**a.settings, **{k: v for k, v in dataclasses.asdict(a).items() if k != "settings"}} for a in self.arms]
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(dict.fromkeys(k for r in rows for k in r)), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return text.getvalue()


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "unset" if value is None else str(value)


def _member_settings(config: RunConfig, e: int) -> dict[str, Any]:
    """Member e's value of every arm field."""
    one = config.member(e).to_dict()
    return {name: one[name] for name in ARM_FIELDS}


def _check_by(by: Sequence[str]) -> tuple[str, ...]:
    for name in by:
        if name not in ARM_FIELDS:
            raise ConfigError(f"by: unknown field {name!r}; allowed: {', '.join(ARM_FIELDS)} (not seeds: it is the replicate)")
    if not by:
        raise ConfigError("by: name at least one field")
    return tuple(dict.fromkeys(by))


@dataclass(frozen=True)
class Arms:
    """How members fall into arms: the fields, each member's (run, member, arm label) in order, the arms' settings
    (label -> field -> value) in order of first appearance, and the control's label."""

    by: tuple[str, ...]
    members: tuple[tuple[Run, int, str], ...]
    settings: dict[str, dict[str, Any]]
    control: str


def member_arms(runs: Sequence[Run], by: Sequence[str] | None, control: str | None) -> Arms:
    """The arms the members of `runs` form (by default over every arm field that differs between them).

    Raises:
        ConfigError: an unknown `by` field, an unknown control label, or members that form a single arm.
    """
    fields = _check_by(by) if by is not None else arm_fields(runs)
    if not fields:
        raise ConfigError("by: the members form a single arm (no field but the seed differs); compare needs arms, "
                          "e.g. one run with per-member values (grokscope train --seeds 0-7 --wd 0,0,0,0,1,1,1,1) "
                          "or several runs that differ in a field (grokscope compare RUN_A RUN_B)")
    members, settings = [], {}
    for run in runs:
        for e in range(run.config.n_members):
            values = {name: _member_settings(run.config, e)[name] for name in fields}
            label = " ".join(f"{name}={_format_value(v)}" for name, v in values.items())
            settings.setdefault(label, values)
            members.append((run, e, label))
    labels = list(settings)
    if len(labels) < 2:
        raise ConfigError(f"by: {', '.join(fields)} puts every member in one arm ({labels[0]}); choose a field that differs")
    control = labels[0] if control is None else control
    if control not in settings:
        raise ConfigError(f"control: no arm is labelled {control!r}; arms: {', '.join(labels)}")
    return Arms(fields, tuple(members), settings, control)


def load_runs(runs: Sequence[Run | str | Path], *, table: bool) -> list[Run]:
    """The runs (Run objects or run directories), all of a stored table (`table`: task table) or none of them."""
    loaded = [run if isinstance(run, Run) else load(run) for run in runs]
    if not loaded:
        raise ConfigError("runs: give at least one run directory")
    other = next((run for run in loaded if (run.config.task == "table") != table), None)
    if other is not None and table:
        raise ConfigError(f"runs: {other.path.name} is not a stored table's run; compare stored tables with each other")
    if other is not None:
        raise ConfigError(f"runs: {other.path.name} is a stored table's run (task table), whose scalar target has no "
                          "accuracy and so no steps to generalization; compare stored tables with each other "
                          "(grokscope compare compares their final losses and failure)")
    return loaded


def _threshold(runs: Sequence[Run], threshold: float | None) -> float:
    if threshold is not None:
        if not 0 < threshold <= 1:
            raise ConfigError(f"threshold: must be in (0, 1], got {threshold}")
        return threshold
    levels = sorted({run.config.generalize_acc for run in runs})
    if len(levels) > 1:
        raise ConfigError(f"threshold: the runs' generalize_acc differ ({', '.join(map(str, levels))}); pass --threshold")
    return levels[0]


def _arm_result(label: str, settings: dict[str, Any], members: list[MemberOutcome], control: list[MemberOutcome],
                *, is_control: bool, resamples: int, seed: int) -> ArmResult:
    steps = np.array([m.steps for m in members], dtype=float)  # [n]
    censored = np.array([m.censored for m in members])  # [n]
    median, median_censored = censored_quantile(steps, censored, 0.5)
    q25, q25_censored = censored_quantile(steps, censored, 0.25)
    q75, q75_censored = censored_quantile(steps, censored, 0.75)
    row = dict(arm=label, settings=settings, members=len(members), generalized=int((~censored).sum()),
               median=median, median_censored=median_censored, q25=q25, q25_censored=q25_censored, q75=q75,
               q75_censored=q75_censored, speedup=None, speedup_bound=None, speedup_low=None, speedup_high=None,
               p_value=None, p_mann_whitney=None, paired_faster=None, paired=None)
    if is_control:
        return ArmResult(**row)
    control_steps = np.array([m.steps for m in control], dtype=float)
    control_median, control_censored = censored_quantile(control_steps, np.array([m.censored for m in control]), 0.5)
    if not (control_censored and median_censored):
        row["speedup"] = control_median / median
        row["speedup_bound"] = "lower" if control_censored else "upper" if median_censored else None
    row["speedup_low"], row["speedup_high"] = bootstrap_median_ratio(control_steps, steps, resamples=resamples, seed=seed)
    control_censored_flags = np.array([m.censored for m in control])
    row["p_value"] = logrank_p(steps, censored, control_steps, control_censored_flags)
    if len({m.budget for m in [*members, *control]}) == 1:  # censored members tie at one budget: Gehan's ordering holds
        row["p_mann_whitney"] = mann_whitney_u(steps, control_steps)[1]
    # (steps, censored): a member that generalized at the budget beats one censored there (censored means > budget)
    control_by_seed = {m.seed: (m.steps, m.censored) for m in reversed(control)}  # the first member of each seed
    arm_by_seed = {m.seed: (m.steps, m.censored) for m in reversed(members)}
    shared = [s for s in arm_by_seed if s in control_by_seed]
    if shared:
        row["paired"] = len(shared)
        row["paired_faster"] = sum(arm_by_seed[s] < control_by_seed[s] for s in shared)
    return ArmResult(**row)


def arm_fields(runs: Sequence[Run]) -> tuple[str, ...]:
    """The arm fields whose per-member value differs between the members of `runs` (empty: a single arm)."""
    settings = [_member_settings(run.config, e) for run in runs for e in range(run.config.n_members)]
    return tuple(name for name in ARM_FIELDS if len({repr(s[name]) for s in settings}) > 1)


def compare(runs: Sequence[Run | str | Path], *, by: Sequence[str] | None = None, threshold: float | None = None,
            control: str | None = None, resamples: int = 2_000, seed: int = 0) -> Comparison:
    """The comparison of the arms formed by the members of `runs`.

    Args:
        runs: one run whose members form arms, or several runs (Run objects or run directories).
        by: the fields that define arms (default: every arm field whose value differs between members).
        threshold: held-out accuracy that counts as generalized (default: the runs' `generalize_acc`).
        control: the control arm's label, e.g. "wd=1.0" (default: the first arm, in member order).
        resamples: bootstrap resamples for the speed-up interval.
        seed: seed of the bootstrap's generator.

    Raises:
        ConfigError: an unknown `by` field, an unknown control label, or members that form a single arm.
    """
    loaded = load_runs(runs, table=False)
    threshold = _threshold(loaded, threshold)
    grouped = member_arms(loaded, by, control)
    found = {run.path: held_out_first_steps(run, threshold) for run in loaded}
    outcomes = []
    for run, e, label in grouped.members:
        steps, budget = found[run.path]
        step, metric = steps[e]
        outcomes.append(MemberOutcome(str(run.path), e, run.config.seeds[e], label, step, budget, metric))
    members = {label: [m for m in outcomes if m.arm == label] for label in grouped.settings}
    control = grouped.control
    arms = tuple(_arm_result(label, values, members[label], members[control], is_control=label == control,
                             resamples=resamples, seed=seed) for label, values in grouped.settings.items())
    metric = "/".join(sorted({m.metric for m in outcomes}))
    return Comparison(grouped.by, threshold, metric, control, resamples, seed, arms, tuple(outcomes))


def write_table(comparison: Comparison, path: Path) -> Path:
    """Save the table as CSV or JSON (by the file's suffix); a stored table's comparison (table_compare) too."""
    check_output_suffix("out", path, TABLE_SUFFIXES)
    text = comparison.to_csv() if path.suffix.lower() == ".csv" else comparison.to_json()
    path.write_text(text, encoding="utf-8")
    return path


def generalized_fraction(comparison: Comparison, arm: str) -> tuple[list[int], list[float]]:
    """Steps and the fraction of the arm's members generalized by then: a step curve from step 1 to the budget."""
    members = [m for m in comparison.outcomes if m.arm == arm]
    reached = sorted(max(m.step, 1) for m in members if m.step is not None)
    steps = [1, *reached, max(m.budget for m in members)]
    fractions = [0.0, *[(i + 1) / len(members) for i in range(len(reached))], len(reached) / len(members)]
    return steps, fractions


def plot_generalized_fraction(comparison: Comparison, path: Path) -> Path:
    """Draw the fraction of members generalized against step (log axis), one curve per arm, to a PNG or SVG."""
    check_output_suffix("figure", path, FIGURE_SUFFIXES)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    for arm in comparison.arms:
        steps, fractions = generalized_fraction(comparison, arm.arm)
        axes.step(steps, fractions, where="post", label=f"{arm.arm} ({arm.generalized}/{arm.members})")
    axes.set_xscale("log")
    axes.set_ylim(-0.02, 1.02)
    axes.set_xlabel("step")
    axes.set_ylabel(f"fraction of members with {comparison.metric} ≥ {comparison.threshold:g}")
    axes.set_title("Generalized members per arm (curves end at the budget)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
