import torch

from grokscope.instruments.phases import phase_indices
from grokscope.instruments.warning import LEGACY_RATIO, legacy_warning_indices


def _series(*rows):
    return torch.tensor(rows, dtype=torch.float64)


STEPS = torch.tensor([1, 2, 4, 8, 16, 32, 64, 128, 256, 512])


def test_boundaries_follow_the_documented_rule():
    #                   1    2    4    8     16     32    64    128   256  512
    train_acc = _series([0.1, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    # falls 10x per doubling (slope -3.3) until 16, then flattens (slope -0.15)
    train_loss = _series([3.0, 1.0, 1e-1, 1e-2, 1e-3, 9e-4, 8e-4, 7e-4, 6e-4, 5e-4])
    weight_norm = _series([10, 12, 15, 16, 15, 14, 13, 8, 5.5, 5])
    n_key = _series([0, 0, 0, 0, 0, 0, 3, 3, 4, 4])
    # memorization ends at 32 (index 5); keys admitted at 64 (6); 90% of the fall 13 -> 5 reached at 256 (8)
    assert phase_indices(STEPS, train_acc, train_loss, weight_norm, n_key).tolist() == [[5, 6, 8]]


def test_boundaries_not_reached_are_minus_one():
    train_acc = _series([0.1, 1.0, 1.0, 1.0, 1.0], [0.1, 0.2, 0.3, 0.4, 0.5], [0.1, 1.0, 1.0, 1.0, 1.0])
    train_loss = _series([3, 1, 0.9, 0.8, 0.7], [3, 2.9, 2.8, 2.7, 2.6], [3, 0.1, 1e-3, 1e-5, 1e-7])
    weight_norm = _series([1, 3, 2, 1, 1], [1, 2, 3, 4, 5], [1, 2, 3, 4, 5])
    n_key = torch.zeros(3, 5, dtype=torch.float64)
    result = phase_indices(STEPS[:5], train_acc, train_loss, weight_norm, n_key).tolist()
    assert result[0] == [2, -1, -1]  # memorized (loss flat from step 4), but the spectrum never became sparse
    assert result[1] == [-1, -1, -1]  # never memorized
    assert result[2] == [-1, -1, -1]  # training loss still falling fast at the end: memorization not over


def test_legacy_warning_fires_when_a_few_frequencies_rise_after_memorization():
    K = 20
    flat = torch.ones(K, dtype=torch.float64)
    rising = flat.clone()
    rising[[3, 7]] = (LEGACY_RATIO + 0.1) ** 0.5  # squared norm just over 3x the median
    slightly = flat.clone()
    slightly[[3, 7]] = (LEGACY_RATIO - 0.1) ** 0.5  # just under
    dense = flat.clone()
    dense[:8] = 2.0  # 8 frequencies above 3x: too many, the spectrum is not sparse
    # member 0: rises at index 3, memorization ended at 1; member 1: rises at 1 but memorization ends at 2;
    # member 2: only just under the ratio, or too many outliers; member 3: never memorized
    norms = torch.stack([
        torch.stack([flat, flat, slightly, rising, rising]),
        torch.stack([flat, rising, rising, rising, rising]),
        torch.stack([flat, slightly, dense, dense, slightly]),
        torch.stack([rising] * 5),
    ])
    memorization_end = torch.tensor([1, 2, 0, -1])
    assert legacy_warning_indices(memorization_end, norms).tolist() == [3, 2, -1, -1]
