"""Readings of the test curve that `show` reports beside the warning (nothing here is an input to an alarm)."""

import math

from grokscope.analysis.first_steps import (
    FALL_SLOPE,
    first_step_reaching,
    loss_fall_start,
)

STEPS = [0, 10, 100, 200, 400, 800, 1600, 3200]


def test_the_test_loss_fall_starts_at_the_first_steep_step_after_its_peak():
    # peaks at step 100, then declines slowly (log-log slopes -0.06, -0.09, -0.17), then falls (slope -2 at 1600)
    loss = [4.0, 3.0, 5.0, 4.8, 4.5, 4.0, 1.0, 0.01]
    assert loss_fall_start(STEPS, loss) == 1600
    slope = (math.log(1.0) - math.log(4.0)) / (math.log(1600) - math.log(800))
    assert slope < FALL_SLOPE < (math.log(4.0) - math.log(4.5)) / (math.log(800) - math.log(400))
    # a steep drop before the peak is not the fall (memorization's), and missing values are skipped
    assert loss_fall_start(STEPS, [4.0, 0.5, 5.0, None, 4.5, float("nan"), 1.0, 0.9]) == 1600


def test_a_test_loss_that_never_falls_steeply_has_no_fall():
    assert loss_fall_start(STEPS, [4.0, 4.1, 4.2, 4.3, 4.4, 4.5, 4.6, 4.7]) is None  # rises throughout
    assert loss_fall_start(STEPS, [4.0, 5.0, 4.9, 4.8, 4.7, 4.6, 4.5, 4.4]) is None  # declines slowly
    assert loss_fall_start([0], [1.0]) is None
    assert first_step_reaching(STEPS, [0.1, 0.5, 0.99, 1.0, 1.0, 1.0, 1.0, 1.0], 0.99) == 100
