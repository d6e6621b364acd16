"""RunConfig: every field of a run, its default and its validation, and the named presets.

Per-member fields (`frac`, `lr`, `wd`, and the levers `grokfast_lamb`, `grokfast_alpha`,
`orthogonal_grad`, `init_scale`, `label_noise`, `fixed_weight_norm`) hold one value for all members
or a tuple of length E, where E = len(seeds). Validation happens once, in `__post_init__`, and raises
`ConfigError` with a one-line `field: message`; nothing else in grokscope re-checks a config.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any

from .checks import check_boolean, check_choice, check_integer, check_number, check_seed
from .errors import ConfigError, did_you_mean
from .operations import LAYOUTS, SPLIT_METHODS, check_modulus, get_operation, task_title

ARCHS = ("nanda", "power", "grokfast", "mlp", "mlp_stack")
ACT_FNS = ("relu", "gelu", "quadratic")
DTYPES = ("float32", "float64")
LOGIT_SETS = ("vocab", "answers")
INITS = ("nanda2023", "transformer_lens", "torch_default", "grokfast", "gromov")
DEVICES = ("auto", "cpu", "cuda")
POSITIONAL = ("learned", "sinusoidal", "none")
# "pre": x + attn(LN1(x)), x + mlp(LN2(x)), LN before the unembedding (ln_final). "pre_grokfast": ironjr/grokfast's
# Block, which writes `x = ln_1(x)` before `x = x + attn(x)`, so the stream after attention is LN1(x) + attn(LN1(x)).
NORMALIZATIONS = ("none", "post", "pre", "pre_grokfast")
OPTIMIZERS = ("adamw", "adam", "sgd")
GROKFAST_FILTERS = ("none", "ema", "ma")
LOSSES = ("cross_entropy", "stablemax", "mse", "squared_error")
FEATURE_GROUPS = {"images": "pixels", "table": "features"}  # the operation groups the mlp_stack arch reads, and their layouts
# Fields that hold one value per member (field -> the RunConfig property giving all E values); the
# others are shared by the whole ensemble. Sweeps pack cells that differ only in these (and the seed).
# The fields that take one value or one per member, and the kind of their values.
PER_MEMBER_FIELDS: dict[str, type] = {"frac": float, "lr": float, "wd": float, "grokfast_alpha": float,
                                      "grokfast_lamb": float, "orthogonal_grad": bool, "init_scale": float,
                                      "label_noise": float, "fixed_weight_norm": bool}
# Other code's names for these fields (PyTorch's optimizers, the papers' scripts): an unknown field names its match.
FIELD_SYNONYMS = {"weight_decay": "wd", "learning_rate": "lr", "seed": "seeds", "steps": "max_steps",
                  "num_steps": "max_steps", "d_hidden": "d_mlp", "num_layers": "n_layers", "num_heads": "n_heads",
                  "frac_train": "frac", "modulus": "p"}
# The papers' defaults (Lee et al. 2024, ironjr/grokfast): lamb 2 for EMA, 5 for MA.
_GROKFAST_LAMB_DEFAULT = {"ema": 2.0, "ma": 5.0}

# The architecture's defaults (Nanda et al. 2023; openai/grok for Power et al. 2022; Gromov 2023).
_ARCH_DEFAULTS: dict[str, dict[str, Any]] = {
    "nanda": dict(layout="a b =", n_layers=1, d_model=128, n_heads=4, d_mlp=512, act_fn="relu",
                  normalization="none", positional="learned", use_biases=True, init="nanda2023"),
    "power": dict(layout="eos a op b = c eos", n_layers=2, d_model=128, n_heads=4, d_mlp=512, act_fn="relu",
                  normalization="post", positional="sinusoidal", use_biases=False, init="torch_default"),
    # ironjr/grokfast main.py's Decoder: nn.MultiheadAttention (Q/K/V/O biases), MLP nn.Linear with biases, a
    # bias-free head after a final LayerNorm, learned token and position nn.Embedding.
    "grokfast": dict(layout="a op b =", n_layers=2, d_model=128, n_heads=4, d_mlp=512, act_fn="gelu",
                     normalization="pre_grokfast", positional="learned", use_biases=True, init="grokfast"),
    "mlp": dict(layout="a b", n_layers=1, d_model=128, n_heads=1, d_mlp=512, act_fn="quadratic",
                normalization="none", positional="none", use_biases=False, init="gromov"),
    # Omnigrok's MNIST MLP (Liu et al. 2023): features -> d_mlp (n_layers hidden layers, ReLU) -> classes, nn.Linear's
    # default initialization (models/mlp_stack.py); d_model and n_heads are unused.
    "mlp_stack": dict(layout="pixels", n_layers=2, d_model=64, n_heads=1, d_mlp=200, act_fn="relu",
                      normalization="none", positional="none", use_biases=True, init="torch_default"),
}


def _per_member(name: str, value: Any, n_members: int) -> tuple[float, ...]:
    """Broadcast a scalar or check a per-member tuple; returns a tuple of length E."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n_members
    if len(values) != n_members:
        raise ConfigError(f"{name}: needs one value or one per member ({n_members}), got {len(values)}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(f"{name}: must be finite numbers, got {v!r}")
    return tuple(float(v) for v in values)


def _per_member_bool(name: str, value: Any, n_members: int) -> tuple[bool, ...]:
    """Broadcast a bool or check a per-member tuple of bools; returns a tuple of length E."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n_members
    if len(values) != n_members:
        raise ConfigError(f"{name}: needs one value or one per member ({n_members}), got {len(values)}")
    for v in values:
        if not isinstance(v, bool):
            raise ConfigError(f"{name}: must be true or false (or one per member), got {v!r}")
    return values


def parse_seeds(text: str) -> tuple[int, ...]:
    """Seeds from CLI text: `0`, `0-7` (inclusive range) or `1,5,9` (mixable: `0-3,10`)."""
    seeds: list[int] = []
    try:
        if not text.isascii():  # int() would read other scripts' digits ("١" is 1)
            raise ValueError
        for part in text.split(","):
            part = part.strip()
            if "-" in part[1:]:
                lo, hi = part.split("-", 1) if not part.startswith("-") else (part, "")
                start, stop = int(lo), int(hi)
                if stop < start:
                    raise ValueError
                seeds.extend(range(start, stop + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise ConfigError(f"seeds: expected N, A-B or a comma list of non-negative integers, got {text!r}") from None
    return tuple(seeds)


@dataclass(frozen=True)
class RunConfig:
    """One run: task, model, optimizer, schedule and device. E = len(seeds) members train together."""

    # task
    task: str = "x+y"
    p: int = 113
    frac: float | tuple[float, ...] = 0.3
    split: str = "counter"
    symmetric_split: bool = False
    seeds: tuple[int, ...] = (0,)
    parity_k: int = 3  # sparse parity: the hidden subset's size (p is the number of input bits)
    parity_examples: int = 2_000  # sparse parity: the task's pool of examples, split per member by frac
    # model (None: the architecture's default, see _ARCH_DEFAULTS)
    arch: str = "nanda"
    layout: str | None = None
    n_layers: int | None = None
    d_model: int | None = None
    n_heads: int | None = None
    d_mlp: int | None = None
    act_fn: str | None = None
    normalization: str | None = None
    positional: str | None = None
    use_biases: bool | None = None
    train_biases: bool = True
    init: str | None = None
    attention_rate: float = 1.0  # Zhong et al. 2023: 0 = constant (uniform) attention, 1 = ordinary
    # optimizer (AdamW with decoupled decay, Loshchilov & Hutter 2019)
    lr: float | tuple[float, ...] = 1e-3
    wd: float | tuple[float, ...] = 1.0
    beta1: float = 0.9
    beta2: float = 0.98
    eps: float = 1e-8
    warmup_steps: int = 10
    cooldown_frac: float = 0.0  # the learning rate falls linearly to 0 over this last share of max_steps
    batch_size: int | None = None
    # levers (docs/levers.md): optimizer, gradient filters, ⊥Grad, init scale
    optimizer: str = "adamw"  # "adam": coupled L2 decay (torch.optim.Adam); "sgd": torch.optim.SGD
    momentum: float = 0.0  # sgd only
    grokfast: str = "none"  # Lee et al. 2024: "ema" or "ma" gradient filter
    grokfast_alpha: float | tuple[float, ...] = 0.98
    grokfast_lamb: float | tuple[float, ...] | None = None  # None: 2 for ema, 5 for ma; 0 turns a member's filter off
    grokfast_window: int = 100
    grokfast_max_gib: float = 8.0  # Grokfast-MA's window (window copies of the gradients) is refused above this
    orthogonal_grad: bool | tuple[bool, ...] = False  # Prieto et al. 2025's ⊥Grad
    init_scale: float | tuple[float, ...] = 1.0  # Omnigrok's α: every initial parameter times α
    init_scale_biases: bool = True  # False: α multiplies the weights only (Omnigrok's code scales biases too)
    fixed_weight_norm: bool | tuple[bool, ...] = False  # Omnigrok: rescale to the initial norm after every step
    label_noise: float | tuple[float, ...] = 0.0  # fraction of training labels replaced by another class
    # loss
    loss: str = "cross_entropy"  # or "stablemax" (Prieto et al. 2025), "mse" (Omnigrok's MNIST), "squared_error" (task table)
    loss_dtype: str = "float64"
    param_dtype: str = "float32"
    logits_over: str = "vocab"
    # schedule
    max_steps: int = 50_000
    eval_every: int = 100
    eval_log_points: int = 100
    instruments: bool = True
    collapse_diagnostics: bool = True  # softmax-collapse measures at every evaluation (train/collapse.py)
    generalize_acc: float = 0.99
    patience: int = 1_000
    checkpoints: int = 60
    checkpoint_every: int = 0  # also a weights checkpoint every N steps (0: only the log-spaced ones)
    resume_every: int = 1_000
    # device
    device: str = "auto"
    tf32: bool = False
    cuda_graph: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.task, str):
            raise ConfigError(f"task: must be an operation name, got {self.task!r}")
        op = get_operation(self.task)
        object.__setattr__(self, "task", op.name)
        check_integer("p", self.p, 2)
        check_modulus(op, self.p)
        for name in ("symmetric_split", "train_biases", "tf32", "cuda_graph", "instruments", "collapse_diagnostics",
                     "init_scale_biases"):
            check_boolean(name, getattr(self, name))
        if self.use_biases is not None:
            check_boolean("use_biases", self.use_biases)
        for name in ("beta1", "beta2", "eps", "generalize_acc", "attention_rate", "cooldown_frac"):
            check_number(name, getattr(self, name))
        if not 0 <= self.attention_rate <= 1:
            raise ConfigError(f"attention_rate: must be in [0, 1], got {self.attention_rate}")
        if not 0 <= self.cooldown_frac <= 1:
            raise ConfigError(f"cooldown_frac: must be in [0, 1], got {self.cooldown_frac}")
        seeds = self.seeds
        if not isinstance(seeds, (tuple, list)) or not seeds:
            raise ConfigError(f"seeds: must be a non-empty list of non-negative integers, got {seeds!r}")
        for seed in seeds:
            check_seed("seeds", seed)
        object.__setattr__(self, "seeds", tuple(seeds))
        n = len(seeds)
        for name in ("frac", "lr", "wd"):
            values = _per_member(name, getattr(self, name), n)
            object.__setattr__(self, name, values[0] if len(set(values)) == 1 else values)
        if not all(0 < f < 1 for f in self.per_member("frac")):
            raise ConfigError(f"frac: must be in (0, 1), got {self.frac}")
        if not all(v > 0 for v in self.per_member("lr")):
            raise ConfigError(f"lr: must be positive, got {self.lr}")
        if not all(v >= 0 for v in self.per_member("wd")):
            raise ConfigError(f"wd: must be non-negative, got {self.wd}")
        check_choice("arch", self.arch, ARCHS)
        check_choice("split", self.split, SPLIT_METHODS)
        if self.layout is not None:
            check_choice("layout", self.layout, LAYOUTS)
        check_choice("act_fn", self.resolved("act_fn"), ACT_FNS)
        check_choice("normalization", self.resolved("normalization"), NORMALIZATIONS)
        check_choice("positional", self.resolved("positional"), POSITIONAL)
        check_choice("init", self.resolved("init"), INITS)
        check_choice("loss_dtype", self.loss_dtype, DTYPES)
        check_choice("param_dtype", self.param_dtype, DTYPES)
        check_choice("logits_over", self.logits_over, LOGIT_SETS)
        check_choice("device", self.device, DEVICES)
        self._check_levers(n)
        self._check_features(op)
        self._check_shapes()
        self._check_schedule()
        self._check_parity(op)
        if self.symmetric_split and not op.commutative:
            raise ConfigError(f"symmetric_split: only for commutative tasks; {op.name!r} is not commutative")
        self._check_split_sizes()
        self._check_grokfast_memory()

    def _check_levers(self, n: int) -> None:
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("grokfast", self.grokfast, GROKFAST_FILTERS)
        check_choice("loss", self.loss, LOSSES)
        check_number("momentum", self.momentum)
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum: must be in [0, 1), got {self.momentum}")
        if self.momentum != 0 and self.optimizer != "sgd":
            raise ConfigError(f"momentum: only for optimizer sgd (adam and adamw use beta1), got {self.momentum}")
        check_integer("grokfast_window", self.grokfast_window, 1)
        check_number("grokfast_max_gib", self.grokfast_max_gib)
        if not self.grokfast_max_gib > 0:
            raise ConfigError(f"grokfast_max_gib: must be positive, got {self.grokfast_max_gib}")
        names = ("grokfast_alpha", "init_scale", "label_noise") + (() if self.grokfast_lamb is None else ("grokfast_lamb",))
        for name in names:
            values = _per_member(name, getattr(self, name), n)
            object.__setattr__(self, name, values[0] if len(set(values)) == 1 else values)
        for name in ("orthogonal_grad", "fixed_weight_norm"):
            flags = _per_member_bool(name, getattr(self, name), n)
            object.__setattr__(self, name, flags[0] if len(set(flags)) == 1 else flags)
        if not all(0 <= a < 1 for a in self.per_member("grokfast_alpha")):
            raise ConfigError(f"grokfast_alpha: must be in [0, 1), got {self.grokfast_alpha}")
        if self.grokfast_lamb is not None and not all(v >= 0 for v in self.per_member("grokfast_lamb")):
            raise ConfigError(f"grokfast_lamb: must be non-negative (0 turns the filter off), got {self.grokfast_lamb}")
        if self.grokfast_lamb is not None and self.grokfast == "none":
            raise ConfigError("grokfast_lamb: set grokfast to ema or ma to use a gradient filter")
        if not all(v > 0 for v in self.per_member("init_scale")):
            raise ConfigError(f"init_scale: must be positive, got {self.init_scale}")
        if not all(0 <= v < 1 for v in self.per_member("label_noise")):
            raise ConfigError(f"label_noise: must be in [0, 1), got {self.label_noise}")

    def _check_parity(self, op) -> None:
        """Sparse parity is an MLP task on bit tokens; the bits layout belongs to it alone."""
        check_integer("parity_k", self.parity_k, 1)
        check_integer("parity_examples", self.parity_examples, 4)
        if op.group != "parity":
            if self.layout == "bits":
                raise ConfigError(f"layout: 'bits' is sparse parity's; task {op.name!r} uses {', '.join(l for l in LAYOUTS if l != 'bits')}")
            return
        if self.arch != "mlp":
            raise ConfigError(f"arch: task {op.name!r} trains the mlp arch (an MLP on its bits), got {self.arch!r}")
        if self.resolved("layout") != "bits":
            raise ConfigError(f"layout: task {op.name!r} reads its bits (layout 'bits'), got {self.layout!r}")
        if not self.parity_k <= self.p:
            raise ConfigError(f"parity_k: the hidden subset needs 1 <= k <= n = {self.p}, got {self.parity_k}")
        if self.p <= 20 and self.parity_examples > 2**self.p:
            raise ConfigError(f"parity_examples: at most 2^{self.p} = {2**self.p} distinct inputs of {self.p} bits, "
                              f"got {self.parity_examples}")

    def _check_features(self, op) -> None:
        """A feature task (digits, a stored table) trains the mlp_stack arch on its columns, and mlp_stack reads
        nothing else; a stored table's scalar target takes the squared error, and only it does."""
        if (op.group in FEATURE_GROUPS) != (self.arch == "mlp_stack"):
            if self.arch == "mlp_stack":
                raise ConfigError(f"arch: mlp_stack reads a feature matrix (tasks digits, table), not the tokens of {op.name!r}")
            raise ConfigError(f"arch: task {op.name!r} trains the mlp_stack arch (an MLP on its columns), got {self.arch!r}")
        layout = self.resolved("layout")
        for group, own in FEATURE_GROUPS.items():
            if (layout == own) != (op.group == group):
                raise ConfigError(f"layout: {own!r} belongs to task {group if group == 'table' else 'digits'} (arch "
                                  f"mlp_stack); task {op.name!r} with arch {self.arch!r} got {layout!r}")
        if self.arch == "mlp_stack" and self.resolved("act_fn") == "quadratic":
            raise ConfigError("act_fn: the mlp_stack arch takes relu or gelu, got 'quadratic'")
        if (op.group == "table") != (self.loss == "squared_error"):
            if self.loss == "squared_error":
                raise ConfigError(f"loss: squared_error fits a stored table's scalar target (task table); task {op.name!r} "
                                  "has classes: use cross_entropy, stablemax or mse")
            raise ConfigError(f"loss: task {op.name!r} has a scalar target; use squared_error, got {self.loss!r}")

    def n_examples(self) -> int:
        """Rows of the task's table: every (a, b) pair of an operation, or sparse parity's pool (a stored table's
        rows are in its file, so it has no count here: ConfigError)."""
        op = get_operation(self.task)
        if op.group == "table":
            raise ConfigError("task: a stored table's rows are in its run directory (table.safetensors), not in the config")
        return self.parity_examples if op.group == "parity" else op.n_pairs(self.p)  # digits: its 1,797 images

    def _check_grokfast_memory(self) -> None:
        """Grokfast-MA holds `grokfast_window` copies of every trainable gradient of every member."""
        if self.grokfast != "ma":
            return
        # models import config: resolved here, at call time
        from .models.init import n_params as count_params
        from .models.spec import ModelSpec

        n_params = count_params(ModelSpec.from_config(self))
        needed = self.grokfast_window * self.n_members * n_params * (8 if self.param_dtype == "float64" else 4) / 2**30
        if needed > self.grokfast_max_gib:
            raise ConfigError(f"grokfast_window: {self.grokfast_window} copies of {self.n_members} x {n_params:,} "
                              f"gradients need {needed:.1f} GiB, over grokfast_max_gib ({self.grokfast_max_gib:g}); "
                              f"use a smaller window, fewer members, grokfast ema or a larger grokfast_max_gib")

    def _check_split_sizes(self) -> None:
        """Every member needs a training pair and a held-out pair (a symmetric split may take one pair more); a
        stored table's eras are checked when it is read (store/table.py)."""
        if get_operation(self.task).group == "table":
            return
        n_pairs = self.n_examples()
        overshoot = 1 if self.symmetric_split else 0
        for frac in self.per_member("frac"):
            n_train = int(frac * n_pairs)
            if n_train < 1 or n_train + overshoot > n_pairs - 1:
                raise ConfigError(f"frac: {frac} of the {n_pairs} examples of {task_title(self.task, self.p)} leaves "
                                  f"{n_train} for training; need at least 1 pair on each side")

    def _check_shapes(self) -> None:
        for name in ("n_layers", "d_model", "n_heads", "d_mlp"):
            check_integer(name, self.resolved(name), 1)
        if self.d_model_resolved % self.n_heads_resolved:
            raise ConfigError(f"n_heads: must divide d_model ({self.d_model_resolved}), got {self.n_heads_resolved}")
        layout = self.resolved("layout")
        if self.arch == "mlp_stack":
            for name in ("normalization", "positional"):
                if self.resolved(name) != "none":
                    raise ConfigError(f"{name}: the mlp_stack arch has none; use 'none', got {self.resolved(name)!r}")
            if self.resolved("init") != "torch_default":
                raise ConfigError(f"init: the mlp_stack arch draws nn.Linear's default (torch_default), got {self.resolved('init')!r}")
            if not self.resolved("use_biases") or not self.train_biases:
                raise ConfigError("use_biases: the mlp_stack arch's layers all have trained biases (nn.Linear's); "
                                  "leave use_biases and train_biases true")
            return
        if self.arch == "mlp" and layout not in ("a b", "bits"):
            raise ConfigError(f"layout: the mlp arch reads 'a b' (or sparse parity's 'bits') only, got {layout!r}")
        if self.arch not in ("mlp", "nanda") and layout == "a b":  # nanda on "a b": Zhong et al. 2023's inputs
            raise ConfigError(f"layout: the {self.arch} arch needs a layout ending in '=', got {layout!r}")
        if self.arch == "mlp" and self.resolved("positional") != "none":
            raise ConfigError("positional: the mlp arch concatenates its operands and has no positions; use 'none'")
        if layout == "eos a op b = c eos" and self.logits_over != "vocab":
            raise ConfigError("logits_over: the 'eos a op b = c eos' layout predicts <eos> too; use 'vocab'")
        if self.arch == "nanda" and self.resolved("normalization") != "none":
            raise ConfigError("normalization: the nanda arch has no LayerNorm; use arch 'power' or 'grokfast' for "
                              f"{self.resolved('normalization')!r}")
        if self.arch == "mlp" and self.resolved("normalization") != "none":
            raise ConfigError(f"normalization: the mlp arch has no LayerNorm; use 'none', got {self.resolved('normalization')!r}")
        if self.arch == "mlp" and self.resolved("init") == "grokfast":
            raise ConfigError("init: 'grokfast' draws a transformer's modules; the mlp arch takes gromov or transformer_lens")

    def _check_schedule(self) -> None:
        for name in ("max_steps", "eval_every", "checkpoints", "resume_every"):
            check_integer(name, getattr(self, name), 1)
        for name in ("warmup_steps", "patience", "eval_log_points", "checkpoint_every"):
            check_integer(name, getattr(self, name), 0)
        if self.batch_size is not None:
            check_integer("batch_size", self.batch_size, 1)
        if not 0 < self.generalize_acc <= 1:
            raise ConfigError(f"generalize_acc: must be in (0, 1], got {self.generalize_acc}")
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be in [0, 1), got {getattr(self, name)}")
        if not self.eps > 0:
            raise ConfigError(f"eps: must be positive, got {self.eps}")

    # derived values
    def resolved(self, name: str) -> Any:
        """A model field's value, or the architecture's default where it is None."""
        value = getattr(self, name)
        if value is None and name == "layout" and get_operation(self.task).group == "parity":
            return "bits"
        if value is None and name == "layout" and get_operation(self.task).group in FEATURE_GROUPS:
            return FEATURE_GROUPS[get_operation(self.task).group]
        return _ARCH_DEFAULTS[self.arch][name] if value is None else value

    @property
    def n_members(self) -> int:
        return len(self.seeds)

    def per_member(self, name: str) -> tuple:
        """A per-member field (PER_MEMBER_FIELDS) as a tuple of length E: a scalar broadcast, a list checked.
        grokfast_lamb resolves to the filter's published default where unset (0 where no filter is chosen)."""
        value = getattr(self, name)
        if name == "grokfast_lamb" and value is None:
            value = _GROKFAST_LAMB_DEFAULT.get(self.grokfast, 0.0)
        check = _per_member_bool if PER_MEMBER_FIELDS[name] is bool else _per_member
        return check(name, value, self.n_members)

    @property
    def d_model_resolved(self) -> int:
        return self.resolved("d_model")

    @property
    def n_heads_resolved(self) -> int:
        return self.resolved("n_heads")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RunConfig":
        """Build from a dict (a config.json, a TOML table); unknown keys are rejected by name."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            hint = f" (did you mean {FIELD_SYNONYMS[unknown[0]]!r}?)" if unknown[0] in FIELD_SYNONYMS else \
                did_you_mean(unknown[0], known)
            raise ConfigError(f"{unknown[0]}: unknown config field{hint}; known fields: {', '.join(sorted(known))}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)

    def replace(self, **changes: Any) -> "RunConfig":
        """A copy with fields changed, validated again (unknown names rejected by name)."""
        return RunConfig.from_dict({**self.to_dict(), **changes})

    def with_seed(self, seed: int) -> "RunConfig":
        """This one-member config with another seed: only the seed is checked (no other field's validity depends on
        which seed a member has), so a sweep of 10^6 cells validates each setting once, not each cell."""
        if self.n_members != 1:
            raise ConfigError(f"seeds: with_seed needs a one-member config, this one has {self.n_members}")
        check_seed("seed", seed)
        config = copy.copy(self)
        object.__setattr__(config, "seeds", (seed,))
        return config

    def member(self, e: int) -> "RunConfig":
        """Member e as a one-member config (its seed and every per-member field's value), as if it trained alone."""
        one = {name: values[e] for name, values in self.per_member_values().items()}
        return self.replace(seeds=(self.seeds[e],), **one)

    def per_member_values(self) -> dict[str, tuple]:
        """Every per-member field (PER_MEMBER_FIELDS) as a tuple of length E; grokfast_lamb only where set."""
        values = {name: self.per_member(name) for name in PER_MEMBER_FIELDS}
        if self.grokfast_lamb is None:  # unset stays unset: the filter's published default
            del values["grokfast_lamb"]
        return values

    def table(self):
        """The task's full operation table (a stored table is read from its run directory: store/table.py)."""
        from .tasks import (  # torch: kept out of the config's import
            build_digits_table,
            build_parity_table,
            build_table,
        )

        if get_operation(self.task).group == "table":
            raise ConfigError("task: a stored table is read from its run directory (store.table.load_table), "
                              "not built from the config")
        if get_operation(self.task).group == "images":
            return build_digits_table()
        if get_operation(self.task).group == "parity":
            return build_parity_table(self.p, self.parity_k, self.parity_examples)
        return build_table(self.task, self.p)
