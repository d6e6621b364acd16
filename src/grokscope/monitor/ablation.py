"""Route ablation: the training loss increase when one named group of input features is shuffled across examples."""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import torch

from ..counter_rng import random_permutations
from ..errors import ConfigError

# A group is column indices of the inputs' last axis, or permute(inputs [E, N, ...], perm [N]) ->
# inputs with only that group's features moved: example i gets example perm[i]'s values.
Permute = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
FeatureGroups = Mapping[str, Sequence[int] | Permute]
ABLATION_STREAM = 1 << 43  # counter_rng stream of the permutation


def shuffle_group(inputs: torch.Tensor, group: Sequence[int] | Permute, perm: torch.Tensor) -> torch.Tensor:
    """inputs [E, N, ...] with the group's features of example i replaced by those of example perm[i]."""
    if callable(group):
        return group(inputs, perm)
    columns = torch.as_tensor(list(group), dtype=torch.int64, device=inputs.device)
    if columns.numel() == 0 or bool((columns < -inputs.shape[-1]).any() | (columns >= inputs.shape[-1]).any()):
        raise ConfigError(f"feature_groups: columns {list(group)} outside the inputs' last axis of {inputs.shape[-1]}")
    shuffled = inputs.clone()
    shuffled[..., columns] = inputs[:, perm][..., columns]
    return shuffled


def route_ablation(mean_loss: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor, groups: FeatureGroups,
                   *, seed: int = 0) -> torch.Tensor:
    """[E, G] L(inputs with group g shuffled across examples) − L(inputs), per member and group.

    The generic counterpart of Nanda et al.'s excluded loss: how much the model's training loss
    relies on a route through one group of features. Breiman's (2001) permutation importance
    (Fisher, Rudin, Dominici 2019: "model reliance"), on the training set, with one fixed seeded
    permutation of the examples (counter_rng) for every group and member. Exactly 0 for a group the
    model does not read (the same outputs, bit for bit). Logged as the vector `monitor/route_ablation`
    (idx: the group's position in `groups`).

    Args:
        mean_loss: inputs [E, N, ...] -> [E] mean training loss (labels fixed).
        inputs: [E, N, ...] training inputs.
        groups: name -> column indices of the last axis, or a permute callable.
        seed: of the permutation.
    """
    if not groups:
        raise ConfigError("feature_groups: empty; name at least one group of input features")
    n = inputs.shape[1]
    perm = random_permutations(torch.tensor([seed], dtype=torch.int64, device=inputs.device), ABLATION_STREAM, n)[0]
    base = mean_loss(inputs)  # [E]
    increases = [mean_loss(shuffle_group(inputs, group, perm)) - base for group in groups.values()]
    return torch.stack(increases, dim=1)
