"""Retrospective measures: every checkpoint measured with the final model's key frequencies.

This is how the paper's figures are drawn (Nanda et al. 2023, §5: key frequencies from the final
model's neuron clusters, applied to every checkpoint), and unlike the live measures it can only be
done once training has ended. training/retrospective.py logs them at the checkpoint steps as `measure/restricted_loss`,
`measure/excluded_loss` and `measure/ideal_form_fve`, with the key set as the vector `fourier/key_frequencies`.
"""

from __future__ import annotations

import torch

from .. import metric_names as names
from ..models import Ensemble
from .fourier import key_frequencies_from_neurons, neuron_frequency_fve
from .grid import AdditiveGrid
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
def grid_logits(model: Ensemble, inputs: torch.Tensor, grid: AdditiveGrid) -> torch.Tensor:
    """[E, n, n, n] answer logits on the additive grid (the last scored position)."""
    logits = model.logits(inputs[grid.order])[:, :, -1][:, :, grid.classes]
    return logits.double().reshape(-1, grid.n, grid.n, grid.n)


def retrospective_measures(checkpoint: Ensemble, inputs: torch.Tensor, grid: AdditiveGrid, key: torch.Tensor,
                           train_mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """The paper's three curves at one checkpoint, with a fixed key-frequency set: name -> [E].

    Args:
        checkpoint: the ensemble's weights at one checkpoint.
        inputs: [N, pos] every pair's tokens, in table order.
        key: [E, n//2] bool, the final model's key frequencies (`final_key_frequencies`).
        train_mask: [E, N] bool.
    """
    train_grid = train_mask[:, grid.order].reshape(-1, grid.n, grid.n)
    restricted, excluded, ideal = [], [], []
    for start in range(0, checkpoint.n_members, MEMBERS_PER_CHUNK):  # chunks of members: memory bound only
        members = slice(start, start + MEMBERS_PER_CHUNK)
        logits = grid_logits(checkpoint.members(members), inputs, grid)
        restricted.append(restricted_loss(logits, grid.labels, key[members]))
        excluded.append(excluded_loss(logits, grid.labels, key[members], train_grid[members]))
        ideal.append(ideal_form_explained_variance(logits, key[members]))
    return {names.RESTRICTED_LOSS: torch.cat(restricted), names.EXCLUDED_LOSS: torch.cat(excluded),
            names.IDEAL_FORM_FVE: torch.cat(ideal)}


def ensemble_key_frequencies(model: Ensemble, inputs: torch.Tensor, grid: AdditiveGrid) -> torch.Tensor:
    """[E, n//2] bool `final_key_frequencies` of every member, in chunks of members (memory bound only)."""
    return torch.cat([final_key_frequencies(model.members(slice(start, start + MEMBERS_PER_CHUNK)), inputs, grid)
                      for start in range(0, model.n_members, MEMBERS_PER_CHUNK)])
