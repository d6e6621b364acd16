"""The real-data loaders read the data bundled in the `arch` wheel (offline): spans, sizes, alignment, no NaN,
and the Fama–French dates parsed from the raw YYYYMM column."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

from grokscope.errors import ConfigError
from grokscope.regime import market

pytest.importorskip("arch")


@pytest.fixture(scope="module")
def sp500():
    return market.load_sp500()


def test_sp500_eras_span_and_sizes(sp500):
    eras = {e: sp500.dates[sp500.mask(e)] for e in ("train", "validation", "shift")}
    in_era = eras["train"].union(eras["validation"])
    assert (in_era.min(), in_era.max()) == (pd.Timestamp("2003-01-02"), pd.Timestamp("2007-06-29"))
    assert (eras["shift"].min(), eras["shift"].max()) == (pd.Timestamp("2007-07-02"), pd.Timestamp("2009-06-30"))
    assert (len(in_era), len(eras["shift"]), len(eras["validation"])) == (1131, 504, 226)
    assert sp500.features.shape == (1635, 29) and not np.isnan(sp500.features).any()
    assert set(sp500.period_ids[sp500.mask("shift")].tolist()).isdisjoint(sp500.period_ids[~sp500.mask("shift")])


def test_sp500_target_and_lags_are_aligned(sp500):
    names = sp500.feature_names
    abs_lag1 = sp500.features[:, names.index("abs_r_lag1")]
    r_lag1 = sp500.features[:, names.index("r_lag1")]
    assert np.allclose(abs_lag1[1:], sp500.target[:-1])  # yesterday's target is today's first lag
    assert np.allclose(np.abs(r_lag1), abs_lag1)
    price = __import__("arch.data.sp500", fromlist=["load"]).load()["Adj Close"]
    crash = sp500.dates.get_loc(pd.Timestamp("2008-10-13"))  # +11.6% close to close
    assert sp500.target[crash] == pytest.approx(100 * np.log(price["2008-10-13"] / price["2008-10-10"]))


def test_sp500_feature_groups(sp500):
    names, groups = sp500.feature_names, sp500.feature_groups
    dow = [i for i in groups["calendar"] if names[i].startswith("dow_")]
    assert np.all(sp500.features[:, dow].sum(axis=1) == 1)
    level = sp500.features[sp500.mask("train"), names.index("log_price_lag1")]
    assert abs(level.mean()) < 1e-9 and level.std(ddof=1) == pytest.approx(1.0)
    plain = market.load_sp500(calendar=False, level=False, n_lags=2)
    assert plain.feature_groups == {"lags": (0, 1, 2, 3)} and plain.features.shape == (1635, 4)


def test_fama_french_dates_parsed_from_the_raw_column():
    raw = market.fama_french_raw()
    assert raw.index[0] == pd.Timestamp("1926-07-01") and raw.index[-1] == pd.Timestamp("2018-11-01")
    assert raw.shape == (1109, 4) and raw["Mkt-RF"].iloc[0] == pytest.approx(2.96)
    months = raw.index.year * 12 + raw.index.month
    assert np.all(np.diff(months) == 1)  # every month once, in order
    table = market.load_fama_french(n_lags=3)
    assert table.dates[0] == pd.Timestamp("1926-10-01") and table.features.shape == (1106, 27)
    assert not np.isnan(table.features).any() and table.period_ids[0] == 0
    assert np.allclose(table.target, raw["Mkt-RF"].abs().to_numpy()[3:])


def test_walk_forward_by_decade():
    dates = market.load_fama_french().dates
    folds = market.walk_forward_folds(dates, first_test_decade=1940)
    assert [d for d, _, _ in folds] == list(range(1940, 2020, 10))
    for d, train, test in folds:
        assert dates[train].max() < dates[test].min() and dates[test].year.min() == d
    d, train, _ = market.walk_forward_folds(dates, first_test_decade=1990, train_decades=2)[0]
    assert d == 1990 and dates[train].min() == pd.Timestamp("1970-01-01") and train.sum() == 240


def test_missing_arch_is_one_line_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "arch.data.sp500", None)
    with pytest.raises(ConfigError, match=r"^arch: .*pip install 'grokscope\[regime\]'$"):
        market.load_sp500()


@pytest.mark.parametrize("call, field", [
    (lambda: market.load_sp500(n_lags=0), "n_lags"), (lambda: market.load_sp500(val_frac=1.5), "val_frac"),
    (lambda: market.load_fama_french(target="smb"), "target"),
    (lambda: market.walk_forward_folds(pd.DatetimeIndex([]), first_test_decade=1945), "first_test_decade"),
])
def test_bad_arguments_name_the_field(call, field):
    with pytest.raises(ConfigError, match=f"^{field}: "):
        call()
