"""Statistics over seeds when some members never generalized: steps right-censored at the budget.

A member that never reached the threshold within its budget B is known only to need more than B steps.
It is kept, at B, never dropped: dropping it would make a lever that fails on half its seeds look
fast. Consequences, each stated where it is computed:

- an order statistic (median, quartile) that falls on a censored member is itself censored: the true
  value is above the number shown (`>B`);
- the rank test treats censored members as tied at the budget and slower than every member that
  generalized by then (Gehan 1965's ordering for a common censoring time);
- bootstrap resamples keep censored members at the budget, so an interval that touches a censored
  median is a bound, not an estimate.

Plain numpy and math: no scipy in the dependencies.
"""

from __future__ import annotations

import math

import numpy as np

from .rank_stats import mid_ranks


def censored_quantile(steps: np.ndarray, censored: np.ndarray, q: float) -> tuple[float, bool]:
    """The q-quantile of steps (censored members at their budget) and whether it is censored.

    Linear interpolation between order statistics, as `np.quantile`'s default; the quantile is censored
    when either order statistic it interpolates is a censored member (ties: generalized members sort first).

    Args:
        steps: [n] steps to the threshold, censored members at their budget.
        censored: [n] True where the member never reached the threshold.
        q: in [0, 1].
    """
    if len(steps) == 0:
        raise ValueError("censored_quantile: no members")
    order = np.lexsort((censored, steps))  # by step, generalized before censored on ties
    values, flags = np.asarray(steps, dtype=float)[order], np.asarray(censored, dtype=bool)[order]
    h = (len(values) - 1) * q
    lo, hi = math.floor(h), math.ceil(h)
    value = values[lo] + (h - lo) * (values[hi] - values[lo])
    return float(value), bool(flags[lo] or flags[hi])


def bootstrap_median_ratio(control: np.ndarray, treatment: np.ndarray, *, resamples: int = 2_000,
                           seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """The percentile bootstrap interval of median(control) / median(treatment) (Efron & Tibshirani 1993, §13.3).

    Each resample draws the members of each arm with replacement, within the arm; censored members stay at
    their budget. The generator is seeded, so the interval is reproducible.

    Args:
        control: [n_c] steps of the control arm.
        treatment: [n_t] steps of the treatment arm.
        resamples: number of bootstrap resamples.
        seed: seed of numpy's default generator.
        level: coverage of the interval.

    Returns:
        (low, high) at the (1 − level)/2 and (1 + level)/2 percentiles.
    """
    rng = np.random.default_rng(seed)
    control, treatment = np.asarray(control, dtype=float), np.asarray(treatment, dtype=float)
    control_medians = np.median(control[rng.integers(0, len(control), size=(resamples, len(control)))], axis=1)
    treatment_medians = np.median(treatment[rng.integers(0, len(treatment), size=(resamples, len(treatment)))], axis=1)
    ratios = control_medians / treatment_medians  # [resamples]
    tail = (1 - level) / 2
    low, high = np.quantile(ratios, [tail, 1 - tail])
    return float(low), float(high)


def mann_whitney_u(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mann–Whitney U of x against y and its two-sided p-value (Mann & Whitney 1947).

    U_x = R_x − n_x(n_x + 1)/2, with R_x the sum of x's mid-ranks in the pooled sample. Normal
    approximation with tie correction and continuity correction, as scipy's `mannwhitneyu(method="asymptotic")`:

        σ² = n_x n_y / 12 · ((n + 1) − Σ(t³ − t) / (n(n − 1))),   z = (max(U_x, U_y) − n_x n_y / 2 − ½) / σ,
        p = 2 (1 − Φ(z)) = erfc(z / √2), capped at 1,

    t running over the sizes of groups of tied values. All values tied (σ = 0) gives p = 1.

    Returns:
        (U_x, p).
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n_x, n_y = len(x), len(y)
    pooled = np.concatenate([x, y])  # [n]
    n = len(pooled)
    ranks = mid_ranks(pooled)
    u_x = float(ranks[:n_x].sum() - n_x * (n_x + 1) / 2)
    _, counts = np.unique(pooled, return_counts=True)
    ties = float((counts.astype(float) ** 3 - counts).sum())
    variance = n_x * n_y / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        return u_x, 1.0
    z = (max(u_x, n_x * n_y - u_x) - n_x * n_y / 2 - 0.5) / math.sqrt(variance)
    return u_x, min(1.0, math.erfc(z / math.sqrt(2)))
