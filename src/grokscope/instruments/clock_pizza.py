"""Clock or pizza? The two diagnostics of Zhong, Liu, Tegmark, Andreas 2023 ("The Clock and the Pizza", §4).

The clock (Nanda et al.'s algorithm) adds angles; the pizza averages the two embeddings' angles and
reads the answer off the slice. Two tests tell them apart on an additive task:
- gradient symmetricity (their Definition 4.1): the mean cosine similarity between the gradients of
  a logit Q_abc with respect to the two input embeddings E_a and E_b, over 100 random triples
  (a, b, c), c uniform (not the answer). The pizza depends on E_a + E_b and scores near 1; the clock
  lower (0.99 vs 0.33 in their Table 1).
- distance irrelevance (their Definition 4.2): arrange the correct-answer logits by (a+b, a−b); the
  mean over differences of the standard deviation over sums, divided by the standard deviation of
  all of them. The clock's correct logit ignores the difference and scores near 1; the pizza's
  depends on it and scores low (0.85 vs 0.17 in their paper; pizza in [0, 0.4]).

`algorithm_verdict` names the nearer of their two reference models (Table 1) in the plane of the two
diagnostics. That rule is grokscope's, not theirs: small models read between the two references (a
constant-attention transformer at p = 31 scores symmetricity 0.97-0.98 and irrelevance 0.45-0.69), and
the nearer reference still tells them apart where a fixed irrelevance cut (0.4) would not.
"""

from __future__ import annotations

import math

import torch

from ..models import Ensemble
from ..models.forward import mlp_logits, token_embeddings, transformer_logits
from .grid import AdditiveGrid

N_TRIPLES = 100  # the paper's |S|
# (gradient symmetricity, distance irrelevance) of Zhong et al. 2023's Model A (clock) and Model B (pizza), Table 1.
REFERENCE_MODELS = {"clock": (0.33, 0.85), "pizza": (0.99, 0.17)}


def gradient_symmetricity(model: Ensemble, inputs: torch.Tensor, grid: AdditiveGrid, *, seed: int = 0) -> torch.Tensor:
    """[E] mean cos(∂Q_abc/∂E_a, ∂Q_abc/∂E_b) over N_TRIPLES triples drawn with `seed` (Zhong et al. 2023, Def. 4.1).

    Args:
        inputs: [N, pos] tokens of every table row; grid: the task's additive view (a, b are grid coordinates).
    """
    g = torch.Generator().manual_seed(seed)
    a, b, c = torch.randint(0, grid.n, (3, N_TRIPLES), generator=g).to(inputs.device)
    tokens = inputs[grid.order[a * grid.n + b]]  # [S, pos]
    params = {name: t.detach() for name, t in model.params.items()}
    forward = mlp_logits if model.spec.arch == "mlp" else transformer_logits
    with torch.enable_grad():  # callers may sit in no_grad; this diagnostic is a gradient
        embedded = token_embeddings(params, tokens).clone().requires_grad_(True)  # [E, S, pos, d_model]
        logits = forward(params, model.spec, tokens, token_embed=embedded)[:, :, -1]  # [E, S, d_vocab_out]
        chosen = logits.gather(-1, grid.classes[c].expand(logits.shape[0], -1)[..., None])  # [E, S, 1]
        (grad,) = torch.autograd.grad(chosen.sum(), embedded)
    return torch.nn.functional.cosine_similarity(grad[:, :, 0], grad[:, :, 1], dim=-1).mean(1)  # [E]


def distance_irrelevance(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """[E] mean over differences d of the std of the correct logit over the pairs with a − b = d, over the std of
    all correct logits (Zhong et al. 2023, Def. 4.2).

    The paper arranges the correct logits L in a table indexed by (a+b, a−b) and takes, per difference, the
    std over sums. For odd n that table is a bijection of the n² pairs. For even n (x*y and x/y over
    Z_(p−1)) a+b and a−b have the same parity, so only half of its cells exist, and each holds two pairs
    ((a, b) and (a + n/2, b + n/2)); the statistic is therefore defined on the pairs themselves: the std,
    per difference, over the n pairs with that difference. For odd n this is exactly the paper's table.

    Args:
        logits: [E, n, n, n] answer logits on the additive grid; labels: [n, n].
    """
    n = logits.shape[1]
    correct = logits.gather(-1, labels.expand(logits.shape[:-1])[..., None])[..., 0].double()  # [E, n, n]
    i = torch.arange(n, device=logits.device)
    by_difference = correct[:, i[None, :], (i[None, :] - i[:, None]) % n]  # [E, d, i]: the pair (i, i − d)
    per_difference = by_difference.std(dim=2, unbiased=False).mean(1)  # [E]
    return per_difference / correct.flatten(1).std(dim=1, unbiased=False).clamp(min=1e-30)


def algorithm_verdict(symmetricity: float, irrelevance: float) -> str:
    """"clock" or "pizza": the nearer of Zhong et al.'s two reference models (REFERENCE_MODELS) in the
    (gradient symmetricity, distance irrelevance) plane, both axes on their natural [0, 1] scale;
    "undetermined" where a diagnostic is not a finite number (never a default reading)."""
    if not (math.isfinite(symmetricity) and math.isfinite(irrelevance)):
        return "undetermined"
    def distance(name: str) -> float:
        sym, irr = REFERENCE_MODELS[name]
        return (symmetricity - sym) ** 2 + (irrelevance - irr) ** 2
    return min(REFERENCE_MODELS, key=distance)
