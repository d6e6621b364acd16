"""Per-example cross-entropy and accuracy over the scored positions."""

from __future__ import annotations

import torch


def per_example_loss(logits: torch.Tensor, targets: torch.Tensor, *, loss_dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy and exact-match correctness per example.

    The log-softmax runs in `loss_dtype`: float64 by default, as Nanda et al.'s
    `cross_entropy_high_precision` (float32 log-softmax rounds the loss of a confident model to 0
    and stalls the late, slow part of grokking). Several scored positions (openai/grok's c and <eos>)
    are averaged, and an example counts as correct only when all are (openai/grok's accuracy).

    Args:
        logits: [E, B, n_out, d_vocab_out].
        targets: [E, B, n_out] or [B, n_out] shared by all members.

    Returns:
        loss [E, B] in loss_dtype, correct [E, B] bool.
    """
    targets = targets.expand(logits.shape[:-1])
    log_probs = logits.to(loss_dtype).log_softmax(dim=-1)
    loss = -log_probs.gather(-1, targets[..., None]).squeeze(-1).mean(-1)  # [E, B]
    correct = (logits.argmax(dim=-1) == targets).all(dim=-1)  # [E, B]
    return loss, correct
