import math
import statistics

import pytest
import torch
from conftest import tiny_config

from grokscope import get_preset, train
from grokscope.instruments.clock_pizza import (
    algorithm_verdict,
    distance_irrelevance,
    gradient_symmetricity,
)
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


def test_verdict_is_the_nearer_reference_model():
    assert algorithm_verdict(0.99, 0.17) == "pizza" and algorithm_verdict(0.33, 0.85) == "clock"
    assert algorithm_verdict(0.98, 0.6) == "pizza"  # symmetric, half way in irrelevance: still nearer the pizza
    assert algorithm_verdict(0.1, 0.9) == "clock"


# Zhong et al. 2023's setting cut to CI size: x+y mod 31, 80% of the pairs, AdamW lr 3e-3, weight decay 2.
ZHONG_SMALL = dict(task="x+y", p=31, frac=0.8, symmetric_split=False, d_model=64, n_heads=4, d_mlp=256, lr=3e-3,
                   wd=2.0, seeds=(0, 1, 2, 3), max_steps=500, eval_every=100, eval_log_points=0, checkpoints=4,
                   patience=100_000, instruments=False)


@pytest.mark.slow
def test_constant_attention_reads_as_pizza_and_nanda_model_as_clock(tmp_path):
    """Zhong et al.'s constant-attention transformer (their inputs `a b`, attention rate 0) against Nanda et al.'s
    model (`a b =`, ordinary attention), four seeds each, trained alike."""
    pizza = train(get_preset("quickstart").replace(**ZHONG_SMALL, layout="a b", attention_rate=0.0), tmp_path)
    clock = train(get_preset("quickstart").replace(**ZHONG_SMALL), tmp_path)
    readings = {}
    for name, run in (("pizza", pizza), ("clock", clock)):
        reports = [run.analyze(member=e) for e in range(run.config.n_members)]
        assert [r.algorithm for r in reports] == [name] * 4
        readings[name] = reports
    assert all(r.gradient_symmetricity > 0.9 for r in readings["pizza"])
    assert all(r.gradient_symmetricity < 0.7 for r in readings["clock"])
    # The second diagnostic agrees on the median: the pizza's correct logit depends on a - b.
    median_irrelevance = {name: statistics.median(r.distance_irrelevance for r in reports)
                          for name, reports in readings.items()}
    assert median_irrelevance["pizza"] < median_irrelevance["clock"] - 0.15
