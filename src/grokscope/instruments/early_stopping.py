"""What textbook early stopping would have done to a grokking run: "the metric lied", quantified.

The rule (Prechelt 1998's simplest form, and what training loops ship as `EarlyStopping(patience)`):
watch the held-out loss at every evaluation; stop once it has not improved on its best for `patience`
steps, and keep the weights of the best evaluation. Patience is counted in steps, not evaluations,
because grokscope's early evaluations are log-spaced (one per step at first): the default, 10
evaluation intervals (`10 * eval_every`), is what a loop evaluating every `eval_every` steps with a
patience of 10 would do. On a grokking run the held-out
loss rises while the network memorizes, so the rule stops long before the network generalizes and
keeps weights that are at chance on held-out pairs (Power et al. 2022; Nanda et al. 2023).
"""

from __future__ import annotations

import torch

PATIENCE_INTERVALS = 10  # evaluation intervals without improvement before stopping (a common default)


def early_stopping_indices(test_loss: torch.Tensor, steps: list[int], patience: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per member, the evaluation index where early stopping stops and the index of the best loss it keeps.

    Args:
        test_loss: [E, S] held-out loss at each evaluation (NaN where missing: never an improvement).
        steps: [S] the evaluated steps.
        patience: steps without a strict improvement before stopping.

    Returns:
        (stop, best): [E] int64 each; stop is -1 where the rule never fired within the run.
    """
    E, S = test_loss.shape
    best_value = torch.full((E,), torch.inf, dtype=test_loss.dtype, device=test_loss.device)
    best = torch.zeros(E, dtype=torch.long, device=test_loss.device)
    stop = torch.full((E,), -1, dtype=torch.long, device=test_loss.device)
    step_of = torch.tensor(steps, dtype=torch.long, device=test_loss.device).reshape(S)
    for s in range(S):  # a loop over evaluations; members stay batched
        running = stop < 0
        improved = running & (test_loss[:, s] < best_value)
        best_value = torch.where(improved, test_loss[:, s], best_value)
        best = torch.where(improved, torch.full_like(best, s), best)
        stop = torch.where(running & (step_of[s] - step_of[best] >= patience), torch.full_like(stop, s), stop)
    return stop, best
