"""DigitsConfig: the Omnigrok digits experiment (an MLP on scikit-learn's 8×8 digits), validated; its presets.

Liu, Michaud, Tegmark 2023 ("Omnigrok: Grokking Beyond Algorithmic Data", §3.1, Fig. 2) show
grokking on MNIST: a width-200 depth-3 ReLU MLP on 1,000 training images, MSE loss against one-hot
targets, AdamW, with every initial parameter multiplied by α = 8, fits its training set early and
generalizes much later, while α = 1 generalizes at once. Here the images are scikit-learn's
bundled `load_digits` (1,797 images of 8×8 pixels, no download), so the MLP is 64-200-200-10.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from ..checks import check_boolean, check_choice, check_integer, check_number
from ..errors import ConfigError

Loss = Literal["mse", "cross_entropy"]
LOSSES: tuple[str, ...] = ("mse", "cross_entropy")
DEVICES: tuple[str, ...] = ("cpu", "cuda", "auto")
DTYPES: tuple[str, ...] = ("float32", "float64")
N_IMAGES = 1797  # sklearn.datasets.load_digits


@dataclass(frozen=True)
class DigitsConfig:
    """One digits run: E = len(seeds) members train together, each on its own split and batch order.

    seeds: one member per seed (its split, initialization and batch order derive from it only).
    init_scale: α, every initial parameter (weights and biases, as Omnigrok's code) times α; one
        value or a tuple of length E. scale_biases: False multiplies the weight matrices only.
    weight_decay, lr: AdamW's decoupled decay and step size; one value or a tuple of length E.
    batch_size: minibatch per step, drawn without replacement per epoch from the member's own order.
    n_train: training images per member (the rest of the 1,797 are its test set).
    d_hidden: width of the two hidden layers.
    max_steps: optimizer steps. eval_every: steps between evaluations (train and test loss and
        accuracy on every image). checkpoint_every: steps between weights checkpoints (each also
        an evaluation). monitor_every: steps between the cheap monitor measures (weight norm,
        effective LR, effective rank; on checkpoints). expensive_every: steps between the LLC and
        the prequential code. None: no monitor at all.
    loss: "mse" (Omnigrok's: mean over the 10 outputs of the squared error to the one-hot target)
        or "cross_entropy".
    dtype: parameter dtype (Omnigrok's notebook trains in float64). device: cpu, cuda or auto.
    """

    seeds: tuple[int, ...] = (0, 0)
    init_scale: float | tuple[float, ...] = (8.0, 1.0)
    weight_decay: float | tuple[float, ...] = 0.1
    lr: float | tuple[float, ...] = 1e-3
    scale_biases: bool = True
    batch_size: int = 200
    n_train: int = 1000
    d_hidden: int = 200
    max_steps: int = 10_000
    eval_every: int = 100
    checkpoint_every: int = 500
    monitor_every: int | None = 500
    expensive_every: int | None = 1000
    loss: Loss = "mse"
    dtype: str = "float32"
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not isinstance(self.seeds, tuple) or not self.seeds:
            raise ConfigError(f"seeds: must be a non-empty tuple of non-negative integers, got {self.seeds!r}")
        for seed in self.seeds:
            check_integer("seeds", seed, 0)
        for name, low in (("init_scale", 0.0), ("lr", 0.0)):
            for v in self._values(name):
                if not v > low:
                    raise ConfigError(f"{name}: must be > 0, got {v}")
        for v in self._values("weight_decay"):
            if not v >= 0:
                raise ConfigError(f"weight_decay: must be >= 0, got {v}")
        check_boolean("scale_biases", self.scale_biases)
        for name in ("batch_size", "n_train", "d_hidden", "max_steps", "eval_every", "checkpoint_every"):
            check_integer(name, getattr(self, name), 1)
        if self.n_train >= N_IMAGES:
            raise ConfigError(f"n_train: must be below {N_IMAGES} (the rest is the test set), got {self.n_train}")
        if self.batch_size > self.n_train:
            raise ConfigError(f"batch_size: must be at most n_train ({self.n_train}), got {self.batch_size}")
        for name in ("monitor_every", "expensive_every"):
            value = getattr(self, name)
            if value is not None:
                check_integer(name, value, 1)
            if value is not None and value % self.checkpoint_every:
                raise ConfigError(f"{name}: must be a multiple of checkpoint_every ({self.checkpoint_every}), got {value}")
        check_choice("loss", self.loss, LOSSES)
        check_choice("dtype", self.dtype, DTYPES)
        check_choice("device", self.device, DEVICES)

    def _values(self, name: str) -> tuple[float, ...]:
        """The field's per-member values, checked: one number, or a tuple of E numbers."""
        value = getattr(self, name)
        values = value if isinstance(value, tuple) else (value,)
        if not values:
            raise ConfigError(f"{name}: must be a number or a tuple of {self.n_members} numbers, got {value!r}")
        for v in values:
            check_number(name, v)
        if isinstance(value, tuple) and len(value) not in (1, self.n_members):
            raise ConfigError(f"{name}: {len(value)} values for {self.n_members} members (seeds); give 1 or {self.n_members}")
        return tuple(float(v) for v in values)

    @property
    def n_members(self) -> int:
        return len(self.seeds)

    def per_member(self, name: str) -> tuple[float, ...]:
        """(E,) values of a per-member field (init_scale, weight_decay, lr)."""
        values = self._values(name)
        return values * self.n_members if len(values) == 1 else values

    @property
    def n_test(self) -> int:
        return N_IMAGES - self.n_train

    def replace(self, **changes: Any) -> "DigitsConfig":
        """A validated copy with `changes` (unknown fields are refused by name)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ConfigError(f"{unknown[0]}: not a digits config field; fields: {', '.join(f.name for f in dataclasses.fields(self))}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DigitsConfig":
        """From `to_dict` output (config.json): lists become tuples; unknown keys are refused by name."""
        fixed = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls().replace(**fixed)


# Omnigrok's MNIST notebook (KindXiaoming/Omnigrok mnist/grokking/mnist-grokking.ipynb) trains α = 8 with
# weight decay 0.01 for 100k steps; the measurement (α = 8, decay 0.1: test 0.58 at 3k steps,
# 0.98 at 10k) fits a CPU budget, so the paper-scale preset uses decay 0.1 and 10k steps.
PRESETS: dict[str, DigitsConfig] = {
    "omnigrok-digits": DigitsConfig(seeds=(0, 1, 2, 0, 1, 2), init_scale=(8.0, 8.0, 8.0, 1.0, 1.0, 1.0),
                                    weight_decay=0.1, max_steps=10_000, eval_every=100, checkpoint_every=500,
                                    monitor_every=500, expensive_every=1000),
    # Shows the effect in well under a minute on a CPU: lr 2e-3 halves the wait (docs/digits.md, measured accuracies).
    "omnigrok-digits-quick": DigitsConfig(seeds=(0, 1, 0, 1), init_scale=(8.0, 8.0, 1.0, 1.0), weight_decay=0.1, lr=2e-3,
                                          max_steps=3000, eval_every=100, checkpoint_every=500, monitor_every=500,
                                          expensive_every=1500),
}


def get_preset(name: str) -> DigitsConfig:
    if name not in PRESETS:
        raise ConfigError(f"preset: unknown {name!r}; choose from {', '.join(PRESETS)}")
    return PRESETS[name]
