"""Softmax-collapse diagnostics (Prieto et al. 2025, §3-§4), measured at every evaluation.

Without regularization a model that has memorized keeps scaling its logits up (naive loss
minimization: the descent direction is the weights' own direction) until, in floating point, the
correct class's probability rounds to exactly 1 and every other to 0; the example's gradient is then
exactly zero and learning stops. Three measures, per member, on its training pairs:

- `collapse/zero_grad_frac`: the fraction of training examples whose loss gradient along the correct
  logit is exactly zero in the training dtype: the correct class's probability has rounded to exactly 1
  (its loss to exactly 0), Prieto et al.'s softmax collapse. The gradient is the one the weights
  receive (computed in `loss_dtype`, cast to `param_dtype`) for the full-batch mean training loss.
  The other logits' gradients (the wrong classes' probabilities) can stay tiny but non-zero until
  their gap to the correct logit passes the dtype's underflow (~100 in float32);
- `collapse/all_zero_grad_frac`: the stricter count, every logit's gradient exactly zero: the example
  gives no gradient at all.
- `collapse/logit_norm`: the mean over training examples of the L2 norm of the example's scored logits.
- `collapse/grad_weight_cosine`: cos(∇L, w), the full-batch training-loss gradient against the weights,
  every trainable tensor flattened into one vector per member; near -1 the descent direction only
  scales the weights up (naive loss minimization).
"""

from __future__ import annotations

import torch

from .. import metric_names as names
from ..models import Ensemble


def with_gradients(model: Ensemble) -> Ensemble:
    """Leaf copies of a (detached) ensemble's parameters, trainable ones requiring grad."""
    return Ensemble(model.spec, {name: t.detach().clone() for name, t in model.params.items()})


def collapse_measures(model: Ensemble, logits: torch.Tensor, loss: torch.Tensor, targets: torch.Tensor,
                      train_mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """Scalars name -> [E] from a forward pass that kept its graph.

    Args:
        model: the members measured, from `with_gradients` (the graph of `logits` reaches its parameters).
        logits: [E, N, n_out, d_vocab_out] on every pair, attached to the graph.
        loss: [E, N] per-example loss of those logits (in loss_dtype), attached to the graph.
        targets: [N, n_out] or [E, N, n_out].
        train_mask: [E, N] bool.
    """
    n_train = train_mask.sum(1).clamp(min=1)  # [E]
    weights = train_mask.to(torch.float64) / n_train[:, None].to(torch.float64)  # [E, N], as BatchSampler
    total = (loss * weights.to(loss.dtype)).sum()
    trainable = [p for p in model.params.values() if p.requires_grad]
    grads = torch.autograd.grad(total, [logits, *trainable])
    logit_grad, param_grads = grads[0], grads[1:]
    correct_grad = logit_grad.gather(-1, targets.expand(logits.shape[:-1])[..., None]).squeeze(-1)  # [E, N, n_out]
    zero_correct = (correct_grad == 0).all(dim=2)  # [E, N]
    zero_all = (logit_grad == 0).flatten(2).all(dim=2)  # [E, N]
    fraction = lambda zero: (zero & train_mask).sum(1).to(torch.float64) / n_train
    example_norm = logits.detach().flatten(2).to(torch.float64).norm(dim=2)  # [E, N]
    logit_norm = torch.where(train_mask, example_norm, 0.0).sum(1) / n_train
    dot = sum((g * w.detach()).flatten(1).sum(1, dtype=torch.float64) for g, w in zip(param_grads, trainable))
    g_sq = sum((g * g).flatten(1).sum(1, dtype=torch.float64) for g in param_grads)
    w_sq = sum((w.detach() * w.detach()).flatten(1).sum(1, dtype=torch.float64) for w in trainable)
    cosine = dot / (g_sq.sqrt() * w_sq.sqrt())
    return {names.COLLAPSE_ZERO_GRAD_FRAC: fraction(zero_correct), names.COLLAPSE_ALL_ZERO_GRAD_FRAC: fraction(zero_all),
            names.COLLAPSE_LOGIT_NORM: logit_norm,
            names.COLLAPSE_GRAD_WEIGHT_COSINE: cosine}
