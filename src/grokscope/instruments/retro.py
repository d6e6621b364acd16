"""Retrospective measures: every checkpoint measured with the final model's key frequencies.

This is how the paper's figures are drawn (Nanda et al. 2023, §5: key frequencies from the final
model's neuron clusters, applied to every checkpoint), and unlike the live measures it can only be
done once training has ended. Logged at the checkpoint steps as `measure/restricted_loss`,
`measure/excluded_loss` and `measure/ideal_form_fve`, with the key set as the vector `fourier/key_frequencies`.
"""

from __future__ import annotations

import torch

from ..models import Ensemble
from ..store import metric_names as names
from ..store.checkpoints import checkpoint_path, load_weights, weight_steps
from ..store.metrics import MetricsStore
from ..train.data import RunData
from .fourier import key_frequencies_from_neurons, neuron_frequency_fve
from .grid import AdditiveGrid, additive_grid
from .measures import excluded_loss, ideal_form_explained_variance, restricted_loss

MEMBERS_PER_CHUNK = 4  # neuron activations of every pair are [E, n, n, d_mlp]: bound the memory


def neurons_on_grid(cache: dict[str, torch.Tensor], spec, n: int) -> torch.Tensor:
    """[E, n, n, d_mlp] the last MLP's neuron activations at the readout position, from a cache of a
    forward pass over the grid's pairs in grid order."""
    last = f"blocks.{spec.n_layers - 1}.mlp.hook_post" if spec.arch != "mlp" else "mlp.hook_post"
    post = cache[last]
    if post.dim() == 4:  # [E, N, pos, d_mlp]: the position read out
        post = post[:, :, spec.readout[-1]]
    return post.reshape(post.shape[0], n, n, -1)


def neuron_grid(model: Ensemble, inputs: torch.Tensor, grid: AdditiveGrid) -> torch.Tensor:
    """[E, n, n, d_mlp] neuron activations of the last MLP on the additive grid (one cached forward pass)."""
    _, cache = model.run_with_cache(inputs[grid.order])
    return neurons_on_grid(cache, model.spec, grid.n)


@torch.no_grad()
def final_key_frequencies(model: Ensemble, inputs: torch.Tensor, grid: AdditiveGrid, *, threshold: float | None = None) -> torch.Tensor:
    """[E, n//2] bool key frequencies of a (final) model from its neurons' best frequencies (the paper code's rule)."""
    best, fve = neuron_frequency_fve(neuron_grid(model, inputs, grid).double())
    return key_frequencies_from_neurons(best, fve, grid.n, threshold=threshold)


@torch.no_grad()
def _grid_logits(model: Ensemble, inputs: torch.Tensor, grid: AdditiveGrid) -> torch.Tensor:
    """[E, n, n, n] answer logits on the additive grid (the last scored position)."""
    logits = model.logits(inputs[grid.order])[:, :, -1][:, :, grid.classes]
    return logits.double().reshape(-1, grid.n, grid.n, grid.n)


def record_retrospective(run_dir, model: Ensemble, data: RunData, store: MetricsStore) -> torch.Tensor | None:
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
    keys, steps = [], weight_steps(run_dir)
    for start in range(0, model.n_members, MEMBERS_PER_CHUNK):  # chunks of members: memory bound only
        keys.append(final_key_frequencies(model.members(slice(start, start + MEMBERS_PER_CHUNK)), data.inputs, grid))
    key = torch.cat(keys)
    store.write_vectors(steps[-1] if steps else 0, {names.KEY_FREQUENCIES: key.double()})
    train_grid = data.train_mask[:, grid.order].reshape(-1, grid.n, grid.n)
    for step in steps:
        _, params = load_weights(checkpoint_path(run_dir, step))
        checkpoint = Ensemble(model.spec, {name: tensor.to(data.inputs.device) for name, tensor in params.items()})
        restricted, excluded, ideal = [], [], []
        for start in range(0, model.n_members, MEMBERS_PER_CHUNK):
            members = slice(start, start + MEMBERS_PER_CHUNK)
            logits = _grid_logits(checkpoint.members(members), data.inputs, grid)
            restricted.append(restricted_loss(logits, grid.labels, key[members]))
            excluded.append(excluded_loss(logits, grid.labels, key[members], train_grid[members]))
            ideal.append(ideal_form_explained_variance(logits, key[members]))
        store.write_scalars(step, {names.RESTRICTED_LOSS: torch.cat(restricted), names.EXCLUDED_LOSS: torch.cat(excluded),
                                   names.IDEAL_FORM_FVE: torch.cat(ideal)})
    return key
