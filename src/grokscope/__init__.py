"""grokscope: reproduce grokking, and see the hidden progress underneath the loss curve.

The package face loads its parts on first use (PEP 562), so `import grokscope` and `grokscope --help` stay
fast and free of torch until something trains or reads a run.
"""

from __future__ import annotations

from .lazy import lazy_face
from .version import __version__ as __version__

# name -> the module that defines it
_FACE = {"RunConfig": "config", "PRESETS": "presets", "get_preset": "presets",
         "ConfigError": "errors", "CheckpointError": "errors", "GrokscopeError": "errors",
         "Run": "run", "list_runs": "run", "load": "run", "resume": "training.launch", "train": "training.launch",
         "from_transformer_lens": "bridges.transformer_lens"}

__all__ = sorted([*_FACE, "__version__"])


__getattr__, __dir__ = lazy_face(__name__, _FACE, globals())
