"""The measures logged at every evaluation, for every member, from the logits evaluation already computed.

Live key frequencies come from the current W_E (and W_L after cleanup) by `fourier.live_key_set` and are logged
under their own names (`*_live`); the paper's figures use the final model's key frequencies, which
only exist after training (computed retrospectively from the checkpoints).
"""

from __future__ import annotations

import math

import torch

from .. import metric_names as names
from ..models import Ensemble
from ..tasks import BitsTable
from .fourier import frequency_norms, live_key_set
from .grid import AdditiveGrid
from .measures import (
    excluded_loss,
    gini,
    ideal_form_explained_variance,
    restricted_loss,
    total_sum_squared_weights,
)
from .parity import relevant_weight_ratio, walsh_coefficient
from .warning import shuffle_statistics


def neuron_logit_map(params: dict[str, torch.Tensor], classes: torch.Tensor) -> torch.Tensor | None:
    """[E, n, d_mlp] W_L = W_out W_U of a 1-layer model, answer columns only, residue axis second; None otherwise."""
    if "blocks.0.mlp.W_out" not in params or "blocks.1.mlp.W_out" in params or "unembed.W_U" not in params:
        return None
    w_l = torch.bmm(params["blocks.0.mlp.W_out"], params["unembed.W_U"][:, :, classes])  # [E, d_mlp, n]
    return w_l.transpose(1, 2)


def parity_measures(model: Ensemble, logits: torch.Tensor, table: BitsTable) -> dict[str, torch.Tensor]:
    """Sparse parity's two progress measures (instruments/parity.py), [E] each: the Walsh coefficient of the
    prediction on the hidden subset, over the pool, and the first layer's weight on the subset's bits.

    Args:
        logits: [E, N, 1, d_vocab_out] on every example of the pool, in table order.
    """
    params = model.params
    return {names.WALSH_COEFFICIENT: walsh_coefficient(logits[:, :, -1], table.character().to(logits.device)),
            names.RELEVANT_WEIGHT_RATIO: relevant_weight_ratio(params["embed.W_E"].detach(), params["mlp.W_in"].detach(),
                                                               table.subset)}


def measure(model: Ensemble, logits: torch.Tensor, train_mask: torch.Tensor, grid: AdditiveGrid | None,
            memorized: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Scalars name -> [E] and vectors name -> [E, K] for one evaluation.

    Args:
        model: the members being measured (a slice of the ensemble).
        logits: [E, N, n_out, d_vocab_out] on every pair of the table, in table order.
        train_mask: [E, N] bool.
        grid: the additive view of the task, or None (then only the weight norm is measured).
        memorized: [E] bool, training accuracy >= 99% (the ideal-form fit is read only after memorization).
    """
    params = {k: v.detach() for k, v in model.params.items()}
    scalars = {names.WEIGHT_NORM_SQ: total_sum_squared_weights(params)}
    vectors: dict[str, torch.Tensor] = {}
    if grid is None:
        return scalars, vectors
    n = grid.n
    embed = params["embed.W_E"][:, grid.classes].double()  # [E, n, d_model]
    embed_norms = frequency_norms(embed)  # [E, K]
    vectors[names.EMBED_NORMS] = embed_norms
    scalars[names.EMBED_PEAK_Z], scalars[names.EMBED_PEAK_EXCESS] = shuffle_statistics(embed, norms=embed_norms)
    scalars[names.GINI_EMBED] = gini(embed_norms)
    w_l = neuron_logit_map(params, grid.classes)
    logit_norms = None if w_l is None else frequency_norms(w_l.double())  # [E, K]
    if logit_norms is not None:
        vectors[names.NEURON_LOGIT_NORMS] = logit_norms
        scalars[names.GINI_NEURON_LOGIT] = gini(logit_norms)
    key = live_key_set(embed_norms, logit_norms)  # [E, K]
    vectors[names.KEY_FREQUENCIES_LIVE] = key.double()
    scalars[names.N_KEY_FREQUENCIES_LIVE] = key.sum(1).double()
    answer_logits = logits[:, grid.order, -1][:, :, grid.classes].double().reshape(-1, n, n, n)  # [E, n, n, n]
    train_grid = train_mask[:, grid.order].reshape(-1, n, n)
    none = torch.full_like(scalars[names.GINI_EMBED], math.nan)
    admitted = key.any(1)  # an empty set measures nothing: logged as missing
    scalars[names.RESTRICTED_LOSS_LIVE] = torch.where(admitted, restricted_loss(answer_logits, grid.labels, key), none)
    scalars[names.EXCLUDED_LOSS_LIVE] = torch.where(admitted, excluded_loss(answer_logits, grid.labels, key, train_grid), none)
    scalars[names.IDEAL_FORM_FVE_LIVE] = torch.where(admitted & memorized, ideal_form_explained_variance(answer_logits, key), none)
    return scalars, vectors
