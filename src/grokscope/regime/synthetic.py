"""Demo 1 of issue 9: synthetic daily returns whose calendar regimes obey one law (ground truth by construction).

The law. Time runs in trading days. An era is cut into calendar regimes of equal length; regime b draws once

    m_b ~ N(0, level_std²)              its volatility level (log scale)
    z_b ~ N(0, macro_level_std²)        its macro level (only when ``macro``)
    δ_b ~ N(0, nuisance_std²)           its nuisance offset, a mean shift no observable explains

and each day t of regime b(t) draws

    x_t = φ x_{t-1} + √(1-φ²) within_std ξ_t      (one AR(1) path across the era, continuous over boundaries)
    h_t = m_b(t) + x_t                              latent log volatility, σ_t = exp(h_t)
    s_t = h_t                                       (state "implied": a VIX-like reading of the vol, observed)
        = log √(mean r²_{t-window..t-1})            (state "realized": trailing realized vol, causal)
    q_t = z_b(t) + u_t,  u_t AR(1) like x_t         the macro factor (observed, only when ``macro``)
    g_t = tanh(κ s_t) + macro_weight q_t            the rule g, the same function in every regime and era
    r_t = scale g_t + δ_b(t) + noise_scale σ_t ε_t  the daily return, the target; ξ, ε i.i.d. N(0, 1)

so E[r_t | s_t, q_t, b] = scale g_t + δ_b: the rule holds in every regime, and the period id is also predictive
in-era (regime b's mean is δ_b + scale E[g | b], and since m_b sets the level of s, the id alone recovers most of
the rule's variation). Units: the median daily volatility is exp(0) = 1, so returns read as percent-like units.

Why C and P reach comparable in-era losses. A model that sees only the state (C) can at best predict scale g_t: its
excess over the noise is Var δ = nuisance_std². One that sees only the id (P) can at best predict the regime mean:
its excess is the within-regime variance of scale g_t, about (scale κ sech²(κ m_b) within_std)², independent of B
because x_t is one stationary path. The defaults make both excesses ~1% of the noise variance while the
between-regime variance of scale g_t is 10-20% of it: in-era validation losses of C and P agree within 2% (B >= 8;
with B <= 4 it rests on a few draws and can miss), and in the shift era, whose regimes are new draws from the same
law, the lookup loses that share and the rule does not. `oracle_losses` computes these best-case losses on a
generated sample. The "realized" state is noisier within a regime, so there C beats P in-era unless
`nuisance_std` is raised.

Unseen ids. Training regimes have ids 0..B-1; shift regimes get B, B+1, ... (never seen). A model takes
`id_slots(...)`: the id where it was seen in training and the one "unknown" slot B otherwise, so an id embedding has
B + 1 rows; the model layer should train the unknown slot (e.g. by mapping a random share of training rows to it)
so that it stands for the pooled mean rather than an untouched initialization.

Randomness: `numpy.random.default_rng` on children of `SeedSequence(seed)`: the shift era and the noise paths
(ξ, ε) do not depend on B, so a sweep over B at one seed changes only how the training era is cut and its levels.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..checks import check_boolean, check_choice, check_integer, check_number
from ..errors import ConfigError

STATES = ("implied", "realized")
ERAS = ("train", "validation", "shift")


def rule(state: np.ndarray, macro: np.ndarray | None = None, *, sharpness: float, macro_weight: float = 0.0
         ) -> np.ndarray:
    """The rule g: `tanh(sharpness · state) + macro_weight · macro`, elementwise over `[N]` arrays."""
    g = np.tanh(sharpness * state)
    return g if macro is None else g + macro_weight * macro


@dataclass(frozen=True)
class RegimeSpec:
    """Every knob of the Demo 1 generator, validated once.

    Args:
        n_regimes: B, the number of calendar regimes in the training era (all of equal length).
        train_days: days in the training era; a multiple of `n_regimes`.
        val_frac: share of training-era days held out at random as the in-era validation split.
        n_shift_regimes: regimes in the shift era (ids `n_regimes`, `n_regimes + 1`, ...).
        shift_regime_days: days per shift regime.
        state: "implied" (s_t = h_t observed) or "realized" (trailing realized vol over `window` days).
        window: days of the trailing realized volatility (and of the burn-in before each era).
        level_std: sd of the regimes' log-volatility levels m_b.
        within_std: stationary sd of the within-era log-volatility deviation x_t.
        persistence: φ, the AR(1) coefficient of x_t (and of the macro deviation).
        sharpness: κ in g = tanh(κ s) + macro_weight q.
        scale: the rule's coefficient in the return.
        nuisance_std: sd of the regime offsets δ_b.
        noise_scale: multiplies the return noise σ_t ε_t.
        macro: add the macro factor q_t as a second feature and term of g.
        macro_level_std: sd of the regimes' macro levels z_b.
        macro_weight: the macro term's weight in g.
        seed: the root of every random draw.
    """

    n_regimes: int = 8
    train_days: int = 4096
    val_frac: float = 0.2
    n_shift_regimes: int = 16
    shift_regime_days: int = 64
    state: Literal["implied", "realized"] = "implied"
    window: int = 5
    level_std: float = 0.5
    within_std: float = 0.1
    persistence: float = 0.9
    sharpness: float = 1.5
    scale: float = 1.0
    nuisance_std: float = 0.1
    noise_scale: float = 1.0
    macro: bool = False
    macro_level_std: float = 0.5
    macro_weight: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        check_integer("n_regimes", self.n_regimes, 1)
        check_integer("train_days", self.train_days, 1)
        if self.train_days % self.n_regimes:
            raise ConfigError(f"train_days: must be a multiple of n_regimes={self.n_regimes}, got {self.train_days}")
        check_number("val_frac", self.val_frac, 0.0, 1.0, open_low=True, open_high=True)
        check_integer("n_shift_regimes", self.n_shift_regimes, 1)
        check_integer("shift_regime_days", self.shift_regime_days, 1)
        check_choice("state", self.state, STATES)
        check_integer("window", self.window, 1)
        for name in ("level_std", "within_std", "nuisance_std", "noise_scale", "macro_level_std"):
            check_number(name, getattr(self, name), 0.0)
        if self.state == "realized" and self.noise_scale == 0 and self.nuisance_std == 0:
            raise ConfigError("noise_scale: must be > 0 with state 'realized' (a silent burn-in has no volatility)")
        check_number("persistence", self.persistence, 0.0, 1.0, open_high=True)
        for name in ("sharpness", "scale", "macro_weight"):
            check_number(name, getattr(self, name))
        check_boolean("macro", self.macro)
        check_integer("seed", self.seed, 0)

    def replace(self, **changes) -> RegimeSpec:
        return dataclasses.replace(self, **changes)

    @property
    def regime_days(self) -> int:
        """Days per training regime."""
        return self.train_days // self.n_regimes

    @property
    def feature_names(self) -> tuple[str, ...]:
        vol = "log_implied_vol" if self.state == "implied" else "log_realized_vol"
        return (vol, "macro") if self.macro else (vol,)


@dataclass(frozen=True)
class RegimeData:
    """One generated sample: every row is a day, in time order (training era first, then the shift era).

    Attributes:
        spec: the knobs that made it.
        features: `[N, n_features]` the state (column names in `spec.feature_names`).
        period_ids: `[N]` the regime id; training regimes 0..B-1, shift regimes B.. (unseen).
        time: `[N]` the day index (the shift era follows the training era).
        target: `[N]` the return r_t.
        era: `[N]` "train", "validation" (random training-era days) or "shift".
        g: `[N]` the rule's value g_t (so the noise-free mean is `spec.scale * g + offsets[period_ids]`).
        vol: `[N]` the latent volatility σ_t.
        levels: `[B + n_shift_regimes]` the log-volatility level m_b of each regime, by id.
        offsets: `[B + n_shift_regimes]` the nuisance offset δ_b of each regime, by id.
    """

    spec: RegimeSpec
    features: np.ndarray
    period_ids: np.ndarray
    time: np.ndarray
    target: np.ndarray
    era: np.ndarray
    g: np.ndarray
    vol: np.ndarray
    levels: np.ndarray
    offsets: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """`[N]` the noise-free expected return scale·g_t + δ_b(t)."""
        return self.spec.scale * self.g + self.offsets[self.period_ids]

    def mask(self, era: str) -> np.ndarray:
        """`[N]` bool: the rows of one era ("train", "validation" or "shift")."""
        if era not in ERAS:
            raise ConfigError(f"era: must be one of {', '.join(ERAS)}; got {era!r}")
        return self.era == era


def id_slots(period_ids: np.ndarray, n_regimes: int) -> np.ndarray:
    """`[N]` int: the id where it is a training regime (< n_regimes), else the unknown slot `n_regimes`."""
    ids = np.asarray(period_ids)
    return np.where((ids >= 0) & (ids < n_regimes), ids, n_regimes)


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    """`[n]` a stationary AR(1) path with coefficient phi and marginal sd."""
    shocks = rng.standard_normal(n) * sd * math.sqrt(1.0 - phi * phi)
    out = np.empty(n)
    prev = rng.standard_normal() * sd
    for t in range(n):  # a recursion: each day needs the previous one
        prev = phi * prev + shocks[t]
        out[t] = prev
    return out


def _era(spec: RegimeSpec, rng: np.random.Generator, regime_of_day: np.ndarray, levels: np.ndarray,
         macro_levels: np.ndarray, offsets: np.ndarray) -> dict[str, np.ndarray]:
    """Simulate one era (after a burn-in of `window` days in its first regime); arrays `[days]`."""
    burn = spec.window
    regime = np.concatenate([np.full(burn, regime_of_day[0]), regime_of_day])
    n = regime.size
    h = levels[regime] + _ar1(rng, n, spec.persistence, spec.within_std)
    q = macro_levels[regime] + _ar1(rng, n, spec.persistence, spec.within_std) if spec.macro else None
    eps = rng.standard_normal(n)
    sigma = np.exp(h)
    if spec.state == "implied":
        s = h
        g = rule(s, q, sharpness=spec.sharpness, macro_weight=spec.macro_weight)
        r = spec.scale * g + offsets[regime] + spec.noise_scale * sigma * eps
    else:
        # The realized state depends on past returns, which depend on past states: a day-by-day recursion.
        s = np.zeros(n)
        g = np.zeros(n)
        r = np.zeros(n)
        r[:burn] = offsets[regime[:burn]] + spec.noise_scale * sigma[:burn] * eps[:burn]
        for t in range(burn, n):
            s[t] = 0.5 * math.log(float(np.mean(r[t - burn:t] ** 2)))
            g[t] = rule(s[t:t + 1], None if q is None else q[t:t + 1], sharpness=spec.sharpness,
                        macro_weight=spec.macro_weight)[0]
            r[t] = spec.scale * g[t] + offsets[regime[t]] + spec.noise_scale * sigma[t] * eps[t]
    cols = [s] if q is None else [s, q]
    return dict(features=np.stack(cols, axis=1)[burn:], target=r[burn:], g=g[burn:], vol=sigma[burn:])


def make_regime_data(spec: RegimeSpec) -> RegimeData:
    """Generate the Demo 1 sample: B training regimes (split into train/validation days) and a shift era."""
    train_seq, shift_seq, split_seq = np.random.SeedSequence(spec.seed).spawn(3)
    # Levels first from their own streams so that the noise paths (drawn next) do not depend on B.
    level_seq, path_seq = train_seq.spawn(2)
    shift_level_seq, shift_path_seq = shift_seq.spawn(2)
    B, S = spec.n_regimes, spec.n_shift_regimes

    def draw_levels(seq: np.random.SeedSequence, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seq)
        draws = rng.standard_normal((3, n))  # one row per quantity, so each keeps its draws when the others change
        return spec.level_std * draws[0], spec.macro_level_std * draws[1], spec.nuisance_std * draws[2]

    tr_levels, tr_macro, tr_offsets = draw_levels(level_seq, B)
    sh_levels, sh_macro, sh_offsets = draw_levels(shift_level_seq, S)
    levels = np.concatenate([tr_levels, sh_levels])
    macro_levels = np.concatenate([tr_macro, sh_macro])
    offsets = np.concatenate([tr_offsets, sh_offsets])

    train_ids = np.repeat(np.arange(B), spec.regime_days)
    shift_ids = B + np.repeat(np.arange(S), spec.shift_regime_days)
    train = _era(spec, np.random.default_rng(path_seq), train_ids, levels, macro_levels, offsets)
    shift = _era(spec, np.random.default_rng(shift_path_seq), shift_ids, levels, macro_levels, offsets)

    n_train = spec.train_days
    val_rows = np.random.default_rng(split_seq).permutation(n_train)[: round(spec.val_frac * n_train)]
    era = np.array(["train"] * n_train + ["shift"] * shift_ids.size, dtype=object)
    era[val_rows] = "validation"
    cat = {k: np.concatenate([train[k], shift[k]]) for k in train}
    return RegimeData(spec=spec, features=cat["features"], period_ids=np.concatenate([train_ids, shift_ids]),
                      time=np.arange(n_train + shift_ids.size), target=cat["target"], era=era.astype(str),
                      g=cat["g"], vol=cat["vol"], levels=levels, offsets=offsets)


def oracle_losses(data: RegimeData) -> dict[str, dict[str, float]]:
    """The expected MSE of each kind of model's best predictor, per era ("validation", "shift").

    "rule" (C, state only) predicts scale·g_t; "lookup" (P, id only) predicts its regime's mean of the true mean
    over training rows, and the pooled training mean for an unseen id; "both" (E) predicts scale·g_t + δ_b where
    b was seen in training, else scale·g_t. The loss is the expectation over the return noise given the rows,
    mean_t[(μ_t - p_t)² + noise_scale² σ_t²], so a comparison between kinds carries no noise-sampling error.
    """
    spec, mean = data.spec, data.mean
    train = data.mask("train")
    B = spec.n_regimes
    sums = np.bincount(data.period_ids[train], weights=mean[train], minlength=B)
    counts = np.bincount(data.period_ids[train], minlength=B)
    regime_mean = np.append(sums / np.maximum(counts, 1), mean[train].mean())  # [B + 1], last: unknown slot
    slot = id_slots(data.period_ids, B)
    seen = slot < B
    predictions = {
        "rule": spec.scale * data.g,
        "lookup": regime_mean[slot],
        "both": spec.scale * data.g + np.where(seen, data.offsets[data.period_ids], 0.0),
    }
    out: dict[str, dict[str, float]] = {}
    for era in ("validation", "shift"):
        rows = data.mask(era)
        noise = np.mean((spec.noise_scale * data.vol[rows]) ** 2)
        out[era] = {k: float(np.mean((mean[rows] - p[rows]) ** 2) + noise) for k, p in predictions.items()}
    return out
