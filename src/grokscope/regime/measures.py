"""The monitor's measures of a trained Demo 1 zoo, from each member's training-era training rows only.

Per member, at the end of training: the LLC (SGLD settings calibrated on these regression models,
`REGIME_SGLD`; docs/regime.md), the Gaussian prequential code of the targets under a ridge probe on the
hidden features in shuffled and in time order (the generator's day index) and their difference, regime
specificity (monitor/gaussian_code.py), the weight norm, the effective rank of the hidden features, the route
ablation of the state and id groups on the training rows, and V-REx / IRMv1 with the training regimes as
environments. Everything except the prequential code runs through `grokscope.monitor.Monitor`; the Monitor's
prequential measure is the K-class code, so the Gaussian code is called beside it on the same data.

Never read here: validation or shift rows (those are the ground truth, regime/models.py `evaluate`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .. import metric_names as names
from ..errors import ConfigError
from ..monitor import Monitor, MonitorSettings, SGLDSettings
from ..monitor.gaussian_code import (
    DEFAULT_QUANTUM,
    RidgeSettings,
    gaussian_prequential_length,
    ridge_probe_fit,
)
from ..monitor.inputs import TrainingData
from ..monitor.run_monitor import TABLE_LLC
from .models import TrainedZoo, mse

REGIME_SGLD = TABLE_LLC  # calibrated on Demo 1's MLP (docs/regime.md, "LLC settings"; monitor/run_monitor.py)
# Every measure the runner scores, in table order.
MEASURES = (
    "llc", "prequential_bits", "prequential_bits_time", "regime_specificity_bits", "weight_norm",
    "effective_rank", "train_ablation_state", "train_ablation_id", "risk_variance", "irmv1_penalty",
)


@dataclass(frozen=True)
class MeasureSettings:
    """llc: SGLD settings; llc_seeds: one per chain; ridge: the prequential probe; quantum: the targets' precision
    in the Gaussian code; seed: of the shuffled order and the ablation permutation."""

    llc: SGLDSettings = REGIME_SGLD
    llc_seeds: tuple[int, ...] = (0, 1)
    ridge: RidgeSettings = field(default_factory=RidgeSettings)
    quantum: float = DEFAULT_QUANTUM
    seed: int = 0

    def __post_init__(self) -> None:
        if not self.llc_seeds:
            raise ConfigError("llc_seeds: need at least one chain seed")
        if not self.quantum > 0:
            raise ConfigError(f"quantum: must be > 0, got {self.quantum}")


def zoo_monitor(zoo: TrainedZoo, settings: MeasureSettings = MeasureSettings()) -> Monitor:
    """The Monitor of a trained zoo on each member's training rows (as it trained on them), regimes as environments."""
    data = zoo.data
    return Monitor(zoo.model, mse, data.train_x, data.train_y, environments=data.train_regime,
                   time_order=data.train_time, feature_groups=data.groups,
                   features=zoo.model.hidden,
                   settings=MonitorSettings(llc=settings.llc, llc_seeds=settings.llc_seeds, seed=settings.seed))


def measure_zoo(zoo: TrainedZoo, settings: MeasureSettings = MeasureSettings()) -> tuple[dict[str, np.ndarray],
                                                                                           dict[str, float]]:
    """({measure: [E] values}, {measure: seconds}) for every measure in MEASURES, training rows only.

    The LLC is NaN for a member whose chains were flagged (llc.check_traces); `llc_accepted` says which.
    """
    monitor = zoo_monitor(zoo, settings)
    result = monitor.measure(("llc", "weight_norm", "effective_rank", "route_ablation", "vrex", "irmv1"), 0)
    v = result.values
    out = {"llc": v[names.LLC], "llc_accepted": v[names.LLC_ACCEPTED], "weight_norm": v[names.WEIGHT_NORM],
           "effective_rank": v[names.EFFECTIVE_RANK], "risk_variance": v[names.RISK_VARIANCE],
           "irmv1_penalty": v[names.IRMV1_PENALTY]}
    for g, group in enumerate(zoo.data.groups):  # Demo 1: state, id; Demo 3: lags, calendar, level
        out[f"train_ablation_{group}"] = v[names.ROUTE_ABLATION][:, g]
    seconds = dict(result.seconds)
    start = time.perf_counter()
    code = gaussian_prequential_length(TrainingData(zoo.data.train_x, zoo.data.train_y),
                                       ridge_probe_fit(zoo.model.hidden, settings.ridge),
                                       time_order=zoo.data.train_time, seed=settings.seed, quantum=settings.quantum)
    seconds["prequential"] = time.perf_counter() - start
    out |= {"prequential_bits": code.shuffled.bits, "prequential_bits_time": code.time.bits,
            "regime_specificity_bits": code.regime_specificity_bits}
    return {k: t.detach().double().cpu().numpy() for k, t in out.items()}, seconds
