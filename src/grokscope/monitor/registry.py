"""The monitor's measures, each declared once: what it needs, what it writes, what it costs, how it runs.

Every list of measure names (the Monitor's dispatch and input checks, the metric rows a second pass replaces,
`grokscope monitor`'s default set, its help, the cadence of the expensive ones, the validation study's columns)
is read from MEASURES. No torch here: the command line builds its help from this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from .. import metric_names as names

if TYPE_CHECKING:
    from .monitor import Monitor


@dataclass(frozen=True)
class Measure:
    """One measure of the monitor.

    needs: the Monitor inputs it needs besides the model, loss and training data (INPUT_HINTS names them);
    metrics: every metric name it can write (a second `grokscope monitor` pass replaces these rows);
    scored: the metric a validation study reads; default: in `grokscope monitor`'s default set;
    expensive: seconds per checkpoint where the others take milliseconds (run at `expensive_every`);
    run(monitor, previous) -> (metric name -> [E] or [E, G], the full result object or None).
    """

    name: str
    description: str
    needs: tuple[str, ...]
    metrics: tuple[str, ...]
    scored: str
    default: bool
    expensive: bool
    run: Callable[["Monitor", Any], tuple[dict[str, Any], Any]]


def _llc(monitor: "Monitor", _previous: Any) -> tuple[dict[str, Any], Any]:
    from .monitor import llc_metrics

    estimate = monitor.llc()
    return llc_metrics(estimate), estimate


def _prequential(monitor: "Monitor", _previous: Any) -> tuple[dict[str, Any], Any]:
    length = monitor.prequential()
    values = {names.PREQUENTIAL_BITS: length.shuffled.bits}
    if length.time is not None:
        values |= {names.PREQUENTIAL_BITS_TIME: length.time.bits, names.REGIME_SPECIFICITY_BITS: length.regime_specificity_bits}
    return values, length


def _one(metric: str, method: str, with_previous: bool = False) -> Callable[["Monitor", Any], tuple[dict[str, Any], Any]]:
    """A measure whose value is one Monitor method's result, written under one metric."""
    def run(monitor: "Monitor", previous: Any) -> tuple[dict[str, Any], Any]:
        value = getattr(monitor, method)(previous) if with_previous else getattr(monitor, method)()
        return {metric: value}, None
    return run


MEASURES: dict[str, Measure] = {m.name: m for m in (
    Measure("llc", "local learning coefficient (SGLD around the checkpoint)", (),
            (names.LLC, names.LLC_STD, names.LLC_LOSS_INIT, names.LLC_ACCEPTED, names.LLC_EPSILON, names.LLC_NBETA,
             names.LLC_GAMMA, names.LLC_BATCH_SIZE, names.LLC_BURN_IN, names.LLC_DRAWS, names.LLC_CHAINS),
            names.LLC, default=True, expensive=True, run=_llc),
    Measure("prequential", "prequential description length of the training labels from the features",
            ("fit", "n_classes"), (names.PREQUENTIAL_BITS, names.PREQUENTIAL_BITS_TIME, names.REGIME_SPECIFICITY_BITS),
            names.PREQUENTIAL_BITS, default=True, expensive=True, run=_prequential),
    Measure("weight_norm", "L2 norm of every parameter", (), (names.WEIGHT_NORM,), names.WEIGHT_NORM,
            default=True, expensive=False, run=_one(names.WEIGHT_NORM, "weight_norm")),
    Measure("effective_lr", "relative weight change since the previous checkpoint", ("previous",),
            (names.EFFECTIVE_LR, names.EFFECTIVE_LR_PER_STEP), names.EFFECTIVE_LR_PER_STEP,
            default=True, expensive=False, run=_one(names.EFFECTIVE_LR, "effective_lr", with_previous=True)),
    Measure("effective_rank", "effective rank of a layer's features", ("features",), (names.EFFECTIVE_RANK,),
            names.EFFECTIVE_RANK, default=True, expensive=False, run=_one(names.EFFECTIVE_RANK, "effective_rank")),
    Measure("vrex", "variance of the per-environment training risks (V-REx)", ("environments",),
            (names.RISK_VARIANCE,), names.RISK_VARIANCE, default=False, expensive=False, run=_one(names.RISK_VARIANCE, "vrex")),
    Measure("irmv1", "IRMv1 penalty of the training outputs", ("environments",), (names.IRMV1_PENALTY,),
            names.IRMV1_PENALTY, default=False, expensive=False, run=_one(names.IRMV1_PENALTY, "irmv1")),
    Measure("route_ablation", "training-loss rise when each input group is shuffled", ("feature_groups",),
            (names.ROUTE_ABLATION,), names.ROUTE_ABLATION, default=True, expensive=False,
            run=_one(names.ROUTE_ABLATION, "route_ablation")),
)}

# Monitor input -> what to pass, for the one-line error when a measure is asked for without it.
INPUT_HINTS = {
    "fit": "fit(prefix_inputs, prefix_labels) -> predict_log_probs, a fresh learner per block",
    "n_classes": "K, the size of the label alphabet",
    "previous": "the previous checkpoint's model or parameters",
    "features": "features(inputs [E, N, ...]) -> [E, N, d], e.g. features.module_features",
    "environments": "an environment label per training example, [N] or [E, N]",
    "feature_groups": "name -> input column indices, or a permute(inputs, perm) callable",
}

DEFAULT_MEASURES = tuple(m.name for m in MEASURES.values() if m.default)
EXPENSIVE = tuple(m.name for m in MEASURES.values() if m.expensive)


def measures_help() -> str:
    """The `--measures` help of `grokscope monitor`, from the registry."""
    return (f"Comma list of {', '.join(MEASURES)} (default: {', '.join(DEFAULT_MEASURES)}; "
            f"{', '.join(m for m in MEASURES if m not in DEFAULT_MEASURES)} need inputs a grokscope run does not have).")
