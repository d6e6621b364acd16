"""Evaluation: every member on every pair, loss and accuracy per split, and the live instruments."""

from __future__ import annotations

import math

import torch

from .. import metric_names as names
from ..config import RunConfig
from ..dataset import RunData
from ..footprint import eval_chunk_members
from ..instruments.grid import additive_grid, skip_note
from ..instruments.live import measure, parity_measures
from ..models import Ensemble
from ..tasks import BitsTable
from .collapse import collapse_measures, with_gradients
from .loss import exact_match, per_example_loss

MSE_COLLAPSE_NOTE = ("collapse diagnostics: not logged under loss=mse; softmax collapse is a softmax probability "
                     "rounding to exactly 1, and the MSE gradient 2(x - onehot)/C vanishes only at an exact fit")


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[E] mean of values [E, N] over mask [E, N] (an infinite value outside the mask stays outside)."""
    return torch.where(mask, values, torch.zeros_like(values)).sum(1) / mask.sum(1).clamp(min=1)


class Evaluator:
    """Runs the model on all pairs, a chunk of members at a time, so that an E = 256 ensemble never
    holds every member's activations and logits at once."""

    def __init__(self, config: RunConfig, data: RunData, device: torch.device):
        self.data = data
        self.loss_dtype = getattr(torch, config.loss_dtype)
        self.loss = config.loss
        # Softmax collapse needs a softmax (or StableMax): under MSE the run carries a note instead.
        self.collapse = config.collapse_diagnostics and config.loss != "mse"
        self.collapse_note = MSE_COLLAPSE_NOTE if config.collapse_diagnostics and config.loss == "mse" else None
        grid = additive_grid(data.table) if config.instruments else None
        self.grid = None if grid is None else grid.to(device)
        self.instruments = config.instruments
        self.parity = data.table if config.instruments and isinstance(data.table, BitsTable) else None
        self.note = skip_note(data.table) if config.instruments and grid is None and self.parity is None else None

    def _members_per_chunk(self, model: Ensemble) -> int:
        spec = model.spec
        return eval_chunk_members(self.data.inputs.shape[0], spec.n_ctx, spec.d_mlp, len(spec.readout),
                                  spec.d_vocab_out, model.n_members)

    @torch.no_grad()
    def __call__(self, model: Ensemble) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Scalars name -> [E] (losses, accuracies, measures) and vectors name -> [E, K].

        Under label noise, `train/loss` and `train/acc` are measured against the labels each member
        trains on (the noisy ones), held-out metrics against the true ones, and `train_corrupted/acc`
        is the accuracy of the corrupted training pairs against their true labels.
        """
        data, chunk = self.data, self._members_per_chunk(model)
        parts: list[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]] = []
        for start in range(0, model.n_members, chunk):  # chunks of members, not members: memory bound only
            members = slice(start, start + chunk)
            sub = model.members(members)
            if self.collapse:
                sub = with_gradients(sub)
            scalars = {}
            noisy = data.train_targets is not None
            train_targets = data.train_targets[members] if noisy else data.targets  # [Ec, N, n_out] or [N, n_out]
            with torch.set_grad_enabled(self.collapse):  # one forward serves the collapse gradients too
                logits = sub.logits(data.inputs)  # [Ec, N, n_out, d_vocab_out]
                loss = per_example_loss(logits, data.targets, loss_dtype=self.loss_dtype, loss=self.loss)  # [Ec, N]
                train_loss = loss if not noisy else \
                    per_example_loss(logits, train_targets, loss_dtype=self.loss_dtype, loss=self.loss)  # [Ec, N]
                if self.collapse:
                    scalars |= collapse_measures(sub, logits, train_loss, train_targets, data.train_mask[members])
            logits, loss, train_loss = logits.detach(), loss.detach(), train_loss.detach()
            correct = exact_match(logits, data.targets).to(self.loss_dtype)  # [Ec, N] against the true targets
            train_correct = exact_match(logits, train_targets).to(self.loss_dtype) if noisy else correct
            for loss_name, acc_name, mask, losses, hits in (
                    (names.TRAIN_LOSS, names.TRAIN_ACC, data.train_mask, train_loss, train_correct),
                    (names.TEST_LOSS, names.TEST_ACC, data.test_mask, loss, correct),
                    (names.MIRROR_LOSS, names.MIRROR_ACC, data.mirror_mask, loss, correct)):
                if mask is not None:
                    scalars[loss_name] = _masked_mean(losses, mask[members])
                    scalars[acc_name] = _masked_mean(hits, mask[members])
            if data.corrupted is not None:  # missing (NaN, stored as NULL) for a member without corrupted pairs
                corrupted = data.corrupted[members]
                scalars[names.TRAIN_CORRUPTED_ACC] = torch.where(corrupted.any(1), _masked_mean(correct, corrupted),
                                                                 math.nan)
            vectors: dict[str, torch.Tensor] = {}
            if self.instruments:
                memorized = scalars[names.TRAIN_ACC] >= 0.99
                measured, vectors = measure(sub, logits, data.train_mask[members], self.grid, memorized)
                scalars |= measured
                if self.parity is not None:
                    scalars |= parity_measures(sub, logits, self.parity)
            parts.append((scalars, vectors))
        scalars = {name: torch.cat([p[0][name] for p in parts]) for name in parts[0][0]}
        vectors = {name: torch.cat([p[1][name] for p in parts]) for name in parts[0][1]}
        return scalars, vectors
