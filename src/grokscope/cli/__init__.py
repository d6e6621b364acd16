"""The `grokscope` command: options -> a config -> one API call -> a rendered result (cli/app.py says how).

One module per group of commands; importing this package registers them all on `app`.
"""

from . import (  # noqa: F401  (register)
    digits_command,
    monitor_commands,
    report_commands,
    run_commands,
    sweep_commands,
)
from .app import app
from .regime_commands import app as regime_app

app.add_typer(regime_app, name="regime")


def main() -> None:  # pragma: no cover - console entry
    app()


__all__ = ["app", "main"]
