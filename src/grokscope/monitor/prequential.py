"""Prequential (online) description length of the training labels (Blier & Ollivier 2018; Voita & Titov 2020).

The labels are sent block by block: the first block with a uniform code over the K classes, each
later block with the model fit on everything sent before it. The total, in bits, is short when a
learner extracts from few examples what predicts the rest: a compressing learner beats a memorizing
one, which pays about log2 K for every example it has not seen.

Unit: bits throughout (log base 2), as both papers report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from ..counter_rng import random_permutations
from ..errors import ConfigError
from .inputs import TrainingData, per_member

# Voita & Titov 2020 (online code): blocks end at 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.25, 12.5, 25, 50, 100% of the data.
VOITA_TITOV_FRACTIONS = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.0625, 0.125, 0.25, 0.5, 1.0)
SHUFFLE_STREAM = 1 << 42  # counter_rng stream of the shuffled order

# predict(inputs [E, m, ...]) -> [E, m, ..., K] log-probabilities (or logits: they are log-softmaxed).
Predictor = Callable[[torch.Tensor], torch.Tensor]
# fit(prefix_inputs [E, t, ...], prefix_labels [E, t, ...]) -> a predictor trained on that prefix only.
Fit = Callable[[torch.Tensor, torch.Tensor], Predictor]


def block_boundaries(n: int, fractions: Sequence[float] = VOITA_TITOV_FRACTIONS) -> list[int]:
    """Block ends t_1 < t_2 < ... < t_S = n: int(f·n) for each fraction, at least 1, duplicates dropped."""
    if not fractions or any(not 0 < f <= 1 for f in fractions) or list(fractions) != sorted(fractions):
        raise ConfigError(f"fractions: must be increasing values in (0, 1], got {list(fractions)}")
    ends = sorted({max(1, int(f * n)) for f in fractions} | {n})
    return ends


@dataclass(frozen=True)
class OnlineCode:
    """Code length of one order. bits: [E] total; block_bits: [E, S] per block (the first uniform);
    boundaries: the S block ends; uniform_bits: what the uniform code alone costs (N·n_pos·log2 K)."""

    bits: torch.Tensor
    block_bits: torch.Tensor
    boundaries: tuple[int, ...]
    uniform_bits: float


def online_code_length(data: TrainingData, fit: Fit, *, n_classes: int, order: torch.Tensor,
                       fractions: Sequence[float] = VOITA_TITOV_FRACTIONS) -> OnlineCode:
    """Prequential code length, in bits, of each member's labels sent in `order`.

    bits = t_1 · n_pos · log2 K − Σ_{s≥1} Σ_{i ∈ [t_s, t_{s+1})} log2 p_s(y_i | x_i), with p_s fit
    on examples [0, t_s) (Blier & Ollivier 2018, prequential code; Voita & Titov 2020, online code). n_pos is the
    number of label positions per example (1 for one class per example).

    Args:
        data: inputs [E, N, ...], labels [E, N, ...] int64 in 0..K-1.
        fit: fit(prefix_inputs [E, t, ...], prefix_labels [E, t, ...]) -> predict; a fresh model per block.
        n_classes: K, the size of the label alphabet (the uniform code's).
        order: [E, N] int64, each row a permutation: the order member e's examples are sent in.
        fractions: block ends as fractions of N (default Voita & Titov's).
    """
    inputs = data.inputs.gather(1, _expand_index(order, data.inputs))  # [E, N, ...] in sending order
    labels = data.labels.gather(1, _expand_index(order, data.labels))
    ends = block_boundaries(data.n, fractions)
    positions = math.prod(labels.shape[2:])
    first = torch.full((data.n_members,), ends[0] * positions * math.log2(n_classes), dtype=torch.float64,
                       device=labels.device)
    blocks = [first]
    for start, stop in zip(ends[:-1], ends[1:]):
        predict = fit(inputs[:, :start], labels[:, :start])
        with torch.no_grad():
            scores = predict(inputs[:, start:stop])  # [E, m, ..., K]
        if scores.shape[:-1] != labels[:, start:stop].shape or scores.shape[-1] != n_classes:
            raise ConfigError(f"fit: its predictor must return [E, m, ..., K] = {list(labels[:, start:stop].shape)} + "
                              f"[{n_classes}], got {list(scores.shape)}")
        log_probs = scores.double().log_softmax(-1).gather(-1, labels[:, start:stop, ..., None]).squeeze(-1)
        blocks.append(-log_probs.flatten(1).sum(1) / math.log(2))  # [E] bits
    block_bits = torch.stack(blocks, dim=1)  # [E, S]
    return OnlineCode(block_bits.sum(1), block_bits, tuple(ends), data.n * positions * math.log2(n_classes))


def _expand_index(order: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """order [E, N] broadcast to values' trailing dims, for gather along dim 1."""
    return order.reshape(*order.shape, *(1,) * (values.dim() - 2)).expand(*order.shape, *values.shape[2:])


@dataclass(frozen=True)
class PrequentialLength:
    """shuffled: the code in a seeded random order; time: in time order (None without a time order);
    regime_specificity_bits: [E] time − shuffled (None without a time order)."""

    shuffled: OnlineCode
    time: OnlineCode | None
    regime_specificity_bits: torch.Tensor | None


def prequential_description_length(data: TrainingData, fit: Fit, *, n_classes: int,
                                   time_order: torch.Tensor | None = None, seed: int = 0,
                                   fractions: Sequence[float] = VOITA_TITOV_FRACTIONS) -> PrequentialLength:
    """Prequential description length of the training labels, in bits, in shuffled and in time order.

    Shuffled order: a permutation of 0..N-1 drawn from `seed` (counter_rng), the same for every
    member. Time order: examples sorted by `time_order` (stable). Regime specificity = bits in time
    order − bits in shuffled order: positive when what came earlier predicts what comes later worse
    than a random sample of the same size does (the data's regime drifts over time); near 0 when the
    order carries no structure.

    Args:
        data: training inputs and labels [E, N, ...].
        fit: see online_code_length. n_classes: K.
        time_order: [N] shared or [E, N] per member: each example's time (any sortable number).
        seed: of the shuffled order. fractions: block ends.
    """
    n_members, n = data.n_members, data.n
    device = data.labels.device
    shuffle = random_permutations(torch.tensor([seed], dtype=torch.int64, device=device), SHUFFLE_STREAM, n)
    shuffled = online_code_length(data, fit, n_classes=n_classes, order=shuffle.expand(n_members, n),
                                  fractions=fractions)
    if time_order is None:
        return PrequentialLength(shuffled, None, None)
    times = per_member("time_order", time_order, n_members, n)
    by_time = torch.argsort(times, dim=1, stable=True)
    timed = online_code_length(data, fit, n_classes=n_classes, order=by_time, fractions=fractions)
    return PrequentialLength(shuffled, timed, timed.bits - shuffled.bits)
