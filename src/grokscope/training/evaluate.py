"""Evaluation: every member on every pair, loss and accuracy per split, and the live instruments (a stored table:
its eras' squared errors, the shift's failure ratios and the route ablation)."""

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
from ..monitor.ablation import route_ablation
from ..tasks import BitsTable, StoredTable
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
        self.collapse = config.collapse_diagnostics and config.loss in ("cross_entropy", "stablemax")
        self.collapse_note = MSE_COLLAPSE_NOTE if config.collapse_diagnostics and config.loss == "mse" else None
        self.stored = data.table if isinstance(data.table, StoredTable) else None
        if self.stored is not None:
            self.grid = self.parity = None
            self.instruments = False
            self.note = skip_note(data.table) if config.instruments else None
            n_test = int(data.test_mask[0].sum())  # the same for every member (store/table.check_table)
            self.test_rows = data.test_mask.nonzero()[:, 1].reshape(data.test_mask.shape[0], n_test)  # [E, N_test]
            return
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
        if self.stored is not None:
            return self._stored_table(model)
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
        return _joined(parts)

    def _stored_table(self, model: Ensemble) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """A stored table's evaluation, [E] each: the squared error on the training, held-out (test) and shift rows;
        shift/failure = shift / test loss; where the table holds the true rule's predictions, the same ratio for the
        rule (shift/rule_failure) and the model's over the rule's (shift/excess_failure: members on different
        samples face different noise in each era, which moves every model's failure alike; the ratio leaves what the
        model adds, 1 where it degrades as the rule does); and the route ablation of every feature group on the
        held-out rows (monitor.ablation.route_ablation), a vector [E, G]."""
        data, table, chunk = self.data, self.stored, self._members_per_chunk(model)
        parts = []
        for start in range(0, model.n_members, chunk):
            members = slice(start, start + chunk)
            sub = model.members(members)
            targets = data.targets[members]  # [Ec, N, 1]
            error = per_example_loss(sub.logits(data.inputs[members]), targets, loss_dtype=self.loss_dtype,
                                     loss="squared_error")  # [Ec, N]
            scalars = {names.TRAIN_LOSS: _masked_mean(error, data.train_mask[members]),
                       names.TEST_LOSS: _masked_mean(error, data.test_mask[members]),
                       names.SHIFT_LOSS: _era_mean(error, data.shift_mask[members])}
            scalars[names.SHIFT_FAILURE] = scalars[names.SHIFT_LOSS] / scalars[names.TEST_LOSS]
            if table.rule is not None:
                rule_error = (table.rule[members].to(error) - targets[..., 0].to(error)).square()  # [Ec, N]
                scalars[names.SHIFT_RULE_FAILURE] = (_era_mean(rule_error, data.shift_mask[members])
                                                     / _masked_mean(rule_error, data.test_mask[members]))
                scalars[names.SHIFT_EXCESS_FAILURE] = scalars[names.SHIFT_FAILURE] / scalars[names.SHIFT_RULE_FAILURE]
            rows = self.test_rows[members]  # [Ec, N_test] in row order
            x = data.inputs[members].gather(1, rows[..., None].expand(-1, -1, data.inputs.shape[-1]))
            y = targets.gather(1, rows[..., None])  # [Ec, N_test, 1]

            def held_out_loss(inputs: torch.Tensor, sub=sub, y=y) -> torch.Tensor:
                return per_example_loss(sub.logits(inputs), y, loss_dtype=self.loss_dtype, loss="squared_error").mean(1)

            parts.append((scalars, {names.TEST_ROUTE_ABLATION: route_ablation(held_out_loss, x, table.groups)}))
        return _joined(parts)


def _era_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[E] mean of values [E, N] over mask [E, N]; NaN for a member without rows there (a table without a shift era)."""
    return torch.where(mask.any(1), _masked_mean(values, mask), math.nan)


def _joined(parts: list[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]]
            ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Chunks of members' (scalars, vectors) joined along the member axis."""
    scalars = {name: torch.cat([p[0][name] for p in parts]) for name in parts[0][0]}
    vectors = {name: torch.cat([p[1][name] for p in parts]) for name in parts[0][1]}
    return scalars, vectors
