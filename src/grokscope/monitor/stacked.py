"""Any model as a stack of parameter sets: the one mechanism the monitor's measures run on.

A stacked model holds its members' trainable parameters as [E, ...] tensors (w*) and evaluates R
parameter sets at once, R a multiple of E, row r being a copy of member r // (R // E), each row on
its own batch: outputs(params [R, ...], inputs [R, B, ...]) -> [R, B, ...]. SGLD chains are rows
(C chains of E members: R = E·C, `replicate`), so every chain of every member moves in one tensor
program. A model that already is such a stack provides it (`stacked()`: a grokscope Ensemble along its member
axis, models/ensemble_stack.py); any other nn.Module becomes one through torch.func.functional_call under
torch.vmap over the row axis (E = 1). Nothing here knows grokscope's models.
"""

from __future__ import annotations

from typing import Callable, Protocol

import torch
from torch import nn

Params = dict[str, torch.Tensor]
# per_example_loss(outputs [R, B, ...], labels [R, B, ...]) -> [R, B]: one loss per example.
PerExampleLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class StackedModel(Protocol):
    """E members' trainable parameters and a forward over R = k·E stacked copies of them."""

    n_members: int

    def parameters(self) -> Params:
        """Trainable parameters, [E, ...] detached copies (the point w* the measures look around)."""
        ...

    def all_parameters(self) -> Params:
        """Every parameter, frozen ones included, [E, ...] detached (for norms)."""
        ...

    def outputs(self, params: Params, inputs: torch.Tensor) -> torch.Tensor:
        """Outputs [R, B, ...] of params [R, ...] (row r: a copy of member r // (R // E)) on inputs [R, B, ...]."""
        ...


class Stackable(Protocol):
    """A model that is a stack of members already and says how (a grokscope Ensemble)."""

    def stacked(self) -> StackedModel:
        ...


def replicate(params: Params, copies: int) -> Params:
    """[E·copies, ...] each member's tensors repeated `copies` times in a row (row e·copies + c)."""
    return {name: t.repeat_interleave(copies, dim=0) for name, t in params.items()}


class ModuleStack:
    """A plain nn.Module as a stack of one member (E = 1), evaluated with functional_call under vmap.

    Parameters with requires_grad are the stacked (sampled) ones; frozen parameters and buffers are
    held fixed and shared by every row. The forward must be deterministic (no dropout: put the
    module in eval mode) and must not update buffers (BatchNorm in eval mode).
    """

    n_members = 1

    def __init__(self, module: nn.Module):
        self.module = module
        named = dict(module.named_parameters())
        self.trainable = [name for name, p in named.items() if p.requires_grad]
        self.fixed = {name: p.detach() for name, p in named.items() if not p.requires_grad}
        self.fixed |= {name: b.detach() for name, b in module.named_buffers()}

        def one_row(params: Params, x: torch.Tensor) -> torch.Tensor:
            return torch.func.functional_call(module, (params, self.fixed), (x,))

        self._rows = torch.vmap(one_row)

    def parameters(self) -> Params:
        named = dict(self.module.named_parameters())
        return {name: named[name].detach().clone()[None] for name in self.trainable}

    def all_parameters(self) -> Params:
        return {name: p.detach()[None] for name, p in self.module.named_parameters()}

    def outputs(self, params: Params, inputs: torch.Tensor) -> torch.Tensor:
        return self._rows(params, inputs)


def is_stacked(model: object) -> bool:
    """True for an object that already is a StackedModel (member axis first), not an nn.Module."""
    return (not isinstance(model, nn.Module) and isinstance(getattr(model, "n_members", None), int)
            and all(callable(getattr(model, name, None)) for name in ("parameters", "all_parameters", "outputs")))


def stack(model: nn.Module | Stackable | StackedModel) -> StackedModel:
    """The model as a StackedModel: its own stack where it provides one (`stacked()`), any nn.Module as one member,
    a StackedModel (e.g. grokscope.models.mlp_stack.MLPStack) unchanged."""
    if callable(getattr(model, "stacked", None)):
        return model.stacked()
    if isinstance(model, nn.Module):
        return ModuleStack(model)
    if is_stacked(model):
        return model
    raise TypeError(f"model: expected a torch.nn.Module, a model with stacked() (a grokscope Ensemble) or a "
                    f"StackedModel, got {type(model).__name__}")


def mean_loss(model: StackedModel, params: Params, data, loss: PerExampleLoss, *, chunk: int = 8192) -> torch.Tensor:
    """[E] mean training loss of params [E, ...] on each member's training set (chunked, no graph)."""
    total = None
    with torch.no_grad():
        for _, x, y in data.chunks(chunk):
            part = loss(model.outputs(params, x), y).double().sum(1)  # [E]
            total = part if total is None else total + part
    return total / data.n
