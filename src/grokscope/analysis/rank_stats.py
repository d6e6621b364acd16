"""Rank statistics for scoring a measure as a detector: mid-ranks, Spearman's ρ, the AUROC, and a
percentile bootstrap over members.

Plain numpy and math, as censored_stats.py: no scipy in the dependencies.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def mid_ranks(values: np.ndarray) -> np.ndarray:
    """[n] 1-based ranks of values, ties sharing the mean of their ranks (mid-ranks)."""
    values = np.asarray(values, dtype=float)
    below = (values[:, None] > values[None, :]).sum(axis=1)
    tied = (values[:, None] == values[None, :]).sum(axis=1)
    return below + (tied + 1) / 2


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's ρ (Spearman 1904): Pearson's correlation of the mid-ranks of x and y over the pairs
    where both are finite; NaN with fewer than 3 such pairs or when either side is constant.

    Args:
        x, y: [n] paired observations.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3:
        return float("nan")
    rank_x, rank_y = mid_ranks(x[keep]), mid_ranks(y[keep])
    rank_x, rank_y = rank_x - rank_x.mean(), rank_y - rank_y.mean()
    scale = np.sqrt((rank_x ** 2).sum() * (rank_y ** 2).sum())
    return float((rank_x * rank_y).sum() / scale) if scale > 0 else float("nan")


def auroc(positive: np.ndarray, negative: np.ndarray) -> float:
    """Area under the ROC curve of a score separating positives from negatives: P(s⁺ > s⁻) + ½ P(s⁺ = s⁻),
    the Mann–Whitney U over n⁺n⁻ (Hanley & McNeil 1982). 1: every positive scores above every negative;
    0.5: no separation; 0: every positive below (the score separates, in the other direction). Non-finite
    scores are dropped; NaN when either side is then empty.

    Args:
        positive: [n⁺] scores of the positives. negative: [n⁻] scores of the negatives.
    """
    positive, negative = np.asarray(positive, dtype=float), np.asarray(negative, dtype=float)
    positive, negative = positive[np.isfinite(positive)], negative[np.isfinite(negative)]
    if len(positive) == 0 or len(negative) == 0:
        return float("nan")
    ranks = mid_ranks(np.concatenate([positive, negative]))
    u = ranks[:len(positive)].sum() - len(positive) * (len(positive) + 1) / 2
    return float(u / (len(positive) * len(negative)))


def bootstrap_interval(statistic: Callable[..., float], groups: Sequence[int], *, resamples: int = 2_000,
                       seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """The percentile bootstrap interval of statistic(*indices) (Efron & Tibshirani 1993, §13.3).

    Each resample draws, for every group (an arm's members), as many indices as the group has, with
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
