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
All members of a zoo train in one MLPStack with per-member AdamW (lr, weight decay), MSE loss.

Demo 2 (regime/shortcut.py) reuses all of it with its own inputs, [state | shortcut feature] standardized on the
training era (`encode_shortcut`): the shortcut takes the id's place as the regime's route, so C permutes the
shortcut column (the rule model) and P the state column (the shortcut model); its sub-periods are the regimes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from ..checks import check_choice, check_integer, check_number
from ..counter_rng import random_keys, random_permutations
from ..errors import ConfigError
from ..models.mlp_stack import ACTIVATIONS, MLPStack
from ..monitor.ablation import route_ablation
from ..monitor.inputs import TrainingData
from ..monitor.stacked import mean_loss
from ..training.optim import MemberAdamW
from .shortcut import ShortcutData, ShortcutSpec, make_shortcut_data
from .synthetic import RegimeData, RegimeSpec, id_slots, make_regime_data

KINDS = ("C", "P", "E")
DTYPES = ("float32", "float64")
GROUPS = ("state", "id")  # route ablation's columns, in this order
# counter_rng streams of a member's training randomness (its model init uses mlp_stack.INIT_STREAM + layer).
UNKNOWN_STREAM = 11_000
BATCH_STREAM = 12_000  # + epoch
SHUFFLE_STREAM = 1 << 30  # + step


def mse(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """[R, B] squared error of outputs [R, B, 1] against targets [R, B] (the per-example loss the monitor reads)."""
    return (outputs[..., 0] - targets).square()


@dataclass(frozen=True)
class Members:
    """Who is in a zoo: one entry per member (all tuples of length E).

    Args:
        kinds: "C", "P" or "E" per member.
        seeds: per member: its data (`spec.replace(seed=seed)`), initialization and training randomness.
        weight_decay: AdamW's decoupled weight decay per member.
        init_scale: α per member (every initial parameter times α).
    """

    kinds: tuple[str, ...]
    seeds: tuple[int, ...]
    weight_decay: tuple[float, ...]
    init_scale: tuple[float, ...]

    def __post_init__(self) -> None:
        n = len(self.kinds)
        if n == 0:
            raise ConfigError("kinds: a zoo needs at least one member")
        for name in ("seeds", "weight_decay", "init_scale"):
            if len(getattr(self, name)) != n:
                raise ConfigError(f"{name}: must have one value per member ({n}), got {len(getattr(self, name))}")
        for kind in self.kinds:
            check_choice("kinds", kind, KINDS)
        for seed in self.seeds:
            check_integer("seeds", seed, 0)
        for wd in self.weight_decay:
            check_number("weight_decay", wd, 0.0)
        for alpha in self.init_scale:
            check_number("init_scale", alpha, 0.0, open_low=True)

    @property
    def n(self) -> int:
        return len(self.kinds)

    def subset(self, index: Sequence[int]) -> "Members":
        """The members at `index`, in that order."""
        return Members(*(tuple(getattr(self, f)[i] for i in index) for f in ("kinds", "seeds", "weight_decay",
                                                                             "init_scale")))

    @staticmethod
    def concat(*parts: "Members") -> "Members":
        return Members(*(tuple(v for p in parts for v in getattr(p, f)) for f in ("kinds", "seeds", "weight_decay",
                                                                                  "init_scale")))


@dataclass(frozen=True)
class TrainSettings:
    """How every member of a zoo trains (shared; per-member choices live in Members).

    Args:
        hidden: hidden layer widths of the MLP (d_in and d_out = 1 follow from the data).
        activation: one of mlp_stack.ACTIVATIONS.
        steps: optimizer steps.
        lr: AdamW's learning rate (betas 0.9, 0.999; eps 1e-8).
        cooldown_frac: the learning rate falls linearly to 0 over this last share of the steps, so that training
            ends near a minimum of the training loss (the LLC samples around the endpoint; a noisy Adam endpoint
            makes SGLD chains drift below it).
        batch_size: examples per step per member (None: the full training set).
        unknown_frac: share of each member's training rows whose id is mapped to the unknown slot.
        dtype: of the parameters and data.
        checkpoints: steps at which the in-era and shift losses and the in-era route ablation are recorded
            (the last step always is).
    """

    hidden: tuple[int, ...] = (64,)
    activation: str = "relu"
    steps: int = 1500
    lr: float = 3e-3
    cooldown_frac: float = 0.2
    batch_size: int | None = 256
    unknown_frac: float = 0.05
    dtype: str = "float32"
    checkpoints: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.hidden, tuple):
            raise ConfigError(f"hidden: must be a tuple of widths, got {self.hidden!r}")
        for width in self.hidden:
            check_integer("hidden", width, 1)
        check_choice("activation", self.activation, tuple(ACTIVATIONS))
        check_integer("steps", self.steps, 1)
        check_number("lr", self.lr, 0.0, open_low=True)
        check_number("cooldown_frac", self.cooldown_frac, 0.0, 1.0)
        if self.batch_size is not None:
            check_integer("batch_size", self.batch_size, 1)
        check_number("unknown_frac", self.unknown_frac, 0.0, 1.0, open_high=True)
        check_choice("dtype", self.dtype, DTYPES)
        for step in self.checkpoints:
            check_integer("checkpoints", step, 0)
            if step > self.steps:
                raise ConfigError(f"checkpoints: {step} is past steps={self.steps}")

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)

    def lr_scale(self, step: int) -> float:
        """The learning rate's multiplier at `step`: 1, then linearly to 0 over the last cooldown_frac of the steps."""
        cooldown = self.cooldown_frac * self.steps
        return 1.0 if cooldown == 0 else min(1.0, (self.steps - step) / cooldown)


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


class Batches:
    """Member e's minibatch at each step: its own permutation of 0..N-1 per epoch, from (seeds[e], epoch).

    Epochs of N // batch steps (the last N mod batch rows of a permutation sit that epoch out)."""

    def __init__(self, seeds: torch.Tensor, n: int, batch: int | None):
        self.seeds, self.n = seeds, n
        self.batch = n if batch is None else min(batch, n)
        self.per_epoch = n // self.batch
        self._epoch, self._order = -1, None

    def at(self, step: int) -> torch.Tensor:
        """[E, batch] int64 row indices."""
        if self.batch == self.n:
            return torch.arange(self.n).expand(len(self.seeds), -1)
        epoch, offset = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            self._order, self._epoch = random_permutations(self.seeds, BATCH_STREAM + epoch, self.n), epoch
        return self._order[:, offset * self.batch:(offset + 1) * self.batch]


def step_inputs(data: ZooData, shuffle: torch.Tensor, seeds: torch.Tensor, batches: Batches, step: int
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs [E, b, d_in], targets [E, b]) of a step, each member's shuffled columns permuted across the step's
    examples (its own permutation, from (seeds[e], SHUFFLE_STREAM + step))."""
    idx = batches.at(step)  # [E, b]
    x = data.train_x.gather(1, idx[..., None].expand(-1, -1, data.d_in))  # [E, b, d_in]
    perm = random_permutations(seeds, SHUFFLE_STREAM + step, idx.shape[1])  # [E, b]
    moved = x.gather(1, perm[..., None].expand(-1, -1, data.d_in))  # [E, b, d_in]
    return torch.where(shuffle[:, None, :], moved, x), data.train_y.gather(1, idx)


def evaluate(model: MLPStack, data: ZooData) -> dict[str, torch.Tensor]:
    """[E] each: train/val/shift MSE, failure = shift / val, and the in-era (validation) route ablation per group.

    Also rule_failure, the failure of the true rule scale·g_t on the same rows, and excess_failure = failure /
    rule_failure: members on different samples face different noise in each era, which moves failure for every
    model alike; the ratio to the rule's own failure on those rows leaves what the model adds (1: it degrades as
    the rule does, > 1: more, as a lookup does).
    """
    params = model.all_parameters()

    def loss_on(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return mean_loss(model, params, TrainingData(x, y), mse)

    out = {"train_loss": loss_on(data.train_x, data.train_y), "val_loss": loss_on(data.val_x, data.val_y),
           "shift_loss": loss_on(data.shift_x, data.shift_y)}
    out["failure"] = out["shift_loss"] / out["val_loss"]
    if data.val_rule is not None:  # real data (Demo 3) has no true rule
        rule_shift = (data.shift_rule - data.shift_y).double().square().mean(1)
        out["rule_failure"] = rule_shift / (data.val_rule - data.val_y).double().square().mean(1)
        out["excess_failure"] = out["failure"] / out["rule_failure"]
    ablation = route_ablation(lambda x: loss_on(x, data.val_y), data.val_x, data.groups)
    for g, name in enumerate(data.groups):
        out[f"val_ablation_{name}"] = ablation[:, g]
    return out


@dataclass
class TrainedZoo:
    """A trained zoo: the model (E members), who they are, their data, and the truth recorded at checkpoints.

    history: step -> evaluate()'s [E] values at that step (the last step included); final: the last step's.
    """

    model: MLPStack
    members: Members
    settings: TrainSettings
    data: ZooData
    history: dict[int, dict[str, torch.Tensor]] = field(default_factory=dict)

    @property
    def final(self) -> dict[str, torch.Tensor]:
        return self.history[max(self.history)]


def train_zoo(spec: RegimeSpec | ShortcutSpec, members: Members, settings: TrainSettings = TrainSettings(), *,
              progress: Callable[[int], None] | None = None) -> TrainedZoo:
    """Train every member of the zoo in one ensemble and record the truth at the checkpoints.

    Args:
        spec: the generator's knobs (Demo 1's RegimeSpec, Demo 2's ShortcutSpec); member e's sample is
            `spec.replace(seed=members.seeds[e])`.
        members: kinds, seeds, weight decay and init scale per member.
        settings: the shared training settings.
        progress: called with the step at each checkpoint.
    """
    return train_members(zoo_data(spec, members, settings), members, settings, progress=progress)


def train_members(data: ZooData, members: Members, settings: TrainSettings = TrainSettings(), *,
                  unseen: torch.Tensor | None = None, progress: Callable[[int], None] | None = None) -> TrainedZoo:
    """Train every member on its own rows of `data` in one ensemble and record the truth at the checkpoints.

    Args:
        data: each member's data, [E, ...] (zoo_data for the generator; Demo 3 builds it from market tables).
        members: kinds, seeds, weight decay and init scale per member.
        settings: the shared training settings.
        unseen: [E, d_in] bool, input columns member e does not see (None: all seen). Its first layer's rows for
            them start at 0; the caller zeroes those columns of its inputs, so the rows get no gradient and
            decoupled weight decay keeps them at 0: the member is a narrower-input MLP (its other rows drawn with
            the full d_in's fan-in), and in the LLC's sampling those rows are flat directions that add nothing.
        progress: called with the step at each checkpoint.
    """
    dtype = settings.torch_dtype
    seeds = torch.tensor(members.seeds, dtype=torch.int64)
    model = MLPStack.init(seeds, torch.tensor(members.init_scale, dtype=torch.float64),
                          (data.d_in, *settings.hidden, 1), activation=settings.activation, dtype=dtype)
    if unseen is not None:
        with torch.no_grad():
            model.params["layers.0.W"].masked_fill_(unseen[..., None], 0.0)  # [E, d_in, d_out]
    optimizer = MemberAdamW(model.params, lr=torch.full((members.n,), settings.lr, dtype=dtype),
                            wd=torch.tensor(members.weight_decay, dtype=dtype), betas=(0.9, 0.999), eps=1e-8)
    shuffle = shuffled_columns(members, data.groups, data.d_in)
    batches = Batches(seeds, data.train_x.shape[1], settings.batch_size)
    zoo = TrainedZoo(model, members, settings, data)
    record = set(settings.checkpoints) | {settings.steps}
    for step in range(settings.steps + 1):
        if step in record:
            zoo.history[step] = evaluate(model, data)
            if progress is not None:
                progress(step)
        if step == settings.steps:
            break
        x, y = step_inputs(data, shuffle, seeds, batches, step)
        for p in model.params.values():
            p.grad = None
        mse(model(x), y).mean(1).sum().backward()  # the sum over members keeps their gradients separate
        optimizer.step(settings.lr_scale(step))
    return zoo
