"""Where a task's pairs sit on the (a, b) grid of an additive problem over Z_n.

The Fourier measures read logits as f(a, b) on a grid where the answer is (a + b) mod n. x+y is that
grid already (n = p); x−y is after relabelling b -> −b mod p. x*y and x/y become addition over
n = p − 1 under the discrete logarithm: with g a primitive root of p, x*y = g^(log x + log y) and
x/y = g^(log x − log y), so grid position (i, j) holds the pair (g^i, g^j), or (g^i, g^(−j)) for x/y,
and residue r of the additive problem is the answer token g^r. 0 has no logarithm, so pairs with a
zero operand are not on the grid (x/y's table has none; x*y's are simply left out). The polynomial,
mixed and S_n tasks have no additive view and skip the Fourier measures with a note.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import ConfigError
from ..operations import is_prime
from ..tasks import TaskTable


@dataclass(frozen=True)
class AdditiveGrid:
    """order: [n*n] table rows, grid position (i, j) at i*n + j; labels: [n, n] = (i + j) mod n;
    classes: [n] the answer token of each residue of the additive problem (the operand tokens too:
    position (i, j) holds a = classes[i] and b = classes[j], or b = classes[−j] for x−y and x/y)."""

    n: int
    order: torch.Tensor
    labels: torch.Tensor
    classes: torch.Tensor

    def to(self, device: torch.device) -> "AdditiveGrid":
        return AdditiveGrid(self.n, self.order.to(device), self.labels.to(device), self.classes.to(device))


def primitive_root_powers(p: int) -> torch.Tensor:
    """[p−1] int64 g^k mod p for k = 0..p−2, g the smallest primitive root of the prime p.

    Any primitive root gives an additive view; another one, g^u, relabels residue r as r·u⁻¹ mod p−1,
    which permutes the frequencies (k -> k·u up to sign) and leaves Gini coefficients and the
    restricted and excluded losses unchanged. The smallest is the conventional, reproducible choice,
    so key frequencies of x*y and x/y are numbered with respect to it.

    Raises:
        ConfigError: p is not prime.
    """
    if not is_prime(p):
        raise ConfigError(f"p: the discrete logarithm needs a prime modulus, got {p}")
    g = next(g for g in range(1, p) if len({pow(g, k, p) for k in range(p - 1)}) == p - 1)  # generates Z_p*
    return torch.tensor([pow(g, k, p) for k in range(p - 1)], dtype=torch.int64)


def additive_grid(table: TaskTable) -> AdditiveGrid | None:
    """The additive view of a task's table, or None where the additive Fourier basis does not apply."""
    p, name = table.p, table.op.name
    if name in ("x+y", "x-y"):
        classes = torch.arange(p)
    elif name in ("x*y", "x/y"):
        classes = primitive_root_powers(p)  # residue r is g^r: logs are the additive coordinates
    else:
        return None
    n = classes.shape[0]
    i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    b_index = (-j) % n if name in ("x-y", "x/y") else j  # a − b = a + (−b); a / b = a · b⁻¹
    order = table.row_index(classes[i], classes[b_index]).reshape(-1)  # [n*n]
    assert bool((order >= 0).all()), f"task {name!r}: a grid pair is missing from the table"
    return AdditiveGrid(n, order, (i + j) % n, classes)


def skip_note(table: TaskTable) -> str:
    if table.op.group == "table":
        return ("Fourier measures skipped for task 'table': a stored table's rows have no operation over Z_n; its "
                "evaluations log the eras' losses, the shift's failure ratios and the route ablation (the monitor's "
                "measures apply too: grokscope monitor)")
    if table.op.group == "images":
        return (f"Fourier measures skipped for task {table.op.name!r}: they need an additive problem over Z_n, and "
                "an image classification has none (the monitor's measures apply: grokscope monitor)")
    return (f"Fourier measures skipped for task {table.op.name!r}: they need an additive problem over Z_n "
            "(x+y and x-y over Z_p; x*y and x/y over Z_(p-1) by the discrete logarithm), which the polynomial, "
            "mixed and S_n tasks are not")
