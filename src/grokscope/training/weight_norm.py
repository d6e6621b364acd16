"""Training at a fixed weight norm (Liu, Michaud, Tegmark 2023, "Omnigrok", constrained optimization).

Omnigrok's constrained runs rescale the whole model back to its initial norm after every optimizer
step: `rescale(mlp, torch.sqrt(L2_ / L2_new))` with `L2` the sum of squares of every tensor in
`mlp.parameters()` together, measured once after the α init scaling (KindXiaoming/Omnigrok,
mnist/landscape/mnist-landscape.ipynb; mod-addition/landscape/addition-landscape.ipynb does the same
for its decoder). One factor per member scales all of its trainable tensors, so the direction of the
weights moves freely and only their total norm is held; no layer is normalized on its own.
"""

from __future__ import annotations

import torch

from .optim import _per_member


def squared_norm(params: dict[str, torch.Tensor]) -> torch.Tensor:
    """[E] float64: each member's sum of squares over every tensor of `params` [E, ...] together."""
    return sum(p.detach().flatten(1).square().sum(1, dtype=torch.float64) for p in params.values())


@torch.no_grad()
def rescale_to_norm_(params: dict[str, torch.Tensor], target_sq: torch.Tensor, on: torch.Tensor) -> None:
    """w <- w · sqrt(target_sq / |w|²) in place, per member, every tensor of the member by one factor.

    Members where `on` [E] is False are multiplied by exactly 1 (unchanged). Every input is a device
    tensor, so the step can be captured in a CUDA graph.

    Args:
        params: name -> [E, ...] trainable parameters.
        target_sq: [E] float64, each member's squared norm at initialization.
        on: [E] bool, members trained at a fixed norm (and not frozen).
    """
    factor = torch.where(on, (target_sq / squared_norm(params)).sqrt(), torch.ones_like(target_sq))  # [E]
    for param in params.values():
        param.mul_(_per_member(factor.to(param.dtype), param))
