"""Structural-break baselines: a planted mean break is found, a stationary series is not, and the statistics match
direct computations."""

from __future__ import annotations

import numpy as np
import pytest

from grokscope.errors import ConfigError
from grokscope.regime import baselines

pytest.importorskip("statsmodels")


def _series(seed, shift=0.0, n=400, at=200):
    y = np.random.default_rng(seed).standard_normal(n)
    y[at:] += shift
    return y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_mean_break_is_detected_and_located(seed):
    y = _series(seed, shift=0.6)
    assert baselines.cusum_ols_test(y - y.mean()).pvalue < 1e-3
    assert baselines.cusum_recursive_test(y).pvalue < 0.05
    assert baselines.chow_test(y, break_index=200).pvalue < 1e-4
    sup = baselines.sup_f_test(y, n_sim=500)
    assert sup.pvalue < 0.01 and abs(sup.break_index - 200) < 20


@pytest.mark.parametrize("seed", [0, 1])
def test_stationary_series_is_not_flagged(seed):
    y = _series(seed)
    assert baselines.cusum_ols_test(y - y.mean()).pvalue > 0.2
    assert baselines.cusum_recursive_test(y).pvalue > 0.2
    assert baselines.sup_f_test(y, n_sim=500).pvalue > 0.2


def test_null_rejection_rate_is_nominal():
    rng = np.random.default_rng(0)
    p = np.array([[baselines.cusum_ols_test(y - y.mean()).pvalue, baselines.cusum_recursive_test(y, x).pvalue]
                  for y, x in rng.standard_normal((200, 2, 100))])
    assert np.all((p < 0.05).mean(axis=0) < 0.1) and np.all((p < 0.05).mean(axis=0) > 0.01)


def test_bde_boundary_constants():
    # Brown, Durbin & Evans (1975): a = 0.850, 0.948, 1.143 for 10%, 5%, 1%.
    for a, alpha in ((0.850, 0.10), (0.948, 0.05), (1.143, 0.01)):
        assert baselines._bde_pvalue(a) == pytest.approx(alpha, rel=0.03)


def test_chow_and_sup_f_match_direct_least_squares():
    rng = np.random.default_rng(4)
    x = rng.standard_normal(120)
    y = 0.5 * x + rng.standard_normal(120)
    y[70:] += 0.8 * x[70:]
    X = np.stack([np.ones(120), x], axis=1)

    def rss(rows):
        return np.linalg.lstsq(X[rows], y[rows], rcond=None)[1][0]

    def chow(t):
        return ((rss(slice(None)) - rss(slice(0, t)) - rss(slice(t, None))) / 2) / (
            (rss(slice(0, t)) + rss(slice(t, None))) / (120 - 4))

    assert baselines.chow_test(y, x, break_index=70).statistic == pytest.approx(chow(70))
    sup = baselines.sup_f_test(y, x, trim=0.15, n_sim=200)
    candidates = range(18, 103)  # ceil(0.15 * 120) .. floor(0.85 * 120)
    best = max(candidates, key=chow)
    assert sup.break_index == best and sup.statistic == pytest.approx(chow(best))


@pytest.mark.parametrize("call, field", [
    (lambda: baselines.cusum_ols_test(np.ones((3, 3))), "resid"),
    (lambda: baselines.chow_test(np.zeros(50), break_index=1), "break_index"),
    (lambda: baselines.sup_f_test(np.zeros(50), trim=0.6), "trim"),
    (lambda: baselines.cusum_recursive_test(np.zeros(50), np.zeros((49, 1))), "X"),
    (lambda: baselines.chow_test(np.array([0.0, np.nan, 1.0, 2.0, 3.0, 4.0]), break_index=3), "y"),
])
def test_bad_arguments_name_the_field(call, field):
    with pytest.raises(ConfigError, match=f"^{field}: "):
        call()
