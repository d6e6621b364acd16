"""The dry run as a library call: what a config would train, its memory and a time estimate, nothing written."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from .config import RunConfig
from .training.trainer import Trainer, resolve_device

TIMED_STEPS = 4  # the first step pays for allocation; the median of the rest is the estimate


@dataclass(frozen=True)
class RunEstimate:
    """What `train --dry-run` reports. memory_bytes: weights, gradients, optimizer and filter state and one batch
    of activations over all members; seconds_per_step: the median of a few steps timed in memory."""

    task: str
    p: int
    arch: str
    n_members: int
    n_params: int
    n_pairs: int
    n_train: tuple[int, ...]
    batch: int
    full_batch: bool
    device: str
    memory_bytes: int
    seconds_per_step: float
    max_steps: int


def estimate_run(config: RunConfig) -> RunEstimate:
    """Build the trainer in memory (no run directory), time a few steps, and estimate memory from the shapes."""
    device = resolve_device(config.device)
    trainer = Trainer(config, Path("(dry run: nothing written)"), device=device)
    model, data = trainer.model, trainer.data
    n_params = sum(t[0].numel() for t in model.params.values())
    bytes_per = 4 if config.param_dtype == "float32" else 8
    copies = 4 if config.optimizer != "sgd" else (3 if config.momentum else 2)  # weights, grads, moments or momentum
    copies += {"none": 0, "ema": 1, "ma": config.grokfast_window}[config.grokfast]  # Grokfast's filter state
    state_bytes = copies * n_params * config.n_members * bytes_per
    batch = int(trainer.sampler.batch.max())
    spec = model.spec
    act_bytes = config.n_members * batch * spec.n_ctx * (4 * spec.d_model + 2 * spec.d_mlp) * bytes_per * spec.n_layers
    timings = []
    for step in range(TIMED_STEPS):
        start = time.perf_counter()
        trainer.train_step(step, None)
        timings.append(time.perf_counter() - start)
    per_step = statistics.median(timings[1:])
    return RunEstimate(task=config.task, p=config.p, arch=config.arch, n_members=config.n_members, n_params=n_params,
                  n_pairs=data.inputs.shape[0], n_train=tuple(data.n_train.tolist()), batch=batch,
                  full_batch=config.batch_size is None, device=str(device), memory_bytes=int(state_bytes + act_bytes),
                  seconds_per_step=per_step, max_steps=config.max_steps)
