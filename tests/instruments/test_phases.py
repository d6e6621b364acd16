import torch

from grokscope.instruments.phases import phase_indices


def _series(*rows):
    return torch.tensor(rows, dtype=torch.float64)


def test_boundaries_follow_the_documented_rule():
    #                   0    1    2    3    4    5    6    7    8    9
    train_acc = _series([0.1, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    weight_norm = _series([10, 12, 15, 16, 15, 14, 13, 8, 5.5, 5])
    n_key = _series([0, 0, 0, 0, 0, 0, 3, 3, 4, 4])
    # memorized at 2, norm peaks at 3; keys admitted at 6; 90% of the fall 13 -> 5 reached at 8 (5.5 <= 5.8)
    assert phase_indices(train_acc, weight_norm, n_key).tolist() == [[3, 6, 8]]


def test_boundaries_not_reached_are_minus_one():
    train_acc = _series([0.1, 1.0, 1.0, 1.0], [0.1, 0.2, 0.3, 0.4], [0.1, 1.0, 1.0, 1.0])
    weight_norm = _series([1, 3, 2, 1], [1, 2, 3, 4], [1, 2, 3, 4])
    n_key = _series([0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0])
    result = phase_indices(train_acc, weight_norm, n_key).tolist()
    assert result[0] == [1, -1, -1]  # memorized, but the spectrum never became sparse (no weight decay, say)
    assert result[1] == [-1, -1, -1]  # never memorized
    assert result[2] == [-1, -1, -1]  # weights still growing at the end: memorization not over
