"""Every Python block of README.md and docs/*.md runs: the blocks of one page in order, as one script (a page reads
top to bottom, so a later block may use what an earlier one made), in an empty directory, one torch thread."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


def test_the_block_reader_finds_the_readmes_api_example():
    (api,) = python_blocks(ROOT / "README.md")
    assert "grokscope.train(" in api


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)], ids=lambda p: p.name)
def test_every_python_block_of_a_page_runs(page, tmp_path):
    script = "\n\n".join(python_blocks(page))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GROKSCOPE_KILL_AFTER_STEP", None)
    done = subprocess.run([sys.executable, "-c", "import torch; torch.set_num_threads(1)\n" + script], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{page.name}:\n{done.stderr[-3000:]}"
