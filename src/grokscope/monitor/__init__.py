"""grokscope.monitor: model-agnostic measures of one checkpoint, for any nn.Module or grokscope Ensemble.

The local learning coefficient (llc.py, on sgld.py), the prequential description length
(prequential.py; for real targets a Gaussian code and a ridge probe, gaussian_code.py), weight norm
and effective learning rate (weights.py), effective rank
(features.py), V-REx and IRMv1 (environments.py) and route ablation (ablation.py); `Monitor`
(monitor.py) runs them on the training data only; registry.py declares each once; their metric names live in
metric_names.py.
`monitor_run` (run_monitor.py, `grokscope monitor RUN`) measures a grokscope run's checkpoints and
writes the values into its metrics store, with a linear probe (probe.py) as the prequential learner.
"""

from __future__ import annotations

from ..lazy import lazy_face

# name -> the module that defines it; loaded on first use (PEP 562), so that the registry and the command line's
# help are read without torch.
_FACE = {
    "DEFAULT_MEASURES": "registry",
    "LLCCalibration": "llc",
    "LLCEstimate": "llc",
    "MEASURES": "registry",
    "Measure": "registry",
    "Measurements": "monitor",
    "MissingInputError": "inputs",
    "Monitor": "monitor",
    "MonitorOptions": "run_monitor",
    "MonitorReport": "run_monitor",
    "MonitorSettings": "monitor",
    "ProbeSettings": "probe",
    "RidgeSettings": "gaussian_code",
    "SGLDSettings": "sgld",
    "TrainingData": "inputs",
    "VOITA_TITOV_FRACTIONS": "prequential",
    "calibrate_llc": "llc",
    "effective_learning_rate": "weights",
    "effective_rank": "features",
    "ensemble_features": "run_monitor",
    "gaussian_online_code_length": "gaussian_code",
    "gaussian_prequential_length": "gaussian_code",
    "irmv1_penalty": "environments",
    "linear_probe_fit": "probe",
    "local_learning_coefficient": "llc",
    "module_features": "features",
    "monitor_run": "run_monitor",
    "online_code_length": "prequential",
    "prequential_description_length": "prequential",
    "ridge_probe_fit": "gaussian_code",
    "route_ablation": "ablation",
    "run_monitors": "run_monitor",
    "stack": "stacked",
    "vrex_penalty": "environments",
    "weight_norm": "weights"
}

__all__ = sorted(_FACE)


__getattr__, __dir__ = lazy_face(__name__, _FACE, globals())
