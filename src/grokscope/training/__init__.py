"""Training: per-member AdamW, losses, batches, schedules and the loop."""

from .evaluate import Evaluator
from .trainer import Progress, Trainer, resolve_device

__all__ = ["Evaluator", "Progress", "Trainer", "resolve_device"]
