"""The `grokscope` command: options -> a config -> one API call -> a rendered result (cli/app.py says how).

One module per group of commands; importing this package registers them all on `app`.
"""

import importlib
import sys

from rich.markup import escape

from ..errors import is_disk_full
from .app import app, err
from .regime_commands import app as regime_app

# Registering a module adds its commands to `app`; `grokscope --help` lists the panels in this order.
for _module in ("run_commands", "monitor_commands", "report_commands", "sweep_commands", "digits_command",
                "bridge_commands"):
    importlib.import_module(f"{__name__}.{_module}")

app.add_typer(regime_app, name="regime", rich_help_panel="Beyond modular arithmetic")


def main(args: list[str] | None = None) -> int:
    """The console entry: the app, with a parse error (a malformed value, an unknown option) printed as the same
    one line as every other bad input, exit 2, instead of Click's usage box."""
    from typer import Abort

    try:  # typer >= 0.2x vendors its own click; older ones use click's
        from typer._click.exceptions import UsageError
    except ImportError:  # pragma: no cover - depends on the installed typer
        from click.exceptions import UsageError

    try:
        code = app(args=args, standalone_mode=False)
    except UsageError as error:
        param = getattr(error, "param", None)  # a bad value names its option, as every other bad input names its field
        where = param.name if param is not None and param.name else (error.ctx.command.name if error.ctx and error.ctx.command.name else "grokscope")
        message = " ".join(error.format_message().split())  # one line
        err.print(f"[red]error:[/red] {escape(f'{where}: {message}')}", highlight=False)
        return 2
    except Abort:
        err.print("[red]error:[/red] aborted", highlight=False)
        return 1
    except Exception as error:  # a full disk outside a run's training (a report, an export): one line too
        if not is_disk_full(error):
            raise
        where = getattr(error, "filename", None) or "a file being written"
        err.print(f"[red]error:[/red] {escape(f'{where}: no space left on device; free space and run it again')}",
                  highlight=False)
        return 1
    return code if isinstance(code, int) else 0


def console_entry() -> None:  # pragma: no cover - the installed `grokscope` script
    sys.exit(main())


__all__ = ["app", "console_entry", "main"]
