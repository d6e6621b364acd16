"""What `grokscope demo` leaves in the run directory: summary.json, the HTML report and its figures.

The report opens in any browser without a network; `figures/curves.svg` shows accuracy and loss on
a log step axis, where memorization (early) and grokking (late) are both visible.
"""

from __future__ import annotations

import json
from pathlib import Path

from .report import render_report, report_data
from .report.figures import write_figures
from .run import Run
from .store.atomic import write_text_atomic


def write_demo_files(run: Run) -> list[Path]:
    """Write summary.json, report.html and figures/ into the run directory; returns the paths written."""
    summary_path, report_path = run.path / "summary.json", run.path / "report.html"
    data = report_data(run)
    write_text_atomic(summary_path, json.dumps(data["summary"], indent=2, ensure_ascii=False))
    write_text_atomic(report_path, render_report(data))
    return [summary_path, report_path, *write_figures(data, run.path / "figures")]
