"""The Python API: `train(config) -> Run`, `resume(path)`, `load(path)`, and what a Run can tell."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import torch

from .config import RunConfig
from .errors import CheckpointError, ConfigError
from .instruments.collapse import softmax_collapse
from .instruments.early_stopping import PATIENCE_INTERVALS, early_stopping_indices
from .instruments.phases import key_frequency_history, run_phases
from .models import Ensemble
from .store import metric_names as names
from .store.checkpoints import checkpoint_path, load_weights, weight_steps
from .store.metrics import MetricsStore
from .store.run_dir import (
    RunLock,
    check_output_dir,
    new_run_dir,
    read_config,
    read_status,
    write_config,
)
from .train import Progress, Trainer, resolve_device

if TYPE_CHECKING:
    from .instruments.mechanism import MechanismReport
    from .monitor.run_monitor import MonitorOptions, MonitorReport
    from .train.data import RunData


def first_step_reaching(steps: list[int], values: list[float | None], threshold: float) -> int | None:
    """The first step whose value is >= threshold, or None if none is."""
    for step, value in zip(steps, values):
        if value is not None and value >= threshold:
            return step
    return None


@dataclass
class Run:
    """A run directory, read back: its config, metrics, checkpoints and summary."""

    path: Path
    config: RunConfig
    provenance: dict[str, Any]

    def metrics(self) -> MetricsStore:
        """The run's metrics database, read-only (safe while the run is still training)."""
        return MetricsStore(self.path / "metrics.sqlite", readonly=True)

    def status(self) -> dict[str, Any]:
        return read_status(self.path)

    def checkpoint_steps(self) -> list[int]:
        return weight_steps(self.path)

    def model(self, step: int | None = None, *, device: str = "cpu") -> Ensemble:
        """The ensemble as checkpointed at `step` (the last checkpoint by default).

        Raises:
            ConfigError: `step` is not a checkpoint step (bad input: the message lists the steps there are).
            CheckpointError: the run has no checkpoint yet, or the file is unreadable or of another shape.
        """
        steps = self.checkpoint_steps()
        if not steps:
            raise CheckpointError(f"{self.path}: no weights checkpoint yet")
        if step is None:
            step = steps[-1]
        if step not in steps:
            raise ConfigError(f"step: {self.path} has no checkpoint at step {step}; checkpoints at {steps}")
        path = checkpoint_path(self.path, step)
        _, params = load_weights(path)
        model = Ensemble.create(self.config, device=device)
        with torch.no_grad():
            for name, tensor in model.params.items():
                if name not in params or params[name].shape != tensor.shape:
                    raise CheckpointError(f"{path}: parameter {name} missing or of another shape")
                tensor.copy_(params[name])
        return model

    def analyze(self, step: int | None = None, member: int = 0) -> "MechanismReport":
        """The mechanistic report of one member at one checkpoint (the last by default)."""
        from .instruments.mechanism import analyze_member

        data = self.member_data(member)
        model = self.model(step)
        step = self.checkpoint_steps()[-1] if step is None else step
        return analyze_member(model.members(slice(member, member + 1)), data, member=member, step=step)

    def monitor(self, options: "MonitorOptions | None" = None, *,
                progress: Callable[[int, int, int], None] | None = None) -> "MonitorReport":
        """Measure the weights checkpoints with grokscope.monitor and write the values into the metrics store
        (`grokscope monitor`; monitor.run_monitor.monitor_run, whose defaults MonitorOptions() gives)."""
        from .monitor.run_monitor import MonitorOptions, monitor_run

        return monitor_run(self, MonitorOptions() if options is None else options, progress=progress)

    def member_data(self, member: int) -> "RunData":
        """One member's task table, inputs and split, on the CPU (as if it had trained alone)."""
        from .train.data import RunData

        if not 0 <= member < self.config.n_members:
            raise ConfigError(f"member: must be in 0..{self.config.n_members - 1}, got {member}")
        return RunData.build(self.config.member(member), torch.device("cpu"))

    def summary(self, threshold: float | None = None, early_stopping_patience: int | None = None, *,
                warning_rule: str = "peak") -> dict[str, Any]:
        """What `grokscope show --json` prints: config, evaluated steps, and per member the steps to
        memorize (train acc >= threshold) and to generalize (test acc >= threshold), the delay between
        them, and final accuracies (None where not reached). Commutative tasks add the same for the
        mirror-held-out accuracy, the honest generalization signal. `early_stopping` says where
        early stopping on the test loss (patience in steps; default 10 evaluation intervals) would have stopped, the
        step whose weights it would keep, and the test accuracy there. `softmax_collapse` is None, or the step
        from which softmax collapse stopped the member and the remedies it does not use yet
        (`instruments.collapse.softmax_collapse`). `early_warning_step` follows `warning_rule`: `peak` (the
        detector) or `legacy` (the rule before it; instruments/warning.py).

        Raises:
            ConfigError: an unknown warning rule (phases.run_phases).
        """
        threshold = self.config.generalize_acc if threshold is None else threshold
        with self.metrics() as store:
            series = {name: store.series(name) for name in (names.TRAIN_ACC, names.TEST_ACC, names.MIRROR_ACC, names.DIVERGED)}
            loss_steps, test_loss = store.series_tensor(names.TEST_LOSS, self.config.n_members)
            collapse_steps, zero_grad = store.series_tensor(names.COLLAPSE_ZERO_GRAD_FRAC, self.config.n_members)
            phases, warnings = run_phases(store, self.config.n_members, warning_rule=warning_rule)
            histories = [key_frequency_history(store, e) for e in range(self.config.n_members)]
        steps = series[names.TRAIN_ACC][0]
        if early_stopping_patience is None:
            early_stopping_patience = PATIENCE_INTERVALS * self.config.eval_every
        stops, bests = early_stopping_indices(test_loss, loss_steps, early_stopping_patience)
        members = []
        for e, seed in enumerate(self.config.seeds):
            train = series[names.TRAIN_ACC][1].get(e, [])
            test = series[names.TEST_ACC][1].get(e, [])
            memorize = first_step_reaching(steps, train, threshold)
            generalize = first_step_reaching(steps, test, threshold)
            member = {
                "member": e, "seed": seed, **{name: self.config.per_member(name)[e] for name in ("frac", "lr", "wd")},
                "steps_to_memorize": memorize, "steps_to_generalize": generalize,
                "grokking_delay": None if memorize is None or generalize is None else generalize - memorize,
                "final_train_acc": train[-1] if train else None, "final_test_acc": test[-1] if test else None,
                "diverged": any(v for v in series[names.DIVERGED][1].get(e, []) if v),
                "phases": phases[e].to_dict(),
                "early_warning_step": warnings[e],
                **histories[e],
            }
            for level in (0.5, 0.99):  # how long before the test curve the warning came (reporting only)
                reached = first_step_reaching(steps, test, level)
                lead = None if reached is None or warnings[e] is None else reached - warnings[e]
                member[f"early_warning_lead_to_test_acc_{int(level * 100)}"] = lead
            stop, best = int(stops[e]), int(bests[e])
            member["early_stopping"] = {
                "patience_steps": early_stopping_patience,
                "stopped_at": None if stop < 0 else loss_steps[stop],
                "kept_step": None if stop < 0 else loss_steps[best],
                "test_acc_kept": None if stop < 0 or not test else test[steps.index(loss_steps[best])],
            }
            mirror = series[names.MIRROR_ACC][1].get(e)
            if mirror is not None:
                member["steps_to_generalize_mirror"] = first_step_reaching(steps, mirror, threshold)
                member["final_test_mirror_acc"] = mirror[-1]
            members.append(member)
        # generalized as `compare` counts it: on mirror-held-out accuracy where the task has it
        generalized = torch.tensor([m.get("steps_to_generalize_mirror", m["steps_to_generalize"]) is not None for m in members])
        for member, verdict in zip(members, softmax_collapse(self.config, collapse_steps, zero_grad, generalized)):
            member["softmax_collapse"] = verdict
        return {"path": str(self.path), "config": self.config.to_dict(), "status": self.status(),
                "steps": steps[-1] if steps else 0, "threshold": threshold, "members": members}


def load(path: str | Path) -> Run:
    """Open an existing run directory."""
    path = Path(path)
    config, prov = read_config(path)
    return Run(path, config, prov)


def _train_into(run_dir: Path, config: RunConfig, device: torch.device,
                progress: Callable[[Progress], None] | None, after_step: Callable[[int], None] | None) -> Run:
    with RunLock(run_dir):
        Trainer(config, run_dir, device=device, on_progress=progress, after_step=after_step).run()
    return load(run_dir)


def train(config: RunConfig, out: str | Path = "runs", *, progress: Callable[[Progress], None] | None = None,
          after_step: Callable[[int], None] | None = None) -> Run:
    """Train a new run under `out`; returns it when training stops.

    Args:
        config: a validated RunConfig (invalid ones never get here: RunConfig raises ConfigError).
        out: the parent directory of run directories.
        progress: called at every evaluation with a Progress.
        after_step: called after every update with the step count (tests use it to interrupt a run).
    """
    out = Path(out)
    check_output_dir(out)
    device = resolve_device(config.device)
    run_dir = new_run_dir(out, config)
    write_config(run_dir, config, device)
    return _train_into(run_dir, config, device, progress, after_step)


def resume(path: str | Path, *, progress: Callable[[Progress], None] | None = None,
           after_step: Callable[[int], None] | None = None) -> Run:
    """Continue a run from its resume checkpoint to its stop rule (from step 0 if it never wrote one)."""
    run = load(path)
    return _train_into(run.path, run.config, resolve_device(run.config.device), progress, after_step)


def list_runs(root: str | Path) -> list[Run]:
    """Every run directory directly under `root`, oldest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    return [load(p) for p in sorted(root.iterdir()) if (p / "config.json").is_file()]
