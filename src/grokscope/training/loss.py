"""Per-example loss (softmax or StableMax cross-entropy, MSE against one-hot classes, or the squared error of a
scalar target) and accuracy over the scored positions."""

from __future__ import annotations

import torch


def log_stablemax(x: torch.Tensor) -> torch.Tensor:
    """log StableMax over the last axis (Prieto et al. 2025, §5, eq. for s): s(x) = x + 1 for x >= 0,
    1 / (1 - x) for x < 0, and StableMax(x)_i = s(x_i) / sum_j s(x_j).

    s grows linearly rather than exponentially, so a confident model's probabilities do not round to
    exactly 1 and 0 (softmax collapse). The negative branch reads x clamped at 0, so that its derivative is
    finite where x >= 0 (torch.where would otherwise multiply an infinite derivative by 0).
    """
    s = torch.where(x >= 0, x + 1, 1 / (1 - x.clamp(max=0)))
    return s.log() - s.sum(dim=-1, keepdim=True).log()


def mean_squared_error(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Omnigrok's MSE loss (Liu, Michaud, Tegmark 2023, MNIST): mean over classes of (x_i − onehot(t)_i)².

    Their code (KindXiaoming/Omnigrok, mnist/grokking/mnist-grokking.ipynb) trains on
    `nn.MSELoss()(logits, torch.eye(10)[labels])`, whose default mean runs over classes as well as
    examples; its evaluation `compute_loss` sums over classes instead (`reduction="sum"` / examples),
    10 times larger on MNIST. The training mean is what is trained on, so it is the one used here, for
    the logged losses too.

    Args:
        logits: [..., d_vocab_out] in the dtype the loss is computed in.
        targets: [...] int64 class indices.

    Returns:
        [...]: the mean over the last axis of the squared error against the one-hot target.
    """
    one_hot = torch.nn.functional.one_hot(targets, logits.shape[-1]).to(logits.dtype)
    return (logits - one_hot).square().mean(-1)


def per_example_loss(logits: torch.Tensor, targets: torch.Tensor, *, loss_dtype: torch.dtype,
                     loss: str = "cross_entropy") -> torch.Tensor:
    """Loss per example, averaged over the scored positions: cross-entropy on softmax, on StableMax
    (loss="stablemax"), or the mean squared error against one-hot targets (loss="mse").

    The log-softmax runs in `loss_dtype`: float64 by default, as Nanda et al.'s
    `cross_entropy_high_precision` (float32 log-softmax rounds the loss of a confident model to 0
    and stalls the late, slow part of grokking). Several scored positions (openai/grok's c and <eos>)
    are averaged, as openai/grok's mean cross-entropy over the right-hand side.

    Args:
        logits: [E, B, n_out, d_vocab_out].
        targets: [E, B, n_out] or [B, n_out] shared by all members (int64 classes; "squared_error": float values).
        loss: "cross_entropy", "stablemax", "mse" or "squared_error" (config.LOSSES), computed in loss_dtype in
            every case.

    Returns:
        [E, B] in loss_dtype.
    """
    if loss == "squared_error":  # a stored table's scalar target: logits [E, B, 1, 1], targets [E, B, 1] float
        return (logits[..., 0].to(loss_dtype) - targets.to(loss_dtype)).square().mean(-1)  # [E, B]
    targets = targets.expand(logits.shape[:-1])
    if loss == "mse":
        return mean_squared_error(logits.to(loss_dtype), targets).mean(-1)  # [E, B]
    if loss == "stablemax":
        log_probs = log_stablemax(logits.to(loss_dtype))
    else:
        log_probs = logits.to(loss_dtype).log_softmax(dim=-1)
    return -log_probs.gather(-1, targets[..., None]).squeeze(-1).mean(-1)  # [E, B]


def exact_match(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """[E, B] bool: every scored position's argmax is its target (openai/grok's accuracy).

    Args: as per_example_loss.
    """
    return (logits.argmax(dim=-1) == targets.expand(logits.shape[:-1])).all(dim=-1)
