"""Rendering for the CLI: the live progress bar, run and member tables, and the dry-run plan."""

from __future__ import annotations

import contextlib
import statistics
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
from rich.console import Console
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.table import Table

from .config import RunConfig
from .store import metric_names as names
from .train import Progress
from .train.trainer import Trainer, resolve_device

MEMBERS_LISTED = 4  # beyond this many members the bar shows min/median/max instead


def _accuracies(values: torch.Tensor) -> str:
    v = values.detach().double().cpu()
    if v.numel() <= MEMBERS_LISTED:
        return " ".join(f"{x:.2f}" for x in v.tolist())
    return f"min {v.min():.2f} med {v.median():.2f} max {v.max():.2f}"


@contextlib.contextmanager
def progress_bar(console: Console, config: RunConfig) -> Iterator[Callable[[Progress], None]]:
    """A Rich bar on standard error: step, train/test accuracy per member (or their spread), steps/s.

    Where standard error is not a terminal (a log file, CI), a bar cannot redraw: a plain line is
    printed instead at every tenth of the budget and at the end.
    """
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("{task.fields[accs]}"), TextColumn("{task.fields[rate]}"), TimeElapsedColumn())
    with RichProgress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(f"{config.task} mod {config.p}", total=config.max_steps, accs="", rate="")

        def update(progress: Progress) -> None:
            test = progress.metrics.get(names.MIRROR_ACC, progress.metrics[names.TEST_ACC])
            label = "mirror" if names.MIRROR_ACC in progress.metrics else "test"
            accs = f"train {_accuracies(progress.metrics[names.TRAIN_ACC])} | {label} {_accuracies(test)}"
            rate = f"{progress.steps_per_second:.0f} steps/s"
            bar.update(task, completed=progress.step, accs=accs, rate=rate)
            if not console.is_terminal and (progress.done or progress.step >= next_line[0]):
                console.print(f"step {progress.step}/{progress.max_steps} {accs} {rate}", highlight=False)
                next_line[0] = progress.step + max(1, progress.max_steps // 10)

        next_line = [0]
        yield update


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def summary_table(summary: dict[str, Any]) -> Table:
    """`grokscope show`: one row per member."""
    config = summary["config"]
    table = Table(title=f"{summary['path']}: {config['task']} mod {config['p']}, {summary['steps']} steps, "
                        f"threshold {summary['threshold']:.2f} ({summary['status'].get('state')})")
    mirror = any("steps_to_generalize_mirror" in m for m in summary["members"])
    headers = ["member", "seed", "frac", "memorize", "warning", "generalize"] + (["gen. mirror"] if mirror else [])
    headers += ["delay", "train acc", "test acc"] + (["mirror acc"] if mirror else []) + ["early stop"]
    table = Table(*headers, title=table.title, caption="memorize / generalize: first step with accuracy >= threshold; warning: early-warning step "
                          "(training-side measures only, docs/instruments.md); acc: final; early stop: where early stopping on the "
                          "test loss would have stopped, and the test accuracy of the weights it would keep")
    for m in summary["members"]:
        row = [m["member"], m["seed"], m["frac"], m["steps_to_memorize"], m.get("early_warning_step"), m["steps_to_generalize"]]
        row += [m.get("steps_to_generalize_mirror")] if mirror else []
        row += [m["grokking_delay"], m["final_train_acc"], m["final_test_acc"]]
        row += [m.get("final_test_mirror_acc")] if mirror else []
        stopping = m.get("early_stopping") or {}
        row += [None if stopping.get("stopped_at") is None else f"{stopping['stopped_at']} (acc {stopping['test_acc_kept']:.3f})"]
        table.add_row(*(_fmt(v) for v in row))
    return table


def runs_table(runs: list) -> Table:
    table = Table("run", "task", "p", "frac", "members", "state", "step")
    for run in runs:
        status = run.status()
        frac = run.config.frac if isinstance(run.config.frac, float) else "per member"
        table.add_row(run.path.name, run.config.task, str(run.config.p), str(frac), str(run.config.n_members),
                      str(status.get("state")), str(status.get("step", "-")))
    return table


def plan(config: RunConfig) -> str:
    """The dry run: what would train, its memory, and a time estimate from a few timed steps in memory."""
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
    for step in range(4):  # the first step pays for allocation; the median of the rest is the estimate
        start = time.perf_counter()
        trainer.train_step(step, None)
        timings.append(time.perf_counter() - start)
    per_step = statistics.median(timings[1:])
    lines = [
        f"pack: 1 ensemble of E={config.n_members} members, arch {config.arch}, {n_params:,} parameters per member",
        f"task: {config.task} mod {config.p}, {data.inputs.shape[0]} pairs, train per member {data.n_train.tolist()}",
        f"batch: {'full' if config.batch_size is None else batch} per member, device {device}",
        f"memory: ~{(state_bytes + act_bytes) / 2**20:.1f} MiB (weights, gradients, optimizer and filter state, one batch of activations)",
        f"time: ~{per_step * 1e3:.1f} ms/step, ~{per_step * config.max_steps / 60:.1f} min for {config.max_steps} steps (evaluation not included)",
        "nothing written (dry run)",
    ]
    return "\n".join(lines)
