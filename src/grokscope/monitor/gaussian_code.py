"""Prequential description length of real-valued targets under a Gaussian code, and a ridge probe to fit it.

The K-class code of `prequential.py` sends labels from a finite alphabet. A real target y has no
finite alphabet: it is sent to a stated precision q (the quantum), and a density p codes the bin of
width q around y in −log2(p(y)·q) bits, up to O(q²) (Rissanen 1978, 1986: the code length of data
quantized to precision q; Grünwald 2007, §3.1). Here p is Gaussian: each block after the first is sent
with N(μ_s(x), v_s), μ_s the prediction of a learner fit on the prefix only and v_s the prefix's residual
variance under that learner (the prequential plug-in code, Dawid 1984; Blier & Ollivier 2018, §2.3, for
the block-wise version). The quantum adds n·log2(1/q) bits to every code of the same data, so it shifts
all models equally and only the sum is reported; the first block, sent with N(0, prior_var) before any
example is seen, is also the same for every model of a data set.

Unit: bits (log base 2), as prequential.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from ..counter_rng import random_permutations
from ..errors import ConfigError
from .features import Features
from .inputs import TrainingData, per_member
from .prequential import (
    SHUFFLE_STREAM,
    VOITA_TITOV_FRACTIONS,
    OnlineCode,
    PrequentialLength,
    block_boundaries,
)

# predict(inputs [E, m, ...]) -> [E, m] predicted means.
MeanPredictor = Callable[[torch.Tensor], torch.Tensor]
# fit(prefix_inputs [E, t, ...], prefix_targets [E, t]) -> a mean predictor trained on that prefix only.
RegressionFit = Callable[[torch.Tensor, torch.Tensor], MeanPredictor]
DEFAULT_QUANTUM = 1e-3  # targets sent to 1e-3 of their unit: bits = −log2 density + log2(1000) ≈ 9.97 per value


def gaussian_bits(targets: torch.Tensor, means: torch.Tensor, variances: torch.Tensor, quantum: float) -> torch.Tensor:
    """[E] Σ_i −log2(N(y_i; μ_i, v)·q) over each member's targets [E, m], means [E, m], variance v [E]."""
    v = variances[:, None]
    nats = 0.5 * torch.log(2 * math.pi * v) + (targets - means).square() / (2 * v) - math.log(quantum)  # [E, m]
    return nats.sum(1) / math.log(2)


def gaussian_online_code_length(data: TrainingData, fit: RegressionFit, *, order: torch.Tensor,
                                fractions: Sequence[float] = VOITA_TITOV_FRACTIONS, quantum: float = DEFAULT_QUANTUM,
                                prior_var: float = 1.0) -> OnlineCode:
    """Prequential Gaussian code length, in bits, of each member's real targets sent in `order`.

    bits = Σ_{i < t_1} −log2(N(y_i; 0, prior_var)·q)
           + Σ_{s≥1} Σ_{i ∈ [t_s, t_{s+1})} −log2(N(y_i; μ_s(x_i), v_s)·q),
    μ_s fit on examples [0, t_s) and v_s = (Σ_{j < t_s} (y_j − μ_s(x_j))² + prior_var) / (t_s + 1): the prefix's
    residual variance with prior_var as one pseudo-observation, so that a one-example prefix (or a learner that
    interpolates its prefix) does not code the next block with zero variance.

    Args:
        data: inputs [E, N, ...], targets (labels) [E, N] real.
        fit: fit(prefix_inputs [E, t, ...], prefix_targets [E, t]) -> predict(inputs [E, m, ...]) -> [E, m].
        order: [E, N] int64, each row a permutation: the order member e's examples are sent in.
        fractions: block ends as fractions of N (default Voita & Titov's).
        quantum: q, the precision the targets are sent to (in the targets' unit).
        prior_var: the variance of the first block's code (mean 0) and of the pseudo-observation.
    """
    if not quantum > 0:
        raise ConfigError(f"quantum: must be > 0, got {quantum}")
    if not prior_var > 0:
        raise ConfigError(f"prior_var: must be > 0, got {prior_var}")
    if data.labels.dim() != 2 or not data.labels.is_floating_point():
        raise ConfigError(f"train_labels: a Gaussian code needs real targets [E, N], got {data.labels.dtype} "
                          f"{list(data.labels.shape)}")
    index = order.reshape(*order.shape, *(1,) * (data.inputs.dim() - 2)).expand(*order.shape, *data.inputs.shape[2:])
    inputs = data.inputs.gather(1, index)  # [E, N, ...] in sending order
    targets = data.labels.gather(1, order).double()  # [E, N]
    ends = block_boundaries(data.n, fractions)
    n_members = data.n_members
    prior = torch.full((n_members,), prior_var, dtype=torch.float64, device=targets.device)
    blocks = [gaussian_bits(targets[:, :ends[0]], torch.zeros_like(targets[:, :ends[0]]), prior, quantum)]
    for start, stop in zip(ends[:-1], ends[1:]):
        predict = fit(inputs[:, :start], targets[:, :start])
        with torch.no_grad():
            fitted = predict(inputs[:, :start]).double()  # [E, t]
            means = predict(inputs[:, start:stop]).double()  # [E, m]
        if means.shape != targets[:, start:stop].shape:
            raise ConfigError(f"fit: its predictor must return [E, m] = {list(targets[:, start:stop].shape)}, "
                              f"got {list(means.shape)}")
        variance = ((targets[:, :start] - fitted).square().sum(1) + prior_var) / (start + 1)  # [E]
        blocks.append(gaussian_bits(targets[:, start:stop], means, variance, quantum))
    block_bits = torch.stack(blocks, dim=1)  # [E, S]
    # The reference code: every target with N(0, prior_var), the regression analogue of the uniform code.
    reference = gaussian_bits(targets, torch.zeros_like(targets), prior, quantum)
    return OnlineCode(block_bits.sum(1), block_bits, tuple(ends), float(reference.mean()))


def gaussian_prequential_length(data: TrainingData, fit: RegressionFit, *, time_order: torch.Tensor | None = None,
                                seed: int = 0, fractions: Sequence[float] = VOITA_TITOV_FRACTIONS,
                                quantum: float = DEFAULT_QUANTUM, prior_var: float = 1.0) -> PrequentialLength:
    """The Gaussian prequential code in a seeded shuffled order and (given time_order) in time order.

    As prequential.prequential_description_length, for real targets: the shuffled order is the same
    counter_rng permutation of `seed` for every member; regime specificity = time-order bits − shuffled bits.

    Args:
        data: inputs [E, N, ...], targets [E, N]. fit: see gaussian_online_code_length.
        time_order: [N] or [E, N], each example's time. seed: of the shuffled order.
        fractions, quantum, prior_var: see gaussian_online_code_length.
    """
    n_members, n = data.n_members, data.n
    device = data.labels.device
    shuffle = random_permutations(torch.tensor([seed], dtype=torch.int64, device=device), SHUFFLE_STREAM, n)
    kwargs = dict(fractions=fractions, quantum=quantum, prior_var=prior_var)
    shuffled = gaussian_online_code_length(data, fit, order=shuffle.expand(n_members, n), **kwargs)
    if time_order is None:
        return PrequentialLength(shuffled, None, None)
    by_time = torch.argsort(per_member("time_order", time_order, n_members, n), dim=1, stable=True)
    timed = gaussian_online_code_length(data, fit, order=by_time, **kwargs)
    return PrequentialLength(shuffled, timed, timed.bits - shuffled.bits)


@dataclass(frozen=True)
class RidgeSettings:
    """penalty: λ in Σ (y − b − z·w)² + λ‖w‖², on features centred by the prefix mean and divided by the
    prefix's RMS (one scalar per member, as the linear probe): λ = 1 is one pseudo-example's worth of shrinkage
    per direction, enough to keep a 1–3 example prefix from interpolating. The bias is not penalized."""

    penalty: float = 1.0

    def __post_init__(self) -> None:
        if not self.penalty > 0:
            raise ConfigError(f"ridge penalty: must be > 0, got {self.penalty}")


def ridge_probe_fit(features: Features, settings: RidgeSettings = RidgeSettings()) -> RegressionFit:
    """fit(prefix_inputs [E, t, ...], prefix_targets [E, t]) -> predict(inputs) -> [E, m]: ridge regression on a
    checkpoint's frozen features, per member, in closed form (one batched solve of [E, d, d] normal equations).

    The regression counterpart of probe.linear_probe_fit (Voita & Titov's MDL probe with a Gaussian code): the code
    says how few examples a linear reader of the features needs to predict the training targets.

    Args:
        features: features(inputs [E, n, ...]) -> [E, n, d].
        settings: RidgeSettings.
    """

    def fit(prefix_inputs: torch.Tensor, prefix_targets: torch.Tensor) -> MeanPredictor:
        with torch.no_grad():
            f = features(prefix_inputs).double()  # [E, t, d]
        if f.dim() != 3 or f.shape[:2] != prefix_targets.shape:
            raise ConfigError(f"features: must be [E, t, d] matching targets {list(prefix_targets.shape)}, "
                              f"got {list(f.shape)}")
        y = prefix_targets.double()
        mean = f.mean(1, keepdim=True)  # [E, 1, d]
        scale = (f - mean).square().mean((1, 2), keepdim=True).sqrt()  # [E, 1, 1]
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        z = (f - mean) / scale  # [E, t, d]
        y_mean = y.mean(1, keepdim=True)  # [E, 1]
        d = z.shape[-1]
        gram = z.transpose(1, 2) @ z + settings.penalty * torch.eye(d, dtype=z.dtype, device=z.device)  # [E, d, d]
        weight = torch.linalg.solve(gram, z.transpose(1, 2) @ (y - y_mean)[..., None])  # [E, d, 1]

        def predict(inputs: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                z_new = (features(inputs).double() - mean) / scale  # [E, m, d]
                return (z_new @ weight)[..., 0] + y_mean  # [E, m]

        return predict

    return fit
