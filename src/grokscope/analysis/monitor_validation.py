"""Scoring the monitor's measures as detectors of grokking's hidden progress, against the Fourier ground truth.

Grokking is the one place where a model-agnostic measure can be checked: the restricted loss (Nanda et
al. 2023, §5) says when the network compresses. Runs are read back from their stores: the monitor's
values (`grokscope monitor RUN`), the retrospective restricted loss at the same checkpoints, and the
evaluations. Ground truth per member:

- t_mem, end of memorization: the first evaluation with training accuracy >= MEMORIZED_ACC.
- t_c, compression: the first monitored checkpoint after t_mem whose restricted loss (the final model's key
  frequencies, `measure/restricted_loss`) is below half of its value at the first monitored checkpoint at or
  after t_mem.
- t_g, grokking: the first evaluation with held-out accuracy >= `grokked_acc` (0.95), mirror-held-out accuracy
  where the run logs it (commutative tasks; reference, "Pitfalls").

Scores of a measure, each with a percentile bootstrap interval over members (rank_stats.bootstrap_interval):

- Spearman: per grokking member, Spearman's ρ between the measure and the restricted loss over the monitored
  checkpoints from t_mem on; the median over members.
- AUROC, grok vs a control arm, matched in time and at least `lead` steps before grokking: every member g of
  the grokking arm that grokked has a cutoff t_g − lead; its value at its last monitored checkpoint at or before
  the cutoff is compared with every control member's value at that same checkpoint step. AUROC = the mean over
  such pairs of 1[s_g > s_c] + ½ 1[s_g = s_c]: P(grokking run scores higher at the same step). Below 0.5 means
  the measure is lower in grokking runs; |AUROC − 0.5| is the separation.
- An alarm rule, fit on half of the seeds (the first half of each arm's seeds, sorted) and applied to the other:
  the measure's log-ratio to its value at the end of memorization, log(v_t / v_mem), crossing ±θ (direction and
  θ chosen to maximize true minus false alarm rate on the fitting half). A true alarm is one before t_g on a
  member that grokked; a false alarm is any alarm, within the budget, on a control member that never grokked.
  The lead is t_g − t_alarm. The instruments' early warning (phases.warning_indices) is scored on the same
  half with its own fixed rule; its continuous counterpart, the spectrum peak (the largest squared Fourier norm
  of W_E over the median), gets the Spearman, AUROC and fitted-rule scores of a measure.

A held-out task is scored with the rules fit on the first task, on all its members: nothing is chosen on it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .. import metric_names as names
from ..errors import ConfigError
from ..monitor import registry
from ..operations import task_title
from ..run import Run, load
from .first_steps import first_step_reaching, held_out_first_steps
from .rank_stats import bootstrap_interval, spearman
from .stored_phases import run_phases

MEMORIZED_ACC = 0.99
GROKKED_ACC = 0.95
LEAD_STEPS = 1_000
# A control that never generalized and ended below this held-out accuracy learned nothing of the rule (about 3x
# chance on the warning benchmark's Z_31 and Z_30); above it, it learned part of it, and an alarm there reads a real
# partial circuit. A reading of the outcome for the tables (2026-12-06, chosen after session 6 found every alarmed
# held-out control member at 0.14-0.90): it moves no alarm and no threshold.
CLEAN_HELDOUT_ACC = 0.1
SPECTRUM_PEAK = "spectrum_peak"  # the early-warning score, from the instruments' W_E spectrum
EARLY_WARNING = "early_warning"  # the instruments' alarm with its own fixed rule
# measure -> its metric (route ablation: the mean over its feature groups).
# The monitor's default measures by their scored metric (registry.MEASURES); the prequential code is divided by
# the member's training-set size, so it is named per example here.
PER_EXAMPLE = {"prequential": "prequential_bits_per_example"}
MEASURE_METRICS: dict[str, str] = {
    **{PER_EXAMPLE.get(name, name): registry.MEASURES[name].scored for name in registry.DEFAULT_MEASURES},
    SPECTRUM_PEAK: names.EMBED_NORMS,
}


@dataclass
class MemberTrace:
    """One member's monitored series and its ground truth.

    steps: [S] the monitored checkpoint steps; values: measure -> [S] (NaN where not measured or flagged);
    restricted_loss: [S] at those steps; memorized, compressed, grokked: t_mem, t_c, t_g (None: not
    reached); alarms: the step each fixed-rule alarm fired (None: never), by measure name (EARLY_WARNING: the
    instruments' early warning); budget: the last step; final_heldout: the last evaluation's held-out accuracy
    (mirror-held-out where logged; None where not read), which sorts controls by what they ended up learning.
    """

    arm: str
    member: int
    seed: int
    steps: np.ndarray
    values: dict[str, np.ndarray]
    restricted_loss: np.ndarray
    memorized: int | None
    compressed: int | None
    grokked: int | None
    alarms: dict[str, int | None]
    budget: int
    final_heldout: float | None = None

    def index_at(self, step: float) -> int | None:
        """Index of the last monitored checkpoint at or before `step` (None: there is none)."""
        k = int(np.searchsorted(self.steps, step, side="right")) - 1
        return k if k >= 0 else None

    def baseline_index(self) -> int | None:
        """Index of the first monitored checkpoint at or after the end of memorization."""
        if self.memorized is None:
            return None
        k = int(np.searchsorted(self.steps, self.memorized, side="left"))
        return k if k < len(self.steps) else None


def _scalar_series(store, name: str, n_members: int, steps: np.ndarray) -> np.ndarray:
    """[E, S] the metric at `steps`, NaN where it was not written (the series read once for every member)."""
    found, values = store.series_tensor(name, n_members)  # [E, S_found]
    column = {int(step): k for k, step in enumerate(found)}
    out = np.full((n_members, len(steps)), math.nan)
    for j, step in enumerate(steps.tolist()):
        if step in column:
            out[:, j] = values[:, column[step]].double().numpy()
    return out


def _vector_series(store, name: str, member: int, steps: np.ndarray) -> dict[int, np.ndarray]:
    found, vectors = store.vector_series(name, member)
    wanted = set(steps.tolist())
    return {s: np.asarray(v, dtype=float) for s, v in zip(found, vectors) if int(s) in wanted}


def spectrum_peak(squared_norms: np.ndarray) -> float:
    """The largest squared Fourier norm over the median: the statistic the instruments' early warning
    thresholds at phases.WARNING_RATIO (fourier.live_key_frequencies). squared_norms: [K]."""
    median = float(np.median(squared_norms))
    return float(squared_norms.max() / median) if median > 0 else math.nan


def member_traces(run: Run, arm: str, *, grokked_acc: float = GROKKED_ACC) -> list[MemberTrace]:
    """Every member's trace from a monitored run (`grokscope monitor RUN` must have written its measures)."""
    n = run.config.n_members
    grokked, budget = held_out_first_steps(run, grokked_acc)
    # Code lengths grow with the number of labels sent: arms with other training fractions compare per example.
    n_train = run.data().train_mask.sum(1).tolist()  # [E]
    traces = []
    with run.metrics() as store:
        monitored = sorted({s for metric in (names.LLC, names.WEIGHT_NORM, names.PREQUENTIAL_BITS)
                            for s in store.series(metric)[0]})
        if not monitored:
            raise ConfigError(f"runs: {run.path} has no monitor values; run `grokscope monitor {run.path}` first")
        steps = np.array(monitored, dtype=np.int64)
        warnings = run_phases(store, n).warnings
        eval_steps, train_acc = store.series(names.TRAIN_ACC)
        scalars = {m: _scalar_series(store, metric, n, steps) for m, metric in MEASURE_METRICS.items()
                   if m not in ("route_ablation", SPECTRUM_PEAK)}  # measure -> [E, S]
        scalars["prequential_bits_per_example"] /= np.asarray(n_train, dtype=float)[:, None]
        restricted_loss = _scalar_series(store, names.RESTRICTED_LOSS, n, steps)  # [E, S]
        for e in range(n):
            values = {m: series[e] for m, series in scalars.items()}
            routes = _vector_series(store, names.ROUTE_ABLATION, e, steps)
            values["route_ablation"] = np.array([routes[s].mean() if s in routes else math.nan for s in steps.tolist()])
            norms = _vector_series(store, names.EMBED_NORMS, e, steps)
            values[SPECTRUM_PEAK] = np.array([spectrum_peak(norms[s] ** 2) if s in norms else math.nan
                                              for s in steps.tolist()])
            trace = MemberTrace(arm=arm, member=e, seed=run.config.seeds[e], steps=steps, values=values,
                                restricted_loss=restricted_loss[e], memorized=first_step_reaching(eval_steps, train_acc.get(e, []), MEMORIZED_ACC),
                                compressed=None, grokked=grokked[e][0], alarms={EARLY_WARNING: warnings[e]},
                                budget=budget)
            trace.compressed = compression_step(trace)
            traces.append(trace)
    return traces


def compression_step(trace: MemberTrace) -> int | None:
    """t_c: the first monitored checkpoint after the memorization baseline whose restricted loss is below half
    of the baseline's (None: never, or no restricted loss recorded)."""
    k0 = trace.baseline_index()
    if k0 is None or not np.isfinite(trace.restricted_loss[k0]):
        return None
    below = np.nonzero(trace.restricted_loss[k0 + 1:] < trace.restricted_loss[k0] / 2)[0]
    return int(trace.steps[k0 + 1 + below[0]]) if len(below) else None


def restricted_loss_spearman(trace: MemberTrace, measure: str) -> float:
    """Spearman's ρ of the measure with the restricted loss over the checkpoints from t_mem on."""
    k0 = trace.baseline_index()
    if k0 is None:
        return math.nan
    return spearman(trace.values[measure][k0:], trace.restricted_loss[k0:])


def matched_comparisons(grok: Sequence[MemberTrace], controls: Sequence[MemberTrace], measure: str,
                        cutoff: Callable[[MemberTrace], float | None]) -> np.ndarray:
    """[G, C] 1 where grokking member g scores above control c at g's cutoff step (`cutoff(g)`, e.g. t_g − lead),
    ½ on a tie, 0 below, NaN where either value is missing (g: grokked members with a cutoff and a monitored
    checkpoint at or before it)."""
    rows = []
    for g in grok:
        limit = cutoff(g)
        k = None if limit is None else g.index_at(limit)
        if k is None:
            continue
        step, value = g.steps[k], g.values[measure][k]
        row = []
        for c in controls:
            j = c.index_at(step)
            other = c.values[measure][j] if j is not None else math.nan
            row.append(math.nan if not (np.isfinite(value) and np.isfinite(other))
                       else 1.0 if value > other else 0.5 if value == other else 0.0)
        rows.append(row)
    return np.array(rows, dtype=float).reshape(len(rows), len(controls))


def finite_mean(values: np.ndarray) -> float:
    """The mean of the finite entries (NaN: none)."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan


@dataclass(frozen=True)
class AlarmRule:
    """Alarm at the first monitored checkpoint after the end of memorization where direction · log(v_t / v_mem)
    >= threshold (v_mem: the value at the first checkpoint at or after t_mem); `fixed`: the instruments' own
    early-warning rule instead (the step it fired)."""

    measure: str
    direction: int = 1
    threshold: float = 0.0
    fixed: bool = False

    def excursions(self, trace: MemberTrace) -> tuple[np.ndarray, np.ndarray]:
        """(steps [S'], direction · log(v_t / v_mem) [S']) after the baseline checkpoint; empty without one."""
        k0 = trace.baseline_index()
        series = trace.values[self.measure]
        if k0 is None or not (np.isfinite(series[k0]) and series[k0] > 0):
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = np.log(series[k0 + 1:] / series[k0])
        return trace.steps[k0 + 1:], self.direction * np.nan_to_num(log_ratio, nan=-np.inf)

    def alarm_step(self, trace: MemberTrace) -> int | None:
        if self.fixed:
            return trace.alarms.get(self.measure)
        steps, excursion = self.excursions(trace)
        hit = np.nonzero(excursion >= self.threshold)[0]
        return int(steps[hit[0]]) if len(hit) else None


def generalized(traces: Sequence[MemberTrace]) -> list[MemberTrace]:
    """The members that reached t_g within the budget (a detector's positives)."""
    return [t for t in traces if t.grokked is not None]


def never_generalized(traces: Sequence[MemberTrace]) -> list[MemberTrace]:
    """The members that never reached t_g (a control's negatives)."""
    return [t for t in traces if t.grokked is None]


def _largest(steps: np.ndarray, excursion: np.ndarray, *, before: float) -> float:
    """The largest excursion at steps before `before` (-inf: none)."""
    return float(excursion[steps < before].max(initial=-np.inf))


def fit_alarm_rule(measure: str, grok: Sequence[MemberTrace], controls: Sequence[MemberTrace]) -> AlarmRule | None:
    """The direction and threshold maximizing (true − false alarm rate) on these members (Youden 1950's J);
    among ties the lowest threshold (the earliest alarms). Candidates: every member's largest excursion
    (before t_g for grokking members), the values at which a member's alarm status changes. None where the
    measure has no excursion at all (not measured)."""
    best: tuple[float, float, AlarmRule] | None = None
    positives, negatives = generalized(grok), never_generalized(controls)
    for direction in (1, -1):
        probe = AlarmRule(measure, direction)
        reach_pos = [_largest(*probe.excursions(t), before=t.grokked) for t in positives]
        reach_neg = [_largest(*probe.excursions(t), before=math.inf) for t in negatives]
        for threshold in sorted({r for r in reach_pos + reach_neg if np.isfinite(r) and r > 0}):
            tpr = np.mean([r >= threshold for r in reach_pos]) if positives else 0.0
            fpr = np.mean([r >= threshold for r in reach_neg]) if negatives else 0.0
            key = (tpr - fpr, -threshold)
            if best is None or key > best[:2]:
                best = (*key, AlarmRule(measure, direction, float(threshold)))
    return best[2] if best else None


@dataclass
class AlarmScore:
    """Rates with 95% intervals: true alarms over members that grokked, false alarms over controls that
    never did; the median lead t_g − t_alarm over the true alarms, in steps and as a fraction of the member's
    plateau (t_g − t_alarm) / (t_g − t_mem) (members with a plateau: t_mem < t_g). The clean false alarms are
    over the controls that never generalized and ended at held-out accuracy below CLEAN_HELDOUT_ACC (learned
    nothing of the rule); the others learned part of it (`n_partial`)."""

    true_rate: float
    true_interval: tuple[float, float]
    false_rate: float
    false_interval: tuple[float, float]
    median_lead: float
    lead_interval: tuple[float, float]
    median_lead_fraction: float
    lead_fraction_interval: tuple[float, float]
    n_grokked: int
    n_controls: int
    false_rate_clean: float = math.nan
    false_interval_clean: tuple[float, float] = (math.nan, math.nan)
    n_clean: int = 0
    n_partial: int = 0


def score_alarm(rule: AlarmRule, grok: Sequence[MemberTrace], controls: Sequence[MemberTrace], *,
                resamples: int, seed: int) -> AlarmScore:
    positives, negatives = generalized(grok), never_generalized(controls)
    alarms = [rule.alarm_step(t) for t in positives]
    hits = np.array([a is not None and a < t.grokked for a, t in zip(alarms, positives)], dtype=float)
    leads = np.array([t.grokked - a if h else math.nan for a, t, h in zip(alarms, positives, hits)], dtype=float)
    plateaus = np.array([t.grokked - t.memorized if t.memorized is not None and t.memorized < t.grokked else math.nan
                         for t in positives], dtype=float)
    fractions = leads / plateaus
    false = np.array([rule.alarm_step(t) is not None for t in negatives], dtype=float)
    clean = np.array([t.final_heldout is not None and t.final_heldout < CLEAN_HELDOUT_ACC for t in negatives], dtype=bool)
    false_clean = false[clean]

    def rate(values):
        return (lambda idx: float(values[idx].mean()) if len(values) else math.nan)

    def median_of(values):
        def statistic(idx):
            chosen = values[idx]
            chosen = chosen[np.isfinite(chosen)]
            return float(np.median(chosen)) if chosen.size else math.nan
        return statistic

    def interval(stat, values):
        return bootstrap_interval(stat, [len(values)], resamples=resamples, seed=seed) if len(values) else (math.nan, math.nan)

    everyone = np.arange(len(positives))
    return AlarmScore(
        true_rate=rate(hits)(np.arange(len(hits))), true_interval=interval(rate(hits), hits),
        false_rate=rate(false)(np.arange(len(false))), false_interval=interval(rate(false), false),
        median_lead=median_of(leads)(everyone), lead_interval=interval(median_of(leads), leads),
        median_lead_fraction=median_of(fractions)(everyone), lead_fraction_interval=interval(median_of(fractions), fractions),
        n_grokked=len(positives), n_controls=len(negatives),
        false_rate_clean=rate(false_clean)(np.arange(len(false_clean))), false_interval_clean=interval(rate(false_clean), false_clean),
        n_clean=int(clean.sum()), n_partial=int(sum(t.final_heldout is not None for t in negatives) - clean.sum()))


@dataclass
class MeasureScore:
    measure: str
    spearman: float
    spearman_interval: tuple[float, float]
    auroc: dict[str, float] = field(default_factory=dict)  # control arm -> AUROC
    auroc_interval: dict[str, tuple[float, float]] = field(default_factory=dict)
    rule: AlarmRule | None = None
    alarm: AlarmScore | None = None


def score_measure(measure: str, grok: Sequence[MemberTrace], controls: dict[str, Sequence[MemberTrace]],
                  rule: AlarmRule | None, alarm_grok: Sequence[MemberTrace], alarm_controls: Sequence[MemberTrace], *,
                  lead: int, resamples: int, seed: int) -> MeasureScore:
    """Spearman and AUROC on all members given; the alarm rule on `alarm_grok`/`alarm_controls` (the held-back half)."""
    if measure == EARLY_WARNING:
        rho, rho_interval = math.nan, (math.nan, math.nan)
    else:
        rhos = np.array([restricted_loss_spearman(t, measure) for t in generalized(grok)])
        rho = float(np.nanmedian(rhos)) if np.isfinite(rhos).any() else math.nan
        rho_interval = bootstrap_interval(lambda idx: float(np.nanmedian(rhos[idx])) if np.isfinite(rhos[idx]).any()
                                          else math.nan, [len(rhos)], resamples=resamples, seed=seed)
    score = MeasureScore(measure, rho, rho_interval, rule=rule)
    if measure != EARLY_WARNING:
        for arm, members in controls.items():
            pairs = matched_comparisons(generalized(grok), never_generalized(members), measure, lambda g: g.grokked - lead)
            score.auroc[arm] = finite_mean(pairs)
            score.auroc_interval[arm] = bootstrap_interval(lambda g, c: finite_mean(pairs[np.ix_(g, c)]), list(pairs.shape),
                                                           resamples=resamples, seed=seed) if pairs.size else (math.nan, math.nan)
    if rule is not None:
        score.alarm = score_alarm(rule, alarm_grok, alarm_controls, resamples=resamples, seed=seed)
    return score


def split_halves(traces: Sequence[MemberTrace]) -> tuple[list[MemberTrace], list[MemberTrace]]:
    """(fitting half, held-back half) by seed: the first half of the arm's sorted seeds fit."""
    ordered = sorted(traces, key=lambda t: t.seed)
    half = len(ordered) // 2
    return ordered[:half], ordered[half:]


@dataclass
class TaskTable:
    """One task's scores: a row per measure, with the ground truth it was scored against."""

    task: str
    grok_arm: str
    control_arms: list[str]
    rows: list[MeasureScore]
    ground_truth: dict[str, dict[str, Any]]
    lead: int
    alarm_members: str  # which members the alarm columns count

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "grok_arm": self.grok_arm, "control_arms": self.control_arms, "lead": self.lead,
                "alarm_members": self.alarm_members, "ground_truth": self.ground_truth,
                "rows": [asdict(row) for row in self.rows]}


def ground_truth_summary(traces: Sequence[MemberTrace]) -> dict[str, Any]:
    """Counts and medians of t_mem, t_c, t_g over an arm's members (None where fewer than half reached one)."""
    def median(values):
        found = [v for v in values if v is not None]
        return float(np.median(found)) if found and len(found) * 2 >= len(values) else None

    grokked = [t for t in traces if t.grokked is not None]
    return {"members": len(traces), "memorized": sum(t.memorized is not None for t in traces),
            "compressed": sum(t.compressed is not None for t in traces), "grokked": len(grokked),
            "median_memorized": median([t.memorized for t in traces]),
            "median_compressed": median([t.compressed for t in traces]),
            "median_grokked": median([t.grokked for t in traces]),
            "compressed_before_grokked": sum(t.compressed is not None and t.compressed <= t.grokked for t in grokked),
            "budget": max(t.budget for t in traces)}


MEASURES = tuple(MEASURE_METRICS)  # the study's columns


def validate(grok: Sequence[MemberTrace], controls: dict[str, Sequence[MemberTrace]], *, task: str,
             rules: dict[str, AlarmRule] | None = None, lead: int = LEAD_STEPS, resamples: int = 2_000,
             seed: int = 0) -> tuple[TaskTable, dict[str, AlarmRule]]:
    """Score every measure on one task. Without `rules`, fit them on the first half of the seeds and score the
    alarms on the second; with `rules` (fit on another task), score the alarms on every member."""
    pooled = [t for members in controls.values() for t in members]
    if rules is None:
        fit_grok, held_grok = split_halves(grok)
        fit_controls, held_controls = [], []
        for members in controls.values():
            fit, held = split_halves(members)
            fit_controls += fit
            held_controls += held
        fitted = {m: fit_alarm_rule(m, fit_grok, fit_controls) for m in MEASURES}
        rules = {m: rule for m, rule in fitted.items() if rule is not None}
        rules[EARLY_WARNING] = AlarmRule(EARLY_WARNING, fixed=True)
        alarm_grok, alarm_controls, which = held_grok, held_controls, "held-back half of the seeds"
    else:
        alarm_grok, alarm_controls, which = list(grok), pooled, "all members (rules fit on the first task)"
    rows = [score_measure(m, grok, controls, rules.get(m), alarm_grok, alarm_controls, lead=lead,
                          resamples=resamples, seed=seed) for m in (*MEASURES, EARLY_WARNING)]
    arms = {grok[0].arm: grok, **controls}
    table = TaskTable(task=task, grok_arm=grok[0].arm, control_arms=list(controls), rows=rows, lead=lead,
                      ground_truth={arm: ground_truth_summary(members) for arm, members in arms.items()},
                      alarm_members=which)
    return table, rules


def load_arm(path: str | Path, *, grokked_acc: float = GROKKED_ACC) -> tuple[str, list[MemberTrace], str]:
    """(arm name, traces, task) of a monitored run directory; the arm is named after its parent folder
    when the run sits alone in one (`runs/add_grok/<run>`), else after the run directory."""
    run = load(path)
    parent = run.path.resolve().parent
    arm = parent.name if len([p for p in parent.iterdir() if p.is_dir()]) == 1 else run.path.name
    return arm, member_traces(run, arm, grokked_acc=grokked_acc), task_title(run.config.task, run.config.p)


def format_value(value: float, interval: tuple[float, float] | None = None, digits: int = 2) -> str:
    """`0.93 [0.81, 1.00]`: a value and its interval in a table cell; `–` where it is missing."""
    if value is None or not np.isfinite(value):
        return "–"
    text = f"{value:.{digits}f}"
    if interval is not None and all(np.isfinite(interval)):
        text += f" [{interval[0]:.{digits}f}, {interval[1]:.{digits}f}]"
    return text


def describe_rule(rule: AlarmRule | None) -> str:
    """`falls ×1.8` (the value drops to 1/1.8 of its level at the end of memorization), `rises ×1.02`, ..."""
    if rule is None:
        return "–"
    if rule.fixed:
        return "instruments' fixed rule"
    return f"{'rises' if rule.direction > 0 else 'falls'} ×{math.exp(rule.threshold):.4g}"


def to_markdown(table: TaskTable) -> str:
    """The table as Markdown: a row per measure; intervals are 95% percentile bootstraps over members."""
    head = ["measure", "Spearman with restricted loss (median)"]
    head += [f"AUROC vs {arm} (≥{table.lead} steps before t_g)" for arm in table.control_arms]
    head += ["alarm rule", "true alarms", "false alarms", "median lead (steps)"]
    lines = [f"**{table.task}**: grokking arm `{table.grok_arm}`, controls " + ", ".join(f"`{a}`" for a in table.control_arms)
             + f"; alarms scored on {table.alarm_members}.", "", "| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    for row in table.rows:
        cells = [row.measure, format_value(row.spearman, row.spearman_interval)]
        cells += [format_value(row.auroc.get(arm, math.nan), row.auroc_interval.get(arm)) for arm in table.control_arms]
        cells.append(describe_rule(row.rule))
        alarm = row.alarm
        cells += ([format_value(alarm.true_rate, alarm.true_interval), format_value(alarm.false_rate, alarm.false_interval),
                   format_value(alarm.median_lead, alarm.lead_interval, 0)] if alarm else ["–"] * 3)
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| arm | members | memorized | compressed (t_c) | grokked (t_g) | median t_mem / t_c / t_g | t_c ≤ t_g |",
              "|---|---|---|---|---|---|---|"]
    for arm, truth in table.ground_truth.items():
        medians = " / ".join("–" if truth[k] is None else f"{truth[k]:.0f}"
                             for k in ("median_memorized", "median_compressed", "median_grokked"))
        lines.append(f"| {arm} | {truth['members']} | {truth['memorized']} | {truth['compressed']} | {truth['grokked']} | "
                     f"{medians} | {truth['compressed_before_grokked']} of {truth['grokked']} |")
    return "\n".join(lines)
