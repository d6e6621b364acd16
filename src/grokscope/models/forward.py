"""Forward passes of every architecture, written once for E members, with named activations.

Parameters are a dict of TransformerLens paths -> [E, ...] tensors. Tokens are shared by all
members ([N, pos], evaluation on all pairs) or per member ([E, B, pos], each member's own batch).
Activations, when a cache dict is passed, are stored under TransformerLens hook names.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .spec import ModelSpec

Params = dict[str, torch.Tensor]
Cache = dict[str, torch.Tensor]


def activation(x: torch.Tensor, act_fn: str) -> torch.Tensor:
    if act_fn == "relu":
        return F.relu(x)
    if act_fn == "gelu":
        return F.gelu(x)
    return x * x  # quadratic (Gromov 2023)


def sinusoidal_positions(n_ctx: int, d_model: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """[n_ctx, d_model] openai/grok's fixed encoding: column i is sin(pos / 10000^(i/d)) for even i,
    cos(pos / 10000^((i-1)/d)) for odd i (interleaved, added to the embedding unscaled)."""
    pos = torch.arange(n_ctx, dtype=torch.float64)[:, None]
    i = torch.arange(d_model, dtype=torch.float64)[None, :]
    even = i - (i % 2)
    angle = pos / torch.pow(10_000.0, even / d_model)
    return torch.where(i % 2 == 0, torch.sin(angle), torch.cos(angle)).to(dtype=dtype, device=device)


def token_embeddings(params: Params, tokens: torch.Tensor) -> torch.Tensor:
    """[E, B, pos, d_model] rows of W_E for tokens [N, pos] shared by all members or [E, B, pos]."""
    w_e = params["embed.W_E"]  # [E, d_vocab, d_model]
    if tokens.dim() == 2:
        return w_e[:, tokens]  # [E, N, pos, d_model]
    members = torch.arange(w_e.shape[0], device=tokens.device)[:, None, None]
    return w_e[members, tokens]  # [E, B, pos, d_model]


def embed(params: Params, spec: ModelSpec, tokens: torch.Tensor, cache: Cache | None,
          token_embed: torch.Tensor | None = None) -> torch.Tensor:
    """[E, B, pos, d_model] token plus positional embedding; tokens [N, pos] shared or [E, B, pos].

    token_embed, when given, replaces the W_E lookup (the clock-vs-pizza gradient diagnostic
    differentiates the logits with respect to it).
    """
    x = token_embeddings(params, tokens) if token_embed is None else token_embed
    n_pos = tokens.shape[-1]
    if cache is not None:
        cache["hook_embed"] = x
    if spec.positional == "none":
        return x
    if spec.positional == "learned":
        pos = params["pos_embed.W_pos"][:, None, :n_pos]  # [E, 1, pos, d_model]
    else:
        pos = sinusoidal_positions(n_pos, spec.d_model, x.dtype, x.device)  # [pos, d_model]
    if cache is not None:
        cache["hook_pos_embed"] = pos.expand_as(x)
    return x + pos


def layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """LayerNorm over d_model with per-member affine parameters [E, d_model] (eps 1e-5, torch's default)."""
    normed = F.layer_norm(x, x.shape[-1:], eps=1e-5)
    shape = (weight.shape[0],) + (1,) * (x.dim() - 2) + (weight.shape[1],)
    return normed * weight.reshape(shape) + bias.reshape(shape)


def _bias(params: Params, name: str) -> torch.Tensor | None:
    return params.get(name)


def member_matmul(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """x [E, ..., d_in] @ w [E, d_in, d_out] -> [E, ..., d_out], as one batched matmul over members."""
    flat = x.reshape(x.shape[0], -1, x.shape[-1])  # [E, rows, d_in]
    return torch.bmm(flat, w).reshape(*x.shape[:-1], w.shape[-1])


def _add_bias(x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """x [E, ..., d] + bias [E, d] (no-op when the model has no such bias)."""
    if bias is None:
        return x
    return x + bias.reshape(bias.shape[0], *(1,) * (x.dim() - 2), bias.shape[-1])


def mix_uniform(pattern: torch.Tensor, allowed: torch.Tensor, rate: float) -> torch.Tensor:
    """rate * pattern + (1 - rate) * uniform attention over the allowed keys (allowed: [q_pos, k_pos] 0/1).

    The attention rate of Zhong et al. 2023: rate 0 is their constant-attention transformer (which
    tends to the pizza algorithm), rate 1 ordinary attention. Between the two, grokscope interpolates
    the patterns linearly.
    """
    if rate == 1.0:
        return pattern
    uniform = allowed / allowed.sum(-1, keepdim=True)
    return rate * pattern + (1 - rate) * uniform


def attention(params: Params, spec: ModelSpec, layer: int, x: torch.Tensor, cache: Cache | None) -> torch.Tensor:
    """[E, B, pos, d_model] causal multi-head attention output (bias b_O included)."""
    pre = f"blocks.{layer}.attn"
    projected = []
    for name in ("Q", "K", "V"):
        t = torch.einsum("ebpd,ehdk->ebhpk", x, params[f"{pre}.W_{name}"])  # [E, B, n_heads, pos, d_head]
        b = _bias(params, f"{pre}.b_{name}")
        projected.append(t if b is None else t + b[:, None, :, None, :])  # b: [E, 1, n_heads, 1, d_head]
    q, k, v = projected
    scores = q @ k.transpose(-1, -2) / math.sqrt(spec.d_head)  # [E, B, n_heads, q_pos, k_pos]
    n_pos = x.shape[2]
    causal = torch.ones(n_pos, n_pos, dtype=torch.bool, device=x.device).tril()
    scores = scores.masked_fill(~causal, float("-inf"))
    pattern = mix_uniform(scores.softmax(dim=-1), causal.to(scores.dtype), spec.attention_rate)  # [E, B, n_heads, q_pos, k_pos]
    z = pattern @ v  # [E, B, n_heads, q_pos, d_head]
    out = torch.einsum("ebhpk,ehkd->ebpd", z, params[f"{pre}.W_O"])  # [E, B, pos, d_model]
    out = _add_bias(out, _bias(params, f"{pre}.b_O"))
    if cache is not None:
        # q, k, v, z as TransformerLens caches them: [E, B, pos, n_heads, d_head]
        cache |= {f"{pre}.hook_q": q.transpose(2, 3), f"{pre}.hook_k": k.transpose(2, 3), f"{pre}.hook_v": v.transpose(2, 3),
                  f"{pre}.hook_attn_scores": scores, f"{pre}.hook_pattern": pattern, f"{pre}.hook_z": z.transpose(2, 3)}
    return out


def mlp_neurons(params: Params, spec: ModelSpec, prefix: str, x: torch.Tensor, cache: Cache | None) -> torch.Tensor:
    """[E, ..., d_mlp] neuron activations act(x @ W_in + b_in) of the MLP at `prefix` (`blocks.0.` or ``)."""
    hidden = _add_bias(member_matmul(x, params[f"{prefix}mlp.W_in"]), _bias(params, f"{prefix}mlp.b_in"))
    post = activation(hidden, spec.act_fn)
    if cache is not None:
        cache[f"{prefix}mlp.hook_pre"] = hidden
        cache[f"{prefix}mlp.hook_post"] = post
    return post


def _pre_norm(params: Params, spec: ModelSpec, x: torch.Tensor, norm: str, cache: Cache | None) -> torch.Tensor:
    """The LayerNorm `norm` of x where the model is pre-LN (its sublayer reads it); x itself otherwise."""
    if spec.normalization not in ("pre", "pre_grokfast"):
        return x
    normed = layer_norm(x, params[f"{norm}.w"], params[f"{norm}.b"])
    if cache is not None:
        cache[f"{norm}.hook_normalized"] = normed
    return normed


def _residual(params: Params, spec: ModelSpec, x: torch.Tensor, sublayer_out: torch.Tensor, norm: str) -> torch.Tensor:
    """x + sublayer(x), then the LayerNorm `norm` where the model is post-LN (openai/grok)."""
    x = x + sublayer_out
    if spec.normalization == "post":
        x = layer_norm(x, params[f"{norm}.w"], params[f"{norm}.b"])
    return x


def transformer_logits(params: Params, spec: ModelSpec, tokens: torch.Tensor, cache: Cache | None = None,
                       token_embed: torch.Tensor | None = None) -> torch.Tensor:
    """[E, B, n_out, d_vocab_out] logits at the readout positions of a decoder-only transformer.

    Nanda et al. 2023 (no LayerNorm: x + attn, x + mlp), openai/grok (post-LN: LN(x + attn), LN(x + mlp)),
    pre-LN (x + attn(LN1(x)), x + mlp(LN2(x)), then ln_final before the unembedding) or ironjr/grokfast's
    variant of it, whose Block writes `x = ln_1(x)` first: LN1(x) + attn(LN1(x)), then x + mlp(LN2(x)), ln_final.
    """
    x = embed(params, spec, tokens, cache, token_embed)
    for layer in range(spec.n_layers):
        pre = f"blocks.{layer}"
        if cache is not None:
            cache[f"{pre}.hook_resid_pre"] = x
        attn_in = _pre_norm(params, spec, x, f"{pre}.ln1", cache)
        if spec.normalization == "pre_grokfast":  # the normalized stream replaces the residual stream
            x = attn_in
        attn_out = attention(params, spec, layer, attn_in, cache)
        x = _residual(params, spec, x, attn_out, f"{pre}.ln1")
        if cache is not None:
            cache[f"{pre}.hook_attn_out"] = attn_out
            cache[f"{pre}.hook_resid_mid"] = x
        mlp_in = _pre_norm(params, spec, x, f"{pre}.ln2", cache)
        post = mlp_neurons(params, spec, f"{pre}.", mlp_in, cache)  # [E, B, pos, d_mlp]
        mlp_out = _add_bias(member_matmul(post, params[f"{pre}.mlp.W_out"]), _bias(params, f"{pre}.mlp.b_out"))
        x = _residual(params, spec, x, mlp_out, f"{pre}.ln2")
        if cache is not None:
            cache[f"{pre}.hook_mlp_out"] = mlp_out
            cache[f"{pre}.hook_resid_post"] = x
    x = _pre_norm(params, spec, x, "ln_final", cache)
    readout = x[:, :, list(spec.readout)]  # [E, B, n_out, d_model]
    logits = _add_bias(member_matmul(readout, params["unembed.W_U"]), _bias(params, "unembed.b_U"))
    if cache is not None:
        cache["logits"] = logits
    return logits


def mlp_logits(params: Params, spec: ModelSpec, tokens: torch.Tensor, cache: Cache | None = None,
               token_embed: torch.Tensor | None = None) -> torch.Tensor:
    """[E, B, 1, d_vocab_out] logits of the 2-layer MLP on concatenated embeddings (Gromov 2023):
    act([W_E[a], W_E[b]] @ W_in + b_in) @ W_U, quadratic activation by default."""
    x = embed(params, spec, tokens, cache, token_embed)  # [E, B, 2, d_model]
    post = mlp_neurons(params, spec, "", x.flatten(-2), cache)  # [E, B, d_mlp]
    logits = member_matmul(post, params["unembed.W_U"])[:, :, None]  # [E, B, 1, d_vocab_out]
    if cache is not None:
        cache["logits"] = logits
    return logits
