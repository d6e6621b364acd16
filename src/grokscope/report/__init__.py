"""Reports of runs: a self-contained HTML page, static figures for papers, and a live dashboard."""

from __future__ import annotations

from pathlib import Path

from ..run import Run
from ..store.atomic import write_text_atomic
from .data import report_data
from .html import render_report

__all__ = ["report_data", "render_report", "write_report"]


def write_report(run: Run, out: str | Path | None = None, *, focus: int = 0) -> Path:
    """Write the run's report (default `RUN/report.html`), atomically; returns its path."""
    path = Path(out) if out is not None else run.path / "report.html"
    write_text_atomic(path, render_report(report_data(run, focus=focus)))
    return path
