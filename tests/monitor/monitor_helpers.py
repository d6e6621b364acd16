"""Shared by the monitor tests: one torch thread (the LLC tests' settings were measured on one) and per-example losses."""

import pytest
import torch
import torch.nn.functional as F


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def squared_error(out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """[E, B]: the squared error summed over the output axis."""
    return (out - labels).square().sum(-1)


def cross_entropy(out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """[E, B]: softmax cross-entropy of out [E, B, K] against labels [E, B]."""
    return F.cross_entropy(out.flatten(0, -2), labels.flatten(), reduction="none").view(labels.shape)
