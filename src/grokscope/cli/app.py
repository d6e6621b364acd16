"""The `grokscope` Typer app, its consoles and the helpers every command shares.

Results go to standard output (the run directory last, or JSON); progress and errors to standard error. A
GrokscopeError becomes one line and its exit code (2 for bad input, 1 for an explained runtime failure); anything
else is a bug and keeps its traceback. Nothing heavy is imported here or at a command module's top: torch, pandas
and the regime package load inside the command that needs them, so `grokscope --help` starts in a fraction of a
second.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Optional

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import ConfigError, GrokscopeError

if TYPE_CHECKING:
    from ..config import RunConfig

THREADS_HELP = ("torch threads while training, pinned and recorded in the run's provenance (default: the cores other "
                "running processes leave free, at least 1, when any are running, as when another run trains; else "
                "torch's own, one per core). On a shared or busy machine 1 is often several times faster.")

app = typer.Typer(add_completion=True, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Reproduce grokking and see the hidden progress under the loss curve.")
# Piped output gets room for a member table instead of Rich's 80-column default.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)

def _version(shown: bool) -> None:
    if shown:
        from ..version import __version__

        typer.echo(f"grokscope {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                          help="Print grokscope's version and exit.")] = None) -> None:
    """Reproduce grokking and see the hidden progress under the loss curve."""


FORCE_HELP = ("Train even where the memory or disk estimate (from the config's shapes, before anything is allocated) "
              "exceeds what this machine has free.")

KILL_ENV = "GROKSCOPE_KILL_AFTER_STEP"  # test hook: SIGKILL the process after this many updates


def fail(error: GrokscopeError) -> None:
    """Print `error: ...` on one line to standard error and exit with the error's code (2: bad input)."""
    err.print(f"[red]error:[/red] {escape(str(error))}", highlight=False)
    raise typer.Exit(error.exit_code)


def numbers(field: str, text: str | None) -> float | tuple[float, ...] | None:
    """`0.3` or a per-member list `0.3,0.5`."""
    if text is None:
        return None
    try:
        if not text.isascii():  # float() would read other scripts' digits
            raise ValueError
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"{field}: expected a number or a comma list of numbers, got {text!r}") from None
    return values[0] if len(values) == 1 else values


def parse_set(items: list[str]) -> dict[str, Any]:
    """`--set field=value`: the value is read as JSON where it parses (numbers, true, lists), else as text."""
    changes: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"set: expected FIELD=VALUE, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            changes[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            changes[key.strip()] = raw
    return changes


def after_step_hook() -> Callable[[int], None] | None:
    kill_after = os.environ.get(KILL_ENV)
    if kill_after is None:
        return None
    limit = int(kill_after)

    def kill(step: int) -> None:
        if step >= limit:
            os.kill(os.getpid(), signal.SIGKILL)

    return kill


def build_config(preset: str, overrides: dict[str, Any]) -> RunConfig:
    """The preset with CLI overrides applied (None means not given), validated."""
    changes = {k: v for k, v in overrides.items() if v is not None}
    from ..presets import get_preset

    return get_preset(preset).replace(**changes)


def emit_tables(document: dict[str, Any], markdown: str, out_file: Path | None, as_json: bool) -> None:
    """Print tables (Markdown, or JSON with --json) and write them to `out_file` (.md or .json) atomically when given."""
    from ..store.atomic import write_text_atomic

    if out_file is not None:
        write_text_atomic(out_file, json.dumps(document, indent=1) if out_file.suffix.lower() == ".json" else markdown + "\n")
    typer.echo(json.dumps(document) if as_json else markdown)
