"""Evaluation: every member on every pair, loss and accuracy per split, and the live instruments."""

from __future__ import annotations

import torch

from ..config import RunConfig
from ..instruments.grid import additive_grid, skip_note
from ..instruments.live import measure
from ..models import Ensemble
from ..store import metric_names as names
from .collapse import collapse_measures, with_gradients
from .data import RunData
from .loss import exact_match, per_example_loss

EVAL_BYTES = 1 << 28  # activations per chunk of members: bounds evaluation memory for any E


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
        self.collapse = config.collapse_diagnostics
        grid = additive_grid(data.table) if config.instruments else None
        self.grid = None if grid is None else grid.to(device)
        self.instruments = config.instruments
        self.note = skip_note(data.table) if config.instruments and grid is None else None

    def _members_per_chunk(self, model: Ensemble) -> int:
        spec = model.spec
        per_member = self.data.inputs.shape[0] * max(spec.n_ctx * spec.d_mlp, len(spec.readout) * spec.d_vocab_out) * 8
        return max(1, EVAL_BYTES // per_member)

    @torch.no_grad()
    def __call__(self, model: Ensemble) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Scalars name -> [E] (losses, accuracies, measures) and vectors name -> [E, K]."""
        data, chunk = self.data, self._members_per_chunk(model)
        parts: list[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]] = []
        for start in range(0, model.n_members, chunk):  # chunks of members, not members: memory bound only
            members = slice(start, start + chunk)
            sub = model.members(members)
            if self.collapse:
                sub = with_gradients(sub)
            scalars = {}
            with torch.set_grad_enabled(self.collapse):  # one forward serves the collapse gradients too
                logits = sub.logits(data.inputs)  # [Ec, N, n_out, d_vocab_out]
                loss = per_example_loss(logits, data.targets, loss_dtype=self.loss_dtype, loss=self.loss)  # [Ec, N]
                if self.collapse:
                    scalars |= collapse_measures(sub, logits, loss, data.targets, data.train_mask[members])
            logits, loss = logits.detach(), loss.detach()
            correct = exact_match(logits, data.targets).to(self.loss_dtype)
            for loss_name, acc_name, mask in ((names.TRAIN_LOSS, names.TRAIN_ACC, data.train_mask),
                                              (names.TEST_LOSS, names.TEST_ACC, data.test_mask),
                                              (names.MIRROR_LOSS, names.MIRROR_ACC, data.mirror_mask)):
                if mask is not None:
                    scalars[loss_name] = _masked_mean(loss, mask[members])
                    scalars[acc_name] = _masked_mean(correct, mask[members])
            vectors: dict[str, torch.Tensor] = {}
            if self.instruments:
                memorized = scalars[names.TRAIN_ACC] >= 0.99
                measured, vectors = measure(sub, logits, data.train_mask[members], self.grid, memorized)
                scalars |= measured
            parts.append((scalars, vectors))
        scalars = {name: torch.cat([p[0][name] for p in parts]) for name in parts[0][0]}
        vectors = {name: torch.cat([p[1][name] for p in parts]) for name in parts[0][1]}
        return scalars, vectors
