"""Demo 2 of issue 9: a shortcut that is simpler than the rule, in one sub-period or in several (the negative control).

The law. The training era is cut into sub-periods (environments) e = 0..n-1 of `period_days` each, with a shortcut
coefficient c_e per sub-period (`shortcut_coefs`); the shift era has coefficient `shift_coef`. Each day t draws

    s_t = AR(1) with coefficient φ and stationary sd `state_std`     (log implied volatility, observed)
    μ_t = scale tanh(κ s_t)                                           the rule (the g of `synthetic.rule`)
    y_t = μ_t + noise_std ε_t                                         the target
    k_t = c_e(t) μ_t + shortcut_noise_std ν_t                         the shortcut feature; ε, ν i.i.d. N(0, 1)

Inside one sub-period with c ≠ 0 and no shortcut noise, k_t / c equals the rule's mean exactly: the linear map
y ≈ k / c is as correct as the rule and shorter (one coefficient against tanh of a rescaled state), and no
statistic of that sub-period's data can tell the two apart (Peters, Bühlmann & Meinshausen 2016; Arjovsky et al.
2019; D'Amour et al. 2022). With ≥ 3 sub-periods whose c_e differ, E[y | k] changes from one to the next while
E[y | s] = μ does not: environment measures (risk variance across sub-periods, invariance penalties) can separate
them. The shift era's `shift_coef` (default -1, the relation reversed) is where the shortcut fails and the rule
does not.

The presets `SINGLE_PERIOD` and `MULTI_PERIOD` are the two variants of the issue.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..checks import check_integer, check_number
from ..errors import ConfigError
from .synthetic import ERAS, _ar1, rule


@dataclass(frozen=True)
class ShortcutSpec:
    """Every knob of the Demo 2 generator, validated once.

    Args:
        shortcut_coefs: c_e for each training sub-period, in calendar order (at least one).
        period_days: days per training sub-period.
        shift_coef: c in the shift era.
        shift_days: days in the shift era.
        val_frac: share of training-era days held out at random as the in-era validation split.
        state_std: stationary sd of the state s_t.
        persistence: φ, the AR(1) coefficient of s_t.
        sharpness: κ in the rule.
        scale: the rule's coefficient.
        noise_std: sd of the target's noise.
        shortcut_noise_std: sd of the shortcut's own noise (0: exactly as correct as the rule in-period).
        seed: the root of every random draw.
    """

    shortcut_coefs: tuple[float, ...] = (1.0,)
    period_days: int = 2048
    shift_coef: float = -1.0
    shift_days: int = 1024
    val_frac: float = 0.2
    state_std: float = 0.5
    persistence: float = 0.9
    sharpness: float = 1.5
    scale: float = 1.0
    noise_std: float = 1.0
    shortcut_noise_std: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.shortcut_coefs, tuple) or len(self.shortcut_coefs) == 0:
            raise ConfigError(f"shortcut_coefs: must be a non-empty tuple of numbers, got {self.shortcut_coefs!r}")
        for c in self.shortcut_coefs:
            check_number("shortcut_coefs", c)
        check_integer("period_days", self.period_days, 1)
        check_number("shift_coef", self.shift_coef)
        check_integer("shift_days", self.shift_days, 1)
        check_number("val_frac", self.val_frac, 0.0, 1.0, open_low=True, open_high=True)
        for name in ("state_std", "noise_std", "shortcut_noise_std"):
            check_number(name, getattr(self, name), 0.0)
        check_number("persistence", self.persistence, 0.0, 1.0, open_high=True)
        check_number("sharpness", self.sharpness)
        check_number("scale", self.scale)
        check_integer("seed", self.seed, 0)

    @property
    def n_periods(self) -> int:
        return len(self.shortcut_coefs)

    def replace(self, **changes) -> ShortcutSpec:
        return dataclasses.replace(self, **changes)


SINGLE_PERIOD = ShortcutSpec(shortcut_coefs=(1.0,), period_days=2048)
# Same training days in all: the shortcut's relation scales, then weakens, while the rule holds.
MULTI_PERIOD = ShortcutSpec(shortcut_coefs=(1.0, 0.5, 2.0, 0.25), period_days=512)

FEATURE_NAMES = ("log_implied_vol", "shortcut")


@dataclass(frozen=True)
class ShortcutData:
    """One generated sample, rows in time order (training sub-periods, then the shift era).

    Attributes:
        spec: the knobs that made it.
        features: `[N, 2]` the state s_t and the shortcut k_t (`FEATURE_NAMES`).
        environments: `[N]` the sub-period 0..n-1; the shift era is `n` (unseen).
        time: `[N]` the day index.
        target: `[N]` y_t.
        era: `[N]` "train", "validation" (random training-era days) or "shift".
        rule_mean: `[N]` μ_t, the rule's mean.
        shortcut_coef: `[N]` the c of each row's sub-period.
    """

    spec: ShortcutSpec
    features: np.ndarray
    environments: np.ndarray
    time: np.ndarray
    target: np.ndarray
    era: np.ndarray
    rule_mean: np.ndarray
    shortcut_coef: np.ndarray

    def mask(self, era: str) -> np.ndarray:
        """`[N]` bool: the rows of one era ("train", "validation" or "shift")."""
        if era not in ERAS:
            raise ConfigError(f"era: must be one of {', '.join(ERAS)}; got {era!r}")
        return self.era == era


def make_shortcut_data(spec: ShortcutSpec) -> ShortcutData:
    """Generate the Demo 2 sample: the training sub-periods (split into train/validation days) and a shift era."""
    path_seq, split_seq = np.random.SeedSequence(spec.seed).spawn(2)
    rng = np.random.default_rng(path_seq)
    n_train = spec.n_periods * spec.period_days
    n = n_train + spec.shift_days
    env = np.concatenate([np.repeat(np.arange(spec.n_periods), spec.period_days),
                          np.full(spec.shift_days, spec.n_periods)])
    coef = np.append(np.asarray(spec.shortcut_coefs, dtype=float), spec.shift_coef)[env]
    s = _ar1(rng, n, spec.persistence, spec.state_std)
    eps, nu = rng.standard_normal((2, n))
    mu = spec.scale * rule(s, sharpness=spec.sharpness)
    y = mu + spec.noise_std * eps
    k = coef * mu + spec.shortcut_noise_std * nu
    val_rows = np.random.default_rng(split_seq).permutation(n_train)[: round(spec.val_frac * n_train)]
    era = np.array(["train"] * n_train + ["shift"] * spec.shift_days, dtype=object)
    era[val_rows] = "validation"
    return ShortcutData(spec=spec, features=np.stack([s, k], axis=1), environments=env, time=np.arange(n),
                        target=y, era=era.astype(str), rule_mean=mu, shortcut_coef=coef)
