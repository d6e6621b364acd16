"""Scoring the early warning on a benchmark sweep: tuning tasks and held-out tasks apart.

The benchmark (`warning-benchmark-cpu`, docs/instruments.md) trains, per task, a grokking arm and controls that
never generalize within the budget. Members are grouped into arms by (task, p, frac, wd), from their packs'
configs: wd = 0 is the **no-decay** control; among the arms with weight decay, the largest training fraction is
the **grok** arm and the others are **small-fraction** controls. Ground truth per member (from the test curve,
never an input to an alarm): t_mem, the first evaluation with training accuracy >= 0.99; t_g, the first with
held-out accuracy >= 0.95 (mirror-held-out where logged); the plateau is t_g − t_mem.

Each measure is a row; all are read at every evaluation (monitor measures, written at weights checkpoints by
`grokscope monitor`, hold their last value until the next checkpoint: what a live reader would know):

- the peak warning: its statistic (`instruments.warning`: the running maximum of the gated peak ratio, so that
  "above the threshold by step t" and "warned by step t" are the same event) and its alarm; the shuffle warning
  likewise (the gated shuffle z, where the sweep logged it), and the either warning (the larger of the two
  statistics, each over its threshold); the legacy warning
  and the phases' cleanup start as 0/1 "fired by step t", with their own alarms;
- the instruments' other training-side measures and the monitor's measures, each with an alarm rule fitted
  (validation.fit_alarm_rule) on the tuning tasks' members and applied unchanged to the held-out tasks.

Scores, each with a 95% percentile bootstrap interval over members (rank_stats.bootstrap_interval):

- time-matched AUROC of grok vs each control: grokking member g is read at t_mem + f·(t_g − t_mem) (f =
  PLATEAU_FRACTION), every control member at that same step (validation.matched_comparisons);
- true alarms: alarms before t_g over the grokking arm's members that grokked; false alarms: alarms within the
  budget over a control's members that never generalized (a control member that did is counted apart, as
  `generalized`); median lead (t_g − t_alarm) / (t_g − t_mem) over the true alarms, and in steps.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from .. import metric_names as names
from ..errors import ConfigError
from ..instruments import warning
from ..instruments.phases import phase_indices
from ..operations import task_title
from ..run import Run, load
from ..sweep.directory import PACKS_DIR, read_spec
from .first_steps import first_step_reaching, held_out_first_steps
from .monitor_validation import (
    CLEAN_HELDOUT_ACC,
    AlarmRule,
    AlarmScore,
    MemberTrace,
    describe_rule,
    finite_mean,
    fit_alarm_rule,
    format_value,
    generalized,
    matched_comparisons,
    never_generalized,
    score_alarm,
)
from .rank_stats import bootstrap_interval

TUNING_TASKS = ("x+y", "x*y")  # chosen 2026-12-02, before any held-out result was seen; x-y and x/y held out
PLATEAU_FRACTION = 0.5
MEMORIZED_ACC = 0.99
GROKKED_ACC = 0.95
TARGETS = {"true_rate": 0.9, "false_rate": 0.05, "median_lead_fraction": 0.3, "auroc": 0.95}
GROK, SMALL_FRACTION, NO_DECAY = "grok", "small-fraction", "no-decay"

# measure -> (source, description); fixed-rule alarms carry their own alarm, the others get a fitted rule.
WARNING = "peak_warning"  # values: the peak rule's statistic; alarm: its warning ("warning" before 2026-12-07)
SHUFFLE_WARNING = "shuffle_warning"  # likewise for the shuffle rule
EITHER_WARNING = "either_warning"  # and for either of the two (its statistic in units of their thresholds)
WARNINGS = {WARNING: warning.PEAK, SHUFFLE_WARNING: warning.SHUFFLE, EITHER_WARNING: warning.EITHER}  # row -> rule
CALIBRATED = {WARNING: warning.PEAK_THRESHOLD, SHUFFLE_WARNING: warning.SHUFFLE_Z_THRESHOLD}  # rows with a fitted threshold
LEGACY_WARNING = "legacy_warning"
CLEANUP_START = "cleanup_start"
FIXED = (WARNING, SHUFFLE_WARNING, EITHER_WARNING, LEGACY_WARNING, CLEANUP_START)
MEASURES: dict[str, tuple[str, str]] = {
    WARNING: ("instruments", "the peak warning: gated W_E peak ratio, running max; alarm at its threshold"),
    SHUFFLE_WARNING: ("instruments", "the shuffle warning: gated W_E peak ratio against shuffled residues (z), "
                                     "running max; alarm at its threshold"),
    EITHER_WARNING: ("instruments", "the either warning: max(peak ratio / its threshold, z / its threshold), gated, "
                                    "running max; alarm at 1"),
    LEGACY_WARNING: ("instruments", "the legacy warning (3x median after memorization end), fired by step t"),
    CLEANUP_START: ("phases", "cleanup start (live key set admitted), reached by step t"),
    "embed_peak_ratio": ("instruments", "W_E peak ratio, ungated"),
    "embed_peak_z": ("instruments", "W_E peak ratio against shuffled residues (z), ungated"),
    "embed_peak_excess": ("instruments", "W_E peak ratio over the shuffled rows' (effect size), ungated"),
    "logit_peak_ratio": ("instruments", "W_L = W_out W_U peak ratio, ungated"),
    "gini_embed": ("instruments", "Gini of W_E's Fourier norms"),
    "gini_neuron_logit": ("instruments", "Gini of W_L's Fourier norms"),
    "weight_norm_sq": ("instruments", "squared weight norm"),
    "train_loss": ("training", "training loss"),
    "llc": ("monitor", "local learning coefficient"),
    "prequential_bits_per_example": ("monitor", "prequential code length per training label"),
    "effective_rank": ("monitor", "effective rank of the last MLP's neurons"),
    "effective_lr": ("monitor", "relative weight change per step"),
    "route_ablation": ("monitor", "route ablation (mean over feature groups)"),
}
_SCALARS = {"embed_peak_z": names.EMBED_PEAK_Z, "embed_peak_excess": names.EMBED_PEAK_EXCESS,
            "gini_embed": names.GINI_EMBED, "gini_neuron_logit": names.GINI_NEURON_LOGIT,
            "weight_norm_sq": names.WEIGHT_NORM_SQ, "train_loss": names.TRAIN_LOSS}
_MONITOR = {"llc": names.LLC, "prequential_bits_per_example": names.PREQUENTIAL_BITS,
            "effective_rank": names.EFFECTIVE_RANK, "effective_lr": names.EFFECTIVE_LR_PER_STEP}


@dataclass
class Arm:
    """The members of one (task, p, frac, wd) across a sweep's packs."""

    task: str
    p: int
    frac: float
    wd: float
    kind: str = ""
    traces: list[MemberTrace] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.task} p={self.p} frac={self.frac:g} wd={self.wd:g}"


def _held(found: list[int], values: np.ndarray, steps: list[int]) -> np.ndarray:
    """[E, S] values [E, S_found] written at `found` steps, read at `steps`: each holds the last value written at
    or before it (NaN before the first); a metric written at every evaluation is read as is."""
    out = np.full((values.shape[0], len(steps)), math.nan)
    if not found:
        return out
    k = np.searchsorted(np.asarray(found), np.asarray(steps), side="right") - 1  # [S]
    have = k >= 0
    out[:, have] = values[:, k[have]]
    return out


def _aligned(store, name: str, n: int, steps: list[int]) -> np.ndarray:
    """[E, S] a scalar metric on the evaluation steps (`_held`)."""
    found, values = store.series_tensor(name, n)
    return _held(found, values.double().numpy().reshape(n, len(found)), steps)


def _vectors(store, name: str, n: int, steps: list[int]) -> np.ndarray | None:
    """[E, S, K] a vector metric logged at every evaluation, or None where it is not."""
    found, values = store.vector_array(name, list(range(n)))
    return np.nan_to_num(np.asarray(values, dtype=float)) if found == steps and found else None


def pack_traces(run: Run) -> list[MemberTrace]:
    """Every member's benchmark trace from one finished pack (no monitor run needed; its measures join when
    `grokscope monitor` has written them)."""
    n = run.config.n_members
    grokked, budget = held_out_first_steps(run, GROKKED_ACC)
    n_train = run.data().train_mask.sum(1).double().numpy()  # [E]
    with run.metrics() as store:
        steps, train_acc = store.series_tensor(names.TRAIN_ACC, n)
        if not steps:
            raise ConfigError(f"validate-warning: {run.path} has no evaluations")
        heldout = {name: store.series_tensor(name, n)[1] for name in (names.MIRROR_ACC, names.TEST_ACC)}
        values = {m: _aligned(store, metric, n, steps) for m, metric in {**_SCALARS, **_MONITOR}.items()}
        values["prequential_bits_per_example"] /= n_train[:, None]
        routes = _route_ablation(store, n, steps)
        embed = _vectors(store, names.EMBED_NORMS, n, steps)
        logit = _vectors(store, names.NEURON_LOGIT_NORMS, n, steps)
        n_key = _aligned(store, names.N_KEY_FREQUENCIES_LIVE, n, steps)
    if embed is None:
        raise ConfigError(f"validate-warning: {run.path} did not log W_E's spectrum at every evaluation (instruments off?)")
    acc = train_acc.nan_to_num(nan=0.0)
    embed_t = torch.from_numpy(embed)
    statistic = warning.gated_statistic(acc, embed_t).cummax(dim=1).values.numpy()  # [E, S]
    z = torch.from_numpy(np.nan_to_num(values["embed_peak_z"], nan=0.0))  # [E, S]: 0 where not logged (older sweeps)
    logged_z = bool(np.isfinite(values["embed_peak_z"]).any())
    unlogged = np.full((n, len(steps)), math.nan)
    shuffle_statistic = warning.gated(acc, z).cummax(dim=1).values.numpy() if logged_z else unlogged
    either_statistic = (warning.gated(acc, warning.either_statistic(warning.peak_ratio(embed_t), z)).cummax(dim=1)
                        .values.numpy() if logged_z else unlogged)
    phase = phase_indices(torch.tensor(steps), acc, torch.from_numpy(np.nan_to_num(values["train_loss"], nan=1.0)),
                          torch.from_numpy(np.nan_to_num(values["weight_norm_sq"])), torch.from_numpy(np.nan_to_num(n_key)))
    alarm_index = {WARNING: warning.peak_warning_indices(acc, embed_t),
                   SHUFFLE_WARNING: warning.shuffle_warning_indices(acc, z) if logged_z else torch.full((n,), -1),
                   EITHER_WARNING: warning.either_warning_indices(acc, embed_t, z) if logged_z else torch.full((n,), -1),
                   LEGACY_WARNING: warning.legacy_warning_indices(phase[:, 0], embed_t), CLEANUP_START: phase[:, 1]}
    values["embed_peak_ratio"] = warning.peak_ratio(embed_t).numpy()
    values["logit_peak_ratio"] = (warning.peak_ratio(torch.from_numpy(logit)).numpy() if logit is not None
                                  else np.full((n, len(steps)), math.nan))
    values["route_ablation"] = routes
    positions = np.arange(len(steps))
    for name, index in alarm_index.items():
        index = index.numpy()
        values[name] = ((index[:, None] >= 0) & (positions[None, :] >= index[:, None])).astype(float)
    values[WARNING], values[SHUFFLE_WARNING], values[EITHER_WARNING] = statistic, shuffle_statistic, either_statistic
    step_array = np.asarray(steps, dtype=np.int64)
    mirror = heldout[names.MIRROR_ACC]
    final = (mirror if mirror.numel() and bool(torch.isfinite(mirror).any()) else heldout[names.TEST_ACC])[:, -1]  # [E]
    traces = []
    for e in range(n):
        alarms = {name: (int(steps[i]) if i >= 0 else None) for name, i in
                  ((name, int(index[e])) for name, index in alarm_index.items())}
        traces.append(MemberTrace(
            arm="", member=e, seed=run.config.seeds[e], steps=step_array,
            values={m: values[m][e] for m in MEASURES}, restricted_loss=np.full(len(steps), math.nan),
            memorized=first_step_reaching(steps, acc[e].tolist(), MEMORIZED_ACC), compressed=None,
            grokked=grokked[e][0], alarms=alarms, budget=budget,
            final_heldout=None if not math.isfinite(float(final[e])) else float(final[e])))
    return traces


def _route_ablation(store, n: int, steps: list[int]) -> np.ndarray:
    """[E, S] the route ablation's mean over feature groups, held from each checkpoint it was measured at."""
    found, values = store.vector_array(names.ROUTE_ABLATION, list(range(n)))
    if not found:
        return np.full((n, len(steps)), math.nan)
    return _held(found, np.asarray(values, dtype=float).mean(axis=2), steps)  # values: [E, S_found, groups]


def sweep_arms(sweep_dir: str | Path) -> list[Arm]:
    """The benchmark's arms from a sweep directory's finished packs, each with its kind (grok or a control)."""
    sweep_dir = Path(sweep_dir)
    read_spec(sweep_dir)  # refuses a directory that is not a sweep
    arms: dict[tuple, Arm] = {}
    for pack in sorted((sweep_dir / PACKS_DIR).iterdir()) if (sweep_dir / PACKS_DIR).is_dir() else []:
        run = load(pack)
        if run.status().get("state") != "finished":
            continue
        config = run.config
        for trace, frac, wd in zip(pack_traces(run), config.per_member("frac"), config.per_member("wd")):
            key = (config.task, config.p, float(frac), float(wd))
            arm = arms.setdefault(key, Arm(*key))
            trace.arm = arm.name
            arm.traces.append(trace)
    if not arms:
        raise ConfigError(f"validate-warning: {sweep_dir} has no finished packs; train it with `grokscope sweep`")
    by_task: dict[tuple, list[Arm]] = {}
    for arm in arms.values():
        by_task.setdefault((arm.task, arm.p), []).append(arm)
    for members in by_task.values():
        decayed = [a for a in members if a.wd > 0]
        largest = max((a.frac for a in decayed), default=None)
        for a in members:
            a.kind = NO_DECAY if a.wd == 0 else GROK if a.frac == largest else SMALL_FRACTION
    return sorted(arms.values(), key=lambda a: (a.task, a.p, [GROK, SMALL_FRACTION, NO_DECAY].index(a.kind), a.frac))


def plateau_cutoff(fraction: float):
    """g -> t_mem + fraction·(t_g − t_mem), or None where g has no plateau (t_mem missing or not before t_g)."""
    def cutoff(g: MemberTrace) -> float | None:
        if g.grokked is None or g.memorized is None or g.memorized >= g.grokked:
            return None
        return g.memorized + fraction * (g.grokked - g.memorized)
    return cutoff


def control_maxima(arms: Sequence[Arm], measure: str = WARNING) -> list[float]:
    """The largest gated statistic of a warning row (WARNINGS) each control member that never generalized reached
    within its budget (members that did not log it left out)."""
    return [float(np.nanmax(t.values[measure])) for a in arms if a.kind != GROK
            for t in never_generalized(a.traces) if np.isfinite(t.values[measure]).any()]


@dataclass
class Row:
    measure: str
    source: str
    description: str
    rule: str
    auroc: dict[str, float]
    auroc_interval: dict[str, tuple[float, float]]
    alarms: dict[str, AlarmScore]  # control arm -> scores (the true-alarm columns are the same for every control)


@dataclass
class TaskTable:
    task: str
    held_out: bool
    grok_arm: str
    control_arms: list[str]
    arms: dict[str, dict[str, Any]]
    rows: list[Row]
    fraction: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit_rules(arms: Sequence[Arm]) -> dict[str, AlarmRule]:
    """Fixed rules for the alarms; for every other measure the rule fitted on these (tuning) arms' members."""
    grok = [t for a in arms if a.kind == GROK for t in a.traces]
    controls = [t for a in arms if a.kind != GROK for t in a.traces]
    rules = {m: AlarmRule(m, fixed=True) for m in FIXED}
    for measure in MEASURES:
        if measure not in FIXED:
            rule = fit_alarm_rule(measure, grok, controls)
            if rule is not None:
                rules[measure] = rule
    return rules


def _arm_summary(arm: Arm) -> dict[str, Any]:
    def median(values):
        found = [v for v in values if v is not None]
        return float(np.median(found)) if found else None
    grokked = generalized(arm.traces)
    plateaus = [t.grokked - t.memorized for t in grokked if t.memorized is not None]
    return {"kind": arm.kind, "members": len(arm.traces), "generalized": len(grokked),
            "memorized": sum(t.memorized is not None for t in arm.traces),
            "median_memorized": median([t.memorized for t in arm.traces]), "median_grokked": median([t.grokked for t in grokked]),
            "median_plateau": median(plateaus), "budget": max(t.budget for t in arm.traces)}


def score_task(arms: Sequence[Arm], rules: dict[str, AlarmRule], *, held_out: bool, fraction: float = PLATEAU_FRACTION,
               resamples: int = 2_000, seed: int = 0) -> TaskTable:
    """One task's table: a row per measure, AUROC and alarms against each control arm."""
    grok = next((a for a in arms if a.kind == GROK), None)
    controls = [a for a in arms if a.kind != GROK]
    if grok is None or not controls:
        raise ConfigError(f"validate-warning: task {arms[0].task} needs a grokking arm and a control arm")
    grokked_members, cutoff = generalized(grok.traces), plateau_cutoff(fraction)
    rows = []
    for measure, (source, description) in MEASURES.items():
        if all(not np.isfinite(t.values[measure]).any() for a in arms for t in a.traces):
            continue  # not measured in this sweep (the monitor's, before `grokscope monitor`)
        auroc, interval, alarms = {}, {}, {}
        for control in controls:
            pairs = matched_comparisons(grokked_members, never_generalized(control.traces), measure, cutoff)
            auroc[control.name] = finite_mean(pairs)
            interval[control.name] = (bootstrap_interval(lambda g, c: finite_mean(pairs[np.ix_(g, c)]), list(pairs.shape),
                                                         resamples=resamples, seed=seed) if pairs.size else (math.nan, math.nan))
            if measure in rules:
                alarms[control.name] = score_alarm(rules[measure], grok.traces, control.traces, resamples=resamples, seed=seed)
        rule = rules.get(measure)
        rows.append(Row(measure, source, description, describe_rule(rule) if rule and not rule.fixed else "fixed",
                        auroc, interval, alarms))
    return TaskTable(task=task_title(grok.task, grok.p), held_out=held_out, grok_arm=grok.name,
                     control_arms=[c.name for c in controls], arms={a.name: _arm_summary(a) for a in arms},
                     rows=rows, fraction=fraction)


def validate_sweep(sweep_dir: str | Path, *, tuning: Sequence[str] = TUNING_TASKS, fraction: float = PLATEAU_FRACTION,
                   resamples: int = 2_000, seed: int = 0) -> list[TaskTable]:
    """Every task's table: rules fitted on the tuning tasks' arms, then applied to every task; held-out tasks
    (those not in `tuning`) flagged. Raises ConfigError where no tuning task is in the sweep."""
    arms = sweep_arms(sweep_dir)
    tuning_arms = [a for a in arms if a.task in tuning]
    if not tuning_arms:
        raise ConfigError(f"tuning: none of {', '.join(tuning)} is in the sweep (it has "
                          f"{', '.join(sorted({a.task for a in arms}))})")
    rules = fit_rules(tuning_arms)
    tasks: dict[tuple, list[Arm]] = {}
    for arm in arms:
        tasks.setdefault((arm.task, arm.p), []).append(arm)
    tables = [score_task(members, rules, held_out=task not in tuning, fraction=fraction, resamples=resamples, seed=seed)
              for (task, _), members in tasks.items()]
    return sorted(tables, key=lambda t: (t.held_out, t.task))


def calibration(sweep_dir: str | Path, *, tuning: Sequence[str] = TUNING_TASKS) -> dict[str, Any]:
    """Per warning rule the threshold the calibration gives on the tuning tasks' controls, beside the frozen one
    (a rule whose statistic the sweep did not log is left out)."""
    arms = [a for a in sweep_arms(sweep_dir) if a.task in tuning]
    rules = {}
    for row, frozen in CALIBRATED.items():  # `either` has no threshold of its own: it is made of these two
        maxima = control_maxima(arms, row)
        if maxima:
            rules[WARNINGS[row]] = {"control_members": len(maxima), "largest_control_statistic": max(maxima),
                                    "calibrated_threshold": warning.calibrate_threshold(maxima), "frozen_threshold": frozen}
    if not rules:
        raise ConfigError(f"tuning: the sweep has no control member of {', '.join(tuning)} that never generalized")
    return {"tuning_tasks": list(tuning), "margin": warning.CALIBRATION_MARGIN, "rules": rules}


def targets_met(table: TaskTable, measure: str = WARNING) -> list[str]:
    """A warning row's misses of the issue's targets on this task, one phrase each (empty: all met)."""
    row = next(r for r in table.rows if r.measure == measure)
    misses = []
    for control, score in row.alarms.items():
        if not score.false_rate <= TARGETS["false_rate"]:
            clean = (f"; {score.false_rate_clean:.2f} on its {score.n_clean} clean members, {score.n_partial} partly "
                     f"learned" if score.n_clean else f"; none of its {score.n_partial} members is clean")
            misses.append(f"false alarms {score.false_rate:.2f} on {control} (target <= {TARGETS['false_rate']}{clean})")
        if not row.auroc[control] >= TARGETS["auroc"]:
            misses.append(f"AUROC {row.auroc[control]:.2f} vs {control} (target >= {TARGETS['auroc']})")
    score = next(iter(row.alarms.values()))
    if not score.true_rate >= TARGETS["true_rate"]:
        misses.append(f"true alarms {score.true_rate:.2f} (target >= {TARGETS['true_rate']})")
    if not score.median_lead_fraction >= TARGETS["median_lead_fraction"]:
        misses.append(f"median lead {score.median_lead_fraction:.2f} of the plateau (target >= {TARGETS['median_lead_fraction']})")
    return misses


def to_markdown(table: TaskTable) -> str:
    """The table as Markdown: a row per measure; intervals are 95% percentile bootstraps over members."""
    controls = table.control_arms
    head = ["measure", "source", "rule"] + [f"AUROC vs {c}" for c in controls] + ["true alarms"]
    head += [f"false alarms, {c}" for c in controls] + ["median lead (plateau fraction)", "median lead (steps)"]
    kind = "held-out task" if table.held_out else "tuning task"
    lines = [f"**{table.task}** ({kind}): grokking arm `{table.grok_arm}`; grokking members read at "
             f"t_mem + {table.fraction:g}·(t_g − t_mem), controls at the same step.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in table.rows:
        cells = [row.measure, row.source, row.rule]
        cells += [format_value(row.auroc[c], row.auroc_interval[c]) for c in controls]
        if row.alarms:
            first = next(iter(row.alarms.values()))
            cells.append(format_value(first.true_rate, first.true_interval))
            cells += [format_value(row.alarms[c].false_rate, row.alarms[c].false_interval) if c in row.alarms else "–" for c in controls]
            cells += [format_value(first.median_lead_fraction, first.lead_fraction_interval), format_value(first.median_lead, first.lead_interval, 0)]
        else:
            cells += ["–"] * (3 + len(controls))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| arm | kind | members | memorized | generalized | median t_mem / t_g / plateau |", "|---|---|---|---|---|---|"]
    for name, arm in table.arms.items():
        medians = " / ".join("–" if arm[k] is None else f"{arm[k]:.0f}" for k in ("median_memorized", "median_grokked", "median_plateau"))
        lines.append(f"| {name} | {arm['kind']} | {arm['members']} | {arm['memorized']} | {arm['generalized']} | {medians} |")
    for measure in WARNINGS:
        row = next((r for r in table.rows if r.measure == measure), None)
        if row is not None:
            misses = targets_met(table, measure)
            lines += ["", f"`{measure}` vs the targets: " + ("all met." if not misses else "; ".join(misses) + ".")]
            by_outcome = [f"{c}: {format_value(s.false_rate_clean, s.false_interval_clean)} on {s.n_clean} clean, "
                          f"{s.n_partial} partly learned" for c, s in row.alarms.items()]
            lines.append(f"`{measure}` false alarms on clean controls (final held-out accuracy < {CLEAN_HELDOUT_ACC:g}): "
                         + "; ".join(by_outcome) + ".")
    return "\n".join(lines)
