"""A generic ensemble of MLPs d_in → hidden... → d_out, parameters [E, ...], every member in batched matmuls.

`MLPStack` holds `layers.{l}.W [E, d_in_l, d_out_l]` (activations multiplied on the left, x @ W) and
`layers.{l}.b [E, d_out_l]`; the forward is one `torch.baddbmm` per layer over the member axis, never a
loop over members. It is a monitor StackedModel (grokscope.monitor.stacked): `outputs(params [R, ...],
inputs [R, B, d_in])` evaluates R = k·E stacked parameter sets (SGLD chains are rows), and `hidden(inputs)`
gives the last hidden layer as the monitor's features (effective rank, probes).

Initialization: PyTorch's nn.Linear default (weight and bias uniform in ±1/√fan_in), drawn from
counter-based randomness (grokscope.counter_rng) keyed by the member's own seed and the layer, then times
the member's init scale α (Omnigrok scales weights and biases alike; `scale_biases=False`: weights only).
Member e's parameters depend on (seeds[e], α_e) only, so it is the same model packed with 0 or 255 others.
The core's `mlp_stack` arch (the digits task: sizes (64, d_mlp, d_mlp, 10)) is this stack behind the
Ensemble's interface; the regime models (grokscope.regime) use it with their own sizes.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

from ..counter_rng import random_keys
from ..errors import ConfigError

Params = dict[str, torch.Tensor]
INIT_STREAM = 9_000  # counter_rng stream of the initialization (+ layer index)
ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu, "gelu": torch.nn.functional.gelu, "tanh": torch.tanh, "silu": torch.nn.functional.silu,
}


def uniform(seeds: torch.Tensor, stream: int, n: int, dtype: torch.dtype) -> torch.Tensor:
    """[E, n] uniform in [-1, 1), row e from (seeds[e], stream) only (53-bit mantissa from SplitMix64 keys)."""
    keys = random_keys(seeds, stream, n)
    unit = ((keys >> 11) & ((1 << 53) - 1)).double().mul_(2.0**-53)  # [E, n] in [0, 1)
    return (2 * unit - 1).to(dtype)


def check_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    """The layer sizes (d_in, hidden..., d_out) as a tuple; a ConfigError naming `sizes` otherwise."""
    sizes = tuple(sizes)
    if len(sizes) < 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes):
        raise ConfigError(f"sizes: must be (d_in, hidden..., d_out), at least two positive integers, got {sizes!r}")
    return sizes


def init_params(seeds: torch.Tensor, init_scale: torch.Tensor, sizes: Sequence[int], *, scale_biases: bool = True,
                dtype: torch.dtype = torch.float32) -> Params:
    """name -> [E, ...]: `layers.{l}.W [E, d_in_l, d_out_l]` and `layers.{l}.b [E, d_out_l]`, nn.Linear's default
    draw times α.

    Args:
        seeds: [E] int64; member e's parameters depend on seeds[e] and init_scale[e] only.
        init_scale: [E] α per member.
        sizes: (d_in, hidden..., d_out).
        scale_biases: multiply the biases by α too (Omnigrok's code does).
    """
    sizes = check_sizes(sizes)
    if seeds.dim() != 1 or init_scale.shape != seeds.shape:
        raise ConfigError(f"init_scale: must be [E] like seeds {list(seeds.shape)}, got {list(init_scale.shape)}")
    alpha = init_scale.to(dtype)[:, None]  # [E, 1]
    params: Params = {}
    for layer, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = 1 / math.sqrt(d_in)
        raw = uniform(seeds, INIT_STREAM + layer, d_in * d_out + d_out, dtype) * bound  # [E, d_in·d_out + d_out]
        w, b = raw[:, :d_in * d_out] * alpha, raw[:, d_in * d_out:]
        params[f"layers.{layer}.W"] = w.reshape(-1, d_in, d_out)  # [E, d_in, d_out]
        params[f"layers.{layer}.b"] = b * alpha if scale_biases else b  # [E, d_out]
    return params


def forward(params: Params, inputs: torch.Tensor, *, activation: str = "relu", hidden: bool = False,
            cache: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """Outputs [R, B, d_out] of params [R, ...] on inputs [R, B, d_in]; hidden=True: the last hidden layer
    [R, B, d_hidden] after the activation (the inputs themselves for a model without a hidden layer).

    cache, when given, receives each hidden layer after its activation as `layers.{l}.hook_post` [R, B, d_l]
    (the core's Ensemble names them so; the monitor's features default to the last).
    """
    act = ACTIVATIONS[activation]
    n_layers = len(params) // 2
    h = inputs
    for layer in range(n_layers - 1):
        h = act(torch.baddbmm(params[f"layers.{layer}.b"][:, None], h, params[f"layers.{layer}.W"]))  # [R, B, d_hidden]
        if cache is not None:
            cache[f"layers.{layer}.hook_post"] = h
    if hidden:
        return h
    last = n_layers - 1
    return torch.baddbmm(params[f"layers.{last}.b"][:, None], h, params[f"layers.{last}.W"])  # [R, B, d_out]


class MLPStack:
    """E MLPs with parameters [E, ...] (leaf tensors requiring grad); a monitor StackedModel.

    Args:
        params: name -> [E, ...] as `init_params` returns (made leaves requiring grad here).
        activation: one of ACTIVATIONS.
    """

    def __init__(self, params: Params, *, activation: str = "relu"):
        if activation not in ACTIVATIONS:
            raise ConfigError(f"activation: must be one of {', '.join(ACTIVATIONS)}; got {activation!r}")
        n_layers = len(params) // 2
        if n_layers < 1 or set(params) != {f"layers.{l}.{k}" for l in range(n_layers) for k in "Wb"}:
            raise ConfigError(f"params: expected layers.{{l}}.W and layers.{{l}}.b, got {sorted(params)}")
        self.params = {name: t.detach().requires_grad_(True) for name, t in params.items()}
        self.activation = activation
        self.n_members = params["layers.0.W"].shape[0]
        self.sizes = (params["layers.0.W"].shape[1], *(params[f"layers.{l}.W"].shape[2] for l in range(n_layers)))

    @classmethod
    def init(cls, seeds: torch.Tensor, init_scale: torch.Tensor, sizes: Sequence[int], *, activation: str = "relu",
             scale_biases: bool = True, dtype: torch.dtype = torch.float32) -> "MLPStack":
        """A fresh stack: member e drawn from seeds[e] [E] and scaled by init_scale[e] [E] (see init_params)."""
        return cls(init_params(seeds, init_scale, sizes, scale_biases=scale_biases, dtype=dtype), activation=activation)

    def member(self, index: int | Sequence[int]) -> "MLPStack":
        """A new stack of the chosen members' parameters (copies): an int gives E = 1."""
        rows = [index] if isinstance(index, int) else list(index)
        return MLPStack({name: t.detach()[rows].clone() for name, t in self.params.items()}, activation=self.activation)

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        """[E, B, d_out] outputs of inputs [E, B, d_in] (with the graph, for training)."""
        return forward(self.params, inputs, activation=self.activation)

    def hidden(self, inputs: torch.Tensor) -> torch.Tensor:
        """[E, N, d_hidden] last hidden layer of inputs [E, N, d_in], no graph: the monitor's features."""
        with torch.no_grad():
            return forward(self.params, inputs, activation=self.activation, hidden=True)

    # The monitor's StackedModel protocol.
    def parameters(self) -> Params:
        return {name: t.detach().clone() for name, t in self.params.items()}

    def all_parameters(self) -> Params:
        return {name: t.detach() for name, t in self.params.items()}

    def outputs(self, params: Params, inputs: torch.Tensor) -> torch.Tensor:
        return forward(params, inputs, activation=self.activation)
