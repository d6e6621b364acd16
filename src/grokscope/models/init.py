"""Initial weights, drawn per member from that member's seed only.

Each scheme follows the code it names, in parameter creation order and in the parameter dtype (so a
float32 member draws what `torch.randn` draws in that code after `manual_seed(seed)`), and a
member's weights depend on its seed alone (never on its pack). Drawing is setup, not a hot path: one generator per
member is a Python loop by necessity (torch generators do not batch).
"""

from __future__ import annotations

import dataclasses
import math

import torch

from . import mlp_stack
from .spec import ModelSpec


def _nanda2023(spec: ModelSpec, g: torch.Generator, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Nanda et al. 2023's `transformers.py`: randn / sqrt(d_model) everywhere, W_U / sqrt(d_vocab).

    Drawn in the paper's shapes and order (W_E as [d_model, d_vocab], W_O as [d_model, H*d_head], ...)
    and transposed into TransformerLens orientation.
    """
    d, h, dh, m = spec.d_model, spec.n_heads, spec.d_head, spec.d_mlp
    scale = math.sqrt(d)  # the code divides by np.sqrt(d_model); dividing keeps its rounding
    out = {
        "embed.W_E": (torch.randn(d, spec.d_vocab, generator=g, dtype=dtype) / scale).T,
        "pos_embed.W_pos": torch.randn(spec.n_ctx, d, generator=g, dtype=dtype) / scale,
    }
    for layer in range(spec.n_layers):
        pre = f"blocks.{layer}"
        for name in ("W_K", "W_Q", "W_V"):
            out[f"{pre}.attn.{name}"] = (torch.randn(h, dh, d, generator=g, dtype=dtype) / scale).transpose(1, 2)
        w_o = torch.randn(d, h * dh, generator=g, dtype=dtype) / scale  # [d_model, H*d_head]
        out[f"{pre}.attn.W_O"] = w_o.T.reshape(h, dh, d)
        out[f"{pre}.mlp.W_in"] = (torch.randn(m, d, generator=g, dtype=dtype) / scale).T
        out[f"{pre}.mlp.W_out"] = (torch.randn(d, m, generator=g, dtype=dtype) / scale).T
    out["unembed.W_U"] = torch.randn(d, spec.d_vocab_out, generator=g, dtype=dtype) / math.sqrt(spec.d_vocab)
    return out


def _transformer_lens(spec: ModelSpec, g: torch.Generator, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """TransformerLens's "gpt2" init: every W_ ~ N(0, initializer_range = 0.8 / sqrt(d_model)), biases 0."""
    std = 0.8 / math.sqrt(spec.d_model)
    return {name: torch.randn(shape, generator=g, dtype=dtype) * std for name, shape in weight_shapes(spec).items()}


def _torch_default(spec: ModelSpec, g: torch.Generator, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """openai/grok's model has no custom init: nn.Embedding N(0, 1); bias-free nn.Linear U(±1/sqrt(fan_in))."""
    out = {}
    for name, shape in weight_shapes(spec).items():
        if name == "embed.W_E":
            out[name] = torch.randn(shape, generator=g, dtype=dtype)
        else:
            fan_in = shape[-2] * (shape[0] if name.endswith("W_O") else 1)  # W_O reads all heads' d_head
            bound = 1 / math.sqrt(fan_in)
            out[name] = (torch.rand(shape, generator=g, dtype=dtype) * 2 - 1) * bound
    return out


def _linear(n_out: int, n_in: int, g: torch.Generator, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """nn.Linear's reset_parameters: weight [n_out, n_in] kaiming-uniform (a = sqrt(5)), then bias U(±1/sqrt(n_in))."""
    weight = torch.nn.init.kaiming_uniform_(torch.empty(n_out, n_in, dtype=dtype), a=math.sqrt(5), generator=g)
    bound = 1 / math.sqrt(n_in)
    return weight, torch.nn.init.uniform_(torch.empty(n_out, dtype=dtype), -bound, bound, generator=g)


def _grokfast(spec: ModelSpec, g: torch.Generator, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """ironjr/grokfast main.py's Decoder has no custom init: torch's module defaults, drawn in its module order.

    nn.Embedding N(0, 1) for tokens, then positions (its table has seq_len 5 rows, the whole equation, for a
    4-token input: one row more than n_ctx is drawn, to keep the order, and dropped). Per block,
    nn.MultiheadAttention builds out_proj (an nn.Linear: weight, then a bias drawn and zeroed), then draws its
    in_proj [3 d_model, d_model] xavier-uniform (in_proj bias 0); the MLP's nn.Linear weights and biases follow;
    last the bias-free head. LayerNorms start at (1, 0). Drawn in torch's [out, in] orientation and transposed
    into TransformerLens's (in_proj rows: Q, K, V, each head's d_head rows in turn). Biases are returned drawn
    (b_in, b_out) or zero (b_Q, b_K, b_V, b_O); `init_params` keeps them where they train.
    """
    d, h, dh, m = spec.d_model, spec.n_heads, spec.d_head, spec.d_mlp
    out = {"embed.W_E": torch.nn.init.normal_(torch.empty(spec.d_vocab, d, dtype=dtype), generator=g)}
    if spec.positional == "learned":
        w_pos = torch.nn.init.normal_(torch.empty(spec.n_ctx + 1, d, dtype=dtype), generator=g)
        out["pos_embed.W_pos"] = w_pos[: spec.n_ctx].clone()
    for layer in range(spec.n_layers):
        pre = f"blocks.{layer}"
        w_o, _ = _linear(d, h * dh, g, dtype)  # out_proj's bias is drawn, then MultiheadAttention zeroes it
        w_qkv = torch.nn.init.xavier_uniform_(torch.empty(3 * h * dh, d, dtype=dtype), generator=g)
        for name, w in zip(("W_Q", "W_K", "W_V"), w_qkv.chunk(3)):  # w: [n_heads d_head, d_model]
            out[f"{pre}.attn.{name}"] = w.reshape(h, dh, d).transpose(1, 2).contiguous()  # [n_heads, d_model, d_head]
            out[f"{pre}.attn.b_{name[-1]}"] = torch.zeros(h, dh, dtype=dtype)
        out[f"{pre}.attn.W_O"] = w_o.T.reshape(h, dh, d).contiguous()  # [n_heads, d_head, d_model]
        out[f"{pre}.attn.b_O"] = torch.zeros(d, dtype=dtype)
        w_in, b_in = _linear(m, d, g, dtype)
        w_out, b_out = _linear(d, m, g, dtype)
        out |= {f"{pre}.mlp.W_in": w_in.T.contiguous(), f"{pre}.mlp.b_in": b_in,
                f"{pre}.mlp.W_out": w_out.T.contiguous(), f"{pre}.mlp.b_out": b_out}
    w_u = torch.nn.init.kaiming_uniform_(torch.empty(spec.d_vocab_out, d, dtype=dtype), a=math.sqrt(5), generator=g)
    out["unembed.W_U"] = w_u.T.contiguous()
    return out


def _gromov(spec: ModelSpec, g: torch.Generator, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """N(0, sqrt(0.25) / (2 d_mlp)^(1/3)) for every weight, as d-doshi/Grokking's `fcn` (Gromov 2023's MLP)."""
    std = math.sqrt(0.25) / (2 * spec.d_mlp) ** (1 / 3)
    return {name: torch.randn(shape, generator=g, dtype=dtype) * std for name, shape in weight_shapes(spec).items()}


_SCHEMES = {"nanda2023": _nanda2023, "transformer_lens": _transformer_lens, "torch_default": _torch_default,
            "grokfast": _grokfast, "gromov": _gromov}


def stack_sizes(spec: ModelSpec) -> tuple[int, ...]:
    """The mlp_stack arch's layer sizes: (features, d_mlp × n_layers, classes)."""
    return (spec.n_ctx, *(spec.d_mlp,) * spec.n_layers, spec.d_vocab_out)


def weight_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """Per-member shapes of the weight matrices (no biases, no LayerNorm), TransformerLens names
    (mlp_stack: `layers.{l}.W [d_in, d_out]`, models/mlp_stack.py)."""
    d, h, dh, m = spec.d_model, spec.n_heads, spec.d_head, spec.d_mlp
    if spec.arch == "mlp_stack":
        sizes = stack_sizes(spec)
        return {f"layers.{l}.W": (d_in, d_out) for l, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:]))}
    if spec.arch == "mlp":
        return {"embed.W_E": (spec.d_vocab, d), "mlp.W_in": (spec.n_ctx * d, m), "unembed.W_U": (m, spec.d_vocab_out)}
    shapes: dict[str, tuple[int, ...]] = {"embed.W_E": (spec.d_vocab, d)}
    if spec.positional == "learned":
        shapes["pos_embed.W_pos"] = (spec.n_ctx, d)
    for layer in range(spec.n_layers):
        pre = f"blocks.{layer}"
        shapes |= {
            f"{pre}.attn.W_Q": (h, d, dh), f"{pre}.attn.W_K": (h, d, dh), f"{pre}.attn.W_V": (h, d, dh),
            f"{pre}.attn.W_O": (h, dh, d), f"{pre}.mlp.W_in": (d, m), f"{pre}.mlp.W_out": (m, d),
        }
    shapes["unembed.W_U"] = (d, spec.d_vocab_out)
    return shapes


def other_shapes(spec: ModelSpec) -> dict[str, tuple[tuple[int, ...], float]]:
    """Per-member shapes and constant initial values of biases and LayerNorm parameters (a scheme may draw a bias)."""
    d, h, dh, m = spec.d_model, spec.n_heads, spec.d_head, spec.d_mlp
    if spec.arch == "mlp_stack":
        return {f"layers.{l}.b": ((d_out,), 0.0) for l, d_out in enumerate(stack_sizes(spec)[1:])}
    if spec.arch == "mlp":
        return {"mlp.b_in": ((m,), 0.0)} if "b_in" in spec.trainable_biases else {}
    out: dict[str, tuple[tuple[int, ...], float]] = {}
    for layer in range(spec.n_layers):
        pre = f"blocks.{layer}"
        if spec.normalization != "none":  # ln1 before (pre) or after (post) attention, ln2 around the MLP
            out |= {f"{pre}.ln1.w": ((d,), 1.0), f"{pre}.ln1.b": ((d,), 0.0),
                    f"{pre}.ln2.w": ((d,), 1.0), f"{pre}.ln2.b": ((d,), 0.0)}
        if spec.arch in ("nanda", "grokfast"):  # kept (at zero where frozen) so member e is a TransformerLens state dict
            out |= {f"{pre}.attn.b_Q": ((h, dh), 0.0), f"{pre}.attn.b_K": ((h, dh), 0.0),
                    f"{pre}.attn.b_V": ((h, dh), 0.0), f"{pre}.attn.b_O": ((d,), 0.0),
                    f"{pre}.mlp.b_in": ((m,), 0.0), f"{pre}.mlp.b_out": ((d,), 0.0)}
    if spec.normalization in ("pre", "pre_grokfast"):
        out |= {"ln_final.w": ((d,), 1.0), "ln_final.b": ((d,), 0.0)}
    if spec.arch == "nanda":  # Grokfast's head is bias-free
        out["unembed.b_U"] = ((spec.d_vocab_out,), 0.0)
    return out


def n_params(spec: ModelSpec) -> int:
    """Parameters of one member: every weight, bias and LayerNorm entry (trained or frozen), from the shapes alone.
    Every layer after the first adds the same shapes, so the count is that of one layer plus (n_layers - 1) times what
    a second adds: exact, and instant for any n_layers (a typo of 10⁶ layers is sized, not enumerated)."""
    def count(layers: int) -> int:
        one = dataclasses.replace(spec, n_layers=layers)
        return sum(math.prod(shape) for shape in weight_shapes(one).values()) + \
            sum(math.prod(shape) for shape, _ in other_shapes(one).values())

    first = count(1)
    return first + (spec.n_layers - 1) * (count(2) - first)


def init_params(spec: ModelSpec, seeds: tuple[int, ...], dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Initial parameters of an ensemble: name -> [E, ...], member e drawn from seeds[e] alone (mlp_stack: counter-based,
    batched over members, models/mlp_stack.init_params at α = 1)."""
    if spec.arch == "mlp_stack":
        keys = torch.tensor(seeds, dtype=torch.int64)
        return mlp_stack.init_params(keys, torch.ones(len(seeds), dtype=torch.float64), stack_sizes(spec), dtype=dtype)
    scheme = _SCHEMES[spec.init]
    members = []
    for seed in seeds:  # setup only; see the module docstring
        g = torch.Generator().manual_seed(seed)
        members.append(scheme(spec, g, dtype))
    params = {name: torch.stack([m[name] for m in members]) for name in weight_shapes(spec)}
    for name, (shape, value) in other_shapes(spec).items():
        if name in members[0] and is_trainable(spec, name):  # drawn by the scheme (grokfast's MLP biases)
            params[name] = torch.stack([m[name] for m in members])
        else:  # constant; a frozen bias stays at zero
            params[name] = torch.full((len(seeds), *shape), value, dtype=dtype)
    return params


def is_trainable(spec: ModelSpec, name: str) -> bool:
    """Weights and LayerNorm parameters train; a bias trains only when listed in spec.trainable_biases."""
    leaf = name.rsplit(".", 1)[-1]
    return not leaf.startswith("b_") or leaf in spec.trainable_biases
