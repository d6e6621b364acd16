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
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from ..checks import check_choice
from ..store import metric_names as names
from ..store.metrics import MetricsStore
from .warning import LEGACY, PEAK, RULES, first_index, legacy_warning_indices, peak_warning_indices

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


def _series(store: MetricsStore, name: str, n_members: int) -> tuple[list[int], torch.Tensor]:
    steps, values = store.series_tensor(name, n_members)
    return steps, values.nan_to_num(nan=0.0)


def run_phases(store: MetricsStore, n_members: int, *, warning_rule: str = PEAK) -> tuple[list[Phases], list[int | None]]:
    """Per member: the phase boundaries (steps) and the early-warning step, from a run's metrics.

    warning_rule: `peak` (the detector, default) or `legacy` (the rule before it), warning.RULES.

    Raises:
        ConfigError: an unknown warning rule.
    """
    check_choice("warning_rule", warning_rule, RULES)
    steps, train_acc = _series(store, names.TRAIN_ACC, n_members)
    _, train_loss = _series(store, names.TRAIN_LOSS, n_members)
    _, weight_norm = _series(store, names.WEIGHT_NORM_SQ, n_members)
    _, n_key = _series(store, names.N_KEY_FREQUENCIES_LIVE, n_members)
    if not steps or any(t.shape[1] != train_acc.shape[1] for t in (train_loss, weight_norm, n_key)):
        return [Phases(None, None, None) for _ in range(n_members)], [None] * n_members
    indices = phase_indices(torch.tensor(steps), train_acc, train_loss, weight_norm, n_key)
    at = lambda i: None if i < 0 else steps[i]
    phases = [Phases(at(m), at(c), at(e)) for m, c, e in indices.tolist()]
    norm_steps, norms = store.vector_array(names.EMBED_NORMS, list(range(n_members)))
    if norm_steps != steps:  # instruments off, or a run that logged them on other steps: no warning
        return phases, [None] * n_members
    norms = torch.tensor(norms, dtype=torch.float64).nan_to_num(nan=0.0)  # [E, S, K]
    warnings = (legacy_warning_indices(indices[:, 0], norms) if warning_rule == LEGACY
                else peak_warning_indices(train_acc, norms))
    return phases, [at(i) for i in warnings.tolist()]


def key_frequency_history(store: MetricsStore, member: int) -> dict[str, list[int] | int | None]:
    """The live key-frequency set at the last evaluation and the step since which it has not changed.

    A set that changes until the end is still forming; one that has held for most of the run is the
    algorithm's. Returns {"key_frequencies_live": [...], "key_frequencies_stable_since": step or None}.
    """
    steps, rows = store.vector_series(names.KEY_FREQUENCIES_LIVE, member)
    if not steps:
        return {"key_frequencies_live": [], "key_frequencies_stable_since": None}
    final = rows[-1]
    since = len(rows) - 1
    while since > 0 and rows[since - 1] == final:
        since -= 1
    keys = [k + 1 for k, v in enumerate(final) if v]
    return {"key_frequencies_live": keys, "key_frequencies_stable_since": steps[since] if keys else None}
