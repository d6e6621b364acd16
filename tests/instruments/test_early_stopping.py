import math

import torch

from grokscope.instruments.early_stopping import early_stopping_indices

STEPS = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256]


def test_stops_after_patience_steps_without_improvement_and_keeps_the_best():
    loss = torch.tensor([
        [3.0, 2.9, 3.5, 4.0, 5.0, 6.0, 7.0, 1.0, 0.5, 0.1],  # best at step 1, then rises: stop at 16, the first evaluation >= 10 steps later
        [3.0, 2.0, 1.5, 1.0, 0.8, 0.6, 0.4, 0.2, 0.1, 0.05],  # always improving: never stops
        [3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0],  # equal is no improvement: stops at 16 (16 >= 0 + 10)
        [math.nan, 3.0, 2.0, math.nan, math.nan, math.nan, 1.0, 1.0, 1.0, 1.0],  # NaN never improves
    ], dtype=torch.float64)
    stop, best = early_stopping_indices(loss, STEPS, patience=10)
    assert [STEPS[i] if i >= 0 else None for i in stop.tolist()] == [16, None, 16, 16]
    assert [STEPS[i] for i in best.tolist()] == [1, 256, 0, 2]
