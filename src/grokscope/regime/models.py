"""Demo 1's models: the inputs (state features and the period id), the three kinds C, P, E, and a zoo of members.

Inputs. A row is [state features standardized on the training era | one-hot of the id slot over B + 1 slots]
(`id_slots`: the id where it is a training regime, else the unknown slot B). The unknown slot is trained, as the
generator's docs suggest, by mapping a random share `unknown_frac` of each member's training rows to it (drawn
from the member's seed): it comes to stand for the pooled mean given the state, which is what a shift-era row
gets.

Kinds, on identical inputs:
- C (the rule): at every step the id columns are permuted across the step's examples, so the id carries no
  information about the target and the model can only learn the rule from the state.
- P (the lookup): the state columns are permuted instead; it can only look the regime up.
- E (plain): nothing is permuted; it may learn either, or both (over weight decay × init scale).

A member's data, initialization, unknown-slot rows, batch order and permutations derive from its own seed only
(the data are `make_regime_data(spec.replace(seed=seed))`), so it trains the same packed with 0 or 255 others.
A zoo is one core run of task "table" (`train_members`): its rows are stored with the run (tasks.StoredTable),
the kinds are the table's permuted columns, and the core trainer trains every member in one mlp_stack ensemble
with per-member AdamW (lr, weight decay), the squared error and the cool-down, with the core's resume and store.

Demo 2 (regime/shortcut.py) reuses all of it with its own inputs, [state | shortcut feature] standardized on the
training era (`encode_shortcut`): the shortcut takes the id's place as the regime's route, so C permutes the
shortcut column (the rule model) and P the state column (the shortcut model); its sub-periods are the regimes.
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from .. import metric_names
from ..checks import check_choice, check_integer, check_number
from ..config import DTYPES, RunConfig
from ..counter_rng import random_keys
from ..errors import ConfigError
from ..models.mlp_stack import MLPStack
from ..operations import get_operation
from ..run import Run
from ..tasks import StoredTable
from .shortcut import ShortcutData, ShortcutSpec, make_shortcut_data
from .synthetic import RegimeData, RegimeSpec, id_slots, make_regime_data

KINDS = ("C", "P", "E")
ACTIVATIONS = ("relu", "gelu")  # the core mlp_stack arch's
GROUPS = ("state", "id")  # route ablation's columns, in this order
# counter_rng stream of a member's unknown-slot rows (its init, batches and column permutations are the core
# trainer's: mlp_stack.INIT_STREAM + layer, sampler.EPOCH_STREAM_BASE + epoch, sampler.SHUFFLE_STREAM + step).
UNKNOWN_STREAM = 11_000


def mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """[R, B] squared error of outputs [R, B, 1] against targets [R, B] (the per-example loss the monitor reads)."""
    return (outputs[..., 0] - targets).square()


@dataclass(frozen=True)
class Members:
    """Who is in a zoo: one entry per member (all tuples of length E).

    Args:
        kinds: "C", "P" or "E" per member.
        seeds: per member: its data (`spec.replace(seed=seed)`), initialization and training randomness.
        wd: AdamW's decoupled weight decay per member.
        init_scale: α per member (every initial parameter times α).
    """

    kinds: tuple[str, ...]
    seeds: tuple[int, ...]
    wd: tuple[float, ...]
    init_scale: tuple[float, ...]

    def __post_init__(self) -> None:
        n = len(self.kinds)
        if n == 0:
            raise ConfigError("kinds: a zoo needs at least one member")
        for name in ("seeds", "wd", "init_scale"):
            if len(getattr(self, name)) != n:
                raise ConfigError(f"{name}: must have one value per member ({n}), got {len(getattr(self, name))}")
        for kind in self.kinds:
            check_choice("kinds", kind, KINDS)
        for seed in self.seeds:
            check_integer("seeds", seed, 0)
        for wd in self.wd:
            check_number("wd", wd, 0.0)
        for alpha in self.init_scale:
            check_number("init_scale", alpha, 0.0, open_low=True)

    @property
    def n(self) -> int:
        return len(self.kinds)

    def subset(self, index: Sequence[int]) -> "Members":
        """The members at `index`, in that order."""
        return Members(*(tuple(getattr(self, f)[i] for i in index) for f in ("kinds", "seeds", "wd",
                                                                             "init_scale")))

    @staticmethod
    def concat(*parts: "Members") -> "Members":
        return Members(*(tuple(v for p in parts for v in getattr(p, f)) for f in ("kinds", "seeds", "wd",
                                                                                  "init_scale")))


@dataclass(frozen=True)
class TrainSettings:
    """How every member of a zoo trains (shared; per-member choices live in Members).

    Args:
        hidden: hidden layer widths of the MLP (d_in and d_out = 1 follow from the data).
        act_fn: relu or gelu (the core mlp_stack arch's).
        max_steps: optimizer steps.
        lr: AdamW's learning rate (betas 0.9, 0.999; eps 1e-8).
        cooldown_frac: the learning rate falls linearly to 0 over this last share of the steps, so that training
            ends near a minimum of the training loss (the LLC samples around the endpoint; a noisy Adam endpoint
            makes SGLD chains drift below it).
        batch_size: examples per step per member, at most half the training rows (the core sampler's rule,
            openai/grok's; None: the full training set).
        unknown_frac: share of each member's training rows whose id is mapped to the unknown slot.
        param_dtype: of the parameters and data.
        record_steps: steps at which the in-era and shift losses and the in-era route ablation are recorded
            (the last step always is).
    """

    hidden: tuple[int, ...] = (64,)
    act_fn: str = "relu"
    max_steps: int = 1500
    lr: float = 3e-3
    cooldown_frac: float = 0.2
    batch_size: int | None = 256
    unknown_frac: float = 0.05
    param_dtype: str = "float32"
    record_steps: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.hidden, tuple):
            raise ConfigError(f"hidden: must be a tuple of widths, got {self.hidden!r}")
        for width in self.hidden:
            check_integer("hidden", width, 1)
        if not self.hidden or len(set(self.hidden)) != 1:
            raise ConfigError(f"hidden: one or more layers of one width (the core mlp_stack arch's), got {self.hidden!r}")
        check_choice("act_fn", self.act_fn, ACTIVATIONS)
        check_integer("max_steps", self.max_steps, 1)
        check_number("lr", self.lr, 0.0, open_low=True)
        check_number("cooldown_frac", self.cooldown_frac, 0.0, 1.0)
        if self.batch_size is not None:
            check_integer("batch_size", self.batch_size, 1)
        check_number("unknown_frac", self.unknown_frac, 0.0, 1.0, open_high=True)
        check_choice("param_dtype", self.param_dtype, DTYPES)
        for step in self.record_steps:
            check_integer("record_steps", step, 0)
            if step > self.max_steps:
                raise ConfigError(f"record_steps: {step} is past max_steps={self.max_steps}")

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.param_dtype)



@dataclass(frozen=True)
class Encoded:
    """One generated sample as model inputs: rows [state | one-hot id slot], d_in = n_features + B + 1.

    Attributes:
        train_x: [N, d_in] training rows (true ids; the unknown-slot mapping is per member, see ZooData).
        train_y: [N]. train_time: [N] day index. train_regime: [N] int64 regime id (0..B-1).
        val_x, val_y: [N_val, d_in], [N_val] in-era validation rows. shift_x, shift_y: the shift era.
        val_rule, shift_rule: [N_val], [N_shift] the true rule's prediction scale·g_t (the data's own reference).
        n_features: state columns. n_slots: B + 1.
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    train_time: torch.Tensor
    train_regime: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    shift_x: torch.Tensor
    shift_y: torch.Tensor
    val_rule: torch.Tensor
    shift_rule: torch.Tensor
    n_features: int
    n_slots: int
    groups: dict[str, list[int]]


def standardized(features: np.ndarray, train: np.ndarray) -> np.ndarray:
    """[N, d] features minus the training rows' mean, over their sd (a constant column is left unscaled)."""
    mean, std = features[train].mean(0), features[train].std(0)
    return (features - mean) / np.where(std > 0, std, 1.0)


def _split(data: RegimeData | ShortcutData, x: np.ndarray, rule: np.ndarray, regime: np.ndarray, *, n_slots: int,
           groups: dict[str, list[int]], dtype: torch.dtype) -> Encoded:
    """One sample's Encoded rows by era, from its inputs x [N_all, d_in], the rule's predictions and regimes [N_all]."""
    x, y, rule = (torch.as_tensor(a, dtype=dtype) for a in (x, data.target, rule))
    tr, va, sh = (np.flatnonzero(data.mask(era)) for era in ("train", "validation", "shift"))
    return Encoded(train_x=x[tr], train_y=y[tr], train_time=torch.as_tensor(data.time[tr]),
                   train_regime=torch.as_tensor(regime[tr], dtype=torch.int64),
                   val_x=x[va], val_y=y[va], shift_x=x[sh], shift_y=y[sh], val_rule=rule[va], shift_rule=rule[sh],
                   n_features=data.features.shape[1], n_slots=n_slots, groups=groups)


def encode(data: RegimeData, *, dtype: torch.dtype = torch.float32) -> Encoded:
    """The sample's rows as model inputs: state standardized by the training rows' mean and sd, id slot one-hot."""
    B, d = data.spec.n_regimes, data.features.shape[1]
    state = standardized(data.features, data.mask("train"))  # [N_all, n_features]
    onehot = np.eye(B + 1)[id_slots(data.period_ids, B)]  # [N_all, B + 1]
    return _split(data, np.concatenate([state, onehot], axis=1), data.spec.scale * data.g, data.period_ids,
                  n_slots=B + 1, groups={"state": list(range(d)), "id": list(range(d, d + B + 1))}, dtype=dtype)


def encode_shortcut(data: ShortcutData, *, dtype: torch.dtype = torch.float32) -> Encoded:
    """Demo 2's rows as model inputs: [state s_t | shortcut k_t], each standardized on the training rows; the
    sub-periods are the regimes (the shift era's, n, never reaches a training row)."""
    x = standardized(data.features, data.mask("train"))  # [N_all, 2]
    return _split(data, x, data.rule_mean, data.environments, n_slots=0, groups={"state": [0], "shortcut": [1]},
                  dtype=dtype)


def encode_sample(spec: RegimeSpec | ShortcutSpec, *, dtype: torch.dtype = torch.float32) -> Encoded:
    """The sample `spec` describes, generated and encoded (Demo 1's regimes or Demo 2's shortcut)."""
    if isinstance(spec, ShortcutSpec):
        return encode_shortcut(make_shortcut_data(spec), dtype=dtype)
    return encode(make_regime_data(spec), dtype=dtype)


@dataclass(frozen=True)
class ZooData:
    """Each member's data, member axis first (members with the same seed share a sample).

    Attributes:
        train_x: [E, N, d_in] training inputs as the member trains on them (its unknown-slot rows mapped).
        train_y, train_time, train_regime: [E, N].
        val_x, val_y: [E, N_val, d_in], [E, N_val]. shift_x, shift_y: [E, N_shift, d_in], [E, N_shift].
        val_rule, shift_rule: [E, N_val], [E, N_shift] the true rule's predictions (None on real data).
        groups: "state" and "id" (Demo 2: "state" and "shortcut") -> their input columns (on real data: its feature
            groups, e.g. "lags", "calendar", "level"); route ablation's columns, in this order.
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    train_time: torch.Tensor
    train_regime: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    shift_x: torch.Tensor
    shift_y: torch.Tensor
    val_rule: torch.Tensor | None
    shift_rule: torch.Tensor | None
    groups: dict[str, list[int]]

    @property
    def d_in(self) -> int:
        return self.train_x.shape[-1]


def unknown_rows(seeds: torch.Tensor, n: int, frac: float) -> torch.Tensor:
    """[E, N] bool: the training rows member e maps to the unknown slot, from (seeds[e], UNKNOWN_STREAM) only."""
    keys = random_keys(seeds, UNKNOWN_STREAM, n)
    unit = ((keys >> 11) & ((1 << 53) - 1)).double().mul_(2.0**-53)  # [E, N] in [0, 1)
    return unit < frac


def zoo_data(spec: RegimeSpec | ShortcutSpec, members: Members, settings: TrainSettings) -> ZooData:
    """Every member's sample (`spec.replace(seed=member seed)`), encoded and stacked [E, ...]."""
    dtype = settings.torch_dtype
    encoded = {s: encode_sample(spec.replace(seed=s), dtype=dtype) for s in sorted(set(members.seeds))}
    first = encoded[members.seeds[0]]

    def stacked(name: str) -> torch.Tensor:
        return torch.stack([getattr(encoded[s], name) for s in members.seeds])  # [E, ...]

    train_x = stacked("train_x").clone()  # [E, N, d_in]
    if first.n_slots > 0:  # Demo 1's id columns: train the unknown slot
        seeds = torch.tensor(members.seeds, dtype=torch.int64)
        unknown = unknown_rows(seeds, train_x.shape[1], settings.unknown_frac)  # [E, N]
        id_cols = slice(first.n_features, first.n_features + first.n_slots)
        unknown_onehot = torch.zeros(first.n_slots, dtype=dtype)
        unknown_onehot[-1] = 1
        train_x[..., id_cols] = torch.where(unknown[..., None], unknown_onehot, train_x[..., id_cols])
    return ZooData(train_x=train_x, train_y=stacked("train_y"), train_time=stacked("train_time"),
                   train_regime=stacked("train_regime"), val_x=stacked("val_x"), val_y=stacked("val_y"),
                   shift_x=stacked("shift_x"), shift_y=stacked("shift_y"), val_rule=stacked("val_rule"),
                   shift_rule=stacked("shift_rule"), groups=first.groups)


def shuffled_columns(members: Members, groups: dict[str, list[int]], d_in: int) -> torch.Tensor:
    """[E, d_in] bool: the columns permuted at every step (C: every group but the state, i.e. the regime's route,
    Demo 1's id or Demo 2's shortcut; P: the state group; E: none)."""
    regime_route = [c for name, cols in groups.items() if name != "state" for c in cols]
    mask = torch.zeros(members.n, d_in, dtype=torch.bool)
    for e, kind in enumerate(members.kinds):  # building a [E, d_in] mask once, not a hot path
        if kind != "E":
            mask[e, regime_route if kind == "C" else groups["state"]] = True
    return mask


def zoo_table(data: ZooData, members: Members, unseen: torch.Tensor | None = None) -> StoredTable:
    """The zoo's rows as the core's stored table (task "table"): member e's training, validation and shift rows in
    that order (train, test and shift masks), its kind's permuted columns, its unseen columns and the true rule's
    predictions on the validation and shift rows (NaN on training rows, which no measure reads)."""
    eras = (data.train_x.shape[1], data.val_x.shape[1], data.shift_x.shape[1])
    era = torch.cat([torch.full((n,), k) for k, n in enumerate(eras)]).expand(members.n, -1)  # [E, N]
    rule = None
    if data.val_rule is not None and data.shift_rule is not None:
        unknown = torch.full_like(data.train_y, math.nan, dtype=torch.float64)
        rule = torch.cat([unknown, data.val_rule.double(), data.shift_rule.double()], 1)
    return StoredTable(get_operation("table"), data.d_in,
                       torch.cat([data.train_x, data.val_x, data.shift_x], 1).double(),
                       torch.cat([data.train_y, data.val_y, data.shift_y], 1).double(),
                       era == 0, era == 1, era == 2, {k: list(v) for k, v in data.groups.items()},
                       permuted=shuffled_columns(members, data.groups, data.d_in), unseen=unseen, rule=rule)


def zoo_config(members: Members, settings: TrainSettings, d_in: int) -> RunConfig:
    """The core RunConfig of a zoo: the mlp_stack arch on d_in columns, per-member AdamW (betas 0.9, 0.999; eps
    1e-8; no warm-up; the cool-down), the squared error, evaluated at every recorded step (`record_steps` and the
    last) and nowhere else, on the CPU."""
    record = sorted(set(settings.record_steps) | {settings.max_steps})
    return RunConfig(
        task="table", p=d_in, arch="mlp_stack", n_layers=len(settings.hidden), d_mlp=settings.hidden[0],
        act_fn=settings.act_fn, seeds=members.seeds, lr=settings.lr, wd=members.wd,
        init_scale=members.init_scale, beta1=0.9, beta2=0.999, eps=1e-8, warmup_steps=0,
        cooldown_frac=settings.cooldown_frac, batch_size=settings.batch_size, loss="squared_error",
        loss_dtype="float64", param_dtype=settings.param_dtype, max_steps=settings.max_steps,
        eval_every=math.gcd(*record), eval_log_points=0, instruments=False, collapse_diagnostics=False,
        checkpoints=1, device="cpu")


def read_history(run: Run) -> dict[int, dict[str, torch.Tensor]]:
    """step -> [E] values from a zoo run's stored metrics, under the demos' keys (train_loss, val_loss, shift_loss,
    failure, rule_failure, excess_failure, val_ablation_<group>)."""
    n = run.config.n_members
    names = {"train_loss": metric_names.TRAIN_LOSS, "val_loss": metric_names.TEST_LOSS,
             "shift_loss": metric_names.SHIFT_LOSS, "failure": metric_names.SHIFT_FAILURE,
             "rule_failure": metric_names.SHIFT_RULE_FAILURE, "excess_failure": metric_names.SHIFT_EXCESS_FAILURE}
    history: dict[int, dict[str, torch.Tensor]] = {}
    with run.metrics() as store:
        logged = set(store.names())
        for key, name in names.items():
            if name in logged:
                steps, values = store.series_tensor(name, n)  # [E, S]
                for i, step in enumerate(steps):
                    history.setdefault(step, {})[key] = values[:, i]
        groups = json.loads(store.meta("feature_groups") or "[]")
        steps, ablation = store.vector_array(metric_names.TEST_ROUTE_ABLATION, list(range(n)))
        table = torch.tensor(ablation, dtype=torch.float64)  # [E, S, G]
        for i, step in enumerate(steps):
            for g, group in enumerate(groups):
                history[step][f"val_ablation_{group}"] = table[:, i, g]
    return history


@dataclass
class TrainedZoo:
    """A trained zoo: the model (E members), who they are, their data, and the truth recorded at its record steps.

    history: step -> read_history()'s [E] values at each recorded step (the last included); final: the last step's.
    """

    model: MLPStack
    members: Members
    settings: TrainSettings
    data: ZooData
    history: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)
    path: Path | None = None  # the zoo's run directory, where it was kept (train_members' out)

    @property
    def final(self) -> dict[str, torch.Tensor]:
        return self.history[max(self.history)]


def train_zoo(spec: RegimeSpec | ShortcutSpec, members: Members, settings: TrainSettings = TrainSettings(), *,
              progress: Callable[[int], None] | None = None, out: str | Path | None = None,
              name: str = "regime-zoo") -> TrainedZoo:
    """Train every member of the zoo in one ensemble and record the truth at the record steps.

    Args:
        spec: the generator's knobs (Demo 1's RegimeSpec, Demo 2's ShortcutSpec); member e's sample is
            `spec.replace(seed=members.seeds[e])`.
        members: kinds, seeds, weight decay and init scale per member.
        settings: the shared training settings.
        progress: called with the step at each checkpoint.
        out, name: where the zoo's run directory is kept, as in train_members (None: not kept).
    """
    return train_members(zoo_data(spec, members, settings), members, settings, progress=progress, out=out, name=name)


def train_members(data: ZooData, members: Members, settings: TrainSettings = TrainSettings(), *,
                  unseen: torch.Tensor | None = None, progress: Callable[[int], None] | None = None,
                  out: str | Path | None = None, name: str = "regime-zoo") -> TrainedZoo:
    """Train every member on its own rows of `data` in one ensemble, through the core trainer, and read the truth
    back at the recorded steps.

    The zoo is a core run of task "table" (its rows stored in the run directory, tasks.StoredTable): the trainer's
    per-member AdamW, batches, resume and store, and its evaluation logs the eras' losses, the failure ratios and
    the route ablation. Member e's data, initialization, batches and column permutations derive from its own seed
    only, so it trains the same packed with 0 or 255 others.

    Args:
        data: each member's data, [E, ...] (zoo_data for the generator; Demo 3 builds it from market tables).
        members: kinds, seeds, weight decay and init scale per member.
        settings: the shared training settings.
        unseen: [E, d_in] bool, input columns member e does not see (None: all seen). Its first layer's rows for
            them start at 0 and its inputs there are zeroed, so the rows get no gradient and decoupled weight decay
            keeps them at 0: the member is a narrower-input MLP (its other rows drawn with the full d_in's fan-in),
            and in the LLC's sampling those rows are flat directions that add nothing.
        progress: called with the step at each recorded step.
        out: the parent directory of the zoo's run directory, kept for `grokscope show`, `report`, `serve` and
            `train --resume` (None: a temporary directory, removed once the zoo is read back).
        name: the run directory's name after its time stamp.
    """
    from ..training.launch import train

    config = zoo_config(members, settings, data.d_in)
    table = zoo_table(data, members, unseen)
    record = set(settings.record_steps) | {settings.max_steps}

    def report(update) -> None:
        if progress is not None and update.step in record:
            progress(update.step)

    with tempfile.TemporaryDirectory(prefix="grokscope-zoo-") as scratch:
        run = train(config, scratch if out is None else out, table=table, name=name, progress=report)
        params = run.model().params
        history = read_history(run)
    model = MLPStack(params, activation=settings.act_fn)
    return TrainedZoo(model, members, settings, data, {step: history[step] for step in sorted(record)},
                      path=None if out is None else run.path)
