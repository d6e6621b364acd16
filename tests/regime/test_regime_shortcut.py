"""Demo 2's generator: the shortcut's relation is fixed in one sub-period and changes across several, while the
rule's relation holds in all of them."""

from __future__ import annotations

import numpy as np
import pytest

from grokscope.errors import ConfigError
from grokscope.regime.shortcut import (
    MULTI_PERIOD,
    SINGLE_PERIOD,
    ShortcutSpec,
    make_shortcut_data,
)


def _slope(x, y):
    """OLS slope of y on [1, x] and its standard error."""
    X = np.stack([np.ones_like(x), x], axis=1)
    beta, rss, *_ = np.linalg.lstsq(X, y, rcond=None)
    return beta[1], np.sqrt(rss[0] / (len(y) - 2) * np.linalg.inv(X.T @ X)[1, 1])


def test_single_period_shortcut_is_indistinguishable_from_the_rule():
    data = make_shortcut_data(SINGLE_PERIOD)
    in_era = data.era != "shift"
    assert set(data.environments[in_era].tolist()) == {0}
    s, k = data.features[in_era].T
    # The shortcut is an exact linear copy of the rule's mean: no statistic of the in-era rows separates them.
    assert np.allclose(k, data.rule_mean[in_era])
    halves = np.array_split(np.flatnonzero(in_era), 2)
    slopes = [_slope(data.features[h, 1], data.target[h]) for h in halves]
    assert abs(slopes[0][0] - slopes[1][0]) < 4 * np.hypot(slopes[0][1], slopes[1][1])  # constant relation


def test_multi_period_shortcut_changes_while_rule_holds():
    spec = MULTI_PERIOD
    data = make_shortcut_data(spec)
    assert spec.n_periods >= 3
    assert np.array_equal(np.bincount(data.environments), [512] * 4 + [spec.shift_days])
    for e, c in enumerate(spec.shortcut_coefs + (spec.shift_coef,)):
        rows = data.environments == e
        rule_slope, rule_se = _slope(data.rule_mean[rows], data.target[rows])
        assert abs(rule_slope - 1) < 4 * rule_se, (e, rule_slope)
        shortcut_slope, shortcut_se = _slope(data.features[rows, 1], data.target[rows])
        assert abs(shortcut_slope - 1 / c) < 4 * shortcut_se, (e, shortcut_slope)
        assert np.all(data.shortcut_coef[rows] == c)
    # The rule's mean is the tanh of the observed state, in every period.
    assert np.allclose(data.rule_mean, spec.scale * np.tanh(spec.sharpness * data.features[:, 0]))


def test_split_and_seeds():
    a, b = make_shortcut_data(SINGLE_PERIOD), make_shortcut_data(SINGLE_PERIOD)
    c = make_shortcut_data(SINGLE_PERIOD.replace(seed=1))
    assert np.array_equal(a.target, b.target) and not np.allclose(a.target, c.target)
    assert a.mask("validation").sum() == round(0.2 * 2048) and not a.mask("validation")[2048:].any()
    assert a.mask("shift").sum() == 1024 and np.all(a.environments[a.mask("shift")] == 1)


def test_shortcut_noise_makes_the_rule_strictly_better_in_era():
    data = make_shortcut_data(SINGLE_PERIOD.replace(shortcut_noise_std=0.3))
    rows = data.era != "shift"
    assert np.std(data.features[rows, 1] - data.rule_mean[rows]) == pytest.approx(0.3, rel=0.1)


@pytest.mark.parametrize("changes, field", [
    (dict(shortcut_coefs=()), "shortcut_coefs"), (dict(shortcut_coefs=[1.0]), "shortcut_coefs"),
    (dict(shortcut_coefs=(1.0, float("inf"))), "shortcut_coefs"), (dict(period_days=0), "period_days"),
    (dict(noise_std=-0.1), "noise_std"), (dict(val_frac=0.0), "val_frac"), (dict(shift_coef="x"), "shift_coef"),
])
def test_bad_knobs_raise_one_line_naming_the_field(changes, field):
    with pytest.raises(ConfigError, match=f"^{field}: ") as info:
        ShortcutSpec(**changes)
    assert "\n" not in str(info.value)
