"""`grokscope digits`: Omnigrok's grokking on scikit-learn digits, a core run (train, monitor, report) of a digits preset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from ..checks import check_choice, check_integer
from ..config import parse_seeds
from ..errors import GrokscopeError
from ..presets import DIGITS_PRESETS
from .app import THREADS_HELP, app, build_config, err, fail, numbers, out


@app.command(rich_help_panel="Beyond modular arithmetic")
def digits(
    preset: Annotated[str, typer.Option(help=f"{' or '.join(DIGITS_PRESETS)} (about 10k or 3k steps).")] = "omnigrok-digits",
    seeds: Annotated[Optional[str], typer.Option(help="Seeds, one member each: 0, 0-7 or 1,5,9.")] = None,
    init_scale: Annotated[Optional[str], typer.Option(help="Initialization scale α, or one per member: 8,1.")] = None,
    wd: Annotated[Optional[str], typer.Option(help="Weight decay, or one per member (comma list).")] = None,
    max_steps: Annotated[Optional[int], typer.Option(help="Step budget.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory that receives the run directory.")] = Path("runs"),
    no_monitor: Annotated[bool, typer.Option("--no-monitor", help="Skip the monitor's measures.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan and estimates; write nothing.")] = False,
    threads: Annotated[Optional[int], typer.Option(help=THREADS_HELP)] = None,
) -> None:
    """Omnigrok's grokking on scikit-learn digits (MLP, ×8 init, MSE): trains a core run, monitors its checkpoints and
    writes report.html; prints the run directory last (resume: grokscope train --resume RUN)."""
    from ..demo_files import write_demo_files
    from ..sweep.runner import default_threads, pinned_threads
    from ..training import launch
    from .render import plan_text, progress_bar, summary_table

    try:
        check_choice("preset", preset, DIGITS_PRESETS)
        if threads is not None:
            check_integer("threads", threads, 1)
        threads = default_threads() if threads is None else threads
        config = build_config(preset, {"seeds": None if seeds is None else parse_seeds(seeds),
                                       "init_scale": numbers("init_scale", init_scale), "wd": numbers("wd", wd),
                                       "max_steps": max_steps})
        if dry_run:
            from ..estimate import estimate_run

            out.print(plan_text(estimate_run(config, out_dir)))
            return
        with pinned_threads(threads):
            with progress_bar(err, config) as on_progress:
                run = launch.train(config, out_dir, progress=on_progress)
            if not no_monitor:
                run.monitor(progress=lambda done, total, step: err.print(
                    f"monitor: checkpoint {done}/{total} (step {step})", highlight=False))
        write_demo_files(run)
    except GrokscopeError as error:
        fail(error)
    out.print(summary_table(run.summary()))
    out.print(f"open the report: file://{escape(str((run.path / 'report.html').resolve()))}")
    out.print(str(run.path))
