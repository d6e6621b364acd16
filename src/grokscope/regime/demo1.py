"""Demo 1 of issue 9: can a monitor measure, computed on training-era data only, tell a rule from a regime lookup?

For each number of training regimes B: C members (the rule), P members (the lookup) and an E zoo (plain training
over weight decay × init scale × seeds) train in one ensemble (regime/models.py), each on its own seed's sample.
The truth comes from held-out rows: the route ablation on in-era validation (which input the predictions use)
and failure = shift-era loss / in-era validation loss. The measures come from the training rows only
(regime/measures.py). Scored per B and measure:

- AUROC of P (positive) against C over the C/P pairs of one seed whose in-era validation losses agree within
  `agree_tol` (|L_C − L_P| / L_P; the dropped pairs are counted): same backtest, different truth. 1 or 0: the
  measure separates them (P above or below); 0.5: it does not. 95% percentile bootstrap interval, P and C
  resampled separately (rank_stats.bootstrap_interval).
- Spearman's ρ over the E zoo between the measure and failure, with its bootstrap interval; and the same against
  excess failure = failure / the true rule's failure on the member's own rows (models.evaluate), which removes
  the share of failure that the sample's noise sets for every model alike.
- B*: the smallest swept B at and above which, at every swept B, some measure's AUROC interval excludes 0.5
  (None when even the largest B has none). Given twice: over every measure, and without the training-row route
  ablation, which reads the very input whose use is the truth (it needs to know which columns are the id).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from ..analysis.rank_stats import auroc, bootstrap_interval, spearman
from ..checks import check_integer, check_number, named
from ..errors import ConfigError
from .measures import MEASURES, MeasureSettings, measure_zoo
from .models import Members, TrainSettings, train_zoo
from .synthetic import RegimeSpec

ROUTE_MEASURES = ("train_ablation_state", "train_ablation_id")
TRUTH = ("val_ablation_state", "val_ablation_id")  # scored against failure too, as a reference


@dataclass(frozen=True)
class Demo1Preset:
    """The grid of a Demo 1 run.

    Args:
        n_regimes: the swept B values.
        seeds: C and P members, one of each per seed (pairs share the sample and the initialization).
        pair_wd, pair_init_scale: C's and P's weight decay and init scale.
        zoo_wd, zoo_init_scale, zoo_seeds: the E zoo, their product.
        spec: the generator's other knobs (n_regimes and seed are set per member).
        train: the shared training settings. measure: the measures' settings.
        agree_tol: C/P pairs whose in-era validation losses differ by more (relative to P's) are dropped.
        min_pairs: a B with fewer kept pairs gets no AUROC interval and is left out of the B* rule.
        resamples: bootstrap resamples per interval.
    """

    name: str
    n_regimes: tuple[int, ...]
    seeds: tuple[int, ...]
    zoo_wd: tuple[float, ...]
    zoo_init_scale: tuple[float, ...]
    zoo_seeds: tuple[int, ...]
    pair_wd: float = 0.1
    pair_init_scale: float = 1.0
    spec: RegimeSpec = field(default_factory=RegimeSpec)
    train: TrainSettings = field(default_factory=TrainSettings)
    measure: MeasureSettings = field(default_factory=MeasureSettings)
    agree_tol: float = 0.02
    min_pairs: int = 4
    resamples: int = 1000

    def __post_init__(self) -> None:
        for name in ("n_regimes", "seeds", "zoo_wd", "zoo_init_scale", "zoo_seeds"):
            if not isinstance(getattr(self, name), tuple) or not getattr(self, name):
                raise ConfigError(f"{name}: must be a non-empty tuple, got {getattr(self, name)!r}")
        for b in self.n_regimes:
            if isinstance(b, bool) or not isinstance(b, int) or b < 1 or self.spec.train_days % b:
                raise ConfigError(f"n_regimes: each must be a positive divisor of train_days={self.spec.train_days}, "
                                  f"got {b!r}")
        check_number("agree_tol", self.agree_tol, 0.0, open_low=True)
        check_integer("min_pairs", self.min_pairs, 2)
        if isinstance(self.resamples, bool) or not isinstance(self.resamples, int) or self.resamples < 100:
            raise ConfigError(f"resamples: must be an integer >= 100, got {self.resamples!r}")
        self.members()  # validates seeds, weight decays and init scales (Members raises naming the field)

    def members(self) -> Members:
        """C for every seed, then P for every seed, then the E zoo (weight decay slowest, then init scale, seed)."""
        s = self.seeds
        pairs = Members(("C",) * len(s) + ("P",) * len(s), s + s, (self.pair_wd,) * 2 * len(s),
                        (self.pair_init_scale,) * 2 * len(s))
        grid = [(wd, a, seed) for wd in self.zoo_wd for a in self.zoo_init_scale for seed in self.zoo_seeds]
        zoo = Members(("E",) * len(grid), tuple(g[2] for g in grid), tuple(g[0] for g in grid),
                      tuple(g[1] for g in grid))
        return Members.concat(pairs, zoo)


PRESETS = {
    "quick": Demo1Preset("quick", n_regimes=(4, 64), seeds=(0, 1, 2, 3, 4, 5), zoo_wd=(0.0, 1.0),
                         zoo_init_scale=(1.0, 8.0), zoo_seeds=(0, 1), resamples=500),
    "full": Demo1Preset("full", n_regimes=(2, 4, 8, 16, 32, 64, 128), seeds=tuple(range(24)),
                        zoo_wd=(0.0, 0.03, 0.3, 1.0), zoo_init_scale=(1.0, 2.0, 4.0, 8.0),
                        zoo_seeds=tuple(range(8))),
}


@dataclass(frozen=True)
class Score:
    """A statistic and its 95% bootstrap interval (NaN where it cannot be computed)."""

    value: float
    low: float
    high: float

    @property
    def excludes_half(self) -> bool:
        return bool(self.low > 0.5 or self.high < 0.5)

    def text(self) -> str:
        if not np.isfinite(self.value):
            return "–"
        if not (np.isfinite(self.low) and np.isfinite(self.high)):
            return f"{self.value:.2f}"
        return f"{self.value:.2f} [{self.low:.2f}, {self.high:.2f}]"


@dataclass
class Demo1Block:
    """One B: the pairs kept and dropped, the scores, the C/P route checks, and every member's values; scored: at
    least min_pairs pairs were kept (AUROC intervals and the B* rule need them)."""

    n_regimes: int
    n_pairs: int
    n_dropped: int
    n_zoo: int
    auroc: dict[str, Score]
    spearman: dict[str, Score]
    spearman_excess: dict[str, Score]
    route_check: dict[str, float]
    llc_flagged: int
    seconds: float
    members: dict[str, list]
    scored: bool = True


@dataclass
class Demo1Result:
    """Demo 1's outcome: one block per B, and B* with and without the training-row route ablation."""

    preset: str
    blocks: list[Demo1Block]
    b_star: int | None
    b_star_without_route: int | None
    settings: dict

    def to_dict(self) -> dict:
        def score(s: Score) -> dict:
            return {"value": s.value, "low": s.low, "high": s.high}

        return {"preset": self.preset, "b_star": self.b_star, "b_star_without_route": self.b_star_without_route,
                "settings": self.settings,
                "blocks": [{"n_regimes": b.n_regimes, "n_pairs": b.n_pairs, "n_dropped": b.n_dropped,
                            "n_zoo": b.n_zoo, "scored": b.scored, "llc_flagged": b.llc_flagged, "seconds": b.seconds,
                            "route_check": b.route_check,
                            "auroc": {m: score(s) for m, s in b.auroc.items()},
                            "spearman": {m: score(s) for m, s in b.spearman.items()},
                            "spearman_excess": {m: score(s) for m, s in b.spearman_excess.items()},
                            "members": b.members} for b in self.blocks]}

    def to_markdown(self) -> str:
        bs = [b.n_regimes for b in self.blocks]
        head = "| measure | " + " | ".join(f"B = {b}" for b in bs) + " |\n|---|" + "---|" * len(bs) + "\n"
        lines = [f"Demo 1 ({self.preset}): AUROC of P vs C (P positive) on pairs agreeing in-era within "
                 f"{100 * self.settings['agree_tol']:.0f}%, 95% bootstrap interval; last column: the measure's own B*",
                 "", "| measure | " + " | ".join(f"B = {b}" for b in bs) + " | B* |",
                 "|---|" + "---|" * (len(bs) + 1)]
        for m in MEASURES:
            lines.append(f"| {m} | " + " | ".join(b.auroc[m].text() for b in self.blocks)
                         + f" | {_b(b_star(self.blocks, (m,)))} |")
        lines.append("| pairs kept / dropped | "
                     + " | ".join(f"{b.n_pairs} / {b.n_dropped}" + ("" if b.scored else " (too few)")
                                  for b in self.blocks) + " | |")
        lines.append("| LLC flagged (all members) | " + " | ".join(str(b.llc_flagged) for b in self.blocks) + " | |")
        lines.append("| C: max \\|val ablation id\\| / min val ablation state | " + " | ".join(
            f"{b.route_check['C_other']:.3f} / {b.route_check['C_own']:.3f}" for b in self.blocks) + " | |")
        lines.append("| P: max \\|val ablation state\\| / min val ablation id | " + " | ".join(
            f"{b.route_check['P_other']:.3f} / {b.route_check['P_own']:.3f}" for b in self.blocks) + " | |")
        lines += ["", f"B* (smallest B from which on some measure's interval excludes 0.5 at every swept B with at "
                      f"least {self.settings['min_pairs']} kept pairs): {_b(self.b_star)}; without the training-row "
                      f"route ablation: {_b(self.b_star_without_route)}", "",
                  "Spearman ρ between each measure and failure (shift / in-era loss) over the E zoo, 95% bootstrap "
                  "interval; the last rows are the truth (in-era validation route ablation), for reference", "",
                  head.rstrip("\n")]
        for m in MEASURES + TRUTH:
            lines.append(f"| {m} | " + " | ".join(b.spearman[m].text() for b in self.blocks) + " |")
        lines += ["", "The same against excess failure (failure / the true rule's failure on the member's own rows)",
                  "",
                  head.rstrip("\n")]
        for m in MEASURES + TRUTH:
            lines.append(f"| {m} | " + " | ".join(b.spearman_excess[m].text() for b in self.blocks) + " |")
        lines.append("| zoo members | " + " | ".join(str(b.n_zoo) for b in self.blocks) + " |")
        lines.append("| seconds (train + measure) | " + " | ".join(f"{b.seconds:.0f}" for b in self.blocks) + " |")
        return "\n".join(lines) + "\n"


def _b(value: int | None) -> str:
    return "none" if value is None else str(value)


def b_star(blocks: list[Demo1Block], measures: tuple[str, ...]) -> int | None:
    """The smallest swept B at and above which every swept B has a measure (of `measures`) whose AUROC interval
    excludes 0.5; None when the largest B has none. B values with too few kept pairs (not `scored`) are skipped."""
    found = None
    for block in sorted(blocks, key=lambda b: -b.n_regimes):
        if not block.scored:  # too few pairs kept to say either way
            continue
        if not any(block.auroc[m].excludes_half for m in measures):
            break
        found = block.n_regimes
    return found


def _auroc_score(pos: np.ndarray, neg: np.ndarray, resamples: int, seed: int) -> Score:
    value = auroc(pos, neg)
    if len(pos) < 2 or not np.isfinite(value):
        return Score(value, float("nan"), float("nan"))
    low, high = bootstrap_interval(lambda i, j: auroc(pos[i], neg[j]), [len(pos), len(neg)], resamples=resamples,
                                   seed=seed)
    return Score(value, low, high)


def _spearman_score(x: np.ndarray, y: np.ndarray, resamples: int, seed: int) -> Score:
    value = spearman(x, y)
    if not np.isfinite(value):
        return Score(value, float("nan"), float("nan"))
    low, high = bootstrap_interval(lambda i: spearman(x[i], y[i]), [len(x)], resamples=resamples, seed=seed)
    return Score(value, low, high)


def score_block(n_regimes: int, members: dict[str, list], *, agree_tol: float, resamples: int, min_pairs: int,
                seed: int = 0, seconds: float = float("nan")) -> Demo1Block:
    """Score one B from its per-member table (Demo1Block.members: kind, seed, the truth and every measure, [E]
    lists with C and P in seed order, as `run_block` builds it and `to_dict` saves it).

    With fewer than `min_pairs` kept pairs the AUROC is given without an interval (too few to resample), and the
    B is left out of the B* rule (`b_star`).
    """
    col = {k: np.asarray(v, dtype=float) for k, v in members.items() if k != "kind"}
    kinds = np.asarray(members["kind"])
    c, p, e = (np.flatnonzero(kinds == k) for k in ("C", "P", "E"))  # pair i is (c[i], p[i])
    val = col["val_loss"]
    keep = np.abs(val[c] - val[p]) / val[p] <= agree_tol
    c_kept, p_kept = c[keep], p[keep]
    scored = int(keep.sum()) >= min_pairs
    aurocs = {m: _auroc_score(col[m][p_kept], col[m][c_kept], resamples, seed) if scored
              else Score(auroc(col[m][p_kept], col[m][c_kept]), float("nan"), float("nan")) for m in MEASURES}
    spearmans = {m: _spearman_score(col[m][e], col["failure"][e], resamples, seed) for m in MEASURES + TRUTH}
    spearmans_excess = {m: _spearman_score(col[m][e], col["excess_failure"][e], resamples, seed)
                        for m in MEASURES + TRUTH}
    route_check = {"C_other": float(np.abs(col["val_ablation_id"][c]).max()),
                   "C_own": float(col["val_ablation_state"][c].min()),
                   "P_other": float(np.abs(col["val_ablation_state"][p]).max()),
                   "P_own": float(col["val_ablation_id"][p].min())}
    return Demo1Block(n_regimes, int(keep.sum()), int((~keep).sum()), len(e), aurocs, spearmans, spearmans_excess,
                      route_check, int((col["llc_accepted"] == 0).sum()), seconds, members, scored)


def run_block(preset: Demo1Preset, n_regimes: int, *, progress: Callable[[str], None] | None = None,
              runs: Path | None = None) -> Demo1Block:
    """Train, measure and score one B of the preset (its zoo kept under `runs` as `...-regime-demo1-b<B>`)."""
    start = time.perf_counter()
    members = preset.members()
    zoo = train_zoo(preset.spec.replace(n_regimes=n_regimes), members, preset.train, out=runs,
                    name=f"regime-demo1-b{n_regimes}")
    truth = {k: v.detach().double().numpy() for k, v in zoo.final.items()}
    values, _ = measure_zoo(zoo, preset.measure)
    table = {"kind": list(members.kinds), "seed": list(members.seeds),
             "wd": list(members.wd), "init_scale": list(members.init_scale)}
    table |= {k: [float(x) for x in v] for k, v in (truth | values).items()}
    seconds = time.perf_counter() - start
    if progress is not None:
        progress(f"B = {n_regimes}: {members.n} members, {seconds:.0f} s")
    return score_block(n_regimes, table, agree_tol=preset.agree_tol, resamples=preset.resamples,
                       min_pairs=preset.min_pairs, seed=preset.measure.seed, seconds=seconds)


def run_demo1(preset: str | Demo1Preset = "quick", *, n_regimes: tuple[int, ...] | None = None,
              progress: Callable[[str], None] | None = None, runs: Path | None = None) -> Demo1Result:
    """Run Demo 1 on a named preset ("quick", "full") or a Demo1Preset; `n_regimes` overrides its B values.

    Args:
        runs: keep every zoo as a core run directory under this folder (`grokscope runs`, `show`, `report`,
            `serve`, `train --resume`); None: each zoo's run lives in a temporary directory while it is read.

    Returns:
        A Demo1Result: `to_markdown()` for the tables, `to_dict()` for JSON (every member's values included).
    """
    preset = named("preset", preset, PRESETS)
    if n_regimes is not None:
        preset = replace(preset, n_regimes=tuple(n_regimes))
    blocks = [run_block(preset, b, progress=progress, runs=runs) for b in preset.n_regimes]
    m = preset.measure
    settings = {"agree_tol": preset.agree_tol, "min_pairs": preset.min_pairs, "resamples": preset.resamples, "seeds": list(preset.seeds),
                "zoo_wd": list(preset.zoo_wd), "zoo_init_scale": list(preset.zoo_init_scale),
                "zoo_seeds": list(preset.zoo_seeds), "pair_wd": preset.pair_wd,
                "pair_init_scale": preset.pair_init_scale, "train": {k: getattr(preset.train, k) for k in (
                    "hidden", "act_fn", "max_steps", "lr", "cooldown_frac", "batch_size", "unknown_frac", "param_dtype")},
                "llc": {"epsilon": m.llc.epsilon, "nbeta": m.llc.nbeta, "gamma": m.llc.gamma,
                        "batch_size": m.llc.batch_size, "burn_in": m.llc.burn_in, "draws": m.llc.draws,
                        "chains": len(m.llc_seeds)},
                "prequential": {"quantum": m.quantum, "ridge_penalty": m.ridge.penalty}}
    without_route = tuple(x for x in MEASURES if x not in ROUTE_MEASURES)
    return Demo1Result(preset.name, blocks, b_star(blocks, MEASURES), b_star(blocks, without_route), settings)
