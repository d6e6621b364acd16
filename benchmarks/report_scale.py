"""How large a report of a big ensemble is, and how long headless Chromium takes to open it.

Trains (or reuses, with --run) an E-member run of a preset, writes its report, and prints the file
size and the time from navigation to the page being drawn (window.grokscope.ready), median of
--repeats loads. The reference is a page holding only the same embedded plotly.js, timed in the same
browser: the floor any self-contained Plotly page pays. Nothing is asserted.

    python benchmarks/report_scale.py --members 256 --preset quickstart
    python benchmarks/report_scale.py --run runs/20261125-...-e256     # an existing run

The issue's target: a 256-member quickstart report of at most 20 MB that opens in at most 3 s.
On a CPU a 256-member quickstart run to its stop rule (~1,500 steps, ~150 evaluations) takes hours;
`--max-steps` caps it, and `--tile-to N` then also times a copy of the report whose scalar series are
the measured ones repeated to N evaluations (synthetic, labelled as such: size and drawing cost
depend on members x evaluations, not on the values).
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from grokscope import get_preset, load, train
from grokscope.report import render_report, report_data, write_report
from grokscope.report.data import packed
from grokscope.report.figures import unpacked
from grokscope.report.html import plotly_js


def _load_seconds(browser, url: str, ready: str, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
        start = time.perf_counter()
        page.goto(url)
        page.wait_for_function(ready, timeout=120_000)
        times.append(time.perf_counter() - start)
        page.close()
        if errors:
            sys.exit(f"page errors: {errors}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="an existing run directory (skips training)")
    parser.add_argument("--preset", default="quickstart")
    parser.add_argument("--members", type=int, default=256)
    parser.add_argument("--max-steps", type=int, default=None, help="cap the training budget (default: the preset's)")
    parser.add_argument("--out", type=Path, default=Path("runs-bench"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tile-to", type=int, default=None, help="also time the report tiled to this many evaluations")
    args = parser.parse_args()

    if args.run is None:
        config = get_preset(args.preset).replace(seeds=tuple(range(args.members)))
        if args.max_steps is not None:
            config = config.replace(max_steps=args.max_steps)
        start = time.perf_counter()
        run = train(config, args.out)
        print(f"trained {args.preset} with {args.members} members to step {run.summary()['steps']} "
              f"in {time.perf_counter() - start:.0f} s: {run.path}")
    else:
        run = load(args.run)

    start = time.perf_counter()
    path = write_report(run)
    written = time.perf_counter() - start
    with run.metrics() as store:
        evaluations = len(store.series("train/loss")[0])
    print(f"report: {path} ({run.config.n_members} members, {evaluations} evaluations, "
          f"{len(run.checkpoint_steps())} checkpoints), written in {written:.1f} s")
    print(f"size: {path.stat().st_size / 1e6:.2f} MB (plotly.js alone {len(plotly_js()) / 1e6:.2f} MB)")

    pages = {"measured": path}
    if args.tile_to:
        tiled = path.with_name(f"report-tiled-{args.tile_to}.html")
        data = tiled_report_data(report_data(run), args.tile_to)
        tiled.write_text(render_report(data))
        pages[f"tiled to {args.tile_to} evaluations"] = tiled
        print(f"size tiled to {args.tile_to} evaluations: {tiled.stat().st_size / 1e6:.2f} MB")

    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("GROKSCOPE_CHROMIUM") or shutil.which("chromium")
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        floor = Path(tmp) / "plotly-only.html"
        floor.write_text(f"<!DOCTYPE html><html><head><script>{plotly_js()}</script></head>"
                         "<body><script>window.loaded = typeof Plotly === 'object';</script></body></html>")
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        floor_s = _load_seconds(browser, floor.as_uri(), "window.loaded === true", args.repeats)
        print(f"plotly.js-only page: {floor_s:.2f} s to loaded (median of {args.repeats})")
        for label, page in pages.items():
            report_s = _load_seconds(browser, page.as_uri(), "window.grokscope && window.grokscope.ready === true", args.repeats)
            print(f"report ({label}): {report_s:.2f} s to drawn in headless Chromium (median of {args.repeats}); "
                  f"ratio to plotly.js alone {report_s / floor_s:.1f}x")
        browser.close()


def tiled_report_data(data: dict, evaluations: int) -> dict:
    """The report data with every scalar series and the spectrum repeated along steps to `evaluations`."""
    def tile(steps: list[int], packed_values: dict, axis: int) -> tuple[list[int], dict]:
        values = unpacked(packed_values)
        reps = -(-evaluations // len(steps))
        span = steps[-1] + 1
        tiled_steps = [s + r * span for r in range(reps) for s in steps][:evaluations]
        tiled = np.concatenate([values] * reps, axis=axis).take(range(evaluations), axis=axis)
        return tiled_steps, packed(tiled)

    data = copy.deepcopy(data)
    for series in data["scalars"].values():
        series["steps"], series["values"] = tile(series["steps"], series["values"], axis=1)
    spectrum = data["spectrum"]
    if spectrum:
        steps = spectrum["steps"]
        spectrum["steps"], spectrum["values"] = tile(steps, spectrum["values"], axis=1)
        spectrum["median"] = tile(steps, spectrum["median"], axis=0)[1]
    return data


if __name__ == "__main__":
    main()
