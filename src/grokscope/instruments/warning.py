"""The early warning: a detector of the circuit forming, from training-side measures only.

Nanda et al. 2023 (§5) show the Fourier circuit forming during the plateau, while the memorizing circuit
still carries the training loss. Its first visible trace is W_E's spectrum concentrating on a few
frequencies. The warning reads that concentration as one statistic per evaluation and member,

    peak ratio = max_k |W_E,k|² / median_k |W_E,k|²     (k over the grid's frequencies, n/2 included on an even grid)

and fires at the first evaluation where training accuracy is at least GATE_TRAIN_ACC and the peak ratio is at
least PEAK_THRESHOLD. Nothing in it reads a test metric, and the only gate is training accuracy: the threshold
alone decides whether a memorized network warns.

The threshold was calibrated (`calibrate_threshold`), not chosen: it is CALIBRATION_MARGIN times the largest
gated peak ratio that any control member of the tuning tasks reached within its budget, controls being networks
that do not generalize (no weight decay; a training fraction below the critical one). The tuning tasks were
x+y and x*y of the `warning-benchmark-cpu` sweep (tiny model, p = 31); x−y and x/y were held out, and their
scores are in docs/instruments.md ("The warning benchmark"). `grokscope validate-warning SWEEP --calibrate`
recomputes the threshold from a sweep.

The rule before this one (`LEGACY`: 1 to 6 frequencies at 3x the median, at or after the end of memorization,
phases.py) is kept as a named option for comparison: its silence on controls came from its memorization gate.
"""

from __future__ import annotations

from typing import Sequence

import torch

from .fourier import live_key_frequencies

GATE_TRAIN_ACC = 0.99
# Fitted 2026-12-02 on the tuning tasks (x+y, x*y) of warning-benchmark-cpu: CALIBRATION_MARGIN x the largest
# gated peak ratio of their 96 control members (`grokscope validate-warning SWEEP --calibrate`).
PEAK_THRESHOLD = 8.61  # 1.25 x 6.885 (x*y no-decay control, seed-wide maximum)
CALIBRATION_MARGIN = 1.25
LEGACY_RATIO = 3.0  # the legacy rule: a frequency standing 3x above the median squared norm
PEAK = "peak"  # the detector above (default)
LEGACY = "legacy"  # the rule before it (1-6 frequencies >= 3x the median after memorization ends)
RULES = (PEAK, LEGACY)


def peak_ratio(norms: torch.Tensor) -> torch.Tensor:
    """[...] the largest squared Fourier norm over the median squared norm; 0 where the median is 0.

    Args:
        norms: [..., K] norms of W_E's Fourier components (`fourier/embed_norms`), K = n // 2 frequencies.
    """
    squared = norms.double().pow(2)
    median = squared.median(dim=-1).values
    return torch.where(median > 0, squared.max(dim=-1).values / median.clamp(min=1e-300), torch.zeros_like(median))


def gated_statistic(train_acc: torch.Tensor, embed_norms: torch.Tensor) -> torch.Tensor:
    """[E, S] the peak ratio where training accuracy is at least GATE_TRAIN_ACC, 0 elsewhere.

    Args:
        train_acc: [E, S]; embed_norms: [E, S, K] at the same evaluations.
    """
    return torch.where(train_acc >= GATE_TRAIN_ACC, peak_ratio(embed_norms), torch.zeros_like(train_acc, dtype=torch.float64))


def first_index(condition: torch.Tensor) -> torch.Tensor:
    """[E] index of the first True along dim 1, or -1 where there is none."""
    hit = condition.any(dim=1)
    return torch.where(hit, condition.to(torch.int8).argmax(dim=1), torch.full_like(hit, -1, dtype=torch.long))


def peak_warning_indices(train_acc: torch.Tensor, embed_norms: torch.Tensor, *,
                         threshold: float = PEAK_THRESHOLD) -> torch.Tensor:
    """[E] evaluation index of the warning (-1: none): the first evaluation whose gated peak ratio is at least
    `threshold`. Args as `gated_statistic`."""
    return first_index(gated_statistic(train_acc, embed_norms) >= threshold)


def legacy_warning_indices(memorization_end: torch.Tensor, embed_norms: torch.Tensor) -> torch.Tensor:
    """[E] evaluation index of the legacy warning (-1: none): the first evaluation, at or after the end of
    memorization (phases.phase_indices), where W_E's spectrum has 1 to 6 frequencies whose squared norm is at
    least LEGACY_RATIO times the median (`fourier.live_key_frequencies` with the median test alone).

    Args:
        memorization_end: [E] evaluation indices (-1 where memorization has not ended).
        embed_norms: [E, S, K] norms of W_E's Fourier components at every evaluation.
    """
    E, S, K = embed_norms.shape
    emerging = live_key_frequencies(embed_norms.reshape(E * S, K), ratio=LEGACY_RATIO, gap=None).any(dim=1).reshape(E, S)
    positions = torch.arange(S, device=embed_norms.device)[None, :]
    return first_index(emerging & (positions >= memorization_end[:, None]) & (memorization_end[:, None] >= 0))


def calibrate_threshold(control_maxima: Sequence[float], *, margin: float = CALIBRATION_MARGIN) -> float:
    """The threshold the calibration gives: `margin` times the largest gated peak ratio that a control member
    (a network that does not generalize) reached within its budget. Raises ValueError without controls."""
    if not control_maxima:
        raise ValueError("calibration needs at least one control member")
    return margin * max(float(v) for v in control_maxima)
