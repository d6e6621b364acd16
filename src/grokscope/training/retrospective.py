"""The retrospective pass at the end of training: every weights checkpoint measured with the final model's key
frequencies (instruments/retro.py) and written into the run's metrics (Nanda et al. 2023, §5: the paper's figures)."""

from __future__ import annotations

from pathlib import Path

import torch

from .. import metric_names as names
from ..dataset import RunData
from ..instruments.grid import additive_grid
from ..instruments.retro import ensemble_key_frequencies, retrospective_measures
from ..models import Ensemble
from ..store.checkpoints import checkpoint_path, load_weights, weight_steps
from ..store.metrics import MetricsStore


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
    store.write_vectors(steps[-1] if steps else 0, {names.KEY_FREQUENCIES: key.double()})
    for step in steps:
        _, params = load_weights(checkpoint_path(run_dir, step))
        checkpoint = Ensemble(model.spec, {name: tensor.to(data.inputs.device) for name, tensor in params.items()})
        store.write_scalars(step, retrospective_measures(checkpoint, data.inputs, grid, key, data.train_mask))
    return key
