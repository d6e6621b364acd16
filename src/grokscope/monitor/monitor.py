"""Monitor: every model-agnostic measure of one checkpoint, from the training data only.

Each measure declares the inputs it needs (registry.MEASURES); asked for without one, it raises
MissingInputError naming it. `measure(names, step)` runs several and returns their metrics
(`monitor/...`, store/metric_names.py), [E] per member, with the seconds each took.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from .. import metric_names as names
from ..errors import ConfigError
from .ablation import FeatureGroups, route_ablation
from .environments import irmv1_penalty, vrex_penalty
from .features import Features, effective_rank
from .inputs import TrainingData, per_member, require
from .llc import LLCEstimate, local_learning_coefficient
from .prequential import Fit, PrequentialLength, prequential_description_length
from .registry import INPUT_HINTS, MEASURES
from .sgld import SGLDSettings
from .stacked import Params, PerExampleLoss, Stackable, StackedModel, mean_loss, stack
from .weights import effective_learning_rate, weight_norm


@dataclass(frozen=True)
class MonitorSettings:
    """llc: SGLD settings (defaults measured on grokking, not universal); llc_seeds: one per chain;
    llc_max_excess_loss: chains whose loss climbs more above L_n(w*) are flagged (e.g. ln K for K classes);
    seed: of the prequential shuffle and the ablation permutation; eval_chunk: examples per forward."""

    llc: SGLDSettings = field(default_factory=SGLDSettings)
    llc_seeds: tuple[int, ...] = (0, 1)
    llc_max_excess_loss: float | None = None
    seed: int = 0
    eval_chunk: int = 8192


@dataclass(frozen=True)
class Measurements:
    """values: metric name -> [E] (route ablation: [E, G], groups in `feature_groups` order);
    seconds: measure -> wall-clock seconds; llc: the full estimate (traces, flags) when measured."""

    step: int
    values: dict[str, torch.Tensor]
    seconds: dict[str, float]
    llc: LLCEstimate | None = None
    prequential: PrequentialLength | None = None


class Monitor:
    """The monitor's measures for one checkpoint of any model, on its training data only.

    Args:
        model: a model that provides its stack (`stacked()`, e.g. a grokscope Ensemble; E members), a
            StackedModel (stacked.py; E members), or any nn.Module (one member, E = 1).
        per_example_loss: loss(outputs [E, B, ...], labels [E, B, ...]) -> [E, B].
        train_inputs, train_labels: for an Ensemble or a StackedModel, [E, N, ...] (one training set per member; a
            shared set as `x.expand(E, *x.shape)`); for a module, [N, ...]. Never held-out data.
        environments: [N] or [E, N] int64 environment of each training example (V-REx, IRMv1).
        time_order: [N] or [E, N] time of each training example (prequential code in time order).
        feature_groups: name -> column indices of the inputs' last axis, or permute(inputs, perm)
            (route ablation).
        features: features(inputs [E, N, ...]) -> [E, N, d] (effective rank).
        fit, n_classes: the learner and alphabet of the prequential code (prequential.Fit).
        settings: MonitorSettings.
    """

    def __init__(self, model: nn.Module | Stackable | StackedModel, per_example_loss: PerExampleLoss, train_inputs: torch.Tensor,
                 train_labels: torch.Tensor, *, environments: torch.Tensor | None = None,
                 time_order: torch.Tensor | None = None, feature_groups: FeatureGroups | None = None,
                 features: Features | None = None, fit: Fit | None = None, n_classes: int | None = None,
                 settings: MonitorSettings = MonitorSettings()):
        self.model = model
        self.stack = stack(model)
        self.loss = per_example_loss
        if not isinstance(model, nn.Module):  # a stack of E members: member axis first
            self.data = TrainingData(train_inputs, train_labels)
            if self.data.n_members != self.stack.n_members:
                raise ConfigError(f"train_inputs: {self.data.n_members} training sets for a model of "
                                  f"{self.stack.n_members} members; pass [E, N, ...]")
        else:
            self.data = TrainingData(train_inputs[None], train_labels[None])
        e, n = self.data.n_members, self.data.n
        self.environments = None if environments is None else per_member("environments", environments, e, n)
        self.time_order = None if time_order is None else per_member("time_order", time_order, e, n)
        self.feature_groups = feature_groups
        self.features = features
        self.fit = fit
        self.n_classes = n_classes
        self.settings = settings

    @property
    def group_names(self) -> list[str]:
        """Feature groups in the order of route ablation's columns."""
        return [] if self.feature_groups is None else list(self.feature_groups)

    def _mean_loss(self, inputs: torch.Tensor) -> torch.Tensor:
        return mean_loss(self.stack, self.stack.parameters(), TrainingData(inputs, self.data.labels), self.loss,
                         chunk=self.settings.eval_chunk)

    def _outputs(self) -> torch.Tensor:
        """[E, N, ...] outputs at w* on the training set (no graph)."""
        params = self.stack.parameters()
        with torch.no_grad():
            chunks = self.data.chunks(self.settings.eval_chunk)
            return torch.cat([self.stack.outputs(params, x) for _, x, _ in chunks], dim=1)

    # One method per measure.

    def llc(self, settings: SGLDSettings | None = None, seeds: Sequence[int] | None = None) -> LLCEstimate:
        """The local learning coefficient (llc.local_learning_coefficient) at the monitor's settings by default."""
        return local_learning_coefficient(self.stack, self.data, self.loss, settings or self.settings.llc,
                                          seeds=self.settings.llc_seeds if seeds is None else seeds,
                                          max_excess_loss=self.settings.llc_max_excess_loss)

    def prequential(self) -> PrequentialLength:
        """Prequential description length in bits, shuffled and (given time_order) in time order."""
        require(names.PREQUENTIAL_BITS, "fit", self.fit, INPUT_HINTS["fit"])
        require(names.PREQUENTIAL_BITS, "n_classes", self.n_classes, INPUT_HINTS["n_classes"])
        return prequential_description_length(self.data, self.fit, n_classes=self.n_classes, time_order=self.time_order,
                                              seed=self.settings.seed)

    def weight_norm(self) -> torch.Tensor:
        """[E] ‖w‖₂ over every parameter."""
        return weight_norm(self.stack.all_parameters())

    def effective_lr(self, previous: nn.Module | Stackable | Params | None) -> torch.Tensor:
        """[E] ‖w − w_previous‖ / ‖w_previous‖ against the previous checkpoint: a model of the same kind, or
        its parameters as name -> [E, ...] (E = 1 for a plain module)."""
        require(names.EFFECTIVE_LR, "previous", previous, INPUT_HINTS["previous"])
        before = previous if isinstance(previous, dict) else stack(previous).all_parameters()
        return effective_learning_rate(before, self.stack.all_parameters())

    def effective_rank(self) -> torch.Tensor:
        """[E] effective rank of the features of the training inputs."""
        require(names.EFFECTIVE_RANK, "features", self.features, INPUT_HINTS["features"])
        return effective_rank(self.features(self.data.inputs))

    def vrex(self) -> torch.Tensor:
        """[E] variance of the per-environment training risks (V-REx)."""
        require(names.RISK_VARIANCE, "environments", self.environments, INPUT_HINTS["environments"])
        return vrex_penalty(self.loss(self._outputs(), self.data.labels), self.environments)

    def irmv1(self) -> torch.Tensor:
        """[E] IRMv1 penalty of the training outputs."""
        require(names.IRMV1_PENALTY, "environments", self.environments, INPUT_HINTS["environments"])
        return irmv1_penalty(self._outputs(), self.data.labels, self.environments, self.loss)

    def route_ablation(self) -> torch.Tensor:
        """[E, G] training loss increase when each feature group is shuffled across examples."""
        require(names.ROUTE_ABLATION, "feature_groups", self.feature_groups, INPUT_HINTS["feature_groups"])
        return route_ablation(self._mean_loss, self.data.inputs, self.feature_groups, seed=self.settings.seed)

    def measure(self, measures: Sequence[str], checkpoint_step: int, *,
                previous: nn.Module | Stackable | Params | None = None) -> Measurements:
        """Run the named measures (keys of registry.MEASURES) and return their metrics and costs.

        Every measure's inputs are checked before any runs, so a missing one fails fast.

        Args:
            measures: e.g. ("llc", "weight_norm").
            checkpoint_step: the step the model was checkpointed at (recorded with the values).
            previous: the previous checkpoint, for "effective_lr".
        """
        unknown = [m for m in measures if m not in MEASURES]
        if unknown:
            raise ConfigError(f"measures: unknown {unknown}; choose from {list(MEASURES)}")
        available = {"fit": self.fit, "n_classes": self.n_classes, "previous": previous, "features": self.features,
                     "environments": self.environments, "feature_groups": self.feature_groups}
        for m in measures:
            for need in MEASURES[m].needs:
                require(m, need, available[need], INPUT_HINTS[need])
        values: dict[str, torch.Tensor] = {}
        seconds: dict[str, float] = {}
        results: dict[str, object] = {}
        for m in measures:
            start = time.perf_counter()
            measured, results[m] = MEASURES[m].run(self, previous)
            values |= measured
            seconds[m] = time.perf_counter() - start
        return Measurements(checkpoint_step, values, seconds, results.get("llc"), results.get("prequential"))


def llc_metrics(estimate: LLCEstimate) -> dict[str, torch.Tensor]:
    """The LLC's metrics, [E] each: value (NaN where flagged), spread, L_n(w*), acceptance, and its settings."""
    s = estimate.settings
    shape = estimate.llc
    constant = lambda value: torch.full_like(shape, float(value))  # noqa: E731 - settings logged beside each value
    return {
        names.LLC: estimate.llc, names.LLC_STD: estimate.llc_std, names.LLC_LOSS_INIT: estimate.loss_init,
        names.LLC_ACCEPTED: estimate.accepted.to(shape.dtype),
        names.LLC_EPSILON: constant(s.epsilon), names.LLC_NBETA: constant(s.nbeta), names.LLC_GAMMA: constant(s.gamma),
        names.LLC_BATCH_SIZE: constant(s.batch_size), names.LLC_BURN_IN: constant(s.burn_in),
        names.LLC_DRAWS: constant(s.draws), names.LLC_CHAINS: constant(len(estimate.seeds)),
    }
