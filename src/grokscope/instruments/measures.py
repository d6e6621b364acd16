"""Progress measures of Nanda et al. 2023 (§5), one pure function each: tensors in, [E] out.

Logits come as a grid over the additive problem: `logits[e, a, b, c]` for every pair (a, b) of Z_n,
answer classes c only (the paper's code drops the `=` logit, `[:, -1, :-1]`), and `labels[a, b]` =
(a + b) mod n. Key frequencies come as a mask [E, n//2] (frequency k at column k-1), so members
with different key sets are measured in one batched computation.
"""

from __future__ import annotations

import math

import torch

from .fourier import sum_directions


def total_sum_squared_weights(params: dict[str, torch.Tensor]) -> torch.Tensor:
    """[E] Σ w² over every parameter of each member (Nanda et al. 2023, §5.2; logged as `measure/weight_norm_sq`)."""
    return sum(t.detach().double().pow(2).flatten(1).sum(1) for t in params.values())


def gini(values: torch.Tensor) -> torch.Tensor:
    """[E] Gini coefficient of non-negative values [E, n]: Σ_i (2i − n − 1) x_(i) / (n Σ_i x_i), x sorted ascending.

    0 for a uniform vector, (n − 1)/n for a one-hot one. Applied to the Fourier-component norms of W_E
    and of W_L = W_out W_U, it measures how sparse in frequency the representation is
    (Nanda et al. 2023, §5.2; logged as `measure/gini_embed`, `measure/gini_neuron_logit`).
    """
    n = values.shape[1]
    ordered = values.double().sort(dim=1).values
    i = torch.arange(1, n + 1, dtype=torch.float64, device=values.device)
    return ((2 * i - n - 1) * ordered).sum(1) / (n * ordered.sum(1)).clamp(min=1e-300)


def key_frequency_components(logits: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
    """[E, n, n, C] the part of the logits along cos(w_k(a+b)) and sin(w_k(a+b)) for the key frequencies.

    Per answer class c, the projection of logits[e, :, :, c] onto the two unit directions of each key
    frequency k (the paper code's `get_component_cos_xpy` + `get_component_sin_xpy`, two sum directions
    per frequency rather than the 2x2 block its prose suggests).

    Args:
        logits: [E, n, n, C]. key_mask: [E, n//2] bool.
    """
    n = logits.shape[1]
    cos_dir, sin_dir = sum_directions(n, dtype=logits.dtype, device=logits.device)  # [K, n, n]
    mask = key_mask.to(logits.dtype)  # [E, K]
    components = torch.zeros_like(logits)
    for direction in (cos_dir, sin_dir):
        coefficients = torch.einsum("kab,eabc->ekc", direction, logits) * mask[:, :, None]  # [E, K, C]
        components += torch.einsum("ekc,kab->eabc", coefficients, direction)
    return components


def _grid_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """[E] mean float64 cross-entropy over the grid, or weighted by weights [E, n, n] (a mask)."""
    log_probs = logits.double().log_softmax(dim=-1)
    nll = -log_probs.gather(-1, labels.expand(logits.shape[:-1])[..., None]).squeeze(-1)  # [E, n, n]
    if weights is None:
        return nll.flatten(1).mean(1)
    w = weights.double()
    return (nll * w).flatten(1).sum(1) / w.flatten(1).sum(1).clamp(min=1)


def restricted_loss(logits: torch.Tensor, labels: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
    """[E] loss when the logits keep only the key frequencies' cos/sin(w_k(a+b)) components, on all pairs.

    Restricted logits = key-frequency components + the per-class mean of the original logits over all
    pairs (the code's bias correction, which keeps the constant). Nanda et al. 2023, §5.1, as the
    paper's code `calculate_trig_loss` (mode "all"): it falls well before test loss does, because the
    circuit exists before it carries the test loss. Logged as `measure/restricted_loss[_live]`.

    Args:
        logits: [E, n, n, C] answer logits on every pair. labels: [n, n]. key_mask: [E, n//2] bool.
    """
    trig = key_frequency_components(logits, key_mask)
    correction = (logits - trig).mean(dim=(1, 2), keepdim=True)  # [E, 1, 1, C]
    return _grid_cross_entropy(trig + correction, labels)


def excluded_loss(logits: torch.Tensor, labels: torch.Tensor, key_mask: torch.Tensor, train_mask: torch.Tensor) -> torch.Tensor:
    """[E] loss on the training pairs when every key frequency's cos/sin(w_k(a+b)) component is removed.

    All key frequencies at once, no bias correction: Nanda et al. 2023, Fig. 7, as the paper's code
    `calculate_excluded_loss_2D_full`. It rises during circuit formation, as the model comes to rely
    on the circuit even for the pairs it memorized. Logged as `measure/excluded_loss[_live]`.

    Args:
        logits: [E, n, n, C]. labels: [n, n]. key_mask: [E, n//2] bool. train_mask: [E, n, n] bool.
    """
    return _grid_cross_entropy(logits - key_frequency_components(logits, key_mask), labels, train_mask)


def ideal_form_explained_variance(logits: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
    """[E] fraction of logit variance explained by Σ_k α_k cos(w_k(a+b−c)) over the key frequencies.

    The logits are centered per input pair (softmax ignores a per-pair constant) and per output class
    before the least-squares fit (notes-on-issues; Nanda et al. 2023, §4, the ideal form of the
    logits). The waves of distinct frequencies are orthogonal, so each α_k is a projection.
    Near 0.9 at initialization, where the per-class constant dominates random logits, if not
    centered; read it after memorization. Logged as `measure/ideal_form_fve[_live]`.

    Args:
        logits: [E, n, n, n] answer logits on the additive grid (a, b, c). key_mask: [E, n//2] bool.
    """
    n = logits.shape[1]
    centered = logits.double() - logits.double().mean(-1, keepdim=True)
    centered = centered - centered.mean(dim=(1, 2), keepdim=True)  # [E, n, n, n]
    i = torch.arange(n, dtype=torch.float64, device=logits.device)
    angle = 2 * math.pi * torch.arange(1, n // 2 + 1, dtype=torch.float64, device=logits.device)[:, None] * i / n  # [K, n]
    residues = torch.arange(n, device=logits.device)
    sums = (residues[:, None] + residues[None, :]) % n  # [n, n]: a + b
    projection = torch.zeros(logits.shape[0], n // 2, dtype=torch.float64, device=logits.device)
    for wave in (torch.cos, torch.sin):  # cos(w(s−c)) = cos(ws)cos(wc) + sin(ws)sin(wc)
        per_class = torch.einsum("kab,eabc->ekc", wave(angle)[:, sums], centered)  # [E, K, n]
        projection += torch.einsum("ekc,kc->ek", per_class, wave(angle))
    wave_norm_sq = n * n * torch.cos(angle).pow(2).sum(-1)  # [K]: n² triples per residue of a+b−c
    explained = (projection.pow(2) / wave_norm_sq * key_mask.double()).sum(1)
    return explained / centered.pow(2).flatten(1).sum(1).clamp(min=1e-30)
