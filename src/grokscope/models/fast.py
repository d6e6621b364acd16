"""Exact shortcut for Nanda et al.'s 1-layer model on "a b =": attention computed per token, not per pair.

Every input is (a at position 0, b at position 1, `=` at position 2) and only position 2 is read out.
So the query is one vector per head, the keys and values of position 0 depend on a alone and those
of position 1 on b alone: scores and value-times-W_O are tables over the vocabulary, computed once
per step, and a pair only gathers three rows per head. The MLP and unembedding run on the last
position only. Same function as `forward.transformer_logits` up to float rounding (tested).
"""

from __future__ import annotations

import math

import torch

from .forward import Params, activation, member_matmul
from .spec import ModelSpec


def supports_fast_path(spec: ModelSpec) -> bool:
    return (spec.arch == "nanda" and spec.n_layers == 1 and spec.n_ctx == 3 and spec.readout == (2,)
            and spec.normalization == "none" and spec.positional == "learned")


def fast_last_logits(params: Params, spec: ModelSpec, a: torch.Tensor, b: torch.Tensor, equals: int) -> torch.Tensor:
    """[E, B, 1, d_vocab_out] logits at position 2 for inputs (a, b, `=`).

    Args:
        a, b: [E, B] int64 per-member operands, or [N] shared by all members.
        equals: the `=` token.
    """
    w_e, w_pos = params["embed.W_E"], params["pos_embed.W_pos"]  # [E, d_vocab, d_model], [E, n_ctx, d_model]
    pre = "blocks.0.attn"
    w_q, w_k, w_v, w_o = (params[f"{pre}.W_{n}"] for n in "QKVO")
    b_q, b_k, b_v, b_o = (params.get(f"{pre}.b_{n}") for n in "QKVO")
    x_eq = w_e[:, equals] + w_pos[:, 2]  # [E, d_model]
    x_tok = w_e[:, None, :, :] + w_pos[:, :2, None, :]  # [E, 2, d_vocab, d_model]: token at position 0, 1
    q = torch.einsum("ed,ehdk->ehk", x_eq, w_q)  # [E, n_heads, d_head]
    k_tok = torch.einsum("eptd,ehdk->ehptk", x_tok, w_k)  # [E, n_heads, 2, d_vocab, d_head]
    k_eq = torch.einsum("ed,ehdk->ehk", x_eq, w_k)  # [E, n_heads, d_head]
    v_tok = torch.einsum("eptd,ehdk->ehptk", x_tok, w_v)  # [E, n_heads, 2, d_vocab, d_head]
    v_eq = torch.einsum("ed,ehdk->ehk", x_eq, w_v)  # [E, n_heads, d_head]
    if b_q is not None:
        q, k_eq, v_eq = q + b_q, k_eq + b_k, v_eq + b_v
        k_tok, v_tok = k_tok + b_k[:, :, None, None], v_tok + b_v[:, :, None, None]
    scale = 1 / math.sqrt(spec.d_head)
    score_tok = torch.einsum("ehptk,ehk->ehpt", k_tok, q) * scale  # [E, n_heads, 2, d_vocab]
    score_eq = (k_eq * q).sum(-1) * scale  # [E, n_heads]
    vo_tok = torch.einsum("ehptk,ehkd->ehptd", v_tok, w_o)  # [E, n_heads, 2, d_vocab, d_model]
    vo_eq = torch.einsum("ehk,ehkd->ehd", v_eq, w_o)  # [E, n_heads, d_model]

    n_members = w_e.shape[0]
    if a.dim() == 1:
        a, b = a.expand(n_members, -1), b.expand(n_members, -1)
    members = torch.arange(n_members, device=a.device)[:, None]
    scores = torch.stack(
        (score_tok[members, :, 0, a], score_tok[members, :, 1, b], score_eq[:, None, :].expand(-1, a.shape[1], -1)),
        dim=-1,
    )  # [E, B, n_heads, 3]
    pattern = scores.softmax(dim=-1)  # [E, B, n_heads, 3]: position 2 attends to 0, 1, 2
    gathered = torch.stack(
        (vo_tok[members, :, 0, a], vo_tok[members, :, 1, b], vo_eq[:, None].expand(-1, a.shape[1], -1, -1)),
        dim=-2,
    )  # [E, B, n_heads, 3, d_model]
    attn_out = torch.einsum("ebhs,ebhsd->ebd", pattern, gathered)  # [E, B, d_model]
    resid = x_eq[:, None] + attn_out  # [E, B, d_model]
    if b_o is not None:
        resid = resid + b_o[:, None]
    hidden = member_matmul(resid, params["blocks.0.mlp.W_in"])  # [E, B, d_mlp]
    b_in, b_out, b_u = params.get("blocks.0.mlp.b_in"), params.get("blocks.0.mlp.b_out"), params.get("unembed.b_U")
    if b_in is not None:
        hidden = hidden + b_in[:, None]
    post = activation(hidden, spec.act_fn)
    resid = resid + member_matmul(post, params["blocks.0.mlp.W_out"])  # [E, B, d_model]
    if b_out is not None:
        resid = resid + b_out[:, None]
    logits = member_matmul(resid, params["unembed.W_U"])  # [E, B, d_vocab_out]
    if b_u is not None:
        logits = logits + b_u[:, None]
    return logits[:, :, None]
