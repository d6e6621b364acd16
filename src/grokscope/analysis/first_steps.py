"""When a member got there: the first evaluated step at a threshold, and the held-out rule every reader shares
(mirror-held-out accuracy where the run logs it, the honest signal on commutative tasks; else test accuracy)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .. import metric_names as names

if TYPE_CHECKING:
    from ..run import Run


def first_step_reaching(steps: list[int], values: list[float | None], threshold: float) -> int | None:
    """The first step whose value is >= threshold, or None if none is."""
    for step, value in zip(steps, values):
        if value is not None and value >= threshold:
            return step
    return None


FALL_SLOPE = -1.0  # the test loss's fall starts where its log-log slope first drops below this after its peak


def loss_fall_start(steps: list[int], loss: list[float | None]) -> int | None:
    """The step the test loss starts its fall: the first evaluation after its peak whose log-log slope since the
    previous evaluation, Δ ln loss / Δ ln step, is below FALL_SLOPE (None: it never falls that fast).

    On `nanda2023` the test loss peaks at the end of memorization (~1.4k) and declines slowly for thousands of
    steps before this point; the question the early warning is asked is whether it comes before it
    (docs/instruments.md). A reading of the test curve, for reporting only: no alarm reads it.
    """
    points = [(s, v) for s, v in zip(steps, loss) if s > 0 and v is not None and v > 0]
    if len(points) < 2:
        return None
    peak = max(range(len(points)), key=lambda k: points[k][1])
    for (s0, v0), (s1, v1) in zip(points[peak:], points[peak + 1:]):
        if (math.log(v1) - math.log(v0)) / (math.log(s1) - math.log(s0)) < FALL_SLOPE:
            return s1
    return None


def held_out_metric(logged: dict[int, list], member: int) -> str:
    """The held-out accuracy that decides whether `member` generalized: MIRROR_ACC where the run logged it for that
    member (`logged`: the mirror series by member), else TEST_ACC."""
    return names.MIRROR_ACC if member in logged else names.TEST_ACC


def held_out_first_steps(run: Run, threshold: float) -> tuple[list[tuple[int | None, str]], int]:
    """Per member: the first step held-out accuracy reached the threshold and the metric used (mirror-held-out
    accuracy where the run logs it, else test accuracy); and the budget (the last evaluated step)."""
    with run.metrics() as store:
        steps, test = store.series(names.TEST_ACC)
        _, mirror = store.series(names.MIRROR_ACC)
    found = []
    for e in range(run.config.n_members):
        metric = held_out_metric(mirror, e)
        series = mirror[e] if metric == names.MIRROR_ACC else test.get(e, [])
        found.append((first_step_reaching(steps, series, threshold), metric))
    return found, steps[-1] if steps else 0
