"""Weight norm and effective learning rate per member, from parameters alone."""

from __future__ import annotations

import torch

from ..errors import ConfigError
from .stacked import Params


def weight_norm(params: Params) -> torch.Tensor:
    """[E] ‖w‖₂ over every parameter tensor of each member, in float64.

    Omnigrok (Liu, Michaud, Tegmark 2023) ties grokking to the weight norm: generalizing solutions
    sit at smaller norm than memorizing ones. The square of this is Nanda et al.'s total sum of
    squared weights (`instruments.measures.total_sum_squared_weights`). Logged as `monitor/weight_norm`.

    Args:
        params: name -> [E, ...].
    """
    return sum(t.detach().double().pow(2).flatten(1).sum(1) for t in params.values()).sqrt()


def effective_learning_rate(before: Params, after: Params) -> torch.Tensor:
    """[E] ‖w_after − w_before‖₂ / ‖w_before‖₂: the relative update between two checkpoints.

    The relative update size; under weight decay and normalization it, rather than the nominal
    learning rate, sets how fast the weights' direction changes (van Laarhoven 2017; Kosson,
    Messmer, Jaggi 2024 on the equilibrium of the relative update). Not divided by the number of
    steps between the checkpoints: divide by it for a per-step rate. Logged as `monitor/effective_lr`.

    Args:
        before, after: name -> [E, ...], the same names and shapes.
    """
    if before.keys() != after.keys():
        raise ConfigError(f"previous: parameter names differ: {sorted(before.keys() ^ after.keys())}")
    for name in before:
        if before[name].shape != after[name].shape:
            raise ConfigError(f"previous: {name} is {list(before[name].shape)}, now {list(after[name].shape)}")
    update = {name: after[name].detach().double() - before[name].detach().double() for name in before}
    return weight_norm(update) / weight_norm(before)
