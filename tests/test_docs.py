"""Every code block of README.md and docs/*.md holds: each page's Python blocks run, in order, as one script (a page
reads top to bottom, so a later block may use what an earlier one made), in an empty directory, one torch thread;
and every `grokscope ...` line of its shell and text blocks names a command that exists with options it has (the
shell lines include hour-long reproductions and installs, so they are checked against the CLI, not run)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from grokscope.cli import app

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
SHELL = re.compile(r"^```(?:bash|text)\n(.*?)^```", re.S | re.M)
SUB_APPS = ("regime", "sweep")  # commands whose first argument is a command of their own


def python_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


def test_the_block_reader_finds_the_readmes_api_example():
    (api,) = python_blocks(ROOT / "README.md")
    assert "grokscope.train(" in api


DRIVER = """
import os, sys, traceback
import torch
torch.set_num_threads(1)
for page, script in PAGES:
    os.makedirs(page, exist_ok=True)
    os.chdir(page)
    try:
        exec(compile(script, page, "exec"), {"__name__": "__main__"})
    except BaseException:
        print(f"{page}: a block failed", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
    os.chdir("..")
"""


def test_every_python_block_of_every_page_runs(tmp_path):
    """One process for all pages (torch is imported once), each page in its own directory and namespace."""
    pages = [(p.name, "\n\n".join(python_blocks(p))) for p in PAGES if python_blocks(p)]
    assert {"README.md", "monitor.md", "regime.md", "report.md", "sweeps.md"} <= {name for name, _ in pages}
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GROKSCOPE_KILL_AFTER_STEP", None)
    done = subprocess.run([sys.executable, "-c", f"PAGES = {pages!r}\n" + DRIVER], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]


def documented_commands(page: Path) -> list[list[str]]:
    """The `grokscope ...` lines of a page's shell and text blocks, as argument lists (continuations joined,
    comments and `[ ]` of usage lines stripped)."""
    commands = []
    for body in SHELL.findall(page.read_text(encoding="utf-8")):
        for line in body.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].split(" # ")[0].strip()
            if line.startswith("grokscope "):
                commands.append(shlex.split(line.replace("[", " ").replace("]", " ").replace("|", " "))[1:])
    return commands


def test_every_documented_command_exists_with_the_options_it_shows():
    runner = CliRunner()
    checked = 0
    for page in PAGES:
        for args in documented_commands(page):
            path = args[:2] if args[0] in SUB_APPS and len(args) > 1 and not args[1].startswith("-") else args[:1]
            shown = runner.invoke(app, [*path, "--help"], terminal_width=200)
            assert shown.exit_code == 0, f"{page.name}: grokscope {' '.join(path)} is not a command"
            for option in (a.split("=")[0] for a in args if a.startswith("--")):
                assert re.search(re.escape(option) + r"(?![\w-])", shown.stdout), \
                    f"{page.name}: grokscope {' '.join(path)} has no {option}"
            checked += 1
    assert checked >= 40  # the README's command table and the docs' reproductions


def test_the_docs_site_builds_strictly_with_the_api_reference(tmp_path):
    """mkdocs (material theme) over docs/, the API reference generated from the docstrings (mkdocstrings):
    `--strict` turns every warning (a broken link or anchor, a docstring parameter the signature lacks) into a failure."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    for name in ("grokscope.run.Run", "hooked_transformer", "from_transformer_lens", "censored_quantile", "RunConfig"):
        assert name in api, name
    assert (tmp_path / "site" / "bridges" / "index.html").is_file()
