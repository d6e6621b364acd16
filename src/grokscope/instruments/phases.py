"""Phases of a grokking run and an early warning, from training-side measures only.

Nanda et al. 2023 (§5.2) split the canonical run into memorization (0–1.4k), circuit formation
(1.4k–9.4k) and cleanup (9.4k–13k). The test curve cannot be an input here: the point is to see
what it does not show. grokscope's rule (documented in docs/instruments.md) reads three training-side
signals, per member:

1. memorization ends at the first evaluation, at or after 99% training accuracy, where the training
   loss has stopped falling fast: its log-log slope since the previous evaluation is above -1
   (d ln loss / d ln step > -1). On nanda2023 the training loss falls from 2e-2 at step 183 to
   4e-7 at step 1,400 and then flattens at the weight-decay equilibrium, right where the test loss
   peaks (steps 1,217-1,426 over seeds 0-7; the paper's boundary is 1.4k). A first version used the
   weight-norm peak, which came at step 183 there: a bad proxy.
2. cleanup starts at the first later evaluation whose W_E spectrum admits a live key-frequency set
   (`fourier.live_key_frequencies`: at most 6 frequencies at least 10x the median squared norm):
   the representation has become sparse in frequency, Nanda et al.'s signature of cleanup (Gini
   rising).
3. cleanup ends at the first later evaluation where the weight norm has made 90% of its fall from its
   value at the start of cleanup to its lowest value in the run.

The early warning (`instruments/warning.py`) is computed beside the phases: a detector of the circuit's
frequencies rising in W_E, gated only by training accuracy.

A boundary that has not happened is None (a run still memorizing, or one that never generalizes).
analysis/stored_phases.py reads the signals from a run's metrics and calls `phase_indices`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from .warning import first_index

MEMORIZED_ACC = 0.99
FLAT_SLOPE = -1.0  # d ln(train loss) / d ln(step) above this: the loss has stopped falling fast
CLEANUP_DONE = 0.9


@dataclass
class Phases:
    memorization_end: int | None
    cleanup_start: int | None
    cleanup_end: int | None

    def to_dict(self) -> dict[str, int | None]:
        return asdict(self)


def phase_indices(steps: torch.Tensor, train_acc: torch.Tensor, train_loss: torch.Tensor, weight_norm: torch.Tensor,
                  n_key_live: torch.Tensor) -> torch.Tensor:
    """[E, 3] evaluation indices of the three boundaries (-1: not reached).

    Args:
        steps: [S] evaluated steps; train_acc, train_loss, weight_norm, n_key_live: [E, S] on those steps.
    """
    positions = torch.arange(train_acc.shape[1], device=train_acc.device)[None, :].expand_as(train_acc)
    log_step = steps.double().clamp(min=1).log()
    log_loss = train_loss.double().clamp(min=1e-300).log()
    slope = torch.full_like(log_loss, -torch.inf)
    slope[:, 1:] = (log_loss[:, 1:] - log_loss[:, :-1]) / (log_step[1:] - log_step[:-1]).clamp(min=1e-12)
    mem_end = first_index((train_acc >= MEMORIZED_ACC) & (slope > FLAT_SLOPE))
    cleanup_start = first_index((positions > mem_end[:, None]) & (mem_end[:, None] >= 0) & (n_key_live > 0))
    start_norm = weight_norm.gather(1, cleanup_start.clamp(min=0)[:, None])  # [E, 1]
    after_start = positions >= cleanup_start[:, None]
    lowest = torch.where(after_start, weight_norm, torch.full_like(weight_norm, torch.inf)).min(dim=1, keepdim=True).values
    fallen = weight_norm <= start_norm - CLEANUP_DONE * (start_norm - lowest)
    cleanup_end = first_index(after_start & (positions > cleanup_start[:, None]) & fallen & (cleanup_start[:, None] >= 0))
    return torch.stack((mem_end, cleanup_start, cleanup_end), dim=1)
