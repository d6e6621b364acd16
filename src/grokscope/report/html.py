"""The report as one self-contained HTML file: Plotly, the page's script and the run's data inline.

Nothing is fetched when the file is opened (the machines that open it may be offline); a page served
live by `grokscope serve` is the same file with a data URL it polls.
"""

from __future__ import annotations

import json
from functools import cache
from html import escape
from importlib import resources
from string import Template
from typing import Any

from ..operations import task_title


@cache
def asset(name: str) -> str:
    return resources.files("grokscope.report").joinpath("assets", name).read_text(encoding="utf-8")


@cache
def plotly_js() -> str:
    """The plotly.js bundle shipped with the plotly package (no network)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


_SCRIPT_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
                                 "\u2029": "\\u2029"})


def script_json(data: Any) -> str:
    """JSON that is safe inside a <script> element whatever its strings hold (a run named `<!--<script>`): `<`, `>`,
    `&` and the line separators U+2028/9 written as \\u escapes, which JSON reads back as the same characters."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.translate(_SCRIPT_ESCAPES)


def render_report(data: dict[str, Any], *, live_url: str = "", nav: str = "") -> str:
    """The report page for `report_data(...)`; `live_url`, if given, is polled for fresh data every 2 s."""
    config = data["config"]
    return Template(asset("report.html")).substitute(
        title=escape(f"grokscope · {task_title(config['task'], config['p'])} · {data['run']}"),
        css=asset("report.css"), plotly=plotly_js(), data=script_json(data), script=asset("report.js"),
        live_url=escape(live_url, quote=True), nav=nav,
    )
