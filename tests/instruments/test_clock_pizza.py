import math

import torch
from conftest import tiny_config

from grokscope.instruments.clock_pizza import distance_irrelevance, gradient_symmetricity
from grokscope.instruments.grid import additive_grid
from grokscope.models import Ensemble
from grokscope.tasks import build_table, inputs_and_targets


def _grid(n):
    a = torch.arange(n)
    return (a[:, None] + a[None, :]) % n


def _with_correct_logits(correct: torch.Tensor, n: int) -> torch.Tensor:
    """[1, n, n, n] logits whose correct-answer entries are `correct` [n, n] and the rest 0."""
    logits = torch.zeros(1, n, n, n, dtype=torch.float64)
    logits[0].scatter_(-1, _grid(n)[..., None], correct[..., None])
    return logits


def test_distance_irrelevance_tells_clock_from_pizza():
    n = 13
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(n, n, generator=g, dtype=torch.float64)
    a = torch.arange(n, dtype=torch.float64)
    difference = a[:, None] - a[None, :]
    clock = _with_correct_logits(5 + 0.1 * noise, n)  # ignores a - b
    pizza = _with_correct_logits(5 * torch.cos(math.pi * difference / n).abs() + 0.01 * noise, n)  # depends on a - b
    labels = _grid(n)
    assert distance_irrelevance(clock, labels).item() > 0.9
    assert distance_irrelevance(pizza, labels).item() < 0.1


def test_gradient_symmetricity_is_one_under_uniform_attention():
    table = build_table("x+y", 13)
    inputs, _, _ = inputs_and_targets(table, "a b =")
    grid = additive_grid(table)
    uniform = Ensemble.create(tiny_config(seeds=(0, 1), attention_rate=0.0))
    ordinary = Ensemble.create(tiny_config(seeds=(0, 1)))
    symmetric = gradient_symmetricity(uniform, inputs, grid)
    assert symmetric.shape == (2,) and (symmetric > 0.999).all()  # the network sees only E_a + E_b
    assert (gradient_symmetricity(ordinary, inputs, grid) < 0.99).all()
