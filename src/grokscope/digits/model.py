"""An ensemble of ReLU MLPs 64 → d_hidden → d_hidden → 10, parameters [E, ...], all members in batched matmuls.

It is also a monitor StackedModel (grokscope.monitor.stacked): `outputs(params [R, ...], inputs
[R, B, 64])` evaluates R = k·E stacked parameter sets, so the LLC's SGLD chains of every member run
in one program.

Initialization: PyTorch's nn.Linear default (weight and bias uniform in ±1/√fan_in: kaiming_uniform
with a = √5), then every parameter times α (Omnigrok's code scales weights and biases alike,
`p.data = initialization_scale * p.data`), or the weights only (`scale_biases=False`).
"""

from __future__ import annotations

import math

import torch

from ..counter_rng import random_keys
from .config import DigitsConfig
from .data import N_CLASSES, N_PIXELS

Params = dict[str, torch.Tensor]
INIT_STREAM = 9_000  # counter_rng stream of the initialization (+ layer index)
LAYERS = ("layers.0", "layers.1", "layers.2")


def _uniform(seeds: torch.Tensor, stream: int, n: int, dtype: torch.dtype) -> torch.Tensor:
    """[E, n] uniform in [-1, 1), row e from (seeds[e], stream) only (53-bit mantissa from SplitMix64 keys)."""
    keys = random_keys(seeds, stream, n)
    unit = ((keys >> 11) & ((1 << 53) - 1)).double().mul_(2.0**-53)  # [E, n] in [0, 1)
    return (2 * unit - 1).to(dtype)


def init_params(seeds: torch.Tensor, init_scale: torch.Tensor, *, d_hidden: int, scale_biases: bool = True,
                dtype: torch.dtype = torch.float32) -> Params:
    """name -> [E, ...]: `layers.{l}.W [E, d_in, d_out]` (x @ W) and `layers.{l}.b [E, d_out]`.

    Args:
        seeds: [E] int64; member e's parameters depend on seeds[e] only.
        init_scale: [E] α per member.
    """
    sizes = (N_PIXELS, d_hidden, d_hidden, N_CLASSES)
    alpha = init_scale.to(dtype)[:, None]  # [E, 1]
    params: Params = {}
    for layer, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = 1 / math.sqrt(d_in)
        raw = _uniform(seeds, INIT_STREAM + layer, d_in * d_out + d_out, dtype) * bound  # [E, d_in·d_out + d_out]
        w, b = raw[:, :d_in * d_out] * alpha, raw[:, d_in * d_out:]
        params[f"layers.{layer}.W"] = w.reshape(-1, d_in, d_out)  # [E, d_in, d_out]
        params[f"layers.{layer}.b"] = b * alpha if scale_biases else b  # [E, d_out]
    return params


def forward(params: Params, inputs: torch.Tensor, *, hidden: bool = False) -> torch.Tensor:
    """Outputs [R, B, 10] of params [R, ...] on inputs [R, B, 64]; hidden=True: the last hidden layer [R, B, d_hidden]."""
    h = inputs
    for layer in range(2):
        h = torch.relu(torch.baddbmm(params[f"layers.{layer}.b"][:, None], h, params[f"layers.{layer}.W"]))  # [R, B, d_hidden]
    if hidden:
        return h
    return torch.baddbmm(params["layers.2.b"][:, None], h, params["layers.2.W"])  # [R, B, 10]


class DigitsMLP:
    """E MLPs with parameters [E, ...] (leaf tensors requiring grad); a monitor StackedModel."""

    def __init__(self, params: Params):
        self.params = params
        self.n_members = next(iter(params.values())).shape[0]

    @classmethod
    def from_config(cls, config: DigitsConfig, device: torch.device | str = "cpu") -> "DigitsMLP":
        seeds = torch.tensor(config.seeds, dtype=torch.int64, device=device)
        scale = torch.tensor(config.per_member("init_scale"), dtype=torch.float64, device=device)
        params = init_params(seeds, scale, d_hidden=config.d_hidden, scale_biases=config.scale_biases,
                             dtype=getattr(torch, config.dtype))
        return cls({name: t.requires_grad_(True) for name, t in params.items()})

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        """[E, B, 10] outputs of inputs [E, B, 64]."""
        return forward(self.params, inputs)

    def hidden(self, inputs: torch.Tensor) -> torch.Tensor:
        """[E, N, d_hidden] last hidden layer (after ReLU) of inputs [E, N, 64], no graph: the monitor's features."""
        with torch.no_grad():
            return forward(self.params, inputs, hidden=True)

    # The monitor's StackedModel protocol.
    def parameters(self) -> Params:
        return {name: t.detach().clone() for name, t in self.params.items()}

    def all_parameters(self) -> Params:
        return {name: t.detach() for name, t in self.params.items()}

    def outputs(self, params: Params, inputs: torch.Tensor) -> torch.Tensor:
        return forward(params, inputs)
