"""Rank statistics for scoring a measure as a detector: Spearman's ρ (scipy), the AUROC (scikit-learn), and a
percentile bootstrap over members' groups.
"""

from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's ρ (Spearman 1904; `scipy.stats.spearmanr`, ties at their mid-ranks) over the pairs where both
    are finite; NaN with fewer than 3 such pairs or when either side is constant.

    Args:
        x, y: [n] paired observations.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3 or np.ptp(x[keep]) == 0 or np.ptp(y[keep]) == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        return float(stats.spearmanr(x[keep], y[keep]).statistic)


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Area under the ROC curve of a score separating positives from negatives (scikit-learn's `roc_auc_score`):
    P(s⁺ > s⁻) + ½ P(s⁺ = s⁻), the Mann–Whitney U over n⁺n⁻ (Hanley & McNeil 1982). 1: every positive scores
    above every negative; 0.5: no separation; 0: every positive below (the score separates, in the other
    direction). Non-finite scores are dropped; NaN when either side is then empty.

    Args:
        positive: [n⁺] scores of the positives. negative: [n⁻] scores of the negatives.
    """
    positive, negative = np.asarray(positive, dtype=float), np.asarray(negative, dtype=float)
    positive, negative = positive[np.isfinite(positive)], negative[np.isfinite(negative)]
    if len(positive) == 0 or len(negative) == 0:
        return float("nan")
    labels = np.r_[np.ones(len(positive)), np.zeros(len(negative))]
    return float(roc_auc_score(labels, np.r_[positive, negative]))


def bootstrap_interval(statistic: Callable[..., float], groups: Sequence[int], *, resamples: int = 2_000,
                       seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """The percentile bootstrap interval of statistic(*indices) (Efron & Tibshirani 1993, §13.3).

    Hand-written rather than `scipy.stats.bootstrap`: the statistics scored here (a time-matched AUROC, a median
    of per-member correlations) are undefined on some resamples (a group drawn without a finite value), and such
    resamples are dropped, where scipy's interval would be NaN. Each resample draws, for every group (an arm's members), as many indices as the group has, with
    replacement and within the group, and evaluates `statistic(idx_0, idx_1, ...)`, one index array per
    group. Resamples where the statistic is NaN are dropped; (NaN, NaN) if all are. Seeded: reproducible.

    Args:
        statistic: of one [n_g] int index array per group.
        groups: n_g, the size of each group.
    """
    rng = np.random.default_rng(seed)
    values = np.array([statistic(*(rng.integers(0, n, size=n) for n in groups)) for _ in range(resamples)])
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    tail = (1 - level) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)
