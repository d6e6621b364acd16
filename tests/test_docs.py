"""Every Python block of README.md and docs/*.md runs: the blocks of one page in order, as one script (a page reads
top to bottom, so a later block may use what an earlier one made), in an empty directory, one torch thread."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


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
