"""Shared helpers: tiny configs that run in well under a second, one grokked two-member run (and a monitored
copy of it), and headless Chromium through Playwright for the report tests.

The browser is Debian's `chromium` (`.ci/run` installs it); GROKSCOPE_CHROMIUM names another binary.
Chromium 156 has no software WebGL in headless mode, and the report uses SVG traces only, so no flag
is needed for it to draw. (One conftest for the whole suite: a second one would shadow this module
for `from conftest import tiny_config`.)
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path

import pytest
import torch

from grokscope import RunConfig, cli, get_preset, train


@pytest.fixture(autouse=True)
def _threads():
    # Two torch threads on CI's two cores; one per worker when pytest-xdist runs a worker per core (`-n 2`).
    torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)


# The longest test files (measured with --durations), handed out first when pytest-xdist runs them a file per worker
# (`-n 2 --dist loadfile`, the README's test command), so that no long file starts last and runs alone.
LONGEST_FIRST = ("sweep/test_sweep_power_cpu.py", "sweep/test_sweep_ray_cluster.py", "test_docs.py", "monitor/test_monitor_run.py",
                 "monitor/test_validation_cli.py", "instruments/test_clock_pizza.py", "e2e/test_grokking.py",
                 "test_compare.py", "report/test_browser.py", "report/test_layout.py")


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        path = item.path.as_posix()
        return next((i for i, name in enumerate(LONGEST_FIRST) if path.endswith("tests/" + name)), len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: the order within a file and among the rest is kept


def tiny_config(**changes) -> RunConfig:
    """p = 13, d_model 16, float64: the size for equivalence tests."""
    base = dict(task="x+y", p=13, frac=0.5, seeds=(0,), d_model=16, n_heads=4, d_mlp=32, param_dtype="float64",
                max_steps=20, eval_every=5, eval_log_points=0, checkpoints=4, resume_every=5, device="cpu")
    return RunConfig(**{**base, **changes})

CHROMIUM = os.environ.get("GROKSCOPE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def grokked_run(tmp_path_factory):
    """The tiny preset (x+y mod 31) with two seeds: groks in a few seconds."""
    config = get_preset("tiny").replace(seeds=(7, 8))
    return train(config, tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="session")
def monitored_run(grokked_run, tmp_path_factory):
    """A copy of the grokked run, monitored (a short LLC and probe, at the default cadence): every monitor series."""
    from grokscope import load
    from grokscope.monitor import ProbeSettings
    from grokscope.monitor.run_monitor import MonitorOptions, llc_settings

    torch.set_num_threads(1)  # small ops: a second thread only waits on a shared machine
    run = load(shutil.copytree(grokked_run.path, tmp_path_factory.mktemp("monitored") / "run"))
    llc, chains = llc_settings({"burn_in": 5, "draws": 20, "chains": 1})
    run.monitor(MonitorOptions(measures=("llc", "prequential", "effective_rank", "weight_norm", "effective_lr"),
                               llc=llc, llc_chains=chains, probe=ProbeSettings(steps=20)))
    return run


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "browser tests need Chromium: apt-get install chromium (or set GROKSCOPE_CHROMIUM)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def invoke(args: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of the console entry `grokscope ARGS` (cli.main, which turns Click's parse
    errors into the one-line form), run in this process."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = cli.main(args)
        except SystemExit as exit_:  # typer.Exit from a command's `fail`
            code = exit_.code
    return code, stdout.getvalue(), stderr.getvalue()


class Page:
    """A page that records console errors and uncaught exceptions."""

    def __init__(self, browser):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self, url: str, ready: str = "window.grokscope && window.grokscope.ready === true") -> "Page":
        self.page.goto(url)
        self.page.wait_for_function(ready, timeout=60_000)
        return self

    def screenshot(self, path: Path) -> Path:
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def close(self) -> None:
        self.page.close()


@pytest.fixture
def page(browser):
    opened = Page(browser)
    yield opened
    opened.close()
