"""A grokscope Ensemble as the monitor's stacked model (monitor/stacked.py's StackedModel protocol)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ..monitor.stacked import Params, replicate
from .init import is_trainable

if TYPE_CHECKING:
    from .ensemble import Ensemble


class EnsembleStack:
    """A grokscope Ensemble: its member axis is the stack; rows are copies of members along it.

    Frozen parameters (biases frozen at zero in the TransformerLens variant) are held fixed and
    repeated to the rows; the forward is the Ensemble's own batched one (fast path included).
    """

    def __init__(self, ensemble: "Ensemble"):
        self.ensemble = ensemble
        self.n_members = ensemble.n_members
        # The spec says what trains (a `members()` view has requires_grad off everywhere).
        self.trainable = [name for name in ensemble.params if is_trainable(ensemble.spec, name)]
        self.fixed = {name: t.detach() for name, t in ensemble.params.items() if name not in self.trainable}

    def parameters(self) -> Params:
        return {name: self.ensemble.params[name].detach().clone() for name in self.trainable}

    def all_parameters(self) -> Params:
        return {name: t.detach() for name, t in self.ensemble.params.items()}

    def outputs(self, params: Params, inputs: torch.Tensor) -> torch.Tensor:
        rows = next(iter(params.values())).shape[0]
        view = self.ensemble.members(slice(None))  # spec and detached views; parameters replaced below
        view.params = {**replicate(self.fixed, rows // self.n_members), **params}
        return view.logits(inputs)  # [R, B, n_out, d_vocab_out]
