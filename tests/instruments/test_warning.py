"""The early warning's rule on planted spectra: the statistic, its training-accuracy gate, its calibration."""

import pytest
import torch

from grokscope.instruments.warning import (
    CALIBRATION_MARGIN,
    GATE_TRAIN_ACC,
    PEAK_THRESHOLD,
    calibrate_threshold,
    gated_statistic,
    peak_ratio,
    peak_warning_indices,
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
