"""Statistics over seeds when some members never generalized: steps right-censored at their budget, from scipy.

A member that never reached the threshold within its budget B is known only to need more than B steps. It is
kept as censored at B, never dropped: dropping it would make a lever that fails on half its seeds look fast.

- Quantiles (median, quartiles) are Kaplan–Meier's (Kaplan & Meier 1958; `scipy.stats.ecdf` on right-censored
  data): the first step where the estimated share still above threshold falls to 1 − q or below, the midpoint up
  to the next generalizing member where it sits exactly at 1 − q (R's `survival` convention, so that with nothing
  censored the median is the ordinary median). A quantile the curve does not reach within the budgets (too many
  members censored), or one whose flat stretch runs into the censored members, is itself censored: the true value
  is above the number shown (`>N`).
- Two arms are compared by the log-rank test (Mantel 1966; `scipy.stats.logrank`), valid when members are
  censored at different budgets (runs of other lengths); it is undefined (None) when no member of either arm
  generalized. Mann–Whitney U (`scipy.stats.mannwhitneyu`: exact at small n without ties, normal with tie and
  continuity corrections otherwise) is reported beside it only where both arms share one budget, where censored
  members tie at the budget behind every member that generalized (Gehan 1965's ordering).
- The speed-up interval is a BCa bootstrap (Efron 1987; `scipy.stats.bootstrap`) of the ratio of medians,
  censored members at their budget: an interval that touches a censored median is a bound, not an estimate.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats


def _censored_data(steps: np.ndarray, censored: np.ndarray) -> stats.CensoredData:
    steps, censored = np.asarray(steps, dtype=float), np.asarray(censored, dtype=bool)
    return stats.CensoredData(uncensored=steps[~censored], right=steps[censored])


def censored_quantile(steps: np.ndarray, censored: np.ndarray, q: float) -> tuple[float, bool]:
    """The Kaplan–Meier q-quantile of steps to the threshold and whether it is censored (see the module docstring).

    Args:
        steps: [n] steps to the threshold, censored members at their budget.
        censored: [n] True where the member never reached the threshold.
        q: in [0, 1).

    Returns:
        (value, censored): a censored value is a lower bound (the largest budget where the curve never gets there).
    """
    steps, censored = np.asarray(steps, dtype=float), np.asarray(censored, dtype=bool)
    if len(steps) == 0:
        raise ValueError("censored_quantile: no members")
    if censored.all():
        return float(steps.max()), True
    sf = stats.ecdf(_censored_data(steps, censored)).sf
    times, surviving = sf.quantiles, sf.probabilities  # S(t) just after each observed time, censorings included
    target = 1 - q
    reached = np.flatnonzero(surviving <= target + 1e-12)
    if len(reached) == 0:
        return float(steps.max()), True
    at = float(times[reached[0]])
    if not math.isclose(float(surviving[reached[0]]), target, abs_tol=1e-12):
        return at, False
    later = steps[~censored & (steps > at)]  # the flat stretch at exactly 1 - q ends at the next generalizing member
    if len(later):
        return (at + float(later.min())) / 2, False
    return at, bool((censored & (steps >= at)).any())  # flat into the censored members: above `at`, by how much unknown


def logrank_p(x_steps: np.ndarray, x_censored: np.ndarray, y_steps: np.ndarray, y_censored: np.ndarray) -> float | None:
    """Two-sided p-value of the log-rank test of two arms' steps to the threshold (censored at their own budgets);
    None where no member of either arm generalized (the test has no event to compare)."""
    if np.asarray(x_censored).all() and np.asarray(y_censored).all():
        return None
    result = stats.logrank(_censored_data(x_steps, x_censored), _censored_data(y_steps, y_censored))
    return float(result.pvalue)


def mann_whitney_u(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mann–Whitney U of x against y and its two-sided p-value (Mann & Whitney 1947; `scipy.stats.mannwhitneyu`,
    method "auto": the exact distribution at small n without ties, else the normal approximation with tie and
    continuity corrections). All values tied gives p = 1.

    Returns:
        (U_x, p).
    """
    result = stats.mannwhitneyu(np.asarray(x, dtype=float), np.asarray(y, dtype=float), alternative="two-sided")
    return float(result.statistic), float(result.pvalue)


def _median_ratio(control: np.ndarray, treatment: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.median(control, axis=axis) / np.median(treatment, axis=axis)


def bootstrap_median_ratio(control: np.ndarray, treatment: np.ndarray, *, resamples: int = 2_000,
                           seed: int = 0, level: float = 0.95) -> tuple[float | None, float | None]:
    """The BCa bootstrap interval of median(control) / median(treatment) (Efron 1987; `scipy.stats.bootstrap`).

    Each resample draws the members of each arm with replacement, within the arm; censored members stay at their
    budget. Where BCa is undefined (every resample's ratio the same, e.g. all members censored at one budget) the
    percentile interval, a single point there, is returned; with fewer than two members in an arm there is nothing to
    resample and the interval is (None, None). Seeded: reproducible.

    Args:
        control: [n_c] steps of the control arm. treatment: [n_t] steps of the treatment arm.
        resamples: number of bootstrap resamples. seed: seed of the resampling. level: coverage of the interval.

    Returns:
        (low, high).
    """
    data = (np.asarray(control, dtype=float), np.asarray(treatment, dtype=float))
    if min(len(d) for d in data) < 2:
        return None, None
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():  # a degenerate sample warns and gives NaN: the percentile interval then
            warnings.simplefilter("ignore")
            interval = stats.bootstrap(data, _median_ratio, paired=False, vectorized=True, n_resamples=resamples,
                                       confidence_level=level, method=method, rng=seed).confidence_interval
        if np.isfinite(interval.low) and np.isfinite(interval.high):
            break
    return float(interval.low), float(interval.high)
