"""Measures that need per-example environment labels: V-REx's risk variance and the IRMv1 penalty."""

from __future__ import annotations

import torch

from ..errors import ConfigError
from .stacked import PerExampleLoss


def environment_risks(losses: torch.Tensor, environments: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(risks [E, M], present [E, M]): mean loss of each member's examples in each environment 0..M-1.

    Args:
        losses: [E, N] per-example losses. environments: [E, N] int64 in 0..M-1.
    """
    if environments.dtype not in (torch.int32, torch.int64) or bool((environments < 0).any()):
        raise ConfigError("environments: must be non-negative integer labels, one per example")
    n_envs = int(environments.max()) + 1
    sums = torch.zeros(losses.shape[0], n_envs, dtype=torch.float64, device=losses.device)
    counts = torch.zeros_like(sums)
    sums.scatter_add_(1, environments, losses.double())
    counts.scatter_add_(1, environments, torch.ones_like(losses, dtype=torch.float64))
    present = counts > 0
    return sums / counts.clamp(min=1), present


def vrex_penalty(losses: torch.Tensor, environments: torch.Tensor) -> torch.Tensor:
    """[E] Var_e(R_e): the variance over environments of the per-environment training risks.

    V-REx (Krueger et al. 2021, "Out-of-distribution generalization via risk extrapolation"): the
    penalty β·Var({R_1, ..., R_m}) added to Σ_e R_e. The population variance (divide by the number of
    environments m, as DomainBed's VREx; an environment with no example of the member is left out).
    Logged as `monitor/risk_variance`.

    Args:
        losses: [E, N] per-example training losses. environments: [E, N] int64.
    """
    risks, present = environment_risks(losses, environments)
    m = present.sum(1).double()  # [E]
    mean = (risks * present).sum(1) / m
    return (((risks - mean[:, None]) ** 2) * present).sum(1) / m


def scale_derivatives(outputs: torch.Tensor, labels: torch.Tensor, loss: PerExampleLoss) -> torch.Tensor:
    """[E, N] ∂ℓ_i(w·f_i)/∂w at w = 1.0: IRMv1's per-example derivatives with respect to a dummy scalar classifier
    multiplying the outputs (Arjovsky et al. 2019), in one backward pass.

    Args:
        outputs: [E, N, ...] the model's outputs. labels: [E, N, ...]. loss: per_example_loss -> [E, N].
    """
    scale = torch.ones(outputs.shape[:2], dtype=outputs.dtype, device=outputs.device, requires_grad=True)  # [E, N]
    with torch.enable_grad():
        scaled = outputs.detach() * scale.reshape(*scale.shape, *(1,) * (outputs.dim() - 2))
        return torch.autograd.grad(loss(scaled, labels).sum(), scale)[0]


def irmv1_penalty(outputs: torch.Tensor, labels: torch.Tensor, environments: torch.Tensor,
                  loss: PerExampleLoss) -> torch.Tensor:
    """[E] Σ_e (∂R_e(w·Φ)/∂w at w = 1.0)²: the IRMv1 penalty of each member's outputs.

    Arjovsky, Bottou, Gulrajani, Lopez-Paz 2019 ("Invariant risk minimization"), IRMv1: a dummy scalar
    classifier w = 1.0 multiplies the outputs (logits); the penalty is the squared gradient of each
    environment's risk with respect to it, summed over environments (the paper's sum; the authors'
    colored-MNIST code averages the per-environment penalties instead). Zero when w = 1.0 is
    simultaneously optimal in every environment. One backward pass: per-example derivatives
    ∂ℓ_i/∂w_i, then their mean per environment. Logged as `monitor/irmv1_penalty`.

    Args:
        outputs: [E, N, ...] the model's outputs (logits) on the training set.
        labels: [E, N, ...]. environments: [E, N] int64.
        loss: per_example_loss(outputs, labels) -> [E, N].
    """
    grads, present = environment_risks(scale_derivatives(outputs, labels, loss), environments)  # [E, M] ∂R_e/∂w
    return (grads.square() * present).sum(1)
