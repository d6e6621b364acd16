"""Reading a run: `load(path) -> Run`, `list_runs(root)`, and what a Run can tell (training one: training/launch.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import torch

from .config import RunConfig
from .errors import CheckpointError, ConfigError, GrokscopeError
from .models import Ensemble
from .store.checkpoints import (
    check_all_weights,
    checkpoint_path,
    load_weights,
    weight_steps,
)
from .store.metrics import MetricsStore
from .store.run_dir import read_config, read_status

if TYPE_CHECKING:
    from .dataset import RunData
    from .instruments.mechanism import MechanismReport
    from .monitor.run_monitor import MonitorOptions, MonitorReport
    from .tasks import StoredTable


@dataclass
class Run:
    """A run directory, read back: its config, metrics, checkpoints and summary."""

    path: Path
    config: RunConfig
    provenance: dict[str, Any]

    def metrics(self) -> MetricsStore:
        """The run's metrics database, read-only (safe while the run is still training)."""
        return MetricsStore(self.path / "metrics.sqlite", readonly=True)

    def retrospective(self) -> dict[str, Any] | None:
        """How far the end-of-training retrospective pass has written: {"checkpoints", "done", "complete"}, or None
        before it starts (or for a task without the additive view). Its rows and this count commit together."""
        from .training.retrospective import RETROSPECTIVE_META

        with self.metrics() as store:
            raw = store.meta(RETROSPECTIVE_META)
        return None if raw is None else json.loads(raw)

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

    def check_checkpoints(self) -> None:
        """Raise CheckpointError (one line) unless every weights checkpoint's header holds this config's tensors,
        shapes and dtype, and its step matches its name; reads headers only."""
        params = Ensemble.create(self.config).params
        check_all_weights(self.path, {name: tuple(t.shape) for name, t in params.items()},
                          getattr(torch, self.config.param_dtype))

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

    def figure(self, kind: str, member: int = 0):
        """A Plotly figure of one of the report's views: "curves", "progress", "spectrum" or "clock" (member: for the
        last two); report/notebook.py."""
        from .report.notebook import figure

        return figure(self, kind, member)

    def _repr_html_(self) -> str:  # what Jupyter shows for a Run
        from .report.notebook import run_html

        return run_html(self)

    def hooked_transformer(self, member: int = 0, step: int | None = None):
        """Member `member` at `step` (the last checkpoint by default) as a `transformer_lens.HookedTransformer`
        (nanda arch only; the extra grokscope[tl]; grokscope.bridges.transformer_lens)."""
        from .bridges.transformer_lens import hooked_transformer

        return hooked_transformer(self, member, step)

    def data(self, device: torch.device | str = "cpu") -> "RunData":
        """Every member's task table, inputs and split (a stored table's rows read from the run directory)."""
        from .dataset import RunData

        return RunData.build(self.config, torch.device(device), self.table())

    def member_data(self, member: int) -> "RunData":
        """One member's task table, inputs and split, on the CPU (as if it had trained alone)."""
        from .dataset import RunData

        if not 0 <= member < self.config.n_members:
            raise ConfigError(f"member: must be in 0..{self.config.n_members - 1}, got {member}")
        table = self.table()
        return RunData.build(self.config.member(member), torch.device("cpu"),
                             None if table is None else table.members([member]))

    def table(self) -> "StoredTable | None":
        """A run of task "table": its stored rows, every member's (store/table.py); None for other tasks."""
        from .store.table import load_table

        return load_table(self.path, self.config) if self.config.task == "table" else None

    def summary(self, threshold: float | None = None, early_stopping_patience: int | None = None, *,
                warning_rule: str | None = None) -> dict[str, Any]:
        """What `grokscope show --json` prints (analysis.summary.summarize says what is in it)."""
        from .analysis.summary import summarize

        return summarize(self, threshold, early_stopping_patience, warning_rule=warning_rule)


def load(path: str | Path) -> Run:
    """Open an existing run directory."""
    path = Path(path)
    config, prov = read_config(path)
    return Run(path, config, prov)


def list_runs(root: str | Path) -> list[Run]:
    """Every run directory directly under `root`, oldest first (raises the error of the first that cannot be read)."""
    runs = []
    for entry in scan_runs(root):
        if not isinstance(entry, Run):
            raise entry[1]
        runs.append(entry)
    return runs


def scan_runs(root: str | Path) -> list["Run | tuple[Path, GrokscopeError]"]:
    """Every directory directly under `root` holding a config.json, oldest first: its Run, or (path, the error that
    kept it from loading) so that one damaged or foreign directory does not hide the others (`grokscope runs`)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found: list[Run | tuple[Path, GrokscopeError]] = []
    for path in sorted(root.iterdir()):
        if (path / "config.json").is_file():
            try:
                found.append(load(path))
            except GrokscopeError as error:
                found.append((path, error))
    return found

