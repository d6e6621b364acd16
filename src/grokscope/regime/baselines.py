"""The classical baseline of issue 9: structural-break tests on a time-ordered series (statsmodels, numpy).

Each test takes rows in time order: a residual series, or a target y `[N]` with regressors X `[N, n_regressors]`
(a constant column is always prepended; X None tests the mean alone). They answer "did the relation change over
time?" without any model of the regime, which is what a grokking measure must beat or complement.

`statsmodels` (and scipy, which it brings) is an optional dependency: `pip install 'grokscope[regime]'`.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from types import ModuleType

import numpy as np

from ..checks import check_integer, check_number
from ..errors import ConfigError

# Brown, Durbin & Evans (1975) boundary: the recursive CUSUM crosses ±a(√m + 2j/√m) with probability α for
# a = 0.850, 0.948, 1.143 at α = 0.10, 0.05, 0.01; `_bde_pvalue` is their approximation, which returns these.


@dataclass(frozen=True)
class BreakTest:
    """A test's result: its name, statistic, p-value and, where it locates one, the break's row index."""

    name: str
    statistic: float
    pvalue: float
    break_index: int | None = None


def _optional(name: str) -> ModuleType:
    """The module `name` (of statsmodels or scipy), or a one-line ConfigError saying how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ConfigError(f"{name.split('.')[0]}: not installed ({exc.name}); run pip install 'grokscope[regime]'"
                          ) from None


def _design(y: np.ndarray, X: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """y `[N]` and X `[N, 1 + n_regressors]` with the constant first; checks shapes and finiteness."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1 or y.size < 3:
        raise ConfigError(f"y: must be a 1-d series of at least 3 values, got shape {y.shape}")
    cols = [np.ones((y.size, 1))]
    if X is not None:
        X = np.asarray(X, dtype=np.float64)
        X = X[:, None] if X.ndim == 1 else X
        if X.ndim != 2 or X.shape[0] != y.size:
            raise ConfigError(f"X: must be [N, n_regressors] with N = len(y) = {y.size}, got shape {X.shape}")
        cols.append(X)
    X = np.concatenate(cols, axis=1)
    if not (np.isfinite(y).all() and np.isfinite(X).all()):
        raise ConfigError("y: y and X must be finite (no NaN or inf)")
    return y, X


def cusum_ols_test(resid: np.ndarray, *, ddof: int = 0) -> BreakTest:
    """The OLS-residual CUSUM test: sup_t |Σ_{s≤t} e_s| / (σ̂ √N), asymptotically the sup of a Brownian bridge.

    (Ploberger & Krämer 1992, Econometrica 60(2); statsmodels `breaks_cusumolsresid`.) The residuals are
    those of an OLS fit with an intercept, in time order; a model's residuals with a non-zero mean should be
    demeaned first (equivalently, regressed on a constant), or the bridge does not return to zero.

    Args:
        resid: `[N]` residuals in time order.
        ddof: degrees of freedom used by the fit (σ̂² = Σe² / (N - ddof)).

    Returns:
        BreakTest("cusum_ols", sup, p-value, index of the largest |partial sum|).
    """
    e = np.asarray(resid, dtype=np.float64)
    if e.ndim != 1 or e.size < 3 or not np.isfinite(e).all():
        raise ConfigError(f"resid: must be a finite 1-d series of at least 3 values, got shape {e.shape}")
    check_integer("ddof", ddof, 0)
    sup_b, pvalue, _ = _optional("statsmodels.stats.diagnostic").breaks_cusumolsresid(e, ddof=ddof)
    return BreakTest("cusum_ols", float(sup_b), float(pvalue), int(np.argmax(np.abs(np.cumsum(e)))))


def _bde_pvalue(a: float) -> float:
    """P(a standardized CUSUM path leaves ±a(1 + 2t), t in [0, 1]) ≈ 2[1 - Φ(3a) + exp(-4a²) Φ(a)] (BDE 1975)."""
    norm = _optional("scipy.stats").norm
    return float(min(1.0, 2.0 * (norm.sf(3 * a) + math.exp(-4 * a * a) * norm.cdf(a))))


def cusum_recursive_test(y: np.ndarray, X: np.ndarray | None = None) -> BreakTest:
    """The recursive-residual CUSUM test: max_j |W_j| / (√m (1 + 2j/m)), W_j the sum of j standardized residuals.

    (Brown, Durbin & Evans 1975, JRSS B 37(2).) Recursive residuals w_t are one-step-ahead prediction errors of
    OLS fitted on rows before t, scaled to unit variance (statsmodels `recursive_olsresiduals`); m = N - k of them.
    Under a stable relation the path stays inside ±a(√m + 2j/√m); the statistic is the smallest a that contains it.

    Args:
        y: `[N]` target in time order.
        X: `[N, n_regressors]` or None (a constant is prepended).

    Returns:
        BreakTest("cusum_recursive", a, p-value, row index where the path presses hardest on the boundary).
    """
    y, X = _design(y, X)
    k = X.shape[1]
    if y.size <= k + 2:
        raise ConfigError(f"y: needs more than {k + 2} rows for {k} regressors, got {y.size}")
    fit = _optional("statsmodels.regression.linear_model").OLS(y, X).fit()
    rresid_standardized = _optional("statsmodels.stats.diagnostic").recursive_olsresiduals(fit, skip=k)[3]
    w = rresid_standardized[k:]  # the m = N - k recursive residuals
    m = w.size
    j = np.arange(1, m + 1)
    ratio = np.abs(np.cumsum(w)) / (math.sqrt(m) * (1 + 2 * j / m))
    arg = int(np.argmax(ratio))
    return BreakTest("cusum_recursive", float(ratio[arg]), _bde_pvalue(float(ratio[arg])), k + arg)


def _chow_f(y: np.ndarray, X: np.ndarray, splits: np.ndarray) -> np.ndarray:
    """`[len(splits)]` Chow F statistics for a break before each row index in `splits` (each side has > k rows)."""
    n, k = X.shape
    xx = np.cumsum(np.einsum("ni,nj->nij", X, X), axis=0)  # [N, k, k] running X'X
    xy = np.cumsum(X * y[:, None], axis=0)  # [N, k] running X'y
    yy = np.cumsum(y * y)  # [N]

    def rss(xtx: np.ndarray, xty: np.ndarray, yty: np.ndarray) -> np.ndarray:
        beta = np.linalg.solve(xtx, xty[..., None])[..., 0]  # [S, k]
        return yty - np.einsum("sk,sk->s", beta, xty)

    left = rss(xx[splits - 1], xy[splits - 1], yy[splits - 1])
    right = rss(xx[-1] - xx[splits - 1], xy[-1] - xy[splits - 1], yy[-1] - yy[splits - 1])
    pooled = rss(xx[-1:], xy[-1:], yy[-1:])
    unrestricted = left + right
    return ((pooled - unrestricted) / k) / (unrestricted / (n - 2 * k))


def chow_test(y: np.ndarray, X: np.ndarray | None = None, *, break_index: int) -> BreakTest:
    """The Chow test at a known break: F = ((RSS - RSS₁ - RSS₂)/k) / ((RSS₁ + RSS₂)/(N - 2k)) ~ F(k, N - 2k).

    (Chow 1960, Econometrica 28(3).) Rows before `break_index` form the first regime.

    Returns:
        BreakTest("chow", F, p-value, break_index).
    """
    y, X = _design(y, X)
    n, k = X.shape
    check_integer("break_index", break_index, k + 1)
    if break_index > n - k - 1:
        raise ConfigError(f"break_index: must leave more than {k} rows on each side (<= {n - k - 1}), "
                          f"got {break_index}")
    f = float(_chow_f(y, X, np.array([break_index]))[0])
    return BreakTest("chow", f, float(_optional("scipy.stats").f.sf(f, k, n - 2 * k)), break_index)


def sup_f_test(y: np.ndarray, X: np.ndarray | None = None, *, trim: float = 0.15, n_sim: int = 2000,
               seed: int = 0) -> BreakTest:
    """The sup-F test for a break at an unknown date: the largest Chow F over breaks in [trim N, (1 - trim) N].

    (Andrews 1993, Econometrica 61(4); Quandt 1960.) Under a stable relation k·sup F converges to
    sup_π |B_k(π)|² / (π(1 - π)) over π ∈ [trim, 1 - trim], B_k a k-dimensional Brownian bridge; the p-value is
    estimated by simulating that limit on a 1000-point grid (`n_sim` paths from `seed`), instead of Andrews'
    tables.

    Returns:
        BreakTest("sup_f", sup F, simulated p-value, the row index of the most likely break).
    """
    y, X = _design(y, X)
    n, k = X.shape
    check_number("trim", trim, 0.0, 0.5, open_low=True, open_high=True)
    check_integer("n_sim", n_sim, 1)
    check_integer("seed", seed, 0)
    lo, hi = max(int(math.ceil(trim * n)), k + 1), min(int(math.floor((1 - trim) * n)), n - k - 1)
    if lo > hi:
        raise ConfigError(f"y: too few rows ({n}) for trim={trim} with {k} regressors")
    splits = np.arange(lo, hi + 1)
    f = _chow_f(y, X, splits)
    arg = int(np.argmax(f))
    grid = 1000
    rng = np.random.default_rng(seed)
    w = np.cumsum(rng.standard_normal((n_sim, grid, k)), axis=1) / math.sqrt(grid)  # [n_sim, grid, k] Brownian
    pi = np.arange(1, grid + 1) / grid
    bridge = w - pi[None, :, None] * w[:, -1:, :]
    inside = (pi >= trim) & (pi <= 1 - trim)
    limit = ((bridge[:, inside] ** 2).sum(-1) / (pi[inside] * (1 - pi[inside]))).max(axis=1)  # [n_sim]
    pvalue = (1 + np.sum(limit >= k * f[arg])) / (1 + n_sim)
    return BreakTest("sup_f", float(f[arg]), float(pvalue), int(splits[arg]))
