"""When to evaluate and when to write weights checkpoints."""

from __future__ import annotations

import math


def log_spaced_steps(max_steps: int, count: int) -> set[int]:
    """`count` steps spaced evenly in log(step) from 1 to max_steps (fewer where they round together).

    Consecutive points are a factor exp(ln(max_steps) / count) apart and the step x rounds from a log-interval of
    width ln((x + ½) / (x − ½)) > 1 / max_steps, so once count ≥ max_steps · ln(max_steps) every step 1..max_steps
    is hit: that set is returned without drawing the count points (a count of 10⁹ would take minutes).
    """
    if not count:
        return set()
    if count >= max_steps * math.log(max_steps) + 1:
        return set(range(1, max_steps + 1))
    return {int(round(math.exp(math.log(max_steps) * (i + 1) / count))) for i in range(count)}


def eval_steps(max_steps: int, *, eval_every: int, log_points: int) -> set[int]:
    """Evaluate at step 0, every eval_every steps, after the last update, and at `log_points`
    log-spaced steps, so that the first hundred steps (where memorization happens) are seen too."""
    return set(range(0, max_steps + 1, eval_every)) | {max_steps} | log_spaced_steps(max_steps, log_points)


def checkpoint_steps(max_steps: int, count: int, every: int = 0) -> set[int]:
    """Weights checkpoints, dense early and sparse late: 0 and `count` log-spaced steps up to max_steps,
    plus every `every`-th step when every > 0.

    The instruments need the early steps (memorization happens in the first few hundred), and the
    late ones change slowly, so log spacing spends the retention budget where the model changes. A
    study that compares measures across the plateau (the monitor's validation) adds evenly spaced ones.
    """
    evenly = set(range(0, max_steps + 1, every)) if every else set()
    return {0, max_steps} | log_spaced_steps(max_steps, count) | evenly
