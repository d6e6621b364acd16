"""Rendering for the command line: the live progress bars (a run, a sweep), run and member tables, the dry-run plan.

Where standard error is not a terminal (a log file, CI), a bar cannot redraw: plain lines are printed instead.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Callable, Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.table import Table

from .. import metric_names as names
from ..config import PER_MEMBER_FIELDS
from ..operations import task_title

if TYPE_CHECKING:
    import torch

    from ..config import RunConfig
    from ..estimate import RunEstimate
    from ..sweep.packing import Pack
    from ..sweep.runner import SweepProgress
    from ..training import Progress

MEMBERS_LISTED = 4  # beyond this many members the bar shows min/median/max instead


def _accuracies(values: torch.Tensor, digits: str = ".2f") -> str:
    v = values.detach().double().cpu()
    if v.numel() <= MEMBERS_LISTED:
        return " ".join(f"{x:{digits}}" for x in v.tolist())
    return f"min {v.min():{digits}} med {v.median():{digits}} max {v.max():{digits}}"


def _bar_values(metrics: dict[str, torch.Tensor]) -> str:
    """What the bar shows: train and held-out accuracy per member (mirror-held-out where logged), or, for a stored
    table's scalar target (no accuracy), the train, test and shift losses."""
    if names.TEST_ACC not in metrics:
        shift = f" | shift {_accuracies(metrics[names.SHIFT_LOSS], '.3g')}" if names.SHIFT_LOSS in metrics else ""
        return (f"train loss {_accuracies(metrics[names.TRAIN_LOSS], '.3g')} | test "
                f"{_accuracies(metrics[names.TEST_LOSS], '.3g')}{shift}")
    test = metrics.get(names.MIRROR_ACC, metrics[names.TEST_ACC])
    label = "mirror" if names.MIRROR_ACC in metrics else "test"
    return f"train {_accuracies(metrics[names.TRAIN_ACC])} | {label} {_accuracies(test)}"


@contextlib.contextmanager
def progress_bar(console: Console, config: RunConfig) -> Iterator[Callable[[Progress], None]]:
    """A Rich bar on standard error: step, train/test accuracy per member (or their spread; a stored table's losses),
    steps/s.

    Where standard error is not a terminal (a log file, CI), a bar cannot redraw: a plain line is
    printed instead at every tenth of the budget and at the end. The bar appears at the first evaluation, so a run
    refused before training (a locked directory, a run too large) prints its one error line alone.
    """
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("{task.fields[accs]}"), TextColumn("{task.fields[rate]}"), TimeElapsedColumn())
    with contextlib.ExitStack() as stack:
        shown: list[tuple[RichProgress, Any]] = []

        def update(progress: Progress) -> None:
            if not shown:
                bar = stack.enter_context(RichProgress(*columns, console=console, transient=False))
                shown.append((bar, bar.add_task(task_title(config.task, config.p), total=config.max_steps, accs="",
                                                rate="")))
            bar, task = shown[0]
            accs = _bar_values(progress.metrics)
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


SHORT_NAMES = {"init_scale": "α", "orthogonal_grad": "⊥grad", "fixed_weight_norm": "fixed norm", "label_noise": "noise"}


def table_summary_table(summary: dict[str, Any]) -> Table:
    """`grokscope show` of a stored table's run (analysis.summary.summarize_table): one row per member."""
    config, members = summary["config"], summary["members"]
    groups = list(members[0]["final_route_ablation"]) if members else []
    failures = [k for k in ("failure", "excess_failure") if any(m.get(f"final_{k}") is not None for m in members)]
    headers = ["member", "seed", "wd", "α", "permuted", "train loss", "test loss", "shift loss",
               *(k.replace("_", " ") for k in failures), *(f"ablation {g}" for g in groups)]
    table = Table(*headers, title=f"{summary['path']}: {task_title(config['task'], config['p'])}, {summary['steps']} "
                                  f"steps ({summary['status'].get('state')})",
                  caption="losses: squared error at the last evaluation on the training, in-era held-out (test) and "
                          "shift rows; failure: shift loss / test loss; excess failure: over the true rule's own "
                          "failure on those rows; ablation: the test loss's rise when the group is shuffled across "
                          "rows; permuted: the groups the member reads shuffled at every step")
    for m in members:
        row = [m["member"], m["seed"], m["wd"], m["init_scale"], ", ".join(m["permuted_groups"]) or "none",
               m.get("final_train_loss"), m.get("final_test_loss"), m.get("final_shift_loss"),
               *(m.get(f"final_{k}") for k in failures), *(m["final_route_ablation"].get(g) for g in groups)]
        table.add_row(*(_fmt(v) for v in row))
    return table


def _warning_cell(member: dict[str, Any], threshold: float | None) -> Any:
    """The warning's step; for a member that never warned, how near it came: "- (0.42)", its gated statistic's
    largest value over the threshold (plain "-" where the rule has no single statistic, as the legacy rule)."""
    step, peak = member.get("early_warning_step"), member.get("early_warning_statistic_max")
    if step is not None or peak is None or not threshold:
        return step
    return f"- ({peak / threshold:.2f})"


def summary_table(summary: dict[str, Any]) -> Table:
    """`grokscope show`: one row per member."""
    config = summary["config"]
    if config["task"] == "table":
        return table_summary_table(summary)
    table = Table(title=f"{summary['path']}: {task_title(config['task'], config['p'])}, {summary['steps']} steps, "
                        f"threshold {summary['threshold']:.2f} ({summary['status'].get('state')})")
    # Mirror-held-out columns only where they say something the test columns do not (a symmetric split holds every
    # held-out pair's mirror out: the two sets are the same pairs and the columns repeat each other).
    logged = any("steps_to_generalize_mirror" in m for m in summary["members"])
    mirror = any("steps_to_generalize_mirror" in m and (m["steps_to_generalize_mirror"], m["final_test_mirror_acc"])
                 != (m["steps_to_generalize"], m["final_test_acc"]) for m in summary["members"])
    # The other per-member settings that differ between members (digits' α, a decay sweep's wd) label the rows.
    varying = [name for name in PER_MEMBER_FIELDS if name != "frac" and isinstance(config.get(name), (list, tuple))
               and len({repr(v) for v in config[name]}) > 1]
    headers = ["member", "seed", "frac", *(SHORT_NAMES.get(n, n) for n in varying), "memorize", "warning", "generalize"]
    headers += ["gen. mirror"] if mirror else []
    diverged = any(m.get("diverged_at") is not None for m in summary["members"])  # a column only where one did
    headers += ["train acc", "test acc"] + (["mirror acc"] if mirror else []) + ["early stop"] + (["diverged at"] if diverged else [])
    table = Table(*headers, title=table.title, caption="memorize / generalize: first step with accuracy >= threshold; warning: early-warning step "
                          "(training-side measures only, docs/instruments.md), and where it never fired, in brackets the "
                          "largest value its statistic reached as a share of the threshold; acc: final; early stop: where early stopping on the "
                          "test loss would have stopped, and in brackets the test accuracy of the weights it would keep"
                          + ("; mirror-held-out columns left out: they equal the test ones (symmetric split)"
                             if logged and not mirror else ""))
    for m in summary["members"]:
        row = [m["member"], m["seed"], m["frac"], *(config[n][m["member"]] for n in varying), m["steps_to_memorize"],
               _warning_cell(m, (summary.get("early_warning") or {}).get("threshold")), m["steps_to_generalize"]]
        row += [m.get("steps_to_generalize_mirror")] if mirror else []
        row += [m["final_train_acc"], m["final_test_acc"]]
        row += [m.get("final_test_mirror_acc")] if mirror else []
        stopping = m.get("early_stopping") or {}
        row += [None if stopping.get("stopped_at") is None else f"{stopping['stopped_at']} ({stopping['test_acc_kept']:.3f})"]
        row += [m.get("diverged_at")] if diverged else []
        table.add_row(*(_fmt(v) for v in row))
    return table


def runs_table(runs: list) -> Table:
    """`grokscope runs`: a row per run; an entry (path, error) of run.scan_runs is a row that says why it is unreadable."""
    table = Table("run", "task", "p", "frac", "members", "state", "step")
    reasons = []
    for run in runs:
        if isinstance(run, tuple):
            path, error = run
            table.add_row(escape(path.name), "-", "-", "-", "-", "unreadable", "-")
            reasons.append(escape(str(error)))
            continue
        status = run.status()
        frac = "-" if run.config.task == "table" else run.config.frac if isinstance(run.config.frac, float) else "per member"
        table.add_row(run.path.name, run.config.task, str(run.config.p), str(frac), str(run.config.n_members),
                      str(status.get("state")), str(status.get("step", "-")))
    if reasons:
        table.caption = "\n".join(reasons)
    return table


def plan_text(plan: "RunEstimate") -> str:
    """The dry run's plan (estimate.estimate_run) as the lines `train --dry-run` prints."""
    from ..footprint import human_bytes

    size = plan.footprint
    timed = "" if plan.timed_members == size.n_members else f", timed on {plan.timed_members} members and scaled"
    return "\n".join([
        f"pack: 1 ensemble of E={size.n_members} members, arch {plan.arch}, {size.n_params:,} parameters per member",
        f"task: {task_title(plan.task, plan.p)}, {size.n_pairs} examples, train per member {list(plan.n_train)}",
        f"batch: {'full' if plan.full_batch else size.batch} per member, device {plan.device}",
        f"memory: ~{human_bytes(size.memory)} at peak ({size.memory_parts()}, this process "
        f"{human_bytes(size.process)})",
        f"disk: ~{human_bytes(size.disk)} (checkpoints {human_bytes(size.checkpoint_disk)}, metrics "
        f"{human_bytes(size.metrics_disk)} at up to {size.n_evaluations:,} evaluations)",
        f"time: ~{plan.seconds_per_step * 1e3:.1f} ms/step{timed}, ~{plan.seconds_per_step * plan.max_steps / 60:.1f} "
        f"min for {plan.max_steps} steps (evaluation not included)",
        "nothing written (dry run)",
    ])


def pack_lines(packs: list[Pack]) -> list[str]:
    """One line per pack: name, task, p, members and their shared settings (the dry run prints these)."""
    lines = []
    for pack in packs:
        c = pack.config
        lines.append(f"{pack.name}: {task_title(c.task, c.p)}, E={pack.n_members}, arch {c.arch} d_model {c.d_model_resolved}, "
                     f"fracs {sorted(set(c.per_member('frac')))}, seeds {sorted(set(c.seeds))}, max_steps {c.max_steps}")
    return lines


@contextlib.contextmanager
def sweep_bars(console: Console, packs: list[Pack]) -> Iterator[Callable[[SweepProgress], None]]:
    """A progress callback for `run_sweep` drawing the sweep bar and a bar for each pack in training on `console`
    (one at a time locally; on Ray every pack a node is training, with the node's address)."""
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("{task.fields[info]}"), TimeElapsedColumn())
    with contextlib.ExitStack() as stack:
        shown: list[tuple[RichProgress, Any]] = []  # the bar and the sweep's task, from the first event on: a sweep
        training: dict[str, Any] = {}  # refused before it starts prints its one error line alone; pack -> its bar

        def update(event: SweepProgress) -> None:
            if not shown:
                started = stack.enter_context(RichProgress(*columns, console=console, transient=False))
                shown.append((started, started.add_task("packs", total=len(packs), info="")))
            bar, sweep = shown[0]
            grokked = f"grokked {event.members_grokked}/{event.members_total}"
            bar.update(sweep, completed=event.packs_done, info=grokked)
            name = event.pack.name
            if event.detail is None:  # a pack finished (or was found finished on resume)
                if name in training:
                    bar.remove_task(training.pop(name))
                if not console.is_terminal:
                    console.print(f"pack {name} done ({event.packs_done}/{event.packs_total}), {grokked}",
                                  highlight=False)
                return
            d = event.detail
            accs = f"train {_accuracies(d.metrics[names.TRAIN_ACC])} | test {_accuracies(d.metrics[names.TEST_ACC])}"
            where = f" on {event.node}" if event.node else ""
            if name not in training:
                training[name] = bar.add_task(name, total=d.max_steps, info="")
            bar.update(training[name], completed=d.step, total=d.max_steps,
                       info=f"{accs} {d.steps_per_second:.0f} steps/s{where}")

        yield update


def _spread(values: list[float]) -> str:
    """median [min–max] of the members' values, 3 significant digits."""
    if not values:
        return ""
    ordered = sorted(values)
    middle = ordered[len(ordered) // 2] if len(ordered) % 2 else (ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2
    return f"{middle:.3g}" if len(ordered) == 1 else f"{middle:.3g} [{ordered[0]:.3g}–{ordered[-1]:.3g}]"


def monitor_value_table(run: Any, report: Any) -> Table:
    """`grokscope monitor`: what each measure found, per checkpoint (rows) and measure (columns): the median over
    members of its scored metric (monitor.registry), with the members' range; route ablation as the mean over its
    feature groups."""
    from ..monitor.registry import MEASURES

    measures = list(report.plan)
    cells: dict[str, dict[int, list[float]]] = {m: {} for m in measures}
    with run.metrics() as store:
        for m in measures:
            metric = MEASURES[m].scored
            if m == "route_ablation":
                steps, values = store.vector_array(metric, list(range(run.config.n_members)))
                for i, step in enumerate(steps):
                    means = [sum(v[i]) / len(v[i]) for v in values if v[i] and all(x == x for x in v[i])]
                    cells[m][step] = means
            else:
                steps, by_member = store.series(metric)
                for i, step in enumerate(steps):
                    cells[m][step] = [v[i] for v in by_member.values() if v[i] is not None]
    headers = [f"{m} ({MEASURES[m].scored.split('/')[-1]})" for m in measures]
    table = Table("step", *headers, caption="values per checkpoint: median over members [min–max]; blank: not measured "
                  "at that step; LLC estimates flagged as unreliable are left out (below)", caption_justify="left")
    planned = sorted({s for steps in report.plan.values() for s in steps})
    for step in planned:
        table.add_row(str(step), *(_spread(cells[m].get(step, [])) if step in report.plan[m] else "" for m in measures))
    return table


def monitor_cost_table(report: Any) -> Table:
    """`grokscope monitor`: what each measure cost, seconds per checkpoint for all members, with the mean."""
    measures = list(report.seconds)
    table = Table("step", *(f"{m} (s)" for m in measures), caption="cost: wall-clock seconds per checkpoint, all "
                  "members together", caption_justify="left")
    for step in sorted({s for costs in report.seconds.values() for s in costs}):
        table.add_row(str(step), *(f"{report.seconds[m][step]:.3g}" if step in report.seconds[m] else "" for m in measures))
    mean = report.to_dict()["seconds_per_checkpoint"]
    table.add_row("mean", *(f"{mean[m]:.3g}" if mean[m] is not None else "" for m in measures), style="bold")
    return table
