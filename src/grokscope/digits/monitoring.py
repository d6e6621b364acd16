"""The monitor on a digits checkpoint: which measures, on what, at which SGLD settings.

Every measure reads the member's 1,000 training images only. Effective rank and the linear probe of
the prequential code read the last hidden layer (after ReLU, [E, N, d_hidden]); the probe's alphabet
is the 10 digits. The LLC samples every parameter with the run's own per-example loss.
"""

from __future__ import annotations

from typing import Sequence

from ..monitor import (
    Measurements,
    Monitor,
    MonitorSettings,
    SGLDSettings,
    linear_probe_fit,
)
from ..monitor.registry import EXPENSIVE
from .config import DigitsConfig
from .data import N_CLASSES, DigitsData
from .loss import per_example_loss
from .model import DigitsMLP, Params

CHEAP = ("weight_norm", "effective_lr", "effective_rank")

# Calibrated on this model under MSE (calibrate_llc; docs/digits.md, "LLC settings"): L_n is ~100x smaller than a
# cross-entropy's, and the x8 members' gradients are large, so ε is 30x smaller and nβ 15x larger than the
# grokking defaults. ε 1e-4 or nβ 1,000 blew up x8 chains; none of ε 1e-5..3e-4 was ε-stable (values ~2x per 3x ε).
# Cross-entropy is not calibrated here: it gets the monitor's defaults with Omnigrok's batch size.
DIGITS_SGLD = {
    "mse": SGLDSettings(epsilon=3e-5, nbeta=300.0, gamma=100.0, batch_size=200, burn_in=50, draws=200),
    "cross_entropy": SGLDSettings(batch_size=200),
}


def digits_monitor(config: DigitsConfig, data: DigitsData, params: Params, *,
                   settings: MonitorSettings | None = None) -> Monitor:
    """A Monitor of a snapshot of the ensemble's parameters (name -> [E, ...]) on each member's training set."""
    snapshot = DigitsMLP({name: t.detach().clone() for name, t in params.items()})
    return Monitor(snapshot, per_example_loss(config.loss), data.train_x, data.train_y,
                   features=snapshot.hidden, fit=linear_probe_fit(snapshot.hidden, N_CLASSES), n_classes=N_CLASSES,
                   settings=settings or MonitorSettings(llc=DIGITS_SGLD[config.loss]))


def measures_at(config: DigitsConfig, step: int, *, has_previous: bool) -> tuple[str, ...]:
    """The measures due at a checkpoint step (the last step is always measured)."""
    last = step == config.max_steps
    due: list[str] = []
    if config.monitor_every is not None and (step % config.monitor_every == 0 or last):
        due += [m for m in CHEAP if m != "effective_lr" or has_previous]
    if config.expensive_every is not None and (step % config.expensive_every == 0 or last):
        due += list(EXPENSIVE)
    return tuple(due)


def measure(config: DigitsConfig, data: DigitsData, params: Params, step: int, measures: Sequence[str], *,
            previous: Params | None) -> Measurements:
    """The named measures of the checkpoint at `step` ([E] values per metric, seconds per measure)."""
    return digits_monitor(config, data, params).measure(measures, step, previous=previous)
