"""The early warning: detectors of the circuit forming, from training-side measures only.

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

A second detector (`SHUFFLE`) asks the same question against a null that moves with the model's size: how far
W_E's peak ratio stands above the peak ratios of the same rows in shuffled residue order,

    shuffle z = (ln peak ratio − mean_π ln peak ratio(W_E[π])) / sd_π ln peak ratio(W_E[π])     (SHUFFLES fixed π)

A network whose embedding carries no order over the residues (a lookup table's rows are exchangeable) reads
z ≈ 0 whatever n, d_model and the rows' norms are; the peak ratio's own null grows with the number of
frequencies and falls with d_model, so one fixed peak threshold cannot serve p = 31 and p = 113 alike. It fires at
the first evaluation with training accuracy at least GATE_TRAIN_ACC and z at least SHUFFLE_Z_THRESHOLD, calibrated
the same way on the same tuning tasks.

A third (`EITHER`, 2026-12-07), the default (`DEFAULT_RULE`), fires where either of the two would, with their
frozen thresholds: the peak ratio is early at small widths and late at large ones, the shuffle z the other way
round.

The rule before these (`LEGACY`: 1 to 6 frequencies at 3x the median, at or after the end of memorization,
phases.py) is kept as a named option for comparison: its silence on controls came from its memorization gate.
"""

from __future__ import annotations

from functools import cache
from typing import Sequence

import torch

from ..counter_rng import random_permutations
from .fourier import frequency_norms, live_key_frequencies

GATE_TRAIN_ACC = 0.99
# Fitted 2026-12-02 on the tuning tasks (x+y, x*y) of warning-benchmark-cpu: CALIBRATION_MARGIN x the largest
# gated peak ratio of their 96 control members (`grokscope validate-warning SWEEP --calibrate`).
PEAK_THRESHOLD = 8.61  # 1.25 x 6.885 (x*y no-decay control, seed-wide maximum)
CALIBRATION_MARGIN = 1.25
LEGACY_RATIO = 3.0  # the legacy rule: a frequency standing 3x above the median squared norm
SHUFFLES = 32  # residue shuffles of the z-score's null (the same ones for every member, step and run)
SHUFFLE_STREAM = 90_000  # their counter_rng stream, seeds 0..SHUFFLES-1
# Fitted 2026-12-03 the same way, on the same tuning tasks' 96 control members (the sweep re-trained that day; the
# peak calibration above reproduced 6.885 exactly), before the held-out tasks were scored with it.
SHUFFLE_Z_THRESHOLD = 15.71  # 1.25 x 12.570
PEAK = "peak"  # the detector above
SHUFFLE = "shuffle"  # the peak ratio against shuffled residues
EITHER = "either"  # the peak rule or the shuffle rule, whichever fires first (2026-12-07)
LEGACY = "legacy"  # the rule before it (1-6 frequencies >= 3x the median after memorization ends)
RULES = (PEAK, SHUFFLE, EITHER, LEGACY)
# What show, the report and run.summary() use unless told: `either` since 2026-12-07, by a criterion written down
# before it was scored (it met the targets on the clean benchmark's held-out tasks, and none of six nanda2023-size
# controls warned within 10,000 steps); `peak` before it. docs/instruments.md has the tables.
DEFAULT_RULE = EITHER
# rule -> the threshold its gated statistic is read against (legacy has none; either's statistic is in units of the
# two frozen thresholds, so 1 is each rule's own threshold and nothing new was fitted)
THRESHOLDS = {PEAK: PEAK_THRESHOLD, SHUFFLE: SHUFFLE_Z_THRESHOLD, EITHER: 1.0}


def peak_ratio(norms: torch.Tensor) -> torch.Tensor:
    """[...] the largest squared Fourier norm over the median squared norm; 0 where the median is 0.

    Args:
        norms: [..., K] norms of W_E's Fourier components (`fourier/embed_norms`), K = n // 2 frequencies.
    """
    squared = norms.double().pow(2)
    median = squared.median(dim=-1).values
    return torch.where(median > 0, squared.max(dim=-1).values / median.clamp(min=1e-300), torch.zeros_like(median))


@cache
def shuffled_residues(n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """[SHUFFLES, n] int64 the fixed residue orders of the shuffle null (counter_rng: the same on every machine);
    built once per (n, device), read at every evaluation (do not write into it)."""
    return random_permutations(torch.arange(SHUFFLES, dtype=torch.int64), SHUFFLE_STREAM, n).to(device)


def shuffle_null(weights: torch.Tensor, *, norms: torch.Tensor | None = None,
                 chunk_elements: int = 1 << 22) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The log peak ratio of `weights`' Fourier norms and, over the same rows in SHUFFLES fixed shuffled residue
    orders, its mean and standard deviation: ([E], [E], [E]).

    Batched over members by hand (a permutation test per member per evaluation, live in the trainer): members are
    taken in chunks so that at most about `chunk_elements` shuffled entries exist at once.

    Args:
        weights: [E, n, d] rows indexed by residue (W_E on the grid's classes, as `fourier.frequency_norms`).
        norms: [E, n // 2] `frequency_norms(weights)` where the caller has it already (None: computed here).
    """
    E, n, d = weights.shape
    orders = shuffled_residues(n, weights.device)  # [P, n]

    def log_peak_of(norms: torch.Tensor) -> torch.Tensor:  # [B, K] -> [B]
        return peak_ratio(norms).clamp(min=1e-300).log()

    step = max(1, chunk_elements // (SHUFFLES * n * d))
    null = torch.cat([log_peak_of(frequency_norms(weights[start:start + step][:, orders].reshape(-1, n, d)))
                      .reshape(-1, SHUFFLES) for start in range(0, E, step)])  # [E, P]
    observed = log_peak_of(frequency_norms(weights) if norms is None else norms)
    return observed, null.mean(dim=1), null.std(dim=1)


def shuffle_statistics(weights: torch.Tensor, **chunking) -> tuple[torch.Tensor, torch.Tensor]:
    """([E] shuffle z, [E] shuffle excess) of weights [E, n, d] from one `shuffle_null`.

    z (the module's docstring; 0 where the rows are all equal and no frequency has any norm) is the comparison's
    significance, which grows with d_model at a fixed effect; the excess, exp(observed − mean), is its effect size:
    the peak ratio over the shuffled rows' geometric-mean peak ratio.
    """
    observed, mean, spread = shuffle_null(weights, **chunking)
    z = torch.where(spread > 0, (observed - mean) / spread.clamp(min=1e-12), torch.zeros_like(observed))
    return z, (observed - mean).exp()


def shuffle_z(weights: torch.Tensor, **chunking) -> torch.Tensor:
    """[E] the shuffle z of weights [E, n, d] (`shuffle_statistics`)."""
    return shuffle_statistics(weights, **chunking)[0]


def gated(train_acc: torch.Tensor, statistic: torch.Tensor) -> torch.Tensor:
    """[E, S] `statistic` [E, S] where training accuracy [E, S] is at least GATE_TRAIN_ACC, 0 elsewhere."""
    return torch.where(train_acc >= GATE_TRAIN_ACC, statistic.double(), torch.zeros_like(train_acc, dtype=torch.float64))


def gated_statistic(train_acc: torch.Tensor, embed_norms: torch.Tensor) -> torch.Tensor:
    """[E, S] the peak ratio where training accuracy is at least GATE_TRAIN_ACC, 0 elsewhere.

    Args:
        train_acc: [E, S]; embed_norms: [E, S, K] at the same evaluations.
    """
    return gated(train_acc, peak_ratio(embed_norms))


def first_index(condition: torch.Tensor) -> torch.Tensor:
    """[E] index of the first True along dim 1, or -1 where there is none."""
    hit = condition.any(dim=1)
    return torch.where(hit, condition.to(torch.int8).argmax(dim=1), torch.full_like(hit, -1, dtype=torch.long))


def peak_warning_indices(train_acc: torch.Tensor, embed_norms: torch.Tensor, *,
                         threshold: float = PEAK_THRESHOLD) -> torch.Tensor:
    """[E] evaluation index of the warning (-1: none): the first evaluation whose gated peak ratio is at least
    `threshold`. Args as `gated_statistic`."""
    return first_index(gated_statistic(train_acc, embed_norms) >= threshold)


def shuffle_warning_indices(train_acc: torch.Tensor, z: torch.Tensor, *,
                            threshold: float = SHUFFLE_Z_THRESHOLD) -> torch.Tensor:
    """[E] evaluation index of the shuffle warning (-1: none): the first evaluation with training accuracy at least
    GATE_TRAIN_ACC and shuffle z at least `threshold`. Args: train_acc, z: [E, S] (z: `measure/embed_peak_z`)."""
    return first_index(gated(train_acc, z) >= threshold)


def either_statistic(peak: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """[...] the `either` rule's statistic: max(peak ratio / PEAK_THRESHOLD, shuffle z / SHUFFLE_Z_THRESHOLD), at
    least 1 exactly where one of the two rules' statistics stands at its own threshold.

    The peak ratio is an effect size with a null that depends on the grid and the width (it reads a forming
    circuit at d_model 32, p = 31, and is crossed late at d_model 128, p = 113); the shuffle z is a significance
    against a null that reads about 0 at every size (it catches the circuit early at d_model 128, late at 32).
    Each is specific where the other is late, so the union keeps the earlier of two calibrated alarms.

    Args:
        peak: [...] peak ratios (`peak_ratio`); z: [...] shuffle z (`measure/embed_peak_z`) at the same evaluations.
    """
    return torch.maximum(peak.double() / PEAK_THRESHOLD, z.double() / SHUFFLE_Z_THRESHOLD)


def either_warning_indices(train_acc: torch.Tensor, embed_norms: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """[E] evaluation index of the `either` warning (-1: none): the first evaluation where the peak rule or the
    shuffle rule would fire. Args: train_acc, z: [E, S]; embed_norms: [E, S, K]."""
    return first_index(gated(train_acc, either_statistic(peak_ratio(embed_norms), z)) >= THRESHOLDS[EITHER])


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
    """The threshold the calibration gives: `margin` times the largest gated statistic (peak ratio, or shuffle z)
    that a control member (a network that does not generalize) reached within its budget. Raises ValueError
    without controls."""
    if not control_maxima:
        raise ValueError("calibration needs at least one control member")
    return margin * max(float(v) for v in control_maxima)
