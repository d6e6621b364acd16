"""Commands that show runs: report (one offline HTML file) and serve (the live dashboard)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from ..checks import check_output_dir, check_output_file
from ..errors import GrokscopeError
from .app import app, err, fail, out


@app.command(rich_help_panel="Reports")
def report(run: Annotated[Path, typer.Argument(help="A run directory.")],
           out_file: Annotated[Optional[Path], typer.Option("--out", help="The HTML file (default: RUN/report.html).")] = None,
           figures: Annotated[Optional[Path], typer.Option("--figures", help="Also write PNG and SVG figures into this directory.")] = None,
           member: Annotated[int, typer.Option(help="The member whose weights the clock, neuron and attention panels show.")] = 0) -> None:
    """Write the run's report: one self-contained HTML file (no network needed), figures for papers on request."""
    from .. import run as api
    from ..report import render_report, report_data
    from ..report.figures import write_figures
    from ..store.atomic import write_text_atomic

    try:
        check_output_file("out", out_file)
        if figures is not None:
            check_output_dir(figures, "figures")
        loaded = api.load(run)
        data = report_data(loaded, focus=member)
        path = out_file if out_file is not None else loaded.path / "report.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, render_report(data))
        written = [path, *(write_figures(data, figures) if figures is not None else [])]
    except GrokscopeError as error:
        fail(error)
    for item in written:
        out.print(f"wrote {item}")


@app.command(rich_help_panel="Reports")
def serve(root: Annotated[Path, typer.Argument(help="Directory of runs (sweeps included).")] = Path("runs"),
          port: Annotated[int, typer.Option(help="TCP port (0: any free port).")] = 8000,
          host: Annotated[str, typer.Option(help="Address to bind; 127.0.0.1 keeps it on this machine.")] = "127.0.0.1",
          timeout: Annotated[Optional[float], typer.Option(help="Seconds after which an idle connection is closed "
                                                             "(default 30).")] = None) -> None:
    """A live, read-only dashboard of the runs under ROOT, in the browser."""
    from ..report.server import make_server, serve_until_interrupted

    try:
        server = make_server(root, host=host, port=port, timeout=timeout)
    except GrokscopeError as error:
        fail(error)
    except OSError as error:
        err.print(f"[red]error:[/red] port: cannot listen on {host}:{port} ({escape(str(error))})", highlight=False)
        raise typer.Exit(2)
    bound_host, bound_port = server.server_address[:2]
    out.print(f"serving {root} at http://{bound_host}:{bound_port}/  (Ctrl-C stops)")
    sys.stdout.flush()
    serve_until_interrupted(server)
