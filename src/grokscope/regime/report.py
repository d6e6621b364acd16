"""The verdict as one self-contained HTML page: the answer, its reason, the evidence table and the rule.

No script and nothing fetched: a plain table page that opens offline (the machines that open it may be).
"""

from __future__ import annotations

import math
from html import escape

from .verdict import Verdict

_CSS = """body{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.3em}.answer{font-size:1.6em;font-weight:600;margin:.4em 0}
.compressed{color:#1a7f37}.photographed{color:#b3261e}.not-identifiable{color:#8a6d00}
table{border-collapse:collapse;width:100%;font-size:.9em}th,td{border:1px solid #ccc;padding:.35em .5em;
text-align:left;vertical-align:top}th{background:#f4f4f4}tr.decides td{background:#eef5ff}
tr.guard td{background:#fff8e1}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"""


def verdict_page(verdict: Verdict, *, title: str = "Compressed or photographed?", subtitle: str = "") -> str:
    """The HTML page of a verdict: one string, style inline, no script."""
    css_class = "not-identifiable" if verdict.answer.startswith("not") else verdict.answer
    rows = "".join(
        f'<tr class="{escape(e.role)}"><td>{escape(e.measure)}</td>'
        f'<td class="num">{"–" if math.isnan(e.value) else f"{e.value:.4g}"}</td><td>{escape(e.role)}</td>'
        f"<td>{escape(e.reading)}</td><td>{escape(e.trust)}</td><td>{escape(e.reason)}</td></tr>"
        for e in verdict.evidence)
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{_CSS}</style></head><body><h1>{escape(title)}</h1>"
            + (f"<p>{escape(subtitle)}</p>" if subtitle else "")
            + f'<div class="answer {css_class}">{escape(verdict.answer)}</div>'
            f"<p>{verdict.n_periods} sub-period{'s' * (verdict.n_periods != 1)} in the training rows. "
            f"{escape(verdict.reason)}.</p>"
            "<table><thead><tr><th>measure</th><th>value</th><th>role</th><th>a larger value reads</th>"
            f"<th>trust (Demos 1, 2)</th><th>why</th></tr></thead><tbody>{rows}</tbody></table>"
            f"<p><b>Rule.</b> {escape(verdict.rule)}</p>"
            "<p>Demos 1 and 2 and the rule's constants: docs/regime.md, “Demo 2” and “The verdict”.</p>"
            "</body></html>\n")
