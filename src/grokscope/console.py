"""The command line's standard-error console and its one-line failure, shared by every Typer app."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from .errors import GrokscopeError

err = Console(stderr=True, soft_wrap=True)


def fail(error: GrokscopeError) -> None:
    """Print `error: ...` on one line to standard error and exit with the error's code (2: bad input)."""
    err.print(f"[red]error:[/red] {escape(str(error))}", highlight=False)
    raise typer.Exit(error.exit_code)
