"""Demo 3 of issue 9: real market data, no ground truth. Does a measure from pre-crisis data rank the 2008 damage?

S&P 500 (`market.load_sp500`): a zoo of MLPs predicts the next day's |r| from lagged returns, with and without the
calendar and level features that let a model recognize the period rather than the state (volatility clustering is
the rule that survives the crisis). Every member trains on the training era's training rows (2003-01 → 2007-06,
less a random validation share); per member:

- the monitor's measures on those rows only (regime/measures.py, as Demo 1: LLC, Gaussian prequential code in
  shuffled and time order and regime specificity, weight norm, effective rank, route ablation per feature group,
  V-REx and IRMv1 with the training era's calendar years as environments);
- the classical baseline on the same rows: CUSUM (OLS-residual and recursive) and sup-F on the member's
  training-row residuals in time order (regime/baselines.py), and the in-era backtest (validation loss);
- the outcome: degradation = shift-era loss (2007-07 → 2009-06) / in-era validation loss;
- for reference, after the fact: the same break tests on the shift-era residuals and on the whole series.

Scored: Spearman's ρ with a 95% bootstrap interval between each predictor and the degradation over the zoo, pooled
and per feature set. Fama–French (`market.load_fama_french`, monthly |Mkt-RF|): walk-forward by decade
(`market.walk_forward_folds`): for each test decade a small zoo trains on the decades before it, and the same
predictors are scored against the test decade's degradation, per decade and pooled over every (decade, member).

Members differ in weight decay, init scale, hidden width, feature set and seed. One ensemble per hidden width
(MLPStack has one width; masking hidden units would let the LLC's SGLD revive them, so the LLC would measure the
wider net); feature sets share it: a lags-only member sees the other columns as zeros, with its first layer's rows
for them held at zero (models.train_members, `unseen`). All members see one validation split, so the
degradation's differences come from the models, not from different held-out days.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..checks import check_choice, named
from ..errors import ConfigError
from .baselines import cusum_ols_test, cusum_recursive_test, sup_f_test
from .demo1 import Score, _spearman_score
from .market import MarketData, load_fama_french, load_sp500, walk_forward_folds
from .measures import MEASURES, MeasureSettings, measure_zoo
from .models import Members, TrainSettings, ZooData, standardized, train_members

FEATURE_SETS = {"lags": ("lags",), "all": ("lags", "calendar", "level")}  # name -> the groups a member sees
DATASETS = ("sp500", "fama-french", "both")
BREAKS = ("cusum_ols", "cusum_recursive", "sup_f")
BACKTEST = ("val_loss", "train_loss")
# Where the break tests run: the predictor (training rows), and two after-the-fact references.
BREAK_ROWS = {"break": "training rows", "shift_break": "shift-era rows", "whole_break": "training era + shift era"}


@dataclass(frozen=True)
class ZooGrid:
    """A zoo: the product weight decay × init scale × hidden width × feature set × seed (seed fastest)."""

    wd: tuple[float, ...]
    init_scale: tuple[float, ...]
    hidden: tuple[int, ...]
    seeds: tuple[int, ...]
    feature_sets: tuple[str, ...] = ("lags", "all")

    def __post_init__(self) -> None:
        for name in ("wd", "init_scale", "hidden", "seeds", "feature_sets"):
            if not isinstance(getattr(self, name), tuple) or not getattr(self, name):
                raise ConfigError(f"{name}: must be a non-empty tuple, got {getattr(self, name)!r}")
        for fs in self.feature_sets:
            check_choice("feature_sets", fs, tuple(FEATURE_SETS))
        for width in self.hidden:
            if isinstance(width, bool) or not isinstance(width, int) or width < 1:
                raise ConfigError(f"hidden: each width must be an integer >= 1, got {width!r}")
        self.members()  # Members validates seeds, weight decays and init scales

    @property
    def n(self) -> int:
        return (len(self.wd) * len(self.init_scale) * len(self.hidden) * len(self.feature_sets)
                * len(self.seeds))

    def members(self) -> tuple[Members, list[int], list[str]]:
        """(Members, hidden width per member, feature set per member)."""
        grid = [(wd, a, h, fs, s) for wd in self.wd for a in self.init_scale for h in self.hidden
                for fs in self.feature_sets for s in self.seeds]
        members = Members(("E",) * len(grid), tuple(g[4] for g in grid), tuple(g[0] for g in grid),
                          tuple(g[1] for g in grid))
        return members, [g[2] for g in grid], [g[3] for g in grid]


@dataclass(frozen=True)
class Demo3Preset:
    """The grids of a Demo 3 run.

    Args:
        sp500: the S&P 500 zoo. ff: the zoo trained for each Fama–French test decade.
        ff_decades: the test decades (each trains on every decade before it).
        train: shared training settings (hidden is set per width). measure: the measures' settings.
        resamples: bootstrap resamples per interval. n_sim: sup-F's simulated null paths.
    """

    name: str
    sp500: ZooGrid
    ff: ZooGrid
    ff_decades: tuple[int, ...]
    train: TrainSettings = field(default_factory=TrainSettings)
    measure: MeasureSettings = field(default_factory=MeasureSettings)
    resamples: int = 1000
    n_sim: int = 1000


PRESETS = {
    # ~8 members per zoo, a few hundred steps: a smoke test of the whole path (< 30 s on one thread).
    "quick": Demo3Preset("quick", ZooGrid((0.0, 1.0), (1.0,), (16,), (0, 1)), ZooGrid((0.0, 1.0), (1.0,), (16,), (0,)),
                         ff_decades=(1940, 1950), train=TrainSettings(hidden=(16,), max_steps=300), resamples=200,
                         n_sim=300),
    # 256 S&P 500 members; 48 per Fama–French decade, 384 in all.
    "full": Demo3Preset("full", ZooGrid((0.0, 0.03, 0.3, 1.0), (1.0, 4.0), (16, 64), tuple(range(8))),
                        ZooGrid((0.0, 0.1, 1.0), (1.0, 4.0), (32,), (0, 1, 2, 3)),
                        ff_decades=(1940, 1950, 1960, 1970, 1980, 1990, 2000, 2010)),
}


def measure_names(groups: tuple[str, ...]) -> tuple[str, ...]:
    """Demo 1's MEASURES with the route ablation per feature group of the data (lags, calendar, level)."""
    out = []
    for m in MEASURES:
        if m == "train_ablation_state":
            out += [f"train_ablation_{g}" for g in groups]
        elif m != "train_ablation_id":
            out.append(m)
    return tuple(out)


def predictor_rows(groups: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
    """The table's sections: (title, member-table columns scored against the degradation)."""
    return [("monitor measures (training rows)", measure_names(groups)),
            ("backtest (in-era loss)", BACKTEST),
            ("classical: break test statistics on the training-row residuals", tuple(f"break_{b}" for b in BREAKS)),
            ("after the fact: break tests on the shift-era residuals", tuple(f"shift_break_{b}" for b in BREAKS)),
            ("after the fact: in-era route ablation (validation rows)", tuple(f"val_ablation_{g}" for g in groups))]


@dataclass(frozen=True)
class Split:
    """Row indices of one table (each in time order) and the environment of each training row."""

    train: np.ndarray
    validation: np.ndarray
    shift: np.ndarray
    environments: np.ndarray

    def dates(self, table: MarketData) -> dict[str, list[str]]:
        """era -> [first, last] date of the rows used ("measures": training rows; "in_era": training and
        validation rows; "degradation": shift rows)."""
        span = lambda idx: [str(table.dates[idx].min().date()), str(table.dates[idx].max().date())]
        return {"measures": span(self.train), "in_era": span(np.concatenate([self.train, self.validation])),
                "degradation": span(self.shift)}


def _zoo_data(x: np.ndarray, y: np.ndarray, split: Split, seen: torch.Tensor, groups: dict[str, list[int]],
              dtype: torch.dtype) -> ZooData:
    """ZooData [E, ...] of every member on the split, from standardized x [N_all, d_in] and y [N_all], the columns
    a member does not see (seen [E, d_in] False) zeroed."""
    x_t, y_t = torch.as_tensor(x, dtype=dtype), torch.as_tensor(y, dtype=dtype)
    e, n = seen.shape[0], len(split.train)

    def inputs(idx: np.ndarray) -> torch.Tensor:
        return x_t[idx][None] * seen[:, None, :].to(dtype)  # [E, N, d_in]

    def per_member(t: torch.Tensor) -> torch.Tensor:
        return t[None].expand(e, -1).contiguous()  # [E, N]

    return ZooData(train_x=inputs(split.train), train_y=per_member(y_t[split.train]),
                   train_time=per_member(torch.arange(n)),
                   train_regime=per_member(torch.as_tensor(split.environments, dtype=torch.int64)),
                   val_x=inputs(split.validation), val_y=per_member(y_t[split.validation]),
                   shift_x=inputs(split.shift), shift_y=per_member(y_t[split.shift]), val_rule=None, shift_rule=None,
                   groups=groups)


def _breaks(prefix: str, resid: np.ndarray, n_sim: int) -> dict[str, float]:
    """The three break tests on one member's residual series [N] (time order): statistic and p-value each."""
    demeaned = resid - resid.mean()  # the OLS-residual CUSUM needs residuals of a fit with an intercept
    tests = (cusum_ols_test(demeaned), cusum_recursive_test(resid), sup_f_test(resid, n_sim=n_sim))
    out = {}
    for t in tests:
        out[f"{prefix}_{t.name}"] = t.statistic
        out[f"{prefix}_{t.name}_pvalue"] = t.pvalue
    out[f"{prefix}_sup_f_index"] = float(tests[2].break_index)
    return out


def linear_degradation(x: np.ndarray, y: np.ndarray, split: Split, columns: list[int]) -> float:
    """Shift-era MSE / validation MSE of least squares with an intercept on the training rows of x [N_all, d_in]'s
    `columns`: the classical model's degradation on the same features, a reference for the zoo's."""
    def design(idx: np.ndarray) -> np.ndarray:
        return np.column_stack([np.ones(len(idx)), x[np.ix_(idx, columns)]])  # [n, 1 + len(columns)]

    beta = np.linalg.lstsq(design(split.train), y[split.train], rcond=None)[0]  # minimum norm: one-hots are collinear
    mse = {era: float(np.mean((y[idx] - design(idx) @ beta) ** 2)) for era, idx in (("val", split.validation),
                                                                                     ("shift", split.shift))}
    return mse["shift"] / mse["val"]


def run_zoo(table: MarketData, split: Split, grid: ZooGrid, preset: Demo3Preset, *, runs: Path | None = None,
            name: str = "regime-market") -> dict[str, list]:
    """Train, measure and test every member of `grid` on one split; the member table (column -> [E] list). Each
    width's zoo is kept under `runs` (None: not kept) as `...-<name>-h<width>`."""
    members, widths, feature_sets = grid.members()
    groups = {g: list(c) for g, c in table.feature_groups.items()}
    seen_all = torch.zeros(members.n, table.features.shape[1], dtype=torch.bool)  # [E, d_in]
    for e, fs in enumerate(feature_sets):  # building a mask once, not a hot path
        for g in FEATURE_SETS[fs]:
            seen_all[e, list(groups.get(g, ()))] = True
    # Standardized on the training rows: the shift era is read on the training era's scale.
    x, y = standardized(table.features, split.train), standardized(table.target, split.train)
    whole = np.sort(np.concatenate([split.train, split.validation, split.shift]))  # every row, time order
    on = {"break": np.isin(whole, split.train), "shift_break": np.isin(whole, split.shift),
          "whole_break": np.ones(len(whole), dtype=bool)}
    linear = {fs: linear_degradation(x, y, split, np.flatnonzero(seen_all[feature_sets.index(fs)].numpy()).tolist())
              for fs in set(feature_sets)}
    rows: list[dict] = [{} for _ in range(members.n)]
    for width in grid.hidden:  # one ensemble per width (module docstring)
        index = [i for i, w in enumerate(widths) if w == width]
        seen, settings = seen_all[index], replace(preset.train, hidden=(width,))
        zoo = train_members(_zoo_data(x, y, split, seen, groups, settings.torch_dtype), members.subset(index),
                            settings, unseen=~seen, out=runs, name=f"{name}-h{width}")
        truth = {k: v.detach().double().numpy() for k, v in zoo.final.items()}
        values, _ = measure_zoo(zoo, preset.measure)
        dtype = settings.torch_dtype
        x_whole = torch.as_tensor(x[whole], dtype=dtype)[None] * seen[:, None, :].to(dtype)  # [E_w, N_whole, d_in]
        with torch.no_grad():
            resid = y[whole][None] - zoo.model(x_whole)[..., 0].double().numpy()  # [E_w, N_whole]
        for j, i in enumerate(index):  # statsmodels tests one series at a time: no batched form
            rows[i] = {k: float(v[j]) for k, v in (truth | values).items()}
            for prefix, mask in on.items():
                rows[i] |= _breaks(prefix, resid[j, mask], preset.n_sim)
            rows[i]["whole_break_sup_f_date"] = str(table.dates[whole[int(rows[i]["whole_break_sup_f_index"])]].date())
            rows[i]["degradation"] = rows[i]["failure"]
            rows[i]["linear_degradation"] = linear[feature_sets[i]]
    out: dict[str, list] = {"seed": list(members.seeds), "wd": list(members.wd),
                            "init_scale": list(members.init_scale), "hidden": widths, "feature_set": feature_sets}
    return out | {k: [r[k] for r in rows] for k in rows[0]}


def sp500_split(table: MarketData) -> Split:
    """Training rows, validation rows (training era) and shift rows; environments = the training era's years."""
    idx = {era: np.flatnonzero(table.mask(era)) for era in ("train", "validation", "shift")}
    years = np.asarray(table.dates.year)[idx["train"]]
    return Split(idx["train"], idx["validation"], idx["shift"], years - years.min())


def fama_french_splits(table: MarketData, decades: tuple[int, ...], *, val_frac: float = 0.2
                       ) -> dict[int, Split]:
    """Test decade -> its split: training rows = the decades before it less a random `val_frac` held out as
    validation (drawn from the decade as seed), shift rows = the test decade; environments = training decades."""
    folds = {d: (train, test) for d, train, test in walk_forward_folds(table.dates)}
    out = {}
    for d in decades:
        if d not in folds:
            raise ConfigError(f"ff_decades: {d} is not a test decade of the data (choose from {sorted(folds)})")
        train, test = (np.flatnonzero(m) for m in folds[d])
        held = np.zeros(len(train), dtype=bool)
        held[np.random.default_rng(d).permutation(len(train))[: round(val_frac * len(train))]] = True
        decade = np.asarray(table.dates.year)[train[~held]] // 10
        out[d] = Split(train[~held], train[held], test, decade - decade.min())
    return out


@dataclass
class MarketBlock:
    """One data set's outcome: Spearman ρ per column (a feature set or decade, and pooled) and predictor, the
    date spans used, summaries, every member's values and the seconds it took."""

    name: str
    groups: tuple[str, ...]
    spearman: dict[str, dict[str, Score]]
    dates: dict[str, dict[str, list[str]]]
    summary: dict[str, dict[str, float]]
    members: dict[str, list]
    seconds: float

    def to_dict(self) -> dict:
        return {"name": self.name, "groups": list(self.groups), "seconds": self.seconds, "dates": self.dates,
                "summary": self.summary, "members": self.members,
                "spearman": {c: {m: {"value": s.value, "low": s.low, "high": s.high} for m, s in col.items()}
                             for c, col in self.spearman.items()}}


def score_block(name: str, members: dict[str, list], columns: dict[str, np.ndarray], groups: tuple[str, ...],
                dates: dict[str, dict[str, list[str]]], *, resamples: int, seed: int = 0,
                seconds: float = float("nan")) -> MarketBlock:
    """Score a member table: for each column (name -> [E] bool rows), Spearman ρ of every predictor with the
    degradation, with its bootstrap interval, and the column's summary."""
    col = {k: np.asarray(v, dtype=float) for k, v in members.items() if k not in ("feature_set",)
           and not k.endswith("_date")}
    spearmans, summary = {}, {}
    for column, rows in columns.items():
        y = col["degradation"][rows]
        spearmans[column] = {m: _spearman_score(col[m][rows], y, resamples, seed)
                             for _, section in predictor_rows(groups) for m in section}
        summary[column] = {"members": int(rows.sum()), "degradation_median": float(np.median(y)),
                           "linear_degradation_median": float(np.median(col["linear_degradation"][rows])),
                           "degradation_min": float(y.min()), "degradation_max": float(y.max()),
                           "llc_flagged": int((col["llc_accepted"][rows] == 0).sum())}
        for prefix in BREAK_ROWS:
            for b in BREAKS:
                summary[column][f"{prefix}_{b}_reject"] = float((col[f"{prefix}_{b}_pvalue"][rows] < 0.05).mean())
        located = sorted(d for d, r in zip(members["whole_break_sup_f_date"], rows) if r)
        summary[column] |= {"whole_break_date_median": located[len(located) // 2], "whole_break_date_min": located[0],
                            "whole_break_date_max": located[-1]}
    return MarketBlock(name, groups, spearmans, dates, summary, members, seconds)


def run_sp500(preset: Demo3Preset, *, runs: Path | None = None) -> MarketBlock:
    """The S&P 500 part: one zoo over the preset's grid, scored pooled and per feature set."""
    start = time.perf_counter()
    table = load_sp500()
    split = sp500_split(table)
    members = run_zoo(table, split, preset.sp500, preset, runs=runs, name="regime-sp500")
    fs = np.asarray(members["feature_set"])
    columns = {"pooled": np.ones(len(fs), dtype=bool)} | {f: fs == f for f in preset.sp500.feature_sets}
    dates = {"all": split.dates(table)}
    return score_block("sp500", members, columns, tuple(table.feature_groups), dates, resamples=preset.resamples,
                       seed=preset.measure.seed, seconds=time.perf_counter() - start)


def run_fama_french(preset: Demo3Preset, *, progress: Callable[[str], None] | None = None,
                    runs: Path | None = None) -> MarketBlock:
    """The Fama–French part: one zoo per test decade on the decades before it, scored per decade and pooled."""
    start = time.perf_counter()
    table = load_fama_french()
    tables: list[dict[str, list]] = []
    dates = {}
    for d, split in fama_french_splits(table, preset.ff_decades).items():
        part = run_zoo(table, split, preset.ff, preset, runs=runs, name=f"regime-ff-{d}s")
        tables.append(part | {"decade": [d] * len(part["seed"])})
        dates[str(d)] = split.dates(table)
        if progress is not None:
            progress(f"fama-french {d}s: {len(part['seed'])} members, {time.perf_counter() - start:.0f} s so far")
    members = {k: [v for t in tables for v in t[k]] for k in tables[0]}
    decade = np.asarray(members["decade"])
    columns = {str(d): decade == d for d in preset.ff_decades} | {"pooled": np.ones(len(decade), dtype=bool)}
    block = score_block("fama-french", members, columns, tuple(table.feature_groups), dates,
                        resamples=preset.resamples, seed=preset.measure.seed, seconds=time.perf_counter() - start)
    # Pooled ranks mix decades whose degradation and training-set size differ (both move the measures); the mean
    # of the per-decade ρ compares members within a decade only.
    per_decade = [block.spearman[str(d)] for d in preset.ff_decades]
    block.spearman["decade mean"] = {m: Score(_mean_finite([c[m].value for c in per_decade]), float("nan"),
                                              float("nan")) for m in block.spearman["pooled"]}
    return block


def _mean_finite(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


@dataclass
class Demo3Result:
    """Demo 3's outcome: the S&P 500 block and the Fama–French block (None where not run), wall times."""

    preset: str
    sp500: MarketBlock | None
    fama_french: MarketBlock | None
    seconds: dict[str, float]
    settings: dict

    def to_dict(self) -> dict:
        return {"preset": self.preset, "seconds": self.seconds, "settings": self.settings,
                "sp500": None if self.sp500 is None else self.sp500.to_dict(),
                "fama_french": None if self.fama_french is None else self.fama_french.to_dict()}

    def to_markdown(self) -> str:
        lines = []
        if self.sp500 is not None:
            span = self.sp500.dates["all"]
            lines += [f"Demo 3 ({self.preset}), S&P 500: Spearman ρ between each predictor and the degradation "
                      f"(shift-era loss, {span['degradation'][0]} → {span['degradation'][1]}, / in-era validation "
                      f"loss), 95% bootstrap interval; measures and training-row break tests from "
                      f"{span['measures'][0]} → {span['measures'][1]} only", ""]
            lines += _table(self.sp500, {c: c for c in self.sp500.spearman})
        if self.fama_french is not None:
            lines += [f"Demo 3 ({self.preset}), Fama–French monthly |Mkt-RF|, walk-forward by decade: Spearman ρ "
                      f"between each predictor (training decades only) and the degradation (test-decade loss / "
                      f"in-era validation loss), per test decade, pooled over every (decade, member), and the "
                      f"mean of the per-decade ρ", ""]
            lines += _table(self.fama_french, {c: c if not c.isdigit() else f"{c}s" for c in self.fama_french.spearman})
        lines.append("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in self.seconds.items()))
        return "\n".join(lines) + "\n"


def _table(block: MarketBlock, heads: dict[str, str]) -> list[str]:
    cols, s = list(heads), block.summary

    def row(label: str, cell: Callable[[dict], str]) -> str:  # a column without a summary (decade mean) stays empty
        return f"| {label} | " + " | ".join(cell(s[c]) if c in s else "" for c in cols) + " |"

    lines = ["| predictor | " + " | ".join(f"{heads[c]} (n = {s[c]['members']})" if c in s else heads[c]
                                          for c in cols) + " |", "|---|" + "---|" * len(cols)]
    for title, section in predictor_rows(block.groups):
        lines.append(f"| *{title}* |" + " |" * len(cols))
        lines += [f"| {m} | " + " | ".join(block.spearman[c][m].text() for c in cols) + " |" for m in section]
    lines.append(row("degradation: median [min, max]", lambda x: f"{x['degradation_median']:.2f} ["
                     f"{x['degradation_min']:.2f}, {x['degradation_max']:.2f}]"))
    lines.append(row("least squares on the same features: degradation (median over members)",
                     lambda x: f"{x['linear_degradation_median']:.2f}"))
    for prefix, rows in BREAK_ROWS.items():
        lines.append(row(f"share rejecting at 5% on {rows}: CUSUM-OLS / recursive / sup-F",
                         lambda x: " / ".join(f"{x[f'{prefix}_{b}_reject']:.2f}" for b in BREAKS)))
    lines.append(row("sup-F's break on training era + shift era: median date [earliest, latest]",
                     lambda x: f"{x['whole_break_date_median']} [{x['whole_break_date_min']}, "
                               f"{x['whole_break_date_max']}]"))
    lines.append(row("LLC flagged", lambda x: str(x["llc_flagged"])))
    return lines + [""]


def run_demo3(preset: str | Demo3Preset = "quick", *, data: str = "both",
              progress: Callable[[str], None] | None = None, runs: Path | None = None) -> Demo3Result:
    """Run Demo 3 on a named preset ("quick", "full") or a Demo3Preset, on "sp500", "fama-french" or "both";
    `runs`: keep every zoo as a core run directory under this folder (None: not kept).

    Returns:
        A Demo3Result: `to_markdown()` for the tables, `to_dict()` for JSON (every member's values included).

    Raises:
        ConfigError: an unknown preset or data set, or `arch` / `statsmodels` not installed.
    """
    preset = named("preset", preset, PRESETS)
    check_choice("data", data, DATASETS)
    start = time.perf_counter()
    seconds: dict[str, float] = {}
    sp500 = fama_french = None
    if data in ("sp500", "both"):
        sp500 = run_sp500(preset, runs=runs)
        seconds["sp500"] = sp500.seconds
        if progress is not None:
            progress(f"sp500: {len(sp500.members['seed'])} members, {sp500.seconds:.0f} s")
    if data in ("fama-french", "both"):
        fama_french = run_fama_french(preset, progress=progress, runs=runs)
        seconds["fama_french"] = fama_french.seconds
    seconds["total"] = time.perf_counter() - start
    m, t = preset.measure, preset.train
    settings = {"sp500_grid": _grid(preset.sp500), "ff_grid": _grid(preset.ff), "ff_decades": list(preset.ff_decades),
                "train": {k: getattr(t, k) for k in ("max_steps", "lr", "cooldown_frac", "batch_size", "act_fn",
                                                     "param_dtype")},
                "llc": {"epsilon": m.llc.epsilon, "nbeta": m.llc.nbeta, "gamma": m.llc.gamma,
                        "batch_size": m.llc.batch_size, "burn_in": m.llc.burn_in, "draws": m.llc.draws,
                        "chains": len(m.llc_seeds)},
                "resamples": preset.resamples, "sup_f_n_sim": preset.n_sim}
    return Demo3Result(preset.name, sp500, fama_french, seconds, settings)


def _grid(grid: ZooGrid) -> dict:
    return {"wd": list(grid.wd), "init_scale": list(grid.init_scale), "hidden": list(grid.hidden),
            "feature_sets": list(grid.feature_sets), "seeds": list(grid.seeds), "members": grid.n}
