"""Demo 3 of issue 9: real market data shipped inside the `arch` wheel (no download), as feature tables.

S&P 500 daily (`arch.data.sp500`, Yahoo Finance, 1999-01-04 → 2018-12-31): the target is the day's absolute log
return |r_t| in percent, predicted from the k previous days' |r| and r (volatility clustering is the rule that
survives a crisis; the sign of returns is mostly noise), optionally with calendar features (day of week, month, both
one-hot) and level features (log price level, standardized on the training rows, and the trailing mean return),
which let a model recognize the period rather than the state. Eras as in the issue: training 2003-01 → 2007-06
(a random `val_frac` of its days held out as validation), shift 2007-07 → 2009-06.

Fama–French monthly factors (`arch.data.frenchdata`, Ken French's library, 1926-07 → 2018-11): `arch`'s loader
hands the YYYYMM column to `pd.to_datetime`, which reads 192607 as nanoseconds after 1970; we parse the raw column
as year and month ourselves. Rows carry their decade for walk-forward evaluation (`walk_forward_folds`).

`arch` is an optional dependency: `pip install 'grokscope[regime]'`.
"""

from __future__ import annotations

import importlib
import importlib.resources
from dataclasses import dataclass
from types import ModuleType
from typing import Literal

import numpy as np
import pandas as pd

from ..checks import check_integer, check_number
from ..errors import ConfigError

SP500_TRAIN = ("2003-01-01", "2007-06-30")
SP500_SHIFT = ("2007-07-01", "2009-06-30")
FF_FACTORS = ("Mkt-RF", "SMB", "HML", "RF")
FF_TARGETS = ("abs_mkt_rf", "mkt_rf")


def _arch_data(name: str) -> ModuleType:
    """The `arch.data.<name>` module, or a one-line ConfigError saying how to install it."""
    try:
        return importlib.import_module(f"arch.data.{name}")
    except ImportError as exc:
        raise ConfigError(f"arch: not installed ({exc.name}); run pip install 'grokscope[regime]'") from None


@dataclass(frozen=True)
class MarketData:
    """A feature table, rows in time order.

    Attributes:
        features: `[N, n_features]` float64, no NaN.
        feature_names: one name per column.
        feature_groups: group name ("lags", "calendar", "level") -> its column indices.
        period_ids: `[N]` int: the calendar period (S&P 500: half-year since 1999; Fama–French: decade index).
        dates: `[N]` the date of the target.
        target: `[N]`.
        era: `[N]` "train", "validation", "shift" (S&P 500) or "all" (Fama–French; see `walk_forward_folds`).
    """

    features: np.ndarray
    feature_names: tuple[str, ...]
    feature_groups: dict[str, tuple[int, ...]]
    period_ids: np.ndarray
    dates: pd.DatetimeIndex
    target: np.ndarray
    era: np.ndarray

    def mask(self, era: str) -> np.ndarray:
        """`[N]` bool: the rows of one era."""
        return self.era == era


def _table(groups: dict[str, pd.DataFrame], **rest) -> MarketData:
    frames = [f for f in groups.values() if f.shape[1]]
    table = pd.concat(frames, axis=1)
    bounds = np.cumsum([0] + [f.shape[1] for f in groups.values()])
    feature_groups = {g: tuple(range(bounds[i], bounds[i + 1])) for i, g in enumerate(groups) if groups[g].shape[1]}
    return MarketData(features=table.to_numpy(dtype=np.float64), feature_names=tuple(map(str, table.columns)),
                      feature_groups=feature_groups, **rest)


def _lags(series: dict[str, pd.Series], n_lags: int) -> pd.DataFrame:
    return pd.DataFrame({f"{name}_lag{j}": s.shift(j) for name, s in series.items() for j in range(1, n_lags + 1)})


def _one_hot(values: pd.Index, prefix: str, categories: range, index: pd.DatetimeIndex) -> pd.DataFrame:
    return pd.DataFrame({f"{prefix}_{c}": (values == c).astype(np.float64) for c in categories}, index=index)


def load_sp500(*, n_lags: int = 5, calendar: bool = True, level: bool = True, trend_window: int = 21,
               val_frac: float = 0.2, seed: int = 0) -> MarketData:
    """The S&P 500 table: target |r_t| (percent), lags of |r| and r, optional calendar and level features.

    Args:
        n_lags: k, lags 1..k of |r| and of r.
        calendar: add day-of-week and month one-hots.
        level: add the log price level of day t-1 (standardized on training rows) and the trailing mean return.
        trend_window: days of the trailing mean return.
        val_frac: share of training-era days held out at random as validation.
        seed: seeds the validation draw.

    Returns:
        Rows from 2003-01 to 2009-06 (training era, then shift era); period_ids are half-years since 1999-H1.
    """
    check_integer("n_lags", n_lags, 1)
    check_integer("trend_window", trend_window, 1)
    check_number("val_frac", val_frac, 0.0, 1.0, open_low=True, open_high=True)
    check_integer("seed", seed, 0)
    for name, flag in (("calendar", calendar), ("level", level)):
        if not isinstance(flag, bool):
            raise ConfigError(f"{name}: must be true or false, got {flag!r}")
    price = _arch_data("sp500").load()["Adj Close"].astype(np.float64)
    r = 100.0 * np.log(price).diff()  # percent log returns; r_t uses the close of t and t-1
    dates = price.index
    lags = _lags({"abs_r": r.abs(), "r": r}, n_lags)
    cal = pd.concat([_one_hot(dates.day_of_week, "dow", range(5), dates),
                     _one_hot(dates.month, "month", range(1, 13), dates)], axis=1) if calendar else pd.DataFrame(
        index=dates)
    lvl = pd.DataFrame({"log_price_lag1": np.log(price).shift(1),
                        f"mean_r_{trend_window}d": r.shift(1).rolling(trend_window).mean()},
                       index=dates) if level else pd.DataFrame(index=dates)

    in_train = (dates >= SP500_TRAIN[0]) & (dates <= SP500_TRAIN[1])
    in_shift = (dates >= SP500_SHIFT[0]) & (dates <= SP500_SHIFT[1])
    keep = np.asarray(in_train | in_shift)
    era = np.where(in_train, "train", "shift")[keep].astype(object)
    n_train = int(in_train.sum())
    val_rows = np.random.default_rng(seed).permutation(n_train)[: round(val_frac * n_train)]
    era[val_rows] = "validation"  # training-era rows come first
    era = era.astype(str)
    if level:
        # Standardize the level on training rows only, so the shift era is read on the training era's scale.
        rows = lvl["log_price_lag1"][keep][era == "train"]
        lvl["log_price_lag1"] = (lvl["log_price_lag1"] - rows.mean()) / rows.std()
    kept = dates[keep]
    return _table({"lags": lags[keep], "calendar": cal[keep], "level": lvl[keep]},
                  period_ids=np.asarray((kept.year - 1999) * 2 + (kept.month > 6), dtype=np.int64),
                  dates=kept, target=r.abs().to_numpy()[keep], era=era)


def fama_french_raw() -> pd.DataFrame:
    """The monthly factors (percent) indexed by month start, with the YYYYMM column parsed as year and month."""
    module = _arch_data("frenchdata")
    path = importlib.resources.files(module.__name__).joinpath("frenchdata.csv.gz")
    with importlib.resources.as_file(path) as file:
        raw = pd.read_csv(file, dtype={"Date": str})
    dates = pd.to_datetime(raw.pop("Date"), format="%Y%m")
    return raw.set_index(pd.DatetimeIndex(dates, name="Date")).astype(np.float64)


def load_fama_french(*, target: Literal["abs_mkt_rf", "mkt_rf"] = "abs_mkt_rf", n_lags: int = 3,
                     calendar: bool = True) -> MarketData:
    """The Fama–French monthly table: target |Mkt-RF| (or Mkt-RF) in percent, lags 1..k of |Mkt-RF| and the factors.

    Args:
        target: "abs_mkt_rf" (|Mkt-RF|_t, volatility clustering) or "mkt_rf" (the excess return itself).
        n_lags: k, lags 1..k of |Mkt-RF| and of each factor.
        calendar: add month one-hots.

    Returns:
        Every month with k months of history (from 1926-07 + k), era "all", period_ids the decade index
        (decade // 10 - 192: the 1920s are 0).
    """
    if target not in FF_TARGETS:
        raise ConfigError(f"target: must be one of {', '.join(FF_TARGETS)}; got {target!r}")
    check_integer("n_lags", n_lags, 1)
    if not isinstance(calendar, bool):
        raise ConfigError(f"calendar: must be true or false, got {calendar!r}")
    ff = fama_french_raw()
    mkt = ff["Mkt-RF"]
    lags = _lags({"abs_mkt_rf": mkt.abs(), **{f.lower().replace("-", "_"): ff[f] for f in FF_FACTORS}}, n_lags)
    cal = _one_hot(ff.index.month, "month", range(1, 13), ff.index) if calendar else pd.DataFrame(index=ff.index)
    keep = np.arange(len(ff)) >= n_lags
    y = (mkt.abs() if target == "abs_mkt_rf" else mkt).to_numpy()
    dates = ff.index[keep]
    return _table({"lags": lags[keep], "calendar": cal[keep], "level": pd.DataFrame(index=dates)},
                  period_ids=np.asarray(dates.year // 10 - 192, dtype=np.int64), dates=dates, target=y[keep],
                  era=np.full(int(keep.sum()), "all"))


def walk_forward_folds(dates: pd.DatetimeIndex, *, first_test_decade: int = 1940,
                       train_decades: int | None = None) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Walk-forward by decade: for each decade d ≥ `first_test_decade`, train on the decades before d, test on d.

    Args:
        dates: `[N]` the rows' dates, in time order.
        first_test_decade: the first decade tested (e.g. 1940).
        train_decades: how many decades before d to train on; None: all of them (expanding window).

    Returns:
        `(d, train_mask [N], test_mask [N])` for each decade d present, in order.
    """
    check_integer("first_test_decade", first_test_decade, 0)
    if first_test_decade % 10:
        raise ConfigError(f"first_test_decade: must be a multiple of 10, got {first_test_decade}")
    if train_decades is not None:
        check_integer("train_decades", train_decades, 1)
    decade = np.asarray(dates.year // 10 * 10)
    folds = []
    for d in sorted(set(decade[decade >= first_test_decade].tolist())):
        start = -np.inf if train_decades is None else d - 10 * train_decades
        train = (decade < d) & (decade >= start)
        if train.any():
            folds.append((d, train, decade == d))
    return folds
