"""Training: per-member AdamW, losses, batches, schedules and the loop."""

from .trainer import Progress, Trainer, evaluate, resolve_device

__all__ = ["Progress", "Trainer", "evaluate", "resolve_device"]
