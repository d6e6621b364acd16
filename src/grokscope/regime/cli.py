"""`grokscope regime ...`: the regime-shift demos and verdict (issue 9), a Typer sub-app of the grokscope CLI.

Thin, like cli.py: options -> one API call -> a rendered result (Markdown tables, or JSON); progress and errors
to standard error; bad input exits 2 with one line before anything runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..console import err, fail
from ..errors import ConfigError, GrokscopeError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Compressed or photographed? Regime-shift demos with ground truth by construction.")


def check_out(out_file: Path | None) -> None:
    if out_file is not None and out_file.suffix not in (".md", ".json"):
        raise ConfigError(f"out: must end in .md or .json, got {out_file.name!r}")


def emit(result, out_file: Path | None, as_json: bool) -> None:
    """Print the result (Markdown, or JSON with --json) and write it to out_file (.md or .json) atomically."""
    from ..store.atomic import write_text_atomic

    markdown, document = result.to_markdown(), result.to_dict()
    if out_file is not None:
        write_text_atomic(out_file, json.dumps(document, indent=1) if out_file.suffix == ".json" else markdown + "\n")
    typer.echo(json.dumps(document) if as_json else markdown)


@app.command()
def demo1(
    preset: Annotated[str, typer.Option(help="quick (B 4 and 64, ~20 s on one CPU thread) or full (B 2..128, ~18 min).")] = "quick",
    n_regimes: Annotated[Optional[str], typer.Option("--b", help="Comma list of B values (overrides the preset's).")] = None,
    out_file: Annotated[Optional[Path], typer.Option("--out", help="Also write the tables as Markdown (.md) or JSON (.json).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (every member's values included).")] = False,
) -> None:
    """Demo 1: rule (C) vs regime lookup (P) vs plain training (E) over B training regimes; AUROC of C vs P per
    measure from training-era data only, Spearman with post-shift failure over the E zoo, and B* (docs/regime.md)."""
    from .demo1 import run_demo1

    try:
        check_out(out_file)
        values = None
        if n_regimes is not None:
            try:
                values = tuple(int(v) for v in n_regimes.split(","))
            except ValueError:
                raise ConfigError(f"b: must be a comma list of integers >= 1, got {n_regimes!r}") from None
        result = run_demo1(preset, n_regimes=values, progress=lambda line: err.print(line, markup=False, highlight=False))
    except GrokscopeError as error:
        fail(error)
    emit(result, out_file, as_json)
