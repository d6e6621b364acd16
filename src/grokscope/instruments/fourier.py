"""The Fourier basis over Z_n and the transforms the instruments are built on (Nanda et al. 2023, §4).

Rows of the basis: the constant, then cos(2πkx/n), sin(2πkx/n) for k = 1..(n-1)//2, and for even n
(Z_{p-1} under the discrete-log relabelling) the lone cos(πx) = (-1)^x; each normalized, so the
n rows are an orthonormal basis of R^n. Frequencies are numbered 1..n//2; frequency k owns rows
2k-1 and 2k (only 2k-1 for k = n/2 when n is even).
"""

from __future__ import annotations

import math

import torch

from ..counter_rng import inverse_permutations


def fourier_basis(n: int, *, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None) -> torch.Tensor:
    """[n, n] orthonormal basis; row 0 constant, rows 2k-1, 2k the cos, sin of frequency k."""
    x = torch.arange(n, dtype=torch.float64)
    rows = [torch.ones(n, dtype=torch.float64)]
    for k in range(1, n // 2 + 1):
        rows.append(torch.cos(2 * math.pi * k * x / n))
        if 2 * k != n:  # at k = n/2 the sine vanishes on integers
            rows.append(torch.sin(2 * math.pi * k * x / n))
    basis = torch.stack(rows)
    basis = basis / basis.norm(dim=1, keepdim=True)
    return basis.to(dtype=dtype, device=device)


def basis_names(n: int) -> list[str]:
    """Names of the basis rows: `const`, `cos 1`, `sin 1`, ..."""
    names = ["const"]
    for k in range(1, n // 2 + 1):
        names.append(f"cos {k}")
        if 2 * k != n:
            names.append(f"sin {k}")
    return names


def row_frequencies(n: int) -> torch.Tensor:
    """[n] int64: the frequency each basis row belongs to (0 for the constant)."""
    return torch.tensor([0 if name == "const" else int(name.split()[1]) for name in basis_names(n)])


def frequency_norms(weights: torch.Tensor) -> torch.Tensor:
    """[E, n//2] norm of the Fourier components of each frequency, over the residue axis.

    Args:
        weights: [E, n, d] rows indexed by residue (W_E restricted to the n element tokens, or a
            neuron-logit map W_L transposed to [E, n, d_mlp]).

    Returns:
        [E, n//2]: for frequency k, sqrt(|cos_k coefficients|^2 + |sin_k coefficients|^2), summed over d
        (Nanda et al. 2023, Fig. 3's norms of W_E in the Fourier basis).
    """
    n = weights.shape[1]
    basis = fourier_basis(n, dtype=weights.dtype, device=weights.device)
    coefficients = torch.einsum("fx,exd->efd", basis, weights)  # [E, n, d]: row f of the basis
    energy = coefficients.pow(2).sum(-1)  # [E, n]
    per_frequency = torch.zeros(weights.shape[0], n // 2 + 1, dtype=weights.dtype, device=weights.device)
    per_frequency.index_add_(1, row_frequencies(n).to(weights.device), energy)
    return per_frequency[:, 1:].sqrt()  # the constant is not a frequency


def fourier_2d(grid: torch.Tensor) -> torch.Tensor:
    """[E, n, n, ...] coefficients of a function on the (a, b) grid in the 2-D basis (row f of the basis along a, g along b)."""
    n = grid.shape[1]
    basis = fourier_basis(n, dtype=grid.dtype, device=grid.device)
    # One axis at a time: a three-operand einsum may contract the two bases first, an [n, n, n, n] outer product
    # (1.3 GB at n = 113) that no output needs.
    along_a = torch.einsum("fa,eab...->efb...", basis, grid)
    return torch.einsum("gb,efb...->efg...", basis, along_a)


def sum_directions(n: int, *, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit directions cos(w_k(a+b)) and sin(w_k(a+b)) on the (a, b) grid, w_k = 2πk/n.

    Returns:
        cos_dir, sin_dir: [n//2, n, n]. These equal the paper code's (cos_a cos_b - sin_a sin_b)/sqrt(2)
        and (sin_a cos_b + cos_a sin_b)/sqrt(2) built from the basis (`get_component_cos_xpy`,
        `get_component_sin_xpy`). For even n the sine of k = n/2 is zero and is returned as zeros.
    """
    a = torch.arange(n, dtype=torch.float64)
    k = torch.arange(1, n // 2 + 1, dtype=torch.float64)
    angle = 2 * math.pi * k[:, None, None] * (a[None, :, None] + a[None, None, :]) / n  # [K, n, n]
    directions = []
    for wave in (torch.cos(angle), torch.sin(angle)):
        norm = wave.flatten(1).norm(dim=1)
        safe = torch.where(norm > 1e-9, norm, torch.ones_like(norm))
        directions.append(torch.where(norm[:, None, None] > 1e-9, wave / safe[:, None, None], torch.zeros_like(wave)))
    return directions[0].to(dtype=dtype, device=device), directions[1].to(dtype=dtype, device=device)


def neuron_frequency_fve(activations: torch.Tensor, *, last_frequency: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Each neuron's best frequency and the fraction of its variance that frequency explains.

    A neuron's activations over the (a, b) grid are centered, moved into the 2-D Fourier basis, and
    frequency k is credited with the 3x3 block of rows and columns {const, cos k, sin k} (its linear
    and quadratic terms). Nanda et al. 2023, §5.1 ("neuron clustering"), as the paper's code
    `calculate_key_freqs`; for odd n the code's loop `range(1, p//2)` never tests the last frequency
    (n-1)/2, which is the default here too (`last_frequency=True` tests it). For even n (x*y and x/y
    over Z_(p-1)) the paper's code has no answer; its loop would skip the parity frequency n/2, the lone
    cos(πx), which grokked multiplicative models do use, so every frequency 1..n/2 is tested there.

    Args:
        activations: [E, n, n, d_mlp] neuron activations on every (a, b).

    Returns:
        best: [E, d_mlp] int64 frequency (1-based); fve: [E, d_mlp] its fraction of variance explained.
    """
    n = activations.shape[1]
    centered = activations - activations.mean(dim=(1, 2), keepdim=True)
    coefficients = fourier_2d(centered).pow(2)  # [E, n, n, d_mlp]
    total = coefficients.sum(dim=(1, 2)).clamp(min=1e-30)  # [E, d_mlp]
    frequencies = row_frequencies(n).to(activations.device)
    highest = n // 2 if last_frequency or n % 2 == 0 else n // 2 - 1  # odd n: the code's range(1, p//2)
    k = torch.arange(1, max(highest, 1) + 1, device=activations.device)
    in_block = (frequencies[None, :] == k[:, None]) | (frequencies[None, :] == 0)  # [K, n]
    block = (in_block[:, :, None] & in_block[:, None, :]).to(coefficients.dtype)  # [K, n, n]
    explained = torch.einsum("kfg,efgm->ekm", block, coefficients) / total[:, None]  # [E, K, d_mlp]
    fve, index = explained.max(dim=1)
    return index + 1, fve


def key_frequencies_from_neurons(best: torch.Tensor, fve: torch.Tensor, n: int, *, threshold: float | None = None) -> torch.Tensor:
    """[E, n//2] bool: frequencies that are the best frequency of at least one neuron.

    No threshold is the paper code's rule (`np.unique(neuron_freqs)`), which can admit a stray
    frequency; threshold=0.85 keeps only neurons that one frequency explains well (the paper's text).
    """
    keep = torch.ones_like(fve, dtype=torch.bool) if threshold is None else fve > threshold
    counts = torch.zeros(best.shape[0], n // 2 + 1, device=best.device)
    counts.scatter_add_(1, best, keep.to(counts.dtype))
    return counts[:, 1:] > 0


def key_frequencies_from_norms(norms: torch.Tensor, *, fraction: float = 0.25) -> torch.Tensor:
    """[E, K] bool: frequencies whose norm exceeds `fraction` of the largest (the TransformerLens demo's
    max/4 rule on W_E). Dense early in training: every frequency passes while the spectrum is flat."""
    return norms > fraction * norms.max(dim=1, keepdim=True).values


def live_key_frequencies(norms: torch.Tensor, *, max_keys: int = 6, ratio: float = 10.0, gap: float | None = 10.0) -> torch.Tensor:
    """[E, K] bool: the key frequencies a checkpoint admits, or none while its spectrum is dense.

    grokscope's live rule (not from a paper): a frequency is key when its squared norm is at least
    `ratio` times the median squared norm of all frequencies, and the set is admitted only when it
    has at most `max_keys` members. A random spectrum has no such outlier (its largest squared norm is
    within a small factor of the median), so nothing is admitted where the max/4 rule admits nearly
    everything (reference, "Pitfalls"); a grokked embedding's few frequencies stand orders of magnitude
    above the median.

    After cleanup weight decay shrinks the non-key frequencies so far that the median falls and more than
    `max_keys` stand `ratio` above it. Then (with `gap` set) the set is the top m ≤ max_keys frequencies
    before the largest drop in the sorted squared norms, admitted when that drop is at least `gap`-fold:
    a clean few-frequency spectrum is recognised by its separation, not only by its distance from the
    median. `gap=None` is the median test alone (the rule before the cleanup fix; the old early warning).
    """
    squared = norms.pow(2)
    median = squared.median(dim=1, keepdim=True).values
    key = squared >= ratio * median.clamp(min=1e-30)
    sparse = key.sum(dim=1, keepdim=True) <= max_keys
    if gap is None or squared.shape[1] <= max_keys:
        return key & sparse
    ordered, order = squared.sort(dim=1, descending=True)  # [E, K]
    drops = ordered[:, :max_keys] / ordered[:, 1:max_keys + 1].clamp(min=1e-300)  # [E, max_keys]: s_m / s_(m+1)
    best_drop, m = drops.max(dim=1)  # the set is the top m + 1
    separated = (inverse_permutations(order) <= m[:, None]) & key & (best_drop >= gap)[:, None]
    return torch.where(sparse, key, separated)


# Fitted 2026-12-03 on nanda2023 seeds 0-7 (the 13,000-step run of docs/instruments.md): the share of W_L's Fourier
# energy the live set must hold where W_E's test reads dense. Scored on the warning benchmark's members (p = 31,
# four tasks) and on the quickstart preset (p = 59), which it was not fitted on.
KEY_ENERGY = 0.95


def energy_key_frequencies(norms: torch.Tensor, *, energy: float = KEY_ENERGY, max_keys: int = 6) -> torch.Tensor:
    """[E, K] bool: the fewest frequencies holding at least `energy` of the squared norm, admitted only when they are
    at most `max_keys` (else none).

    Args:
        norms: [E, K] Fourier norms (`frequency_norms`).
    """
    squared = norms.pow(2)
    ordered, order = squared.sort(dim=1, descending=True)
    share = ordered.cumsum(dim=1) / squared.sum(dim=1, keepdim=True).clamp(min=1e-300)  # [E, K]
    size = (share < energy).sum(dim=1) + 1  # [E]: the smallest set reaching `energy`
    return (inverse_permutations(order) < size[:, None]) & (size <= max_keys)[:, None] & (squared.sum(dim=1, keepdim=True) > 0)


def live_key_set(embed_norms: torch.Tensor, logit_norms: torch.Tensor | None) -> torch.Tensor:
    """[E, K] bool: the live key set grokscope logs (`fourier/key_frequencies_live`).

    W_E's rule (`live_key_frequencies`) first. Where it admits nothing and the model has a neuron-logit map W_L =
    W_out W_U (1-layer models), W_L's energy rule (`energy_key_frequencies`): after cleanup W_E keeps up to 7 or 8
    frequencies well above its median (the median itself has collapsed), while W_L's energy sits in the algorithm's
    few (on nanda2023 seeds 0-7 the last evaluation's set equals the frequencies of its FVE > 0.85 neurons, for every
    seed). W_L concentrates later than W_E passes its test (there by 1,300-3,400 steps), so the fallback rarely moves
    the cleanup start: on none of those seeds, on 2 of the warning benchmark's 80 grokked members (x-y, both earlier).

    Args:
        embed_norms: [E, K] W_E's Fourier norms; logit_norms: [E, K] W_L's, or None.
    """
    key = live_key_frequencies(embed_norms)
    if logit_norms is None:
        return key
    return torch.where(key.any(dim=1, keepdim=True), key, energy_key_frequencies(logit_norms))
