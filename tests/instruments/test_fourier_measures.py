import math

import pytest
import torch

from grokscope.instruments.fourier import (
    fourier_basis,
    frequency_norms,
    key_frequencies_from_neurons,
    key_frequencies_from_norms,
    live_key_frequencies,
    neuron_frequency_fve,
    sum_directions,
)
from grokscope.instruments.measures import (
    excluded_loss,
    gini,
    restricted_loss,
    total_sum_squared_weights,
)


@pytest.mark.parametrize("n", [7, 8, 13])
def test_basis_is_orthonormal(n):
    basis = fourier_basis(n)
    torch.testing.assert_close(basis @ basis.T, torch.eye(n, dtype=torch.float64))
    assert torch.allclose(basis[0], torch.full((n,), n**-0.5, dtype=torch.float64))


def _planted_embedding(n: int, frequencies: list[int], d: int = 16, noise: float = 0.01) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    a = torch.arange(n, dtype=torch.float64)
    columns = [f(2 * math.pi * k * a / n) for k in frequencies for f in (torch.cos, torch.sin)]
    planted = torch.stack(columns, dim=1) @ torch.randn(len(columns), d, generator=g, dtype=torch.float64)
    return (planted + noise * torch.randn(n, d, generator=g, dtype=torch.float64))[None]  # [1, n, d]


def test_planted_embedding_yields_its_frequencies():
    weights = torch.cat([_planted_embedding(13, [2, 5]), _planted_embedding(13, [3])])  # two members
    norms = frequency_norms(weights)  # [2, 6]
    expected = torch.zeros(2, 6, dtype=torch.bool)
    expected[0, [1, 4]] = True
    expected[1, 2] = True
    assert torch.equal(key_frequencies_from_norms(norms), expected)
    assert torch.equal(live_key_frequencies(norms), expected)


def test_live_rule_admits_nothing_while_the_spectrum_is_dense():
    g = torch.Generator().manual_seed(1)
    dense = torch.randn(1, 59, 64, generator=g, dtype=torch.float64)
    norms = frequency_norms(dense)
    assert key_frequencies_from_norms(norms).sum() > 6  # max/4 admits most of a random spectrum
    assert live_key_frequencies(norms).sum() == 0


def test_gini_closed_forms():
    n = 10
    one_hot = torch.zeros(1, n)
    one_hot[0, 3] = 1
    assert gini(torch.ones(1, n)).item() == pytest.approx(0.0)
    assert gini(one_hot).item() == pytest.approx((n - 1) / n)


def test_total_sum_squared_weights_per_member():
    params = {"a": torch.ones(2, 3), "b": torch.tensor([[2.0], [0.0]])}
    assert total_sum_squared_weights(params).tolist() == [7.0, 3.0]


def _clock_logits(n: int, frequencies: list[int], scale: float = 4.0) -> torch.Tensor:
    """[1, n, n, n] logits exactly Σ_k scale cos(w_k (a + b - c))."""
    a = torch.arange(n, dtype=torch.float64)
    total = a[:, None, None] + a[None, :, None] - a[None, None, :]
    return sum(scale * torch.cos(2 * math.pi * k * total / n) for k in frequencies)[None]


def test_restricted_loss_of_a_clock_is_its_full_loss_and_excluded_is_chance():
    n = 13
    logits = _clock_logits(n, [2, 5])
    a = torch.arange(n)
    labels = (a[:, None] + a[None, :]) % n
    key = torch.zeros(1, n // 2, dtype=torch.bool)
    key[0, [1, 4]] = True
    full = -logits.log_softmax(-1).gather(-1, labels[None, ..., None]).mean()
    torch.testing.assert_close(restricted_loss(logits, labels, key), full[None])
    train = torch.rand(1, n, n, generator=torch.Generator().manual_seed(0)) < 0.5
    torch.testing.assert_close(excluded_loss(logits, labels, key, train), torch.tensor([math.log(n)], dtype=torch.float64))
    # keeping the wrong frequencies leaves nothing but the constant: chance
    wrong = torch.zeros(1, n // 2, dtype=torch.bool)
    wrong[0, 0] = True
    torch.testing.assert_close(restricted_loss(logits, labels, wrong), torch.tensor([math.log(n)], dtype=torch.float64))


def test_sum_directions_are_unit_and_orthogonal():
    cos_dir, sin_dir = sum_directions(11)
    flat = torch.cat([cos_dir, sin_dir]).flatten(1)
    torch.testing.assert_close(flat @ flat.T, torch.eye(10, dtype=torch.float64))


def test_neuron_clustering_finds_each_neurons_frequency():
    n = 13
    a = torch.arange(n, dtype=torch.float64)
    wave = lambda k: torch.cos(2 * math.pi * k * (a[:, None] + a[None, :]) / n)  # [n, n]
    activations = torch.stack([wave(2), wave(2) + 0.1, 3 * wave(4)], dim=-1)[None]  # [1, n, n, 3]
    best, fve = neuron_frequency_fve(activations)
    assert best.tolist() == [[2, 2, 4]]
    assert (fve > 0.999).all()
    key = key_frequencies_from_neurons(best, fve, n)
    assert key[0].nonzero().flatten().add(1).tolist() == [2, 4]


def test_ideal_form_fit_of_a_clock_is_complete():
    from grokscope.instruments.measures import ideal_form_explained_variance

    n = 13
    a = torch.arange(n, dtype=torch.float64)
    per_class = torch.randn(n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    logits = _clock_logits(n, [2, 5]) + 0.7 + per_class + 3 * a[None, :, None, None]  # offsets are centered away
    both, one, wrong = (torch.zeros(1, n // 2, dtype=torch.bool) for _ in range(3))
    both[0, [1, 4]] = True
    one[0, 1] = True
    wrong[0, 0] = True
    fit = lambda key: ideal_form_explained_variance(logits, key).item()
    assert fit(both) == pytest.approx(1.0)
    assert fit(one) == pytest.approx(0.5)
    assert fit(wrong) == pytest.approx(0.0, abs=1e-12)
