"""Tiny sweep specs for the sweep tests: p = 13, d_model 16, float64, 20 steps."""

from __future__ import annotations

import contextlib
from typing import Iterator

from grokscope.sweep import SweepSpec, parse_spec

TINY_BASE = dict(p=13, d_model=16, n_heads=4, d_mlp=32, param_dtype="float64", symmetric_split=False, max_steps=20,
                 eval_every=5, eval_log_points=0, checkpoints=4, resume_every=5, patience=5, device="cpu")


def tiny_spec(name: str = "tiny-sweep", *, max_pack: int = 256, base: dict | None = None, **grid) -> SweepSpec:
    """x+y and x-y crossed with a grid of fractions, learning rates and seeds (16 cells, 2 packs by default)."""
    grid = grid or {"frac": [0.4, 0.6], "lr": [1e-2, 3e-3], "seed": [0, 1]}
    return parse_spec({"name": name, "preset": "tiny", "max_pack": max_pack, "base": {**TINY_BASE, **(base or {})}, "grid": grid,
                       "cases": [{"task": "x+y"}, {"task": "x-y", "wd": 0.5}]})


@contextlib.contextmanager
def two_cpu_ray_instance() -> Iterator[None]:
    """A local Ray instance of 2 CPUs in this process (the Ray tests' fixtures), shut down on leaving."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()
