"""Where a task's pairs sit on the (a, b) grid of an additive problem over Z_n.

The Fourier measures read logits as f(a, b) on a grid where the answer is (a + b) mod n. x+y is that
grid already; x−y is after relabelling b -> −b mod p. (x*y and x/y become addition mod p−1 under
the discrete logarithm, which is not wired in yet; those tasks, like the S_n ones, skip the Fourier
measures with a note.)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..tasks import TaskTable


@dataclass(frozen=True)
class AdditiveGrid:
    """order: [n*n] table rows, grid position (i, j) at i*n + j; labels: [n, n] = (i + j) mod n;
    classes: [n] the answer token of each residue of the additive problem."""

    n: int
    order: torch.Tensor
    labels: torch.Tensor
    classes: torch.Tensor

    def to(self, device: torch.device) -> "AdditiveGrid":
        return AdditiveGrid(self.n, self.order.to(device), self.labels.to(device), self.classes.to(device))


def additive_grid(table: TaskTable) -> AdditiveGrid | None:
    """The additive view of a task's table, or None where the additive Fourier basis does not apply."""
    p = table.p
    i, j = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    if table.op.name == "x+y":
        b = j
    elif table.op.name == "x-y":
        b = (-j) % p  # a - b = a + (-b)
    else:
        return None
    return AdditiveGrid(p, (i * p + b).reshape(-1), (i + j) % p, torch.arange(p))


def skip_note(table: TaskTable) -> str:
    return (f"Fourier measures skipped for task {table.op.name!r}: they need an additive problem over Z_p "
            "(x+y, x-y); the discrete-log relabelling of x*y and x/y is not implemented yet")
