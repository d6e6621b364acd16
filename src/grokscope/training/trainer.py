"""The training loop: optimizer and gradient filters per member, evaluation on all pairs, checkpoints, stop rule, resume."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from .. import metric_names as names
from ..config import RunConfig
from ..dataset import RunData
from ..errors import CheckpointError, ConfigError
from ..models import Ensemble
from ..store.checkpoints import (
    check_all_weights,
    load_resume,
    save_resume,
    save_weights,
)
from ..store.metrics import MetricsStore
from ..store.run_dir import write_status
from ..store.table import load_table
from .cuda_graph import GraphedStep
from .evaluate import Evaluator
from .filters import build_filter, orthogonalize_
from .loss import per_example_loss
from .optim import build_optimizer, lr_scale
from .retrospective import record_retrospective
from .sampler import BatchSampler, shuffled_rows
from .schedule import checkpoint_steps, eval_steps
from .weight_norm import rescale_to_norm_, squared_norm


@dataclass
class Progress:
    """What a progress callback receives at every evaluation."""

    step: int
    max_steps: int
    metrics: dict[str, torch.Tensor]
    steps_per_second: float
    done: bool = False


@dataclass
class TrainState:
    """The trainer's state beyond weights and moments, saved in the resume checkpoint."""

    step: int = 0
    diverged_at: list[int | None] = field(default_factory=list)  # per member: the evaluation that froze it
    all_generalized_at: int | None = None  # since when every member has held the threshold

    @property
    def active(self) -> list[bool]:
        return [d is None for d in self.diverged_at]


def resume_state(state: Any, config: RunConfig, path: Path) -> TrainState:
    """The trainer state of a resume checkpoint, every field checked against the config (CheckpointError naming the
    field otherwise): step and optimizer_steps in 0..max_steps, optimizer_steps <= step, one diverged_at per member
    (None or a step <= step), all_generalized_at None or a step <= step."""
    def is_step(value: Any, upto: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= upto

    def refuse(field: str, allowed: str) -> CheckpointError:
        shown = state.get(field) if isinstance(state, dict) else state
        return CheckpointError(f"{path}: resume state {field} must be {allowed}, got {str(shown)[:80]!r}")

    if not isinstance(state, dict) or set(state) != {"step", "diverged_at", "all_generalized_at", "optimizer_steps"}:
        raise refuse("fields", "step, diverged_at, all_generalized_at and optimizer_steps")
    step = state["step"]
    if not is_step(step, config.max_steps):
        raise refuse("step", f"an integer in 0..{config.max_steps} (max_steps)")
    if not is_step(state["optimizer_steps"], step):
        raise refuse("optimizer_steps", f"an integer in 0..{step} (the step)")
    diverged = state["diverged_at"]
    if not isinstance(diverged, list) or len(diverged) != config.n_members or \
            not all(d is None or is_step(d, step) for d in diverged):
        raise refuse("diverged_at", f"a list of {config.n_members} entries, each null or a step <= {step}")
    if not (state["all_generalized_at"] is None or is_step(state["all_generalized_at"], step)):
        raise refuse("all_generalized_at", f"null or a step <= {step}")
    return TrainState(step=step, diverged_at=list(diverged), all_generalized_at=state["all_generalized_at"])


def resolve_device(name: str) -> torch.device:
    """The torch device for a config's `device` field ("auto": CUDA when available)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: cuda was asked for but torch sees no CUDA device; use cpu or auto")
    return torch.device(name)


class Trainer:
    """Trains one ensemble into one run directory; `run()` starts or resumes it."""

    def __init__(self, config: RunConfig, run_dir: Path, *, device: torch.device,
                 on_progress: Callable[[Progress], None] | None = None,
                 after_step: Callable[[int], None] | None = None):
        self.config = config
        self.run_dir = run_dir
        self.device = device
        self.on_progress = on_progress
        self.after_step = after_step
        self.loss_dtype = getattr(torch, config.loss_dtype)
        if device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = config.tf32
            torch.backends.cudnn.allow_tf32 = config.tf32
        stored = load_table(run_dir, config) if config.task == "table" else None
        self.data = RunData.build(config, device, stored)
        self.model = Ensemble.create(config, device=device)
        if stored is not None and stored.unseen is not None:  # columns a member never sees: their rows start at 0
            with torch.no_grad():  # and get no gradient (zeroed inputs), so decoupled decay keeps them at 0
                self.model.params["layers.0.W"].masked_fill_(stored.unseen.to(device)[..., None], 0.0)
        self.sampler = BatchSampler(self.data, config.seeds, config.batch_size)
        self.optimizer = build_optimizer(config, self.model.trainable(), device)
        self.grad_filter = build_filter(config, self.model.trainable(), device)
        orthogonal = config.per_member("orthogonal_grad")
        self.orthogonal = torch.tensor(orthogonal, device=device) if any(orthogonal) else None  # [E] bool
        fixed = config.per_member("fixed_weight_norm")
        self.fixed_norm = torch.tensor(fixed, device=device) if any(fixed) else None  # [E] bool
        # The initial norm (after init_scale) of the freshly built ensemble: a resumed run rebuilds the same one.
        self.norm_target_sq = squared_norm(self.model.trainable()) if any(fixed) else None  # [E] float64
        self.state = TrainState(diverged_at=[None] * config.n_members)
        self.checkpoint_at = checkpoint_steps(config.max_steps, config.checkpoints, config.checkpoint_every)
        self.graphed = GraphedStep(self) if device.type == "cuda" and config.cuda_graph else None
        self.evaluator = Evaluator(config, self.data, device)
        # Every checkpoint is evaluated too, so its weights and its metrics line up.
        self.eval_at = eval_steps(config.max_steps, eval_every=config.eval_every, log_points=config.eval_log_points) | self.checkpoint_at

    # resume
    def _resume_tensors(self) -> dict[str, torch.Tensor]:
        """What the resume checkpoint holds: weights, optimizer state and the gradient filter's, by name."""
        tensors = {f"param/{n}": t for n, t in self.model.params.items()} | self.optimizer.state_tensors()
        if self.grad_filter is not None:
            tensors |= {f"filter/{n}": t for n, t in self.grad_filter.state_tensors().items()}
        return tensors

    def _save_resume(self) -> None:
        state = {"step": self.state.step, "diverged_at": self.state.diverged_at,
                 "all_generalized_at": self.state.all_generalized_at, "optimizer_steps": self.optimizer.step_count}
        save_resume(self.run_dir, self._resume_tensors(), state)

    def _load_resume(self) -> None:
        """Restore the resume checkpoint, every tensor's name, shape and dtype and every state field checked against
        the config first (CheckpointError in one line, nothing changed or overwritten)."""
        shapes = {name: tuple(t.shape) for name, t in self.model.params.items()}
        check_all_weights(self.run_dir, shapes, getattr(torch, self.config.param_dtype))  # the end's pass reads them
        loaded = load_resume(self.run_dir)
        if loaded is None:
            return
        tensors, state = loaded
        path = self.run_dir / "resume.safetensors"
        expected = self._resume_tensors()
        for name in sorted(set(expected) | set(tensors)):
            if name not in tensors or name not in expected:
                raise CheckpointError(f"{path}: tensor {name} {'missing' if name not in tensors else 'unexpected'} "
                                      "for this run's config")
            saved, own = tensors[name], expected[name]
            if saved.shape != own.shape or saved.dtype != own.dtype:
                raise CheckpointError(f"{path}: tensor {name} is {saved.dtype} {list(saved.shape)}, this run's config "
                                      f"needs {own.dtype} {list(own.shape)}")
        self.state = resume_state(state, self.config, path)
        with torch.no_grad():
            for name, param in self.model.params.items():
                param.copy_(tensors[f"param/{name}"])
        self.optimizer.load_state_tensors({k: v.to(self.device) for k, v in tensors.items()}, state["optimizer_steps"])
        if self.grad_filter is not None:
            filter_state = {k.removeprefix("filter/"): v.to(self.device) for k, v in tensors.items() if k.startswith("filter/")}
            self.grad_filter.load_state_tensors(filter_state, state["optimizer_steps"])

    # one step
    def train_step(self, step: int, active: torch.Tensor | None) -> None:
        """One update on step's batch; members where `active` [E] is False stay frozen (None: all train)."""
        if self.graphed is not None:
            self.graphed(step, active)
            return
        rows, weights, shuffled = self.batch_at(step)
        self.update(rows, weights, lr_scale(step, self.config), active, shuffled)

    def batch_at(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Step's rows [E, B] and weights [E, B], and, where a stored table permutes columns, the rows [E, B] each
        batch position reads those columns from (sampler.shuffled_rows; None otherwise)."""
        rows, weights = self.sampler.batch_at(step)
        shuffled = None if self.data.permuted is None else shuffled_rows(self.sampler.seeds, step, rows, weights)
        return rows, weights, shuffled

    def update(self, rows: torch.Tensor, weights: torch.Tensor, lr_scale: float | torch.Tensor,
               active: torch.Tensor | None, shuffled: torch.Tensor | None = None) -> None:
        """Forward, loss, backward, gradient filters, the optimizer and the fixed-norm rescale on a batch:
        rows [E, B] into the pair table, weights [E, B] (shuffled [E, B]: where a stored table's permuted columns
        are read from)."""
        logits = self.model.logits(self.data.batch_inputs(rows, shuffled))  # [E, B, n_out, d_vocab_out]
        if self.data.train_targets is None:
            targets = self.data.targets[rows]  # [E, B, n_out]
        else:  # label noise: each member's own labels
            n_out = self.data.train_targets.shape[2]
            targets = self.data.train_targets.gather(1, rows[..., None].expand(-1, -1, n_out))  # [E, B, n_out]
        loss = per_example_loss(logits, targets, loss_dtype=self.loss_dtype, loss=self.config.loss)
        # Members are independent: the gradient of the sum gives each member its own mean loss's gradient.
        (loss * weights.to(loss.dtype)).sum().backward()
        if self.grad_filter is not None:
            self.grad_filter()
        if self.orthogonal is not None:
            orthogonalize_(self.optimizer.params, self.orthogonal)
        self.optimizer.step(lr_scale, active)
        if self.fixed_norm is not None:
            on = self.fixed_norm if active is None else self.fixed_norm & active
            rescale_to_norm_(self.optimizer.params, self.norm_target_sq, on)
        for param in self.optimizer.params.values():
            param.grad = None

    def _record(self, metrics: MetricsStore, step: int) -> dict[str, torch.Tensor]:
        """Evaluate, freeze members whose loss stopped being finite, write the rows, update the stop rule."""
        values, vectors = self.evaluator(self.model)
        diverged_at = torch.tensor([-1 if d is None else d for d in self.state.diverged_at])  # [E], -1: active
        newly = (diverged_at < 0) & ~torch.isfinite(values[names.TRAIN_LOSS].cpu())
        diverged_at = torch.where(newly, step, diverged_at)
        self.state.diverged_at = [None if d < 0 else d for d in diverged_at.tolist()]
        # Rewritten identically when a resumed run evaluates this step again.
        values[names.DIVERGED] = (diverged_at == step).double()
        values[names.LR] = self.optimizer.lr.cpu() * lr_scale(step, self.config)
        metrics.write_evaluation(step, values, vectors)
        # A stored table's scalar target has no accuracy: its runs stop at max_steps.
        reached = values[names.TEST_ACC].cpu() >= self.config.generalize_acc if names.TEST_ACC in values else False
        held = (diverged_at >= 0) | reached  # [E]
        if not bool(held.all()):
            self.state.all_generalized_at = None  # generalization has to hold through the patience window
        elif self.state.all_generalized_at is None:
            self.state.all_generalized_at = step
        return values

    def run(self) -> str:
        """Train from the resume checkpoint (or from scratch) to the stop rule; returns the stop reason."""
        self._load_resume()
        config, state = self.config, self.state
        metrics = MetricsStore(self.run_dir / "metrics.sqlite")
        if self.evaluator.note is not None:
            metrics.set_meta("instrument_note", self.evaluator.note)
        if self.evaluator.collapse_note is not None:
            metrics.set_meta("collapse_note", self.evaluator.collapse_note)
        if self.evaluator.stored is not None:  # the route ablation vector's idx -> group
            metrics.set_meta("feature_groups", json.dumps(list(self.evaluator.stored.groups)))
        write_status(self.run_dir, state="running", step=state.step)
        started, started_step = time.perf_counter(), state.step
        reason = "max_steps"
        try:
            while True:
                step = state.step
                if step in self.checkpoint_at:
                    save_weights(self.run_dir, step, self.model.params)
                if step in self.eval_at:
                    values = self._record(metrics, step)
                    stop = state.all_generalized_at is not None and step >= state.all_generalized_at + config.patience
                    if stop:
                        reason = "generalized"
                    if self.on_progress is not None:
                        rate = (step - started_step) / max(time.perf_counter() - started, 1e-9)
                        self.on_progress(Progress(step, config.max_steps, values, rate, done=stop or step >= config.max_steps))
                    if stop:
                        break
                if step >= config.max_steps or not any(state.active):
                    reason = reason if any(state.active) else "all_diverged"
                    break
                if step > 0 and step % config.resume_every == 0:
                    self._save_resume()
                    write_status(self.run_dir, state="running", step=step)
                active = None if all(state.active) else torch.tensor(state.active, device=self.device)
                self.train_step(step, active)
                state.step = step + 1
                if self.after_step is not None:
                    self.after_step(state.step)
            if state.step not in self.checkpoint_at:
                save_weights(self.run_dir, state.step, self.model.params)
            self._save_resume()
            if config.instruments and self.evaluator.stored is None:
                record_retrospective(self.run_dir, self.model, self.data, metrics)
            write_status(self.run_dir, state="finished", step=state.step, stop_reason=reason)
        finally:
            metrics.close()
        return reason
