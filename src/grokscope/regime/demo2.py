"""Demo 2 of issue 9, the negative control: a shortcut simpler than the rule, in one sub-period or in four.

Data: regime/shortcut.py (`SINGLE_PERIOD`: one sub-period where the shortcut k_t equals the rule's mean;
`MULTI_PERIOD`: four sub-periods where k_t = c_e μ_t with c_e = 1, 0.5, 2, 0.25). Every model sees the same inputs,
[state s_t | shortcut k_t] standardized on the training era (models.encode_shortcut), and trains with Demo 1's
machinery (models.train_zoo):

- the rule model (Demo 1's C): the shortcut column is permuted across the step's examples at every step;
- the shortcut model (Demo 1's P): the state column is permuted instead;
- plain models (Demo 1's E): nothing permuted.

Rule model i and shortcut model i share seed i's sample and initialization. The truth comes from held-out rows
(models.evaluate): the in-era validation route ablation and failure = shift-era loss / in-era loss (the shift era
reverses the shortcut, c = −1). The measures come from the training rows only (measures.measure_zoo, with the
sub-periods as environments) plus the verdict's noise-scaled environment statistics (verdict.environment_statistics)
and the verdict's answer for every member (verdict.decide).

Scored per case and measure: the AUROC of the shortcut model (positive) against the rule model, with a 95%
percentile bootstrap interval (each kind resampled separately). No pair is dropped for disagreeing in-era: in the
single-period case their in-era losses agree by construction; in the multi-period case the shortcut cannot be as
correct as the rule, which is the point (its in-era loss is reported).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..checks import check_number, named
from ..errors import ConfigError
from .demo1 import Score, _auroc_score
from .measures import MEASURES as DEMO1_MEASURES
from .measures import MeasureSettings, measure_zoo
from .models import Members, TrainedZoo, TrainSettings, mse, train_zoo
from .shortcut import MULTI_PERIOD, SINGLE_PERIOD, ShortcutSpec
from .verdict import ANSWERS, decide, environment_statistics, period_probe_accuracy

# Demo 1's measures with the shortcut in the id's place, then the verdict's environment statistics.
MEASURES = tuple(m.replace("_id", "_shortcut") for m in DEMO1_MEASURES) + ("irmv1_z2", "risk_heterogeneity")
ENVIRONMENT_MEASURES = ("risk_variance", "irmv1_penalty", "irmv1_z2", "risk_heterogeneity")
TRUTH = ("val_loss", "failure", "excess_failure", "val_ablation_state", "val_ablation_shortcut")
KIND_NAMES = {"C": "rule", "P": "shortcut", "E": "plain"}
CASES = (("single-period", SINGLE_PERIOD), ("multi-period", MULTI_PERIOD))


@dataclass(frozen=True)
class Demo2Preset:
    """The models of a Demo 2 run.

    Args:
        name: the preset's name.
        seeds: one rule and one shortcut model per seed (a pair shares the sample and the initialization).
        plain_seeds: one plain model per seed.
        wd, init_scale: every model's.
        cases: (name, ShortcutSpec) per case, each trained and scored on its own.
        train: the shared training settings. measure: the measures' settings.
        resamples: bootstrap resamples per interval.
    """

    name: str
    seeds: tuple[int, ...]
    plain_seeds: tuple[int, ...]
    wd: float = 0.1
    init_scale: float = 1.0
    cases: tuple[tuple[str, ShortcutSpec], ...] = CASES
    train: TrainSettings = field(default_factory=TrainSettings)
    measure: MeasureSettings = field(default_factory=MeasureSettings)
    resamples: int = 1000

    def __post_init__(self) -> None:
        for name in ("seeds", "plain_seeds", "cases"):
            if not isinstance(getattr(self, name), tuple):
                raise ConfigError(f"{name}: must be a tuple, got {getattr(self, name)!r}")
        if len(self.seeds) < 2:
            raise ConfigError(f"seeds: need at least 2 rule/shortcut pairs to score, got {len(self.seeds)}")
        check_number("wd", self.wd, 0.0)
        check_number("init_scale", self.init_scale, 0.0, open_low=True)
        if isinstance(self.resamples, bool) or not isinstance(self.resamples, int) or self.resamples < 100:
            raise ConfigError(f"resamples: must be an integer >= 100, got {self.resamples!r}")
        self.members()  # validates the seeds (Members raises naming the field)

    def members(self) -> Members:
        """Rule models for every seed, then shortcut models for every seed, then the plain models."""
        s, p = self.seeds, self.plain_seeds
        n = 2 * len(s) + len(p)
        return Members(("C",) * len(s) + ("P",) * len(s) + ("E",) * len(p), s + s + p, (self.wd,) * n,
                       (self.init_scale,) * n)


PRESETS = {
    "quick": Demo2Preset("quick", seeds=tuple(range(6)), plain_seeds=(0, 1), resamples=500),
    "full": Demo2Preset("full", seeds=tuple(range(24)), plain_seeds=tuple(range(8))),
}


@dataclass
class Demo2Block:
    """One case: its sub-periods, the AUROC of shortcut vs rule per measure (and per truth column), the route
    checks, how many members of each kind got each verdict answer, and every member's values."""

    case: str
    n_periods: int
    auroc: dict[str, Score]
    route_check: dict[str, float]
    answers: dict[str, dict[str, int]]
    seconds: float
    members: dict[str, list]


@dataclass
class Demo2Result:
    """Demo 2's outcome: one block per case."""

    preset: str
    blocks: list[Demo2Block]
    settings: dict

    def to_dict(self) -> dict:
        return {"preset": self.preset, "settings": self.settings,
                "blocks": [{"case": b.case, "n_periods": b.n_periods, "seconds": b.seconds,
                            "route_check": b.route_check, "answers": b.answers,
                            "auroc": {m: {"value": s.value, "low": s.low, "high": s.high} for m, s in b.auroc.items()},
                            "members": b.members} for b in self.blocks]}

    def to_markdown(self) -> str:
        cols = [f"{b.case} (M = {b.n_periods})" for b in self.blocks]

        def head(first: str) -> list[str]:
            return [f"| {first} | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]

        lines = [f"Demo 2 ({self.preset}): AUROC of the shortcut model vs the rule model (shortcut positive), 95% "
                 f"bootstrap interval; {len(self.settings['seeds'])} pairs per case", "", *head("measure")]
        for m in MEASURES:
            lines.append(f"| {m} | " + " | ".join(b.auroc[m].text() for b in self.blocks) + " |")
        lines.append("")
        for b in self.blocks:
            apart = [f"{m} ({'shortcut above' if b.auroc[m].value > 0.5 else 'shortcut below'})"
                     for m in MEASURES if b.auroc[m].excludes_half]
            lines.append(f"- {b.case}: interval excludes 0.5 for {', '.join(apart) if apart else 'no measure'}")
        lines += ["", "The truth (held-out rows), scored the same way", "", *head("truth")]
        for m in TRUTH:
            lines.append(f"| {m} | " + " | ".join(b.auroc[m].text() for b in self.blocks) + " |")
        lines.append("| rule: max \\|val ablation shortcut\\| / min val ablation state | " + " | ".join(
            f"{b.route_check['rule_other']:.3f} / {b.route_check['rule_own']:.3f}" for b in self.blocks) + " |")
        lines.append("| shortcut: max \\|val ablation state\\| / min val ablation shortcut | " + " | ".join(
            f"{b.route_check['shortcut_other']:.3f} / {b.route_check['shortcut_own']:.3f}" for b in self.blocks)
            + " |")
        for m in ("val_loss", "excess_failure"):
            for kind in ("C", "P", "E"):
                lines.append(f"| {KIND_NAMES[kind]}: median {m} | " + " | ".join(
                    f"{np.median(_column(b.members, m, kind)):.3f}" for b in self.blocks) + " |")
        lines += ["", "The verdict (verdict.decide) on every member: compressed / photographed / not identifiable",
                  "", *head("models")]
        for kind in ("C", "P", "E"):
            lines.append(f"| {KIND_NAMES[kind]} models | " + " | ".join(
                " / ".join(str(b.answers[KIND_NAMES[kind]][a]) for a in ANSWERS) for b in self.blocks) + " |")
        lines.append("| seconds (train + measure) | " + " | ".join(f"{b.seconds:.0f}" for b in self.blocks) + " |")
        return "\n".join(lines) + "\n"


def _column(members: dict[str, list], name: str, kind: str) -> np.ndarray:
    """[n] the values of column `name` for the members of one kind."""
    kinds = np.asarray(members["kind"])
    return np.asarray(members[name], dtype=float)[kinds == kind]


def environment_values(zoo: TrainedZoo) -> dict[str, np.ndarray]:
    """[E] each: the verdict's environment statistics, the period probe and the verdict's answer per member, from
    the training rows only (the sub-periods as environments)."""
    data = zoo.data
    with torch.no_grad():
        outputs = zoo.model.outputs(zoo.model.parameters(), data.train_x)  # [E, N, 1]
    stats = {k: v.numpy() for k, v in environment_statistics(outputs, data.train_y, data.train_regime, mse).items()}
    probe = period_probe_accuracy(data.train_x, data.train_regime).numpy()  # [E]
    answers = [decide(int(m), float(p) if m >= 2 else float("nan"), float(z))[0]  # E scalars: no hot path
               for m, p, z in zip(stats["n_environments"], probe, stats["irmv1_z2"])]
    return stats | {"period_probe_accuracy": probe, "answer": np.asarray(answers)}


def score_case(case: str, n_periods: int, members: dict[str, list], *, resamples: int, seed: int = 0,
               seconds: float = float("nan")) -> Demo2Block:
    """Score one case from its per-member table (kind, seed, the truth, every measure and the answer; [E] lists)."""
    scores = {m: _auroc_score(_column(members, m, "P"), _column(members, m, "C"), resamples, seed)
              for m in MEASURES + TRUTH}
    route_check = {"rule_other": float(np.abs(_column(members, "val_ablation_shortcut", "C")).max()),
                   "rule_own": float(_column(members, "val_ablation_state", "C").min()),
                   "shortcut_other": float(np.abs(_column(members, "val_ablation_state", "P")).max()),
                   "shortcut_own": float(_column(members, "val_ablation_shortcut", "P").min())}
    kinds, answers = np.asarray(members["kind"]), np.asarray(members["answer"])
    counts = {KIND_NAMES[k]: {a: int(((kinds == k) & (answers == a)).sum()) for a in ANSWERS} for k in KIND_NAMES}
    return Demo2Block(case, n_periods, scores, route_check, counts, seconds, members)


def run_case(preset: Demo2Preset, case: str, spec: ShortcutSpec, *,
             progress: Callable[[str], None] | None = None, runs: Path | None = None) -> Demo2Block:
    """Train, measure and score one case of the preset (its zoo kept under `runs` as `...-regime-demo2-<case>`)."""
    start = time.perf_counter()
    members = preset.members()
    zoo = train_zoo(spec, members, preset.train, out=runs, name=f"regime-demo2-{case}")
    truth = {k: v.detach().double().numpy() for k, v in zoo.final.items()}
    values, _ = measure_zoo(zoo, preset.measure)
    env = environment_values(zoo)
    table = {"kind": list(members.kinds), "seed": list(members.seeds), "answer": [str(a) for a in env.pop("answer")]}
    table |= {k: [float(x) for x in v] for k, v in (truth | values | env).items()}
    seconds = time.perf_counter() - start
    if progress is not None:
        progress(f"{case}: {members.n} members, {seconds:.0f} s")
    return score_case(case, spec.n_periods, table, resamples=preset.resamples, seed=preset.measure.seed,
                      seconds=seconds)


def run_demo2(preset: str | Demo2Preset = "quick", *, progress: Callable[[str], None] | None = None,
              runs: Path | None = None) -> Demo2Result:
    """Run Demo 2 on a named preset ("quick", "full") or a Demo2Preset.

    Args:
        runs: keep every zoo as a core run directory under this folder (`grokscope runs`, `show`, `report`,
            `serve`, `train --resume`); None: each zoo's run lives in a temporary directory while it is read.

    Returns:
        A Demo2Result: `to_markdown()` for the tables, `to_dict()` for JSON (every member's values included).
    """
    preset = named("preset", preset, PRESETS)
    blocks = [run_case(preset, case, spec, progress=progress, runs=runs) for case, spec in preset.cases]
    settings = {"seeds": list(preset.seeds), "plain_seeds": list(preset.plain_seeds),
                "wd": preset.wd, "init_scale": preset.init_scale, "resamples": preset.resamples,
                "cases": {case: {"shortcut_coefs": list(spec.shortcut_coefs), "period_days": spec.period_days,
                                 "shift_coef": spec.shift_coef} for case, spec in preset.cases},
                "train": {k: getattr(preset.train, k) for k in ("hidden", "act_fn", "max_steps", "lr",
                                                                 "cooldown_frac", "batch_size", "param_dtype")}}
    return Demo2Result(preset.name, blocks, settings)
