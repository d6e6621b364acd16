"""`grokscope regime ...`: the regime-shift demos and verdict (issue 9), a Typer sub-app of the grokscope CLI.

Thin, like cli.py: options -> one API call -> a rendered result (Markdown tables, or JSON); progress and errors
to standard error; bad input exits 2 with one line before anything runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..checks import check_output_dir, check_output_suffix, check_seed
from ..errors import ConfigError, GrokscopeError
from .app import emit_tables, err, fail

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Compressed or photographed? Regime-shift demos with ground truth by construction.")


def emit(result, out_file: Path | None, as_json: bool) -> None:
    """Print the result (Markdown, or JSON with --json) and write it to out_file (.md or .json) atomically."""
    emit_tables(result.to_dict(), result.to_markdown(), out_file, as_json)


def _check_runs(runs: Path | None) -> None:
    if runs is not None:
        check_output_dir(runs, "runs")


@app.command()
def demo1(
    preset: Annotated[str, typer.Option(help="quick (B 4 and 64, 35 s on one thread of an idle 2-core machine) or full (B 2..128, ~18 min).")] = "quick",
    n_regimes: Annotated[Optional[str], typer.Option("--b", help="Comma list of B values (overrides the preset's).")] = None,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="Also write the tables as Markdown (.md) or JSON (.json).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (every member's values included).")] = False,
    runs: Annotated[Optional[Path], typer.Option("--runs", help="Keep every zoo as a run directory under this folder (grokscope runs, show, report, serve, monitor; train --resume).")] = None,
) -> None:
    """Demo 1: rule (C) vs regime lookup (P) vs plain training (E) over B training regimes; AUROC of C vs P per
    measure from training-era data only, Spearman with post-shift failure over the E zoo, and B* (docs/regime.md)."""
    from ..regime.demo1 import run_demo1

    try:
        check_output_suffix("out", out_file, (".md", ".json"))
        values = None
        if n_regimes is not None:
            try:
                values = tuple(int(v) for v in n_regimes.split(","))
            except ValueError:
                raise ConfigError(f"b: must be a comma list of integers >= 1, got {n_regimes!r}") from None
        _check_runs(runs)
        result = run_demo1(preset, n_regimes=values, runs=runs,
                           progress=lambda line: err.print(line, markup=False, highlight=False))
    except GrokscopeError as error:
        fail(error)
    emit(result, out_file, as_json)


@app.command()
def market(
    preset: Annotated[str, typer.Option(help="quick (8 S&P 500 members, 2 Fama–French decades: seconds on one CPU thread) or full (256 members, 8 decades).")] = "quick",
    data: Annotated[str, typer.Option(help="sp500, fama-french or both.")] = "both",
    out_file: Annotated[Optional[Path], typer.Option("--out", help="Also write the tables as Markdown (.md) or JSON (.json).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (every member's values included).")] = False,
    runs: Annotated[Optional[Path], typer.Option("--runs", help="Keep every zoo as a run directory under this folder (grokscope runs, show, report, serve, monitor; train --resume).")] = None,
) -> None:
    """Demo 3: real market data (S&P 500 2003-2009, Fama–French walk-forward by decade), no ground truth: Spearman
    of each measure from pre-shift data with the shift's degradation, beside CUSUM and sup-F (docs/regime.md)."""
    from ..regime.demo3 import run_demo3

    try:
        check_output_suffix("out", out_file, (".md", ".json"))
        _check_runs(runs)
        result = run_demo3(preset, data=data, runs=runs, progress=lambda line: err.print(line, markup=False, highlight=False))
    except GrokscopeError as error:
        fail(error)
    emit(result, out_file, as_json)


@app.command()
def demo2(
    preset: Annotated[str, typer.Option(help="quick (6 rule/shortcut pairs per case, 25 s on one thread of an idle 2-core machine) or full (24 pairs).")] = "quick",
    out_file: Annotated[Optional[Path], typer.Option("--out", help="Also write the tables as Markdown (.md) or JSON (.json).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (every member's values included).")] = False,
    runs: Annotated[Optional[Path], typer.Option("--runs", help="Keep every zoo as a run directory under this folder (grokscope runs, show, report, serve, monitor; train --resume).")] = None,
) -> None:
    """Demo 2, the negative control: rule vs shortcut models in one sub-period (nothing can tell them apart) and in
    four (the environment measures must); AUROC per measure with bootstrap intervals (docs/regime.md)."""
    from ..regime.demo2 import run_demo2

    try:
        check_output_suffix("out", out_file, (".md", ".json"))
        _check_runs(runs)
        result = run_demo2(preset, runs=runs, progress=lambda line: err.print(line, markup=False, highlight=False))
    except GrokscopeError as error:
        fail(error)
    emit(result, out_file, as_json)


@app.command()
def verdict(
    case: Annotated[str, typer.Option(help="single-period or multi-period (Demo 2's data) or demo1 (Demo 1's, B = 16).")] = "single-period",
    kind: Annotated[str, typer.Option(help="rule, shortcut or plain: which model to train on the case.")] = "shortcut",
    seed: Annotated[int, typer.Option(help="The model's sample and initialization.")] = 0,
    report: Annotated[Optional[Path], typer.Option(help="Also write the verdict as a self-contained HTML page (.html).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of the evidence table.")] = False,
) -> None:
    """Train one model on a generated case and answer: compressed, photographed or not identifiable from training
    data, with the evidence (each measure, its value, and how far Demos 1 and 2 say to trust it)."""
    from ..regime.report import verdict_page
    from ..regime.verdict import case_verdict

    try:
        check_output_suffix("report", report, (".html",))
        check_seed("seed", seed)
        result = case_verdict(case, kind, seed=seed)
    except GrokscopeError as error:
        fail(error)
    if report is not None:
        from ..store.atomic import write_text_atomic

        write_text_atomic(report, verdict_page(result, subtitle=f"case {case}, {kind} model, seed {seed}"))
    typer.echo(json.dumps(result.to_dict()) if as_json else result.to_markdown())
