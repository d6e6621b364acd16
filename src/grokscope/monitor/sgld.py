"""SGLD around w* under the localized tempered posterior, every chain of every member in one program.

The sampler of Lau, Furman, Wang, Murfet, Wei 2023 ("Quantifying degeneracy in singular models via
the learning coefficient"; Welling & Teh 2011 without the step-size schedule):

    w ← w − (ε/2) (nβ ∇L_B(w) + γ (w − w*)) + N(0, ε I)

L_B is the mean loss of a minibatch, nβ the inverse temperature times n, γ the localization
strength. devinterp 1.3.2 (`optim/sgld.py`, `SGLD.step`) applies the same update: dw = nβ·grad +
γ(w − w0), w −= (lr/2)·dw, w += sqrt(lr)·N(0, 1).

Randomness is counter-based (grokscope.counter_rng): chain c's minibatch order and noise are pure
functions of (seed_c, step), so C chains in one call give exactly what C one-chain calls give, and
every chain has its own batch order (a seeded DataLoader shared by devinterp's chains gives every
chain the same order). Members share chain seeds: member e's estimate does not depend on the pack,
and estimates at different checkpoints use common random numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from ..counter_rng import random_keys
from ..errors import ConfigError
from .inputs import TrainingData
from .stacked import Params, PerExampleLoss, StackedModel, replicate

# counter_rng streams, far from the trainer's (1, 2, 3, 1000 + epoch).
NOISE_STREAM = 1 << 40  # + step
BATCH_STREAM = 1 << 41  # + epoch


@dataclass(frozen=True)
class SGLDSettings:
    """SGLD settings for the LLC. Defaults: those that worked on a small grokking run (reference,
    "The local learning coefficient on a small grokking run": x+y mod 59, 50% train, n ≈ 1,740):
    measured there, not universal. Calibrate (`calibrate_llc`) on a new model or data set.

    epsilon: step size ε. nbeta: nβ (the reference found devinterp's grokking example, nβ 2, and
    the theory's n/ln n both fail there; devinterp's default nβ is batch/ln(batch), not n/ln n).
    gamma: localization γ. batch_size: minibatch size (None: the full training set; capped at n).
    burn_in: steps discarded. draws: steps averaged (one draw per step).
    """

    epsilon: float = 1e-3
    nbeta: float = 20.0
    gamma: float = 100.0
    batch_size: int | None = 256
    burn_in: int = 50
    draws: int = 200

    def __post_init__(self) -> None:
        for name in ("epsilon", "nbeta"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}: must be > 0, got {getattr(self, name)}")
        if not self.gamma >= 0:
            raise ConfigError(f"gamma: must be >= 0, got {self.gamma}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(f"batch_size: must be >= 1 or None (full batch), got {self.batch_size}")
        if self.burn_in < 0:
            raise ConfigError(f"burn_in: must be >= 0, got {self.burn_in}")
        if self.draws < 1:
            raise ConfigError(f"draws: must be >= 1, got {self.draws}")

    @property
    def steps(self) -> int:
        return self.burn_in + self.draws


def standard_normal(seeds: torch.Tensor, stream: int, n: int) -> torch.Tensor:
    """[R, n] float64 N(0, 1) draws, row r a pure function of (seeds[r], stream) (Box–Muller on SplitMix64 keys)."""
    half = (n + 1) // 2
    keys = random_keys(seeds, stream, 2 * half)  # [R, 2 half]
    uniform = ((keys >> 11) & ((1 << 53) - 1)).double().add_(0.5).mul_(2.0**-53)  # (0, 1), 53 bits
    radius = torch.sqrt(-2.0 * torch.log(uniform[:, :half]))
    angle = (2 * math.pi) * uniform[:, half:]
    return torch.cat((radius * torch.cos(angle), radius * torch.sin(angle)), dim=1)[:, :n]


class ChainBatches:
    """Row r's minibatch at each step: its own permutation of 0..n-1 per epoch, from (seeds[r], epoch).

    Batches of `batch` examples without replacement within an epoch of n // batch steps (the last
    n mod batch examples of a permutation are left out of that epoch, so every batch has the same size).
    """

    def __init__(self, seeds: torch.Tensor, n: int, batch: int):
        self.seeds, self.n, self.batch = seeds, n, batch
        self.per_epoch = n // batch
        self._epoch, self._order = -1, None

    def at(self, step: int) -> torch.Tensor:
        """[R, batch] int64 example indices of `step`."""
        if self.batch == self.n:  # full batch: no order needed
            return torch.arange(self.n, device=self.seeds.device).expand(len(self.seeds), -1)
        epoch, offset = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            keys = random_keys(self.seeds, BATCH_STREAM + epoch, self.n)  # [R, n]
            self._order, self._epoch = torch.argsort(keys, dim=1, stable=True), epoch
        return self._order[:, offset * self.batch:(offset + 1) * self.batch]


def sgld_loss_traces(model: StackedModel, data: TrainingData, loss: PerExampleLoss, settings: SGLDSettings,
                     seeds: Sequence[int]) -> torch.Tensor:
    """[E, C, burn_in + draws] float64 minibatch loss of every chain at each step, before the step's update.

    All E·C chains move together: parameters are [E·C, ...] (row e·C + c is member e's chain c) and
    each step is one batched forward and backward. The value recorded at step t is L_B(w_t) on the
    batch the step then uses, as devinterp records it (an unbiased estimate of L_n(w_t)).

    Args:
        model: the stacked model; its parameters() are w*, [E, ...].
        data: the training sets, [E, N, ...].
        loss: per_example_loss(outputs [R, B, ...], labels [R, B, ...]) -> [R, B].
        settings: ε, nβ, γ, batch size, burn-in, draws.
        seeds: one per chain (C = len(seeds)); chain c of every member uses seeds[c].
    """
    if len(seeds) < 1:
        raise ConfigError("seeds: need at least one chain seed")
    center = model.parameters()  # [E, ...]
    n_members, n_chains = model.n_members, len(seeds)
    if data.n_members != n_members:
        raise ConfigError(f"train_inputs: {data.n_members} members' training sets for a model of {n_members} members")
    device = next(iter(center.values())).device
    center_rows = replicate(center, n_chains)  # [R, ...]
    w = {name: t.clone().requires_grad_(True) for name, t in center_rows.items()}
    sizes = [t[0].numel() for t in center_rows.values()]
    row_seeds = torch.tensor(list(seeds), dtype=torch.int64, device=device).repeat(n_members)  # [R]
    members = torch.arange(n_members, device=device).repeat_interleave(n_chains)  # [R]
    batch = data.n if settings.batch_size is None else min(settings.batch_size, data.n)
    batches = ChainBatches(row_seeds, data.n, batch)
    eps, nbeta, gamma = settings.epsilon, settings.nbeta, settings.gamma
    trace = torch.empty(len(row_seeds), settings.steps, dtype=torch.float64, device=device)
    for step in range(settings.steps):
        x, y = data.rows(members, batches.at(step))  # [R, B, ...]
        batch_loss = loss(model.outputs(w, x), y).mean(1)  # [R]
        grads = torch.autograd.grad(batch_loss.sum(), list(w.values()))
        noise = standard_normal(row_seeds, NOISE_STREAM + step, sum(sizes))  # [R, D]
        with torch.no_grad():
            for (name, p), g, xi in zip(w.items(), grads, noise.split(sizes, dim=1)):
                drift = nbeta * g + gamma * (p - center_rows[name])
                p.add_(drift, alpha=-eps / 2).add_(xi.view_as(p).to(p.dtype), alpha=math.sqrt(eps))
        trace[:, step] = batch_loss.detach()
    return trace.view(n_members, n_chains, settings.steps)


def n_sampled(params: Params) -> int:
    """Parameters sampled per member (the d of the bound λ ≤ d/2)."""
    return sum(t[0].numel() for t in params.values())
