"""Demo 1's generator follows its stated law: the rule in every regime and era, the offsets and levels drawn, the
calendar cut, the seeds, and the oracle losses that make C and P comparable in-era."""

from __future__ import annotations

import numpy as np
import pytest

from grokscope.errors import ConfigError
from grokscope.regime.synthetic import (
    RegimeSpec,
    id_slots,
    make_regime_data,
    oracle_losses,
    rule,
)

# Strong within-regime variation so that each regime's slope on g is well determined.
LAW = RegimeSpec(n_regimes=4, train_days=2048, n_shift_regimes=4, shift_regime_days=512, within_std=0.5,
                 nuisance_std=0.5, noise_scale=0.5, seed=3)


def _wls(y, g, vol):
    """Per-unit-noise OLS of y/σ on [1/σ, g/σ]: (intercept, slope) and their standard errors."""
    X = np.stack([1 / vol, g / vol], axis=1)
    beta, rss, *_ = np.linalg.lstsq(X, y / vol, rcond=None)
    cov = np.linalg.inv(X.T @ X) * rss[0] / (len(y) - 2)
    return beta, np.sqrt(np.diag(cov))


@pytest.mark.parametrize("state", ["implied", "realized"])
def test_rule_and_offsets_hold_in_every_regime_and_era(state):
    spec = LAW.replace(state=state)
    data = make_regime_data(spec)
    assert np.array_equal(np.unique(data.period_ids), np.arange(8))
    for b in range(8):
        rows = data.period_ids == b
        (intercept, slope), se = _wls(data.target[rows], data.g[rows], spec.noise_scale * data.vol[rows])
        assert abs(slope - spec.scale) < 4 * se[1], (b, slope)
        assert abs(intercept - data.offsets[b]) < 4 * se[0], (b, intercept, data.offsets[b])
    standardized = (data.target - data.mean) / (spec.noise_scale * data.vol)
    assert abs(standardized.mean()) < 0.05 and abs(standardized.std() - 1) < 0.05
    assert abs(np.corrcoef(standardized, data.g)[0, 1]) < 0.05


def test_g_is_the_rule_of_the_observed_state():
    data = make_regime_data(LAW.replace(macro=True))
    s, q = data.features.T
    assert np.allclose(data.g, rule(s, q, sharpness=LAW.sharpness, macro_weight=LAW.macro_weight))
    assert np.allclose(data.features[:, 0], np.log(data.vol))  # "implied": the latent vol, read exactly


def test_realized_state_is_the_trailing_realized_vol_of_past_returns():
    spec = LAW.replace(state="realized", window=7)
    data = make_regime_data(spec)
    w = spec.window
    for start, stop in ((0, spec.train_days), (spec.train_days, data.target.size)):  # each era has its own burn-in
        r = data.target[start:stop]
        expected = 0.5 * np.log(np.convolve(r**2, np.ones(w) / w, mode="valid")[:-1])  # days w.. of the era
        assert np.allclose(data.features[start + w:stop, 0], expected)


def test_regime_levels_are_the_drawn_levels():
    data = make_regime_data(LAW.replace(within_std=0.1, persistence=0.9))
    for b in range(8):
        assert abs(data.features[data.period_ids == b, 0].mean() - data.levels[b]) < 0.07
    assert abs(data.levels.std() - 0.5) < 0.3  # m_b ~ N(0, level_std²), 8 draws


def test_calendar_cut_ids_and_split():
    spec = RegimeSpec(n_regimes=16, train_days=1024, n_shift_regimes=3, shift_regime_days=40, val_frac=0.25)
    data = make_regime_data(spec)
    in_era = data.era != "shift"
    assert in_era.sum() == 1024 and (~in_era).sum() == 120
    assert np.array_equal(np.bincount(data.period_ids[in_era]), np.full(16, 64))
    assert np.all(np.diff(data.period_ids) >= 0) and np.array_equal(data.time, np.arange(1144))
    shift_ids = data.period_ids[~in_era]
    assert set(shift_ids.tolist()) == {16, 17, 18} and not set(shift_ids) & set(data.period_ids[in_era])
    assert np.all(id_slots(data.period_ids, 16)[~in_era] == 16)
    assert np.array_equal(id_slots(data.period_ids, 16)[in_era], data.period_ids[in_era])
    assert data.mask("validation").sum() == 256 and not data.mask("validation")[~in_era].any()
    assert data.features.shape == (1144, 1) and data.levels.shape == data.offsets.shape == (19,)


def test_seeded_and_shift_era_independent_of_B():
    a, b = make_regime_data(RegimeSpec(seed=5)), make_regime_data(RegimeSpec(seed=5))
    c = make_regime_data(RegimeSpec(seed=6))
    assert np.array_equal(a.target, b.target) and np.array_equal(a.era, b.era)
    assert not np.allclose(a.target, c.target)
    d = make_regime_data(RegimeSpec(n_regimes=128, seed=5))
    shift = a.mask("shift")
    assert np.array_equal(a.target[shift], d.target[shift]) and np.array_equal(a.features[shift], d.features[shift])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_defaults_make_rule_and_lookup_comparable_in_era_and_not_in_shift(seed):
    losses = oracle_losses(make_regime_data(RegimeSpec(seed=seed)))
    val, shift = losses["validation"], losses["shift"]
    assert abs(val["rule"] - val["lookup"]) / val["lookup"] < 0.02
    assert val["both"] < min(val["rule"], val["lookup"])
    assert shift["lookup"] > 1.1 * shift["rule"]


@pytest.mark.parametrize("changes, field", [
    (dict(n_regimes=0), "n_regimes"), (dict(train_days=1000, n_regimes=3), "train_days"),
    (dict(val_frac=1.0), "val_frac"), (dict(state="vix"), "state"), (dict(persistence=1.0), "persistence"),
    (dict(level_std=-1.0), "level_std"), (dict(scale=float("nan")), "scale"), (dict(macro=1), "macro"),
    (dict(seed=-1), "seed"), (dict(window=2.5), "window"),
    (dict(state="realized", noise_scale=0.0, nuisance_std=0.0), "noise_scale"),
])
def test_bad_knobs_raise_one_line_naming_the_field(changes, field):
    with pytest.raises(ConfigError, match=f"^{field}: ") as info:
        RegimeSpec(**changes)
    assert "\n" not in str(info.value)
