"""Exact shortcut for Nanda et al.'s 1-layer model on "a b =": every linear map folded into per-token tables.

Every input is (a at position 0, b at position 1, `=` at position 2) and only position 2 is read out.
The query is one vector per head; keys and values of position 0 depend on a alone, those of
position 1 on b alone. So the residual stream at position 2 is a weighted sum of per-token rows,
the weights being the attention pattern, and since pattern[h, 2] = 1 - pattern[h, 0] - pattern[h, 1]:

    resid = c + sum_h pattern[h, 0] (v0[h, a] - v2[h]) W_O[h] + pattern[h, 1] (v1[h, b] - v2[h]) W_O[h]

(c: the `=` embedding, b_O and sum_h v2[h] W_O[h]). Every linear map after it is applied to the
rows once per step instead of to every pair: W_in (the MLP's pre-activation) and W_U (the direct
path to the logits). A pair then costs one weighted sum of 2 n_heads + 1 table rows
(`F.embedding_bag`: a gather with weights, fast forward and backward on CPU and CUDA) and one matmul
from the neurons to the logits through W_out W_U:

    logits = bag(table_U) + act(bag(table_in)) @ (W_out W_U)

The canonical step (p = 113, 3830 pairs, d_mlp 512) is then about 1.7 GFLOP against 7.9 for the
plain model. Same function as `forward.transformer_logits` up to float rounding, gradients included
(tests/test_fast_path.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .forward import Params, activation
from .spec import ModelSpec


def supports_fast_path(spec: ModelSpec) -> bool:
    return (spec.arch == "nanda" and spec.n_layers == 1 and spec.n_ctx == 3 and spec.readout == (2,)
            and spec.normalization == "none" and spec.positional == "learned")


def _plus(x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return x if bias is None else x + bias


def _table(v_diff: torch.Tensor, v_eq: torch.Tensor, o_read: torch.Tensor, x_c: torch.Tensor, w_read: torch.Tensor,
           bias: torch.Tensor | None) -> torch.Tensor:
    """[E, 2 d_vocab n_heads + 1, d_read] token rows read through `o_read` = W_O w_read, then the constant row.

    Args:
        v_diff: [E, 2, n_heads, d_vocab, d_head] values of each token at positions 0, 1 minus those of `=`.
        v_eq: [E, n_heads, d_head] values of `=` (position 2).
        o_read: [E, n_heads, d_head, d_read] W_O followed by the map read out (d_read: d_mlp for W_in, d_vocab_out for W_U).
        x_c: [E, d_model] the part of position 2's residual stream the attention pattern leaves alone.
        w_read: [E, d_model, d_read]; bias: [E, d_read] or None.
    """
    rows = torch.einsum("ephtk,ehkn->epthn", v_diff, o_read)  # [E, 2, d_vocab, n_heads, d_read]
    const = torch.einsum("ed,edn->en", x_c, w_read) + torch.einsum("ehk,ehkn->en", v_eq, o_read)  # [E, d_read]
    return torch.cat((rows.flatten(1, 3), _plus(const, bias)[:, None]), dim=1)


def fast_last_logits(params: Params, spec: ModelSpec, a: torch.Tensor, b: torch.Tensor, equals: int) -> torch.Tensor:
    """[E, B, 1, d_vocab_out] logits at position 2 for inputs (a, b, `=`).

    Args:
        a, b: [E, B] int64 per-member operands, or [N] shared by all members.
        equals: the `=` token.
    """
    pre = "blocks.0"
    w_e, w_pos = params["embed.W_E"], params["pos_embed.W_pos"]  # [E, d_vocab, d_model], [E, n_ctx, d_model]
    w_q, w_k, w_v, w_o = (params[f"{pre}.attn.W_{n}"] for n in "QKVO")  # [E, n_heads, ...]
    b_q, b_k, b_v, b_o = (params.get(f"{pre}.attn.b_{n}") for n in "QKVO")
    w_in, w_out, w_u = params[f"{pre}.mlp.W_in"], params[f"{pre}.mlp.W_out"], params["unembed.W_U"]
    b_in, b_out, b_u = params.get(f"{pre}.mlp.b_in"), params.get(f"{pre}.mlp.b_out"), params.get("unembed.b_U")
    n_members, d_vocab = w_e.shape[0], w_e.shape[1]
    n_heads, d_mlp = w_q.shape[1], w_in.shape[-1]

    # Tables, once per step (work independent of the number of pairs).
    x_eq = w_e[:, equals] + w_pos[:, 2]  # [E, d_model]
    x_tok = w_e[:, None] + w_pos[:, :2, None]  # [E, 2, d_vocab, d_model]: each token at position 0, 1
    q = _plus(torch.einsum("ed,ehdk->ehk", x_eq, w_q), b_q) / math.sqrt(spec.d_head)  # [E, n_heads, d_head]
    k_q = torch.einsum("ehdk,ehk->ehd", w_k, q)  # [E, n_heads, d_model]: the query read through W_K
    score_tok = torch.einsum("eptd,ehd->epth", x_tok, k_q)  # [E, 2, d_vocab, n_heads]
    score_eq = torch.einsum("ed,ehd->eh", x_eq, k_q)  # [E, n_heads]
    if b_k is not None:  # shifts the three scores alike: no effect, but b_K gets its (zero) gradient
        b_kq = (b_k * q).sum(-1)  # [E, n_heads]
        score_tok, score_eq = score_tok + b_kq[:, None, None], score_eq + b_kq
    v_diff = torch.einsum("eptd,ehdk->ephtk", x_tok - x_eq[:, None, None], w_v)  # [E, 2, n_heads, d_vocab, d_head]
    v_eq = _plus(torch.einsum("ed,ehdk->ehk", x_eq, w_v), b_v)  # [E, n_heads, d_head]
    o_in = torch.einsum("ehkd,edm->ehkm", w_o, w_in)  # [E, n_heads, d_head, d_mlp]
    o_u = torch.einsum("ehkd,edv->ehkv", w_o, w_u)  # [E, n_heads, d_head, d_vocab_out]
    x_c = _plus(x_eq, b_o)  # [E, d_model]
    table_in = _table(v_diff, v_eq, o_in, x_c, w_in, b_in)  # [E, 2 d_vocab n_heads + 1, d_mlp]
    table_u = _table(v_diff, v_eq, o_u, _plus(x_c, b_out), w_u, b_u)  # [E, 2 d_vocab n_heads + 1, d_vocab_out]; b_out reaches W_U
    n_rows = table_in.shape[1]

    # Per pair: the pattern, then weighted sums of 2 n_heads + 1 table rows.
    if a.dim() == 1:
        a, b = a.expand(n_members, -1), b.expand(n_members, -1)
    n_pairs = a.shape[1]
    members = torch.arange(n_members, device=a.device)[:, None]  # [E, 1]
    tok_index = torch.stack((members * 2 * d_vocab + a, members * 2 * d_vocab + d_vocab + b), dim=-1)  # [E, B, 2]
    scores = torch.cat(
        (F.embedding(tok_index, score_tok.reshape(-1, n_heads)), score_eq[:, None, None].expand(-1, n_pairs, -1, -1)),
        dim=-2,
    )  # [E, B, 3, n_heads]
    pattern = scores.softmax(dim=-2)  # [E, B, 3, n_heads]: position 2 attends to 0, 1, 2
    if spec.attention_rate != 1.0:  # Zhong et al.'s attention rate; see forward.mix_uniform
        pattern = spec.attention_rate * pattern + (1 - spec.attention_rate) / 3
    heads = torch.arange(n_heads, device=a.device)
    base = members * n_rows  # [E, 1]: member e's rows start there in the flattened table
    index = torch.cat(
        ((base + a * n_heads)[..., None] + heads, (base + (d_vocab + b) * n_heads)[..., None] + heads,
         (base + n_rows - 1)[..., None].expand(-1, n_pairs, 1)),
        dim=-1,
    ).flatten(0, 1)  # [E B, 2 n_heads + 1]
    weights = torch.cat((pattern[:, :, :2].flatten(-2), pattern.new_ones(n_members, n_pairs, 1)), dim=-1)  # [E, B, 2 n_heads + 1]

    def bag(table: torch.Tensor) -> torch.Tensor:
        """[E B, d_read] sum over a pair's rows of weight * row; table [E, 2 d_vocab n_heads + 1, d_read]."""
        return F.embedding_bag(index, table.flatten(0, 1), per_sample_weights=weights.flatten(0, 1), mode="sum")

    hidden = bag(table_in)  # [E B, d_mlp]
    # In place, and before any view (autograd would rebuild the base): the bag's backward does not
    # read its output, and relu's reads only its result.
    post = hidden.relu_() if spec.act_fn == "relu" else activation(hidden, spec.act_fn)  # [E B, d_mlp]
    direct = bag(table_u).view(n_members, n_pairs, -1)  # [E, B, d_vocab_out]
    logits = torch.baddbmm(direct, post.view(n_members, n_pairs, d_mlp), torch.bmm(w_out, w_u))  # [E, B, d_vocab_out]
    return logits[:, :, None]
