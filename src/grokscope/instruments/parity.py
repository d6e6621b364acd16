"""Hidden progress on sparse parity, where the ground truth is known by construction (tasks.BitsTable).

Barak et al. 2022 ("Hidden progress in deep learning: SGD learns parities near the computational limit", §4)
show that while the loss sits on its plateau the network's Fourier–Walsh coefficient on the hidden subset S and
its weight on the k relevant input coordinates grow steadily. Two measures, [E] each:

- `walsh_coefficient`: E_x[f(x) χ_S(x)] over the task's example pool, f(x) = P(label 0) − P(label 1) ∈ [−1, 1]
  the network's prediction as a ±1 function and χ_S(x) = (−1)^(Σ_{i∈S} x_i). 1: the network computes the parity
  of S; 0: no correlation with it. Like the restricted loss of Nanda et al. it reads every example of the pool
  (inputs and the known subset, not the held-out labels' accuracy), so it is a ground-truth measure, not a warning.
- `relevant_weight_ratio`: the first layer's weight mass on the k relevant coordinates over its mass on the
  others (mean per coordinate), from the weights alone. A bit's effect on neuron j is
  (W_E[1] − W_E[0]) · W_in[i·d:(i+1)·d, j]; its mass is the L2 norm over neurons. 1 at initialization; it grows as
  the network turns to the subset (Barak et al.'s Figure 3; Merrill et al. 2023's sparse circuit).
"""

from __future__ import annotations

import torch


def walsh_coefficient(logits: torch.Tensor, character: torch.Tensor) -> torch.Tensor:
    """[E] E_x[f(x) χ_S(x)] with f = P(class 0) − P(class 1).

    Args:
        logits: [E, N, d_vocab_out] the two classes' logits on every example of the pool (further classes unused).
        character: [N] χ_S of every example (`BitsTable.character`).
    """
    log_probs = logits[..., :2].double().log_softmax(dim=-1)  # [E, N, 2]
    prediction = log_probs[..., 0].exp() - log_probs[..., 1].exp()  # [E, N] in [-1, 1]
    return (prediction * character.double()[None]).mean(dim=1)


def coordinate_mass(embed: torch.Tensor, w_in: torch.Tensor) -> torch.Tensor:
    """[E, n] the first layer's weight mass on each input bit.

    Args:
        embed: [E, 2, d_model] W_E of the tokens 0 and 1; w_in: [E, n·d_model, d_mlp] (the mlp arch's W_in,
        the n embeddings concatenated).
    """
    flip = (embed[:, 1] - embed[:, 0]).double()  # [E, d_model] what setting a bit changes in its embedding
    per_bit = w_in.double().reshape(w_in.shape[0], -1, flip.shape[1], w_in.shape[2])  # [E, n, d_model, d_mlp]
    effect = torch.einsum("ed,endm->enm", flip, per_bit)  # [E, n, d_mlp]
    return effect.norm(dim=2)


def relevant_weight_ratio(embed: torch.Tensor, w_in: torch.Tensor, subset: tuple[int, ...]) -> torch.Tensor:
    """[E] mean mass on the subset's coordinates over the mean mass on the others (args as `coordinate_mass`)."""
    mass = coordinate_mass(embed, w_in)  # [E, n]
    relevant = torch.zeros(mass.shape[1], dtype=torch.bool, device=mass.device)
    relevant[list(subset)] = True
    return mass[:, relevant].mean(dim=1) / mass[:, ~relevant].mean(dim=1).clamp(min=1e-300)
