"""Effective rank of a feature matrix per member (Roy & Vetterli 2007), and feature extractors."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..errors import ConfigError

# features(inputs [E, N, ...]) -> [E, N, d]: each member's representation of its examples.
Features = Callable[[torch.Tensor], torch.Tensor]


def effective_rank(features: torch.Tensor) -> torch.Tensor:
    """[E] exp(H(p)), p_k = σ_k / Σ_j σ_j the normalized singular values of each member's [N, d] features.

    Roy & Vetterli 2007 ("The effective rank: a measure of effective dimensionality"), with
    0 log 0 = 0: between 1 (rank one) and min(N, d) (all singular values equal). The matrix is not
    centered (their definition). Computed in float64. Logged as `monitor/effective_rank`.

    Args:
        features: [E, N, d].
    """
    if features.dim() != 3:
        raise ConfigError(f"features: must be [E, N, d], got {list(features.shape)}")
    sigma = torch.linalg.svdvals(features.detach().double())  # [E, min(N, d)]
    p = sigma / sigma.sum(-1, keepdim=True).clamp(min=1e-300)
    entropy = -torch.where(p > 0, p * p.clamp(min=1e-300).log(), torch.zeros_like(p)).sum(-1)
    return entropy.exp()


def module_features(module: nn.Module, submodule: str) -> Features:
    """Features of a plain module (one member): the output of `submodule` (a dotted name), via a forward hook."""
    target = dict(module.named_modules()).get(submodule)
    if target is None:
        raise ConfigError(f"features: {type(module).__name__} has no submodule {submodule!r}")

    def features(inputs: torch.Tensor) -> torch.Tensor:
        captured: list[torch.Tensor] = []
        handle = target.register_forward_hook(lambda _m, _i, out: captured.append(out))
        try:
            with torch.no_grad():
                module(inputs[0])
        finally:
            handle.remove()
        return captured[0].flatten(1)[None]  # [1, N, d]

    return features
