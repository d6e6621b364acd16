"""The package as a user installs it (issue 17): an sdist and a wheel build from a copy of the checkout, the sdist
holds what the wheel needs (a wheel built from it has the same files), and the wheel installed into a fresh venv
runs `grokscope demo` (the tiny preset: a run, its report with the packaged assets and its figures) and the shipped sweep specs, importing nothing from the
checkout. The venv borrows this environment's dependencies (torch and the rest) through a path file, offline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "site", "runs", "sweeps",
                              ".pytest_cache", ".ruff_cache")


def _build(source: Path, out: Path, kind: str) -> Path:
    code = f"from setuptools import build_meta as b; print(b.build_{kind}({str(out)!r}))"
    built = subprocess.run([sys.executable, "-c", code], cwd=source, capture_output=True, text=True, check=True)
    return out / built.stdout.strip().splitlines()[-1]


def _wheel_files(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return {name for name in archive.namelist() if ".dist-info/" not in name}


def test_the_sdist_and_wheel_build_and_the_wheel_trains_in_a_fresh_venv(tmp_path):
    source = tmp_path / "checkout"
    shutil.copytree(REPO, source, ignore=SKIP)
    sdist, wheel = _build(source, tmp_path / "dist", "sdist"), _build(source, tmp_path / "dist", "wheel")
    files = _wheel_files(wheel)
    assert {"grokscope/py.typed", "grokscope/sweep/specs/power2022-fraction.toml", "grokscope/cli/__init__.py"} <= files
    assert any(name.startswith("grokscope/report/assets/") for name in files)

    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    assert _wheel_files(_build(unpacked, tmp_path / "from-sdist", "wheel")) == files  # the sdist is complete

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", str(wheel)], check=True)

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"OMP_NUM_THREADS": "1"}
    where = subprocess.run([str(python), "-c", "import grokscope; print(grokscope.__file__)"], cwd=tmp_path,
                           capture_output=True, text=True, env=env, check=True).stdout.strip()
    assert where.startswith(str(site)), where  # the wheel's copy, not the checkout's
    grokscope = venv / "bin" / "grokscope"
    demo = subprocess.run([str(grokscope), "demo", "--preset", "tiny", "--out", "runs"], cwd=tmp_path,
                          capture_output=True, text=True, env=env)
    assert demo.returncode == 0, demo.stderr[-2000:]
    run = tmp_path / demo.stdout.strip().splitlines()[-1]
    assert "plotly" in (run / "report.html").read_text().lower() and (run / "figures" / "curves.png").is_file()
    dry = subprocess.run([str(grokscope), "sweep", "power2022-fraction-cpu", "--dry-run"], cwd=tmp_path,
                         capture_output=True, text=True, env=env)
    assert dry.returncode == 0 and "48 members in 6 packs" in dry.stdout, dry.stderr[-2000:]
