"""Counter-based randomness: a pure function of (seed, stream, counter), vectorized over members.

A member's split and data order must not depend on which pack it trains in, and a resumed run must
draw exactly what the uninterrupted one drew. Stateful generators make both awkward (one generator
per member is a Python loop; resuming needs saved RNG state). SplitMix64 (Steele, Lea, Flood 2014)
of a counter gives both for free, on CPU and CUDA alike, with integer ops only.
"""

from __future__ import annotations

import torch

_MASK64 = (1 << 64) - 1


def _signed(value: int) -> int:
    """An unsigned 64-bit constant as the int64 torch stores."""
    value &= _MASK64
    return value - (1 << 64) if value >= 1 << 63 else value


_GOLDEN = _signed(0x9E3779B97F4A7C15)
_MIX1 = _signed(0xBF58476D1CE4E5B9)
_MIX2 = _signed(0x94D049BB133111EB)


def _shift_right(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Logical right shift of int64 (torch's `>>` is arithmetic)."""
    return (x >> bits) & ((1 << (64 - bits)) - 1)


def splitmix64(x: torch.Tensor) -> torch.Tensor:
    """SplitMix64 finalizer of int64 counters; int64 multiplication wraps modulo 2**64."""
    z = x + _GOLDEN
    z = (z ^ _shift_right(z, 30)) * _MIX1
    z = (z ^ _shift_right(z, 27)) * _MIX2
    return z ^ _shift_right(z, 31)


def random_keys(seeds: torch.Tensor, stream: int | torch.Tensor, n: int) -> torch.Tensor:
    """Pseudo-random int64 keys, one row per member.

    Args:
        seeds: [E] int64, one seed per member.
        stream: which use the keys are for (split, epoch order, ...): distinct streams are independent;
            an int for all members or [E] int64, one per member.
        n: number of keys per member.

    Returns:
        [E, n] int64 keys; row e depends on seeds[e] and stream only.
    """
    streams = torch.as_tensor(stream, dtype=torch.int64, device=seeds.device)
    base = splitmix64(splitmix64(seeds.to(torch.int64)) ^ splitmix64(streams))  # [E]
    counters = torch.arange(n, dtype=torch.int64, device=seeds.device)
    return splitmix64(base[:, None] + counters[None, :] * _GOLDEN)  # [E, n]


def random_permutations(seeds: torch.Tensor, stream: int, n: int) -> torch.Tensor:
    """[E, n] int64: row e is a permutation of range(n) drawn from (seeds[e], stream)."""
    return torch.argsort(random_keys(seeds, stream, n), dim=1, stable=True)


def inverse_permutations(orders: torch.Tensor) -> torch.Tensor:
    """[E, n] int64: each element's position in its row of `orders` [E, n] (row e a permutation of range(n))."""
    positions = torch.arange(orders.shape[1], device=orders.device).expand_as(orders)
    return torch.empty_like(orders).scatter_(1, orders, positions)
