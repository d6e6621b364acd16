"""The phases and the early warning of a stored run: its training-side series read from the metrics database and
handed to instruments/phases.py and instruments/warning.py (no test metric is read)."""

from __future__ import annotations

from typing import NamedTuple

import torch

from .. import metric_names as names
from ..checks import check_choice
from ..instruments.phases import Phases, phase_indices
from ..instruments.warning import (
    DEFAULT_RULE,
    EITHER,
    LEGACY,
    PEAK,
    RULES,
    SHUFFLE,
    THRESHOLDS,
    either_statistic,
    first_index,
    gated,
    legacy_warning_indices,
    peak_ratio,
)
from ..store.metrics import MetricsStore


def _series(store: MetricsStore, name: str, n_members: int) -> tuple[list[int], torch.Tensor]:
    steps, values = store.series_tensor(name, n_members)
    return steps, values.nan_to_num(nan=0.0)


class StoredPhases(NamedTuple):
    """Per member: phase boundaries, the early-warning step (None: it never fired), and the largest value the
    warning rule's gated statistic reached in the run (None: the rule has no single statistic (legacy) or the run
    did not log it). Below the rule's threshold (`warning.THRESHOLDS`) the member never warned; the ratio says
    how near it came, which is what a control's silence is worth."""

    phases: list[Phases]
    warnings: list[int | None]
    statistic_max: list[float | None]


def run_phases(store: MetricsStore, n_members: int, *, warning_rule: str = DEFAULT_RULE) -> StoredPhases:
    """Per member: the phase boundaries (steps), the early-warning step and its statistic's maximum, from a run's
    metrics (`StoredPhases`).

    warning_rule: `peak` (the detector: the gated peak ratio of W_E's spectrum), `shuffle` (the gated z of
    that peak ratio against shuffled residues; None for runs that did not log `measure/embed_peak_z`), `either`
    (whichever of the two fires first; its statistic in units of their thresholds) or `legacy` (the rule before
    them), warning.RULES; default warning.DEFAULT_RULE.

    Raises:
        ConfigError: an unknown warning rule.
    """
    check_choice("warning_rule", warning_rule, RULES)
    nothing = [None] * n_members
    steps, train_acc = _series(store, names.TRAIN_ACC, n_members)
    _, train_loss = _series(store, names.TRAIN_LOSS, n_members)
    _, weight_norm = _series(store, names.WEIGHT_NORM_SQ, n_members)
    _, n_key = _series(store, names.N_KEY_FREQUENCIES_LIVE, n_members)
    if not steps or any(t.shape[1] != train_acc.shape[1] for t in (train_loss, weight_norm)):
        return StoredPhases([Phases(None, None, None) for _ in range(n_members)], nothing, nothing)
    if n_key.shape[1] != train_acc.shape[1]:  # no Fourier view (sparse parity, the polynomial tasks): memorization's
        n_key = torch.zeros_like(train_acc)  # end is still read; the cleanup boundaries need the key set and stay None
    indices = phase_indices(torch.tensor(steps), train_acc, train_loss, weight_norm, n_key)
    at = lambda i: None if i < 0 else steps[i]
    phases = [Phases(at(m), at(c), at(e)) for m, c, e in indices.tolist()]
    if warning_rule in (SHUFFLE, EITHER):
        z_steps, z = _series(store, names.EMBED_PEAK_Z, n_members)
        if z_steps != steps:  # logged by grokscope since 2026-12-03; not by older runs
            return StoredPhases(phases, nothing, nothing)
    if warning_rule != SHUFFLE:
        norm_steps, norms = store.vector_array(names.EMBED_NORMS, list(range(n_members)))
        if norm_steps != steps:  # instruments off, or a run that logged them on other steps: no warning
            return StoredPhases(phases, nothing, nothing)
        norms = torch.tensor(norms, dtype=torch.float64).nan_to_num(nan=0.0)  # [E, S, K]
        if warning_rule == LEGACY:
            return StoredPhases(phases, [at(i) for i in legacy_warning_indices(indices[:, 0], norms).tolist()], nothing)
    if warning_rule == SHUFFLE:
        statistic = z
    else:
        statistic = peak_ratio(norms) if warning_rule == PEAK else either_statistic(peak_ratio(norms), z)
    statistic = gated(train_acc, statistic)  # [E, S]: 0 before training accuracy reaches the gate
    warnings = first_index(statistic >= THRESHOLDS[warning_rule])
    return StoredPhases(phases, [at(i) for i in warnings.tolist()], statistic.max(dim=1).values.tolist())


def key_frequency_histories(store: MetricsStore, n_members: int) -> list[dict[str, list[int] | int | None]]:
    """Per member, the live key-frequency set at the last evaluation and the step since which it has not changed
    (one query for all members).

    A set that changes until the end is still forming; one that has held for most of the run is the
    algorithm's. Each: {"key_frequencies_live": [...], "key_frequencies_stable_since": step or None}.
    """
    steps, values = store.vector_array(names.KEY_FREQUENCIES_LIVE, list(range(n_members)))
    if not steps:
        return [{"key_frequencies_live": [], "key_frequencies_stable_since": None} for _ in range(n_members)]
    key = torch.tensor(values, dtype=torch.float64).nan_to_num(nan=0.0) > 0  # [E, S, K]
    final = key[:, -1:]  # [E, 1, K]
    differs = (key != final).any(dim=2)  # [E, S]: the set at that step is not the final one
    positions = torch.arange(len(steps))[None, :]
    since = torch.where(differs, positions + 1, torch.zeros_like(positions)).max(dim=1).values  # [E]
    histories = []
    for e in range(n_members):  # a list of plain dicts for the JSON summary
        keys = [k + 1 for k in torch.nonzero(final[e, 0]).flatten().tolist()]
        histories.append({"key_frequencies_live": keys,
                          "key_frequencies_stable_since": steps[int(since[e])] if keys else None})
    return histories
