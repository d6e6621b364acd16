"""The run store: one directory per run, metrics in SQLite, checkpoints in safetensors."""

from .. import metric_names
from .metrics import MetricsStore

__all__ = ["MetricsStore", "metric_names"]
