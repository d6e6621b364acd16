"""Commands that train and read single runs: train, runs, show, analyze, tasks, presets, demo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from ..checks import check_integer
from ..config import parse_seeds
from ..errors import ConfigError, GrokscopeError
from ..operations import OPERATIONS
from ..presets import PRESETS, get_preset
from .app import (
    FORCE_HELP,
    THREADS_HELP,
    after_step_hook,
    app,
    build_config,
    err,
    fail,
    numbers,
    out,
    parse_set,
)


@app.command(rich_help_panel="Runs")
def train(
    preset: Annotated[str, typer.Option(metavar=f"[{'|'.join(PRESETS)}]", help="Starting point (`grokscope presets` says what each is).")] = "quickstart",
    task: Annotated[Optional[str], typer.Option(help="Operation, e.g. 'x+y' or its slug 'add' (see `grokscope tasks`).")] = None,
    p: Annotated[Optional[int], typer.Option(help="Modulus (or the degree n of S_n).")] = None,
    frac: Annotated[Optional[str], typer.Option(help="Training fraction in (0, 1); a comma list gives one per member.")] = None,
    seeds: Annotated[Optional[str], typer.Option(help="Seeds, one member each: 0, 0-7 or 1,5,9.")] = None,
    lr: Annotated[Optional[str], typer.Option(help="Learning rate, or one per member (comma list).")] = None,
    wd: Annotated[Optional[str], typer.Option(help="Weight decay, or one per member (comma list).")] = None,
    max_steps: Annotated[Optional[int], typer.Option(help="Step budget.")] = None,
    eval_every: Annotated[Optional[int], typer.Option(help="Evaluate every N steps.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Minibatch size (default: the preset's; full batch for Nanda).")] = None,
    device: Annotated[Optional[str], typer.Option(metavar="[cpu|cuda|auto]", help="Where to train (default: the preset's, auto: CUDA when there is one).")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Any config field: --set d_model=64 (repeatable).")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory that receives the run directory.")] = Path("runs"),
    resume: Annotated[Optional[Path], typer.Option(help="Continue this run from its last checkpoint.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and estimates; write nothing.")] = False,
    threads: Annotated[Optional[int], typer.Option(help=THREADS_HELP)] = None,
    log_to: Annotated[Optional[list[str]], typer.Option("--log-to", help="tensorboard or wandb (repeatable): every "
                                                        "evaluation, one tracker run per member.")] = None,
    force: Annotated[bool, typer.Option("--force", help=FORCE_HELP)] = False,
) -> None:
    """Train an ensemble (one member per seed); prints the run directory last."""
    from .. import run as api
    from ..sweep.runner import default_threads, pinned_threads
    from ..training import launch
    from .render import plan_text, progress_bar

    try:
        from ..training.trackers import check_trackers

        check_trackers(log_to or [])
        if threads is not None:
            check_integer("threads", threads, 1)
        threads = default_threads() if threads is None else threads
        if resume is not None:
            given = [name for name, value in (("preset", preset != "quickstart"), ("task", task), ("p", p), ("frac", frac),
                     ("seeds", seeds), ("lr", lr), ("wd", wd), ("max_steps", max_steps), ("eval_every", eval_every),
                     ("batch_size", batch_size), ("device", device), ("set", set_), ("dry_run", dry_run), ("force", force),
                     ("out", out_dir != Path("runs"))) if value]
            if given:
                raise ConfigError(f"resume: continues a run with its own config; --{given[0].replace('_', '-')} cannot be combined with it")
            run = api.load(resume)
            with progress_bar(err, run.config) as on_progress, pinned_threads(threads):
                run = launch.resume(resume, progress=on_progress, after_step=after_step_hook(), log_to=log_to or ())
        else:
            config = build_config(preset, {
                "task": task, "p": p, "frac": numbers("frac", frac), "lr": numbers("lr", lr),
                "wd": numbers("wd", wd), "seeds": None if seeds is None else parse_seeds(seeds),
                "max_steps": max_steps, "eval_every": eval_every, "batch_size": batch_size, "device": device,
                **parse_set(set_ or []),
            })
            if dry_run:
                from ..estimate import estimate_run

                out.print(plan_text(estimate_run(config, out_dir, force=force)))
                return
            with progress_bar(err, config) as on_progress, pinned_threads(threads):
                run = launch.train(config, out_dir, progress=on_progress, after_step=after_step_hook(),
                                   log_to=log_to or (), force=force)
    except GrokscopeError as error:
        fail(error)
    out.print(str(run.path))


@app.command(rich_help_panel="Runs")
def runs(root: Annotated[Path, typer.Argument(help="Directory of run directories.")] = Path("runs")) -> None:
    """List the runs under a directory."""
    from .. import run as api
    from .render import runs_table

    try:
        out.print(runs_table(api.scan_runs(root)))
    except GrokscopeError as error:
        fail(error)


@app.command(rich_help_panel="Runs")
def show(run: Annotated[Path, typer.Argument(help="A run directory.")],
         as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
         early_stopping_patience: Annotated[Optional[int], typer.Option(
             help="Steps without a test-loss improvement before early stopping would stop (default: 10 x eval_every).")] = None,
         warning_rule: Annotated[Optional[str], typer.Option(
             help="The early warning's rule (docs/instruments.md): peak (W_E's Fourier peak ratio), shuffle (its peak ratio against shuffled residues), either (whichever of the two fires first; the default) or legacy (the rule before them).")] = None) -> None:
    """Summarize each member: steps to memorize and to generalize, grokking delay, final accuracies, the early
    warning, what early stopping on the test loss would have kept, and which members softmax collapse stopped
    (with remedies)."""
    from .. import run as api
    from ..words import collapse_lines, stop_sentence
    from .render import summary_table

    try:
        if early_stopping_patience is not None and early_stopping_patience < 1:
            raise ConfigError(f"early-stopping-patience: must be a positive number of steps, got {early_stopping_patience}")
        summary = api.load(run).summary(early_stopping_patience=early_stopping_patience, warning_rule=warning_rule)
    except GrokscopeError as error:
        fail(error)
    if as_json:
        out.print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        out.print(summary_table(summary))
        out.print(escape(stop_sentence(summary)))
        for line in collapse_lines(summary):
            out.print(escape(line))


@app.command(rich_help_panel="Analysis")
def analyze(run: Annotated[Path, typer.Argument(help="A run directory.")],
            step: Annotated[Optional[int], typer.Option(help="Checkpoint step (default: the last).")] = None,
            member: Annotated[int, typer.Option(help="Ensemble member.")] = 0,
            as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False) -> None:
    """The mechanistic report of a checkpoint: key frequencies, clock, neuron clusters, logit fit, ablations."""
    from .. import run as api
    from ..words import summary_lines

    try:
        report = api.load(run).analyze(step, member)
    except GrokscopeError as error:
        fail(error)
    if as_json:
        out.print(json.dumps(report.to_dict()))
    else:
        for line in summary_lines(report):
            out.print(escape(line))


@app.command(rich_help_panel="Runs")
def tasks() -> None:
    """List the operations of the registry."""
    from rich.table import Table

    table = Table("name", "slug", "group", "commutative", "definition")
    for op in OPERATIONS.values():
        group = {"Zp": "Z_p" + (" (p prime)" if op.needs_prime else ""), "Sn": "S_n (n = 3, 4, 5)"}.get(op.group, op.group)
        table.add_row(op.name, op.slug, group, "yes" if op.commutative else "no", escape(op.description))
    out.print(table)


@app.command(rich_help_panel="Runs")
def presets(as_json: Annotated[bool, typer.Option("--json", help="Every preset's full config as JSON.")] = False) -> None:
    """The presets (grokscope train --preset) and the shipped sweep specs (grokscope sweep NAME), a line each."""
    from rich.table import Table

    from ..presets import DESCRIPTIONS
    from ..sweep.spec import load_spec, shipped_specs

    if as_json:
        typer.echo(json.dumps({name: config.to_dict() for name, config in PRESETS.items()}))
        return
    table = Table("name", "kind", "what it trains", caption="grokscope presets --json: every setting")
    for name in PRESETS:
        table.add_row(name, "preset", DESCRIPTIONS[name])
    for name in shipped_specs():
        table.add_row(name, "sweep spec", load_spec(name).description)
    out.print(table)


@app.command(rich_help_panel="Runs")
def demo(out_dir: Annotated[Path, typer.Option("--out", help="Directory that receives the run directory.")] = Path("runs"),
         preset: Annotated[str, typer.Option(help="Preset to train (quickstart; tiny is faster).")] = "quickstart",
         threads: Annotated[Optional[int], typer.Option(help=THREADS_HELP)] = None) -> None:
    """The quickstart: train the quickstart preset and write what a newcomer should look at."""
    from ..demo_files import write_demo_files
    from ..sweep.runner import default_threads, pinned_threads
    from ..training import launch
    from ..words import stop_sentence
    from .render import progress_bar, summary_table

    try:
        if threads is not None:
            check_integer("threads", threads, 1)
        threads = default_threads() if threads is None else threads
        config = get_preset(preset)
        with progress_bar(err, config) as on_progress, pinned_threads(threads):
            run = launch.train(config, out_dir, progress=on_progress)
        written = write_demo_files(run)
    except GrokscopeError as error:
        fail(error)
    summary = run.summary()
    out.print(summary_table(summary))
    out.print(escape(stop_sentence(summary)))
    for path in written:
        out.print(f"wrote {path}")
    report = run.path / "report.html"
    out.print(f"open the report: file://{report.resolve()}  (or: grokscope serve {out_dir})")
    out.print(str(run.path))
