"""Per-example losses of the digits preset: MSE to the one-hot target (Omnigrok's) or cross-entropy."""

from __future__ import annotations

import torch

from ..errors import ConfigError


def mse_per_example(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """[E, B] mean over the K outputs of (output − one_hot(label))², outputs [E, B, K], labels [E, B] int64.

    The mean over examples of this is torch.nn.MSELoss()(outputs, one_hot), the training loss of
    Omnigrok's MNIST code (mean over batch and classes). Their logged loss (`compute_loss`,
    reduction="sum" divided by the number of examples) sums over classes instead: K times this.
    """
    target = torch.nn.functional.one_hot(labels, outputs.shape[-1]).to(outputs.dtype)  # [E, B, K]
    return (outputs - target).square().mean(-1)


def cross_entropy_per_example(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """[E, B] −log softmax(outputs)[label], outputs [E, B, K], labels [E, B] int64."""
    return -outputs.log_softmax(-1).gather(-1, labels[..., None]).squeeze(-1)


def per_example_loss(name: str):
    """The per-example loss called `name` ("mse" or "cross_entropy")."""
    if name == "mse":
        return mse_per_example
    if name == "cross_entropy":
        return cross_entropy_per_example
    raise ConfigError(f"loss: must be mse or cross_entropy, got {name!r}")
