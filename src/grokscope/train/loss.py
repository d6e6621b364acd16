"""Per-example cross-entropy and accuracy over the scored positions."""

from __future__ import annotations

import torch


def per_example_loss(logits: torch.Tensor, targets: torch.Tensor, *, loss_dtype: torch.dtype) -> torch.Tensor:
    """Cross-entropy per example, averaged over the scored positions.

    The log-softmax runs in `loss_dtype`: float64 by default, as Nanda et al.'s
    `cross_entropy_high_precision` (float32 log-softmax rounds the loss of a confident model to 0
    and stalls the late, slow part of grokking). Several scored positions (openai/grok's c and <eos>)
    are averaged, as openai/grok's mean cross-entropy over the right-hand side.

    Args:
        logits: [E, B, n_out, d_vocab_out].
        targets: [E, B, n_out] or [B, n_out] shared by all members.

    Returns:
        [E, B] in loss_dtype.
    """
    targets = targets.expand(logits.shape[:-1])
    log_probs = logits.to(loss_dtype).log_softmax(dim=-1)
    return -log_probs.gather(-1, targets[..., None]).squeeze(-1).mean(-1)  # [E, B]


def exact_match(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """[E, B] bool: every scored position's argmax is its target (openai/grok's accuracy).

    Args: as per_example_loss.
    """
    return (logits.argmax(dim=-1) == targets.expand(logits.shape[:-1])).all(dim=-1)
