"""The digits model: an ensemble of ReLU MLPs 64 → d_hidden → d_hidden → 10 (grokscope.models.mlp_stack),
parameters [E, ...], all members in batched matmuls, and a monitor StackedModel.

Initialization: PyTorch's nn.Linear default (weight and bias uniform in ±1/√fan_in: kaiming_uniform
with a = √5), then every parameter times α (Omnigrok's code scales weights and biases alike,
`p.data = initialization_scale * p.data`), or the weights only (`scale_biases=False`).
"""

from __future__ import annotations

import torch

from ..models import mlp_stack
from ..models.mlp_stack import MLPStack, Params
from .config import DigitsConfig
from .data import N_CLASSES, N_PIXELS


def sizes(d_hidden: int) -> tuple[int, int, int, int]:
    return (N_PIXELS, d_hidden, d_hidden, N_CLASSES)


def init_params(seeds: torch.Tensor, init_scale: torch.Tensor, *, d_hidden: int, scale_biases: bool = True,
                dtype: torch.dtype = torch.float32) -> Params:
    """name -> [E, ...]: `layers.{l}.W [E, d_in, d_out]` (x @ W) and `layers.{l}.b [E, d_out]`.

    Args:
        seeds: [E] int64; member e's parameters depend on seeds[e] only.
        init_scale: [E] α per member.
    """
    return mlp_stack.init_params(seeds, init_scale, sizes(d_hidden), scale_biases=scale_biases, dtype=dtype)


class DigitsMLP(MLPStack):
    """E digits MLPs with parameters [E, ...]; `hidden` (the last hidden layer) is the monitor's features."""

    @classmethod
    def from_config(cls, config: DigitsConfig, device: torch.device | str = "cpu") -> "DigitsMLP":
        seeds = torch.tensor(config.seeds, dtype=torch.int64, device=device)
        scale = torch.tensor(config.per_member("init_scale"), dtype=torch.float64, device=device)
        return cls(init_params(seeds, scale, d_hidden=config.d_hidden, scale_biases=config.scale_biases,
                               dtype=getattr(torch, config.dtype)))


__all__ = ["DigitsMLP", "Params", "init_params", "sizes"]
