"""Shared helpers: tiny configs that run in well under a second."""

from __future__ import annotations

import pytest
import torch

from grokscope import RunConfig


@pytest.fixture(autouse=True)
def _two_threads():
    torch.set_num_threads(2)


def tiny_config(**changes) -> RunConfig:
    """p = 13, d_model 16, float64: the size for equivalence tests."""
    base = dict(task="x+y", p=13, frac=0.5, seeds=(0,), d_model=16, n_heads=4, d_mlp=32, param_dtype="float64",
                max_steps=20, eval_every=5, eval_log_points=0, checkpoints=4, resume_every=5, device="cpu")
    return RunConfig(**{**base, **changes})
