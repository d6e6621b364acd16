"""The local learning coefficient (Lau, Furman, Wang, Murfet, Wei 2023), its trace checks, and a calibration sweep.

λ̂(w*) = nβ (E_w[L_n(w)] − L_n(w*)), the expectation over the localized tempered posterior
∝ exp(−nβ L_n(w) − (γ/2)‖w − w*‖²), estimated by SGLD (sgld.py). λ̂ measures how degenerate the loss
basin at w* is: d/2 for a regular model with d parameters, less where the basin is flatter, so it
falls as a network trades a memorizing solution for a compressed one (reference: grokking.md).

Differences from devinterp 1.3.2 (`slt/sampler.py` estimate_learning_coeff_with_summary, `slt/llc.py`
LLCEstimator): L_n(w*) is the mean loss over the whole training set (devinterp averages
`num_chains` minibatches, `utils.get_init_loss_multi_batch`); nβ is always given explicitly
(devinterp's default is batch/ln(batch) via `utils.default_nbeta`); each chain has its own batch order;
the caller's arguments are never mutated (devinterp writes `nbeta` and `metrics` into the
`optimizer_kwargs` passed in).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Sequence

import torch

from .inputs import TrainingData
from .sgld import SGLDSettings, n_sampled, sgld_loss_traces
from .stacked import PerExampleLoss, StackedModel, mean_loss


@dataclass(frozen=True)
class LLCEstimate:
    """An LLC estimate per member, with the settings it was made at and every chain's trace.

    llc: [E] mean over chains; NaN where any chain was flagged (never reported as a value).
    llc_per_chain: [E, C] nβ (mean of the chain's draws − L_n(w*)), flagged chains included.
    loss_init: [E] L_n(w*) over the whole training set.
    loss_trace: [E, C, burn_in + draws] minibatch loss at each SGLD step (burn-in included).
    drifted_down: [E, C] the chain's estimate is negative or its late mean (last quarter of the
        draws) is below L_n(w*): w* is not a local minimum at this temperature, or ε is too large.
    blew_up: [E, C] a non-finite loss, an estimate above `ceiling`, or a late mean more than
        `max_excess_loss` above L_n(w*) (the chain left the basin).
    settings: ε, nβ, γ, the batch size actually used (capped at n), burn-in, draws.
    seeds: one per chain. n: training examples per member. d: sampled parameters per member.
    ceiling: the largest believable estimate (default d: twice the bound λ ≤ d/2).
    max_excess_loss: None, or the largest believable E_w[L_n(w)] − L_n(w*).
    """

    llc: torch.Tensor
    llc_per_chain: torch.Tensor
    loss_init: torch.Tensor
    loss_trace: torch.Tensor
    drifted_down: torch.Tensor
    blew_up: torch.Tensor
    settings: SGLDSettings
    seeds: tuple[int, ...]
    n: int
    d: int
    ceiling: float
    max_excess_loss: float | None

    @property
    def accepted(self) -> torch.Tensor:
        """[E] bool: no chain of the member was flagged."""
        return ~(self.drifted_down | self.blew_up).any(dim=1)

    @property
    def llc_std(self) -> torch.Tensor:
        """[E] unbiased standard deviation over chains (0 with one chain)."""
        if self.llc_per_chain.shape[1] < 2:
            return torch.zeros_like(self.llc)
        return self.llc_per_chain.std(dim=1)


def check_traces(llc_per_chain: torch.Tensor, loss_trace: torch.Tensor, loss_init: torch.Tensor, burn_in: int,
                 ceiling: float, max_excess_loss: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(drifted_down [E, C], blew_up [E, C]) of SGLD traces [E, C, T] around L_n(w*) [E].

    Drifted down: the estimate is negative, or the mean of the last quarter of the draws is below
    L_n(w*) (the chain found lower loss than the point it should sample around). Blew up: a
    non-finite loss anywhere in the trace, an estimate above `ceiling`, or (when max_excess_loss is
    given) a late mean more than max_excess_loss above L_n(w*): far above, the chain left the basin.
    """
    draws = loss_trace[..., burn_in:]
    late = draws[..., -max(1, draws.shape[-1] // 4):].mean(-1)  # [E, C]
    drifted = (llc_per_chain < 0) | (late < loss_init[:, None])
    blew = ~torch.isfinite(loss_trace).all(-1) | ~(llc_per_chain <= ceiling)  # NaN estimates count as blown up
    if max_excess_loss is not None:
        blew |= late - loss_init[:, None] > max_excess_loss
    return drifted & ~blew, blew


def local_learning_coefficient(model: StackedModel, data: TrainingData, loss: PerExampleLoss,
                               settings: SGLDSettings = SGLDSettings(), *, seeds: Sequence[int] = (0, 1),
                               ceiling: float | None = None, max_excess_loss: float | None = None) -> LLCEstimate:
    """The local learning coefficient of every member at its current weights w*, all chains batched.

    λ̂ = nβ (E_w[L_n(w)] − L_n(w*)) (Lau et al. 2023, their SGLD estimator; β = nβ/n),
    E_w the mean over the draws after burn-in of every chain, then over chains.

    Args:
        model: a StackedModel (`stacked.stack(module_or_ensemble)`); its parameters are w*, [E, ...].
        data: the training sets, inputs and labels [E, N, ...] (never held-out data).
        loss: per_example_loss(outputs [R, B, ...], labels [R, B, ...]) -> [R, B].
        settings: ε, nβ, γ, batch size, burn-in, draws (defaults: measured on grokking, not universal).
        seeds: one per chain; chain c's trace equals that of a one-chain call with seeds=(seeds[c],).
        ceiling: estimates above it are flagged as blown up; default d, the number of sampled
            parameters (twice the bound λ ≤ d/2 of Watanabe's theory).
        max_excess_loss: when given, a chain whose late mean loss exceeds L_n(w*) by more is flagged
            as blown up. For a K-class cross-entropy, ln K (what a uniform guess costs) is a natural
            value: devinterp's grokking-example settings (ε 3e-3, nβ 2, γ 5) put the tiny preset's
            chains ~50 nats above L_n(w*), where the estimate reads the same before and after grokking.

    Returns:
        An LLCEstimate: [E] values (NaN where a chain was flagged), per-chain values and traces, the settings.
    """
    center = model.parameters()
    d = n_sampled(center)
    ceiling = float(d) if ceiling is None else ceiling
    loss_init = mean_loss(model, center, data, loss)  # [E]
    trace = sgld_loss_traces(model, data, loss, settings, seeds)  # [E, C, T]
    per_chain = settings.nbeta * (trace[..., settings.burn_in:].mean(-1) - loss_init[:, None])  # [E, C]
    drifted, blew = check_traces(per_chain, trace, loss_init, settings.burn_in, ceiling, max_excess_loss)
    accepted = ~(drifted | blew).any(dim=1)
    llc = torch.where(accepted, per_chain.mean(1), torch.full_like(loss_init, float("nan")))
    batch = data.n if settings.batch_size is None else min(settings.batch_size, data.n)
    return LLCEstimate(llc=llc, llc_per_chain=per_chain, loss_init=loss_init, loss_trace=trace,
                       drifted_down=drifted, blew_up=blew, settings=replace(settings, batch_size=batch),
                       seeds=tuple(int(s) for s in seeds), n=data.n, d=d, ceiling=ceiling,
                       max_excess_loss=max_excess_loss)


@dataclass(frozen=True)
class LLCCalibration:
    """One LLCEstimate per grid point of a calibration sweep, in grid order (ε slowest, then nβ, then γ)."""

    estimates: tuple[LLCEstimate, ...]

    def accepted(self) -> list[LLCEstimate]:
        """The grid points at which no chain of any member was flagged."""
        return [est for est in self.estimates if bool(est.accepted.all())]

    def table(self) -> list[dict]:
        """One row per (grid point, member): settings, value (None where flagged) and flags."""
        rows = []
        for est in self.estimates:
            for e in range(est.llc.shape[0]):
                value = float(est.llc[e])
                rows.append({"epsilon": est.settings.epsilon, "nbeta": est.settings.nbeta, "gamma": est.settings.gamma,
                             "member": e, "llc": None if value != value else value,
                             "drifted_down": bool(est.drifted_down[e].any()), "blew_up": bool(est.blew_up[e].any())})
        return rows


def calibrate_llc(model: StackedModel, data: TrainingData, loss: PerExampleLoss, *, epsilons: Sequence[float],
                  nbetas: Sequence[float], gammas: Sequence[float] | None = None,
                  base: SGLDSettings = SGLDSettings(), seeds: Sequence[int] = (0, 1),
                  max_excess_loss: float | None = None) -> LLCCalibration:
    """LLC estimates over the grid ε × nβ (× γ), each with its traces checked (`check_traces`).

    A grid point whose chains drift down or blow up has NaN values: it is never reported as a value.
    Choose settings among `accepted()` whose traces are flat after burn-in, then keep them fixed:
    values are comparable only at fixed ε, nβ, γ (reference: γ 30 / 100 / 300 gave 332 / 196 / 108).

    Args:
        model, data, loss, seeds, max_excess_loss: as local_learning_coefficient.
        epsilons, nbetas: the values swept. gammas: swept too when given, else base.gamma.
        base: the other settings (batch size, burn-in, draws).
    """
    gammas = (base.gamma,) if gammas is None else gammas
    estimates = tuple(
        local_learning_coefficient(model, data, loss, replace(base, epsilon=eps, nbeta=nbeta, gamma=gamma), seeds=seeds,
                                   max_excess_loss=max_excess_loss)
        for eps, nbeta, gamma in itertools.product(epsilons, nbetas, gammas)  # a few grid points: each call is batched
    )
    return LLCCalibration(estimates)
