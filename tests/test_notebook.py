"""The tutorial notebook (notebooks/grokking_tour.py, jupytext) executed end to end in a real kernel, at the tiny
preset's size."""

from __future__ import annotations

import os
from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "grokking_tour.py"


@pytest.mark.slow
def test_the_tour_runs_and_shows_what_it_says(tmp_path, monkeypatch):
    monkeypatch.setenv("GROKSCOPE_TOUR_PRESET", "tiny")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    notebook = jupytext.read(NOTEBOOK)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    text = "\n".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert "key frequencies:" in text and "algorithm: clock" in text
    assert "TransformerLens logits equal grokscope's: True" in text
    figures = [o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert len(figures) == 4  # curves, spectrum, clock, progress
    assert any("<table>" in o.get("data", {}).get("text/html", "") for o in outputs)  # the run's member table
    assert (tmp_path / "runs").is_dir() and os.listdir(tmp_path / "runs")
