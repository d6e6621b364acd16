"""When to evaluate and when to write weights checkpoints."""

from __future__ import annotations

import math


def is_eval_step(step: int, *, eval_every: int, max_steps: int) -> bool:
    """Evaluate at step 0, every eval_every steps, and after the last update."""
    return step % eval_every == 0 or step == max_steps


def checkpoint_steps(max_steps: int, count: int) -> set[int]:
    """Weights checkpoints, dense early and sparse late: 0 and `count` log-spaced steps up to max_steps.

    The instruments need the early steps (memorization happens in the first few hundred), and the
    late ones change slowly, so log spacing spends the retention budget where the model changes.
    """
    steps = {0, max_steps}
    for i in range(count):
        steps.add(int(round(math.exp(math.log(max_steps) * (i + 1) / count))))
    return steps
