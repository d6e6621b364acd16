"""grokscope.monitor: model-agnostic measures of one checkpoint, for any nn.Module or grokscope Ensemble.

The local learning coefficient (llc.py, on sgld.py), the prequential description length
(prequential.py; for real targets a Gaussian code and a ridge probe, gaussian_code.py), weight norm
and effective learning rate (weights.py), effective rank
(features.py), V-REx and IRMv1 (environments.py) and route ablation (ablation.py); `Monitor`
(monitor.py) runs them on the training data only; their metric names live in store/metric_names.py.
`monitor_run` (run_monitor.py, `grokscope monitor RUN`) measures a grokscope run's checkpoints and
writes the values into its metrics store, with a linear probe (probe.py) as the prequential learner.
"""

from .ablation import route_ablation
from .environments import irmv1_penalty, vrex_penalty
from .features import effective_rank, ensemble_features, module_features
from .gaussian_code import (RidgeSettings, gaussian_online_code_length, gaussian_prequential_length,
                            ridge_probe_fit)
from .inputs import MissingInputError, TrainingData
from .llc import LLCCalibration, LLCEstimate, calibrate_llc, local_learning_coefficient
from .monitor import NEEDS, Measurements, Monitor, MonitorSettings
from .prequential import VOITA_TITOV_FRACTIONS, online_code_length, prequential_description_length
from .probe import ProbeSettings, linear_probe_fit
from .run_monitor import DEFAULT_MEASURES, MonitorOptions, MonitorReport, monitor_run, run_monitors
from .sgld import SGLDSettings
from .stacked import stack
from .weights import effective_learning_rate, weight_norm

__all__ = [
    "DEFAULT_MEASURES", "MonitorOptions", "MonitorReport", "ProbeSettings", "linear_probe_fit", "monitor_run", "run_monitors",
    "LLCCalibration", "LLCEstimate", "Measurements", "MissingInputError", "Monitor", "MonitorSettings", "NEEDS",
    "SGLDSettings", "TrainingData", "VOITA_TITOV_FRACTIONS", "calibrate_llc", "effective_learning_rate",
    "effective_rank", "ensemble_features", "irmv1_penalty", "local_learning_coefficient", "module_features",
    "online_code_length", "prequential_description_length", "route_ablation", "stack", "vrex_penalty", "weight_norm",
    "RidgeSettings", "gaussian_online_code_length", "gaussian_prequential_length", "ridge_probe_fit",
]
