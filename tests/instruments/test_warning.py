"""The early warning's rules on planted spectra: the statistics, their training-accuracy gate, the calibration,
and the shuffle null's independence of the model's size."""

import pytest
import torch

from grokscope.instruments.warning import (
    CALIBRATION_MARGIN,
    GATE_TRAIN_ACC,
    PEAK_THRESHOLD,
    SHUFFLE_Z_THRESHOLD,
    SHUFFLES,
    calibrate_threshold,
    either_statistic,
    either_warning_indices,
    gated,
    gated_statistic,
    peak_ratio,
    peak_warning_indices,
    shuffle_statistics,
    shuffle_warning_indices,
    shuffle_z,
    shuffled_residues,
)

K = 15


def _spectrum(peak_squared: float) -> torch.Tensor:
    """[K] norms: every squared norm 1 but one, which is `peak_squared`."""
    norms = torch.ones(K, dtype=torch.float64)
    norms[4] = peak_squared ** 0.5
    return norms


def test_peak_ratio_is_the_largest_squared_norm_over_the_median():
    assert peak_ratio(_spectrum(7.5)).item() == pytest.approx(7.5)
    flat = torch.full((2, 3, K), 0.3, dtype=torch.float64)
    assert torch.allclose(peak_ratio(flat), torch.ones(2, 3, dtype=torch.float64))
    assert peak_ratio(torch.zeros(K)).item() == 0.0  # an all-zero spectrum has no peak


def test_the_warning_fires_at_the_first_evaluation_that_is_memorized_and_above_threshold():
    above, below = _spectrum(PEAK_THRESHOLD * 1.01), _spectrum(PEAK_THRESHOLD * 0.99)
    norms = torch.stack([
        torch.stack([below, above, above, above]),  # member 0: above from index 1, memorized from index 2
        torch.stack([below, below, above, above]),  # member 1: memorized from 0, above from 2
        torch.stack([above, above, above, above]),  # member 2: above throughout, never memorized
        torch.stack([below, below, below, below]),  # member 3: memorized, just below throughout
    ])
    train_acc = torch.tensor([[0.5, 0.9, GATE_TRAIN_ACC, 1.0], [1.0] * 4, [0.98] * 4, [1.0] * 4], dtype=torch.float64)
    assert peak_warning_indices(train_acc, norms).tolist() == [2, 2, -1, -1]
    statistic = gated_statistic(train_acc, norms)
    assert statistic[2].eq(0).all()  # the gate holds the statistic at 0 until training accuracy is reached
    assert statistic[3].max().item() == pytest.approx(PEAK_THRESHOLD * 0.99)  # silent because of the statistic


def test_calibration_is_the_margin_over_the_largest_control():
    assert calibrate_threshold([2.0, 5.5, 3.0]) == pytest.approx(CALIBRATION_MARGIN * 5.5)
    with pytest.raises(ValueError):
        calibrate_threshold([])


def _clock(n: int, d: int, frequency: int, generator: torch.Generator, *, strength: float) -> torch.Tensor:
    """[n, d] Gaussian rows plus `strength` times a cos/sin wave of `frequency` over the residues in two columns."""
    x = torch.arange(n, dtype=torch.float64)
    w = torch.randn(n, d, generator=generator, dtype=torch.float64)
    w[:, 0] += strength * torch.cos(2 * torch.pi * frequency * x / n)
    w[:, 1] += strength * torch.sin(2 * torch.pi * frequency * x / n)
    return w


@pytest.mark.parametrize("n, d", [(31, 32), (59, 64), (113, 128)])
def test_shuffle_z_reads_exchangeable_rows_near_zero_at_every_size_and_a_clock_far_above(n, d):
    """The null that moves with the model's size: rows in no order over the residues (uneven norms) read z within
    a few units of 0 at p = 31, 59 and 113 alike (the shuffled peak ratios are skewed, so the tail reaches ~4 in 24
    members); a planted wave stands far above."""
    generator = torch.Generator().manual_seed(n)
    lookup = torch.randn(24, n, d, generator=generator, dtype=torch.float64)
    lookup = lookup * torch.rand(24, n, 1, generator=generator, dtype=torch.float64).mul(3).add(0.1)  # uneven row norms
    z, excess = shuffle_statistics(lookup)
    assert z.abs().median().item() < 1.0 and z.abs().max().item() < 5.0
    assert 0.8 < excess.median().item() < 1.25  # the effect size of no order: the peak ratio of a shuffle
    clock = torch.stack([_clock(n, d, 5, generator, strength=3.0) for _ in range(4)])
    clock_z, clock_excess = shuffle_statistics(clock)
    assert clock_z.min().item() > 8.0 and clock_excess.min().item() > 2.0
    assert torch.equal(clock_z, shuffle_z(clock))


def test_shuffle_z_is_deterministic_chunked_alike_and_zero_for_equal_rows():
    weights = torch.randn(5, 30, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    z = shuffle_z(weights)
    assert torch.equal(z, shuffle_z(weights))  # the shuffles are fixed: two calls agree exactly
    assert torch.allclose(z, shuffle_z(weights, chunk_elements=1), rtol=0, atol=1e-12)  # one member at a time
    assert torch.allclose(z[2:3], shuffle_z(weights[2:3]), rtol=0, atol=1e-12)  # a member alone reads the same
    assert shuffle_z(torch.ones(2, 30, 8, dtype=torch.float64)).eq(0).all()  # no frequency has any norm
    assert shuffled_residues(30).shape == (SHUFFLES, 30) and torch.equal(shuffled_residues(30).sort(1).values,
                                                                        torch.arange(30).expand(SHUFFLES, 30))


def test_the_shuffle_warning_is_gated_by_training_accuracy_alone():
    z = torch.tensor([[0.0, 50.0, 50.0], [50.0, 50.0, 50.0], [1.0, 2.0, 3.0]], dtype=torch.float64)
    train_acc = torch.tensor([[0.5, 1.0, 1.0], [0.9, 0.9, 0.9], [1.0, 1.0, 1.0]], dtype=torch.float64)
    assert shuffle_warning_indices(train_acc, z, threshold=10.0).tolist() == [1, -1, -1]
    assert gated(train_acc, z)[1].eq(0).all() and gated(train_acc, z)[2].max().item() == 3.0


def test_the_either_warning_fires_where_the_first_of_the_two_rules_would():
    above, below = _spectrum(PEAK_THRESHOLD * 1.01), _spectrum(PEAK_THRESHOLD * 0.99)
    norms = torch.stack([
        torch.stack([below, below, above, above]),  # member 0: the peak rule from index 2
        torch.stack([below, below, below, below]),  # member 1: the shuffle rule from index 1
        torch.stack([below, below, below, below]),  # member 2: neither, both just below
        torch.stack([above, above, above, above]),  # member 3: both, but never memorized
    ])
    z = torch.tensor([[0.0, 1.0, 1.0, 30.0], [1.0, SHUFFLE_Z_THRESHOLD, 1.0, 1.0], [SHUFFLE_Z_THRESHOLD * 0.99] * 4,
                      [30.0] * 4], dtype=torch.float64)
    train_acc = torch.tensor([[1.0] * 4, [1.0] * 4, [1.0] * 4, [0.98] * 4], dtype=torch.float64)
    assert either_warning_indices(train_acc, norms, z).tolist() == [2, 1, -1, -1]
    assert peak_warning_indices(train_acc, norms).tolist() == [2, -1, -1, -1]
    assert shuffle_warning_indices(train_acc, z).tolist() == [3, 1, -1, -1]
    statistic = either_statistic(peak_ratio(norms), z)  # in units of the two thresholds: 1 is either's own
    assert statistic[2].max().item() == pytest.approx(0.99) and statistic[1, 1].item() == pytest.approx(1.0)
