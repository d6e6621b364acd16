"""The retrospective pass at the end of training: every weights checkpoint measured with the final model's key
frequencies (instruments/retro.py) and written into the run's metrics (Nanda et al. 2023, §5: the paper's figures)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .. import metric_names as names
from ..dataset import RunData
from ..instruments.grid import additive_grid
from ..instruments.retro import ensemble_key_frequencies, retrospective_measures
from ..models import Ensemble
from ..store.checkpoints import checkpoint_path, load_weights, weight_steps
from ..store.metrics import MetricsStore

RETROSPECTIVE_META = "retrospective"  # meta key: how far the pass has written (retrospective_state)


def record_retrospective(run_dir: Path, model: Ensemble, data: RunData, store: MetricsStore) -> torch.Tensor | None:
    """Measure every weights checkpoint with the final model's key frequencies and write the rows.

    Args:
        model: the ensemble as trained (its final weights give the key frequencies).

    Returns:
        [E, n//2] the key-frequency mask used, or None where the task has no additive view.
    """
    grid = additive_grid(data.table)
    if grid is None:
        return None
    grid = grid.to(data.inputs.device)
    key = ensemble_key_frequencies(model, data.inputs, grid)
    steps = weight_steps(run_dir)
    store.write_evaluation(steps[-1] if steps else 0, {}, {names.KEY_FREQUENCIES: key.double()},
                           meta={RETROSPECTIVE_META: retrospective_state(0, len(steps))})
    for done, step in enumerate(steps, 1):
        _, params = load_weights(checkpoint_path(run_dir, step))
        checkpoint = Ensemble(model.spec, {name: tensor.to(data.inputs.device) for name, tensor in params.items()})
        store.write_evaluation(step, retrospective_measures(checkpoint, data.inputs, grid, key, data.train_mask),
                               meta={RETROSPECTIVE_META: retrospective_state(done, len(steps))})
    return key


def retrospective_state(done: int, total: int) -> str:
    """The meta value a reader checks: {"checkpoints": total, "done": done, "complete": done == total} as JSON.
    Each checkpoint's rows and this count commit together, so a reader knows how much of the pass it sees."""
    return json.dumps({"checkpoints": total, "done": done, "complete": done == total})
