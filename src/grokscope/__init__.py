"""grokscope: reproduce grokking, and see the hidden progress underneath the loss curve."""

__version__ = "0.1.0"

from .config import PRESETS, RunConfig, get_preset
from .errors import CheckpointError, ConfigError, GrokscopeError
from .run import Run, list_runs, load, resume, train

__all__ = ["PRESETS", "CheckpointError", "ConfigError", "GrokscopeError", "Run", "RunConfig", "get_preset",
           "list_runs", "load", "resume", "train", "__version__"]
