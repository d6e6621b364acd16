"""When softmax collapse stopped a member: a verdict in words from the logged collapse diagnostics.

Prieto et al. 2025 (§3) call it Softmax Collapse (SC): without regularization a model that has memorized
keeps scaling its logits until, in floating point, the correct class's term absorbs the softmax's sum,
its probability rounds to exactly 1, the example's loss to exactly 0, and the example gives no gradient
along its correct logit; once most training examples are there, learning stops. Their code logs the
fraction of training examples whose loss is exactly 0 (`zero_terms`, read in a public fork); grokscope logs the same count as
`collapse/zero_grad_frac` (train/collapse.py measures it; this module only reads it).

The rule, per member (docs/levers.md says why):

    collapsed from step S  ⇔  S is the first evaluation from which `collapse/zero_grad_frac` stays above
                              COLLAPSED_FRACTION (0.5) at every evaluation through the last, and the
                              member never generalized within the run (held-out accuracy, mirror-held-out
                              where the task has it, never reached the summary's threshold, by default
                              the run's `generalize_acc`).

A member that generalized and then collapsed (a grokked model without weight decay keeps scaling its
logits) lost nothing: no verdict. A missing value (diagnostics off, a diverged member frozen) breaks the
run of evaluations, so it gives no verdict either.
"""

from __future__ import annotations

from typing import Any

import torch

from ..config import RunConfig

COLLAPSED_FRACTION = 0.5  # more than half the training examples give no gradient along their correct logit

# setting -> words, for `remedy_words`; `remedies` offers them in this order, each only where the member lacks it.


def collapse_onsets(zero_grad_frac: torch.Tensor, threshold: float = COLLAPSED_FRACTION) -> torch.Tensor:
    """[E] index of the first evaluation from which the zero-gradient fraction stays above threshold to the last; -1: none.

    Args:
        zero_grad_frac: [E, T] `collapse/zero_grad_frac` per member and evaluation, NaN where missing.
        threshold: the fraction that must be exceeded (strictly) at every evaluation from the onset on.
    """
    above = (zero_grad_frac > threshold).to(torch.int64)  # NaN compares False
    stays = above.flip(1).cumprod(1).flip(1)  # [E, T]: 1 where above from this evaluation through the last
    n_stay = stays.sum(1)  # [E]
    T = zero_grad_frac.shape[1]
    return torch.where(n_stay > 0, T - n_stay, torch.full_like(n_stay, -1))


def remedies(config: RunConfig, member: int) -> list[str]:
    """The remedies member `member` does not use yet, as `--set` values: float64 loss, StableMax, ⊥Grad, weight decay.

    Each of them prevents or delays the collapse (Prieto et al. 2025, §4-§6): float64 moves the rounding
    to larger logits, StableMax grows linearly so its probabilities do not round to 1, ⊥Grad removes the
    gradient's component along the weights that scales the logits, weight decay keeps the weights bounded.
    """
    offered = []
    if config.loss_dtype != "float64":
        offered.append("loss_dtype=float64")
    if config.loss != "stablemax":
        offered.append("loss=stablemax")
    if not config.per_member("orthogonal_grad")[member]:
        offered.append("orthogonal_grad=true")
    if config.per_member("wd")[member] == 0:
        offered.append("wd=1.0")  # the value of the papers' runs (Power et al. 2022, Nanda et al. 2023)
    return offered


def softmax_collapse(config: RunConfig, steps: list[int], zero_grad_frac: torch.Tensor,
                     generalized: torch.Tensor) -> list[dict[str, Any] | None]:
    """Per member, the verdict `Run.summary()` stores as `softmax_collapse`: None, or where the collapse began.

    A verdict is {"step": S, "zero_grad_fraction": the fraction at S, "final_zero_grad_fraction": at the last
    evaluation, "above": COLLAPSED_FRACTION, "remedies": the `remedies` as one comma-separated string (a
    sweep's results table keeps one column per field)}.

    Args:
        config: the run's config (the remedies depend on it and on each member's wd and ⊥Grad).
        steps: [T] the evaluated steps of `zero_grad_frac`.
        zero_grad_frac: [E, T] `collapse/zero_grad_frac`, NaN where missing.
        generalized: [E] bool, the member's held-out accuracy reached the threshold at some evaluation.
    """
    E = config.n_members
    if config.loss not in ("cross_entropy", "stablemax") or zero_grad_frac.shape != (E, len(steps)) or not steps:
        return [None] * E  # no softmax to collapse (MSE), or no diagnostics logged
    onset = collapse_onsets(zero_grad_frac)
    collapsed = (onset >= 0) & ~generalized.to(torch.bool)
    at_onset = zero_grad_frac.gather(1, onset.clamp(min=0)[:, None])[:, 0]  # [E]
    verdicts: list[dict[str, Any] | None] = []
    for e in range(E):  # building JSON records per member; the rule above is batched
        if not collapsed[e]:
            verdicts.append(None)
            continue
        verdicts.append({"step": steps[int(onset[e])], "zero_grad_fraction": float(at_onset[e]),
                         "final_zero_grad_fraction": float(zero_grad_frac[e, -1]), "above": COLLAPSED_FRACTION,
                         "remedies": ", ".join(remedies(config, e))})
    return verdicts
