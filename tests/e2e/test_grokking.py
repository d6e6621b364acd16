"""End to end: the `tiny` preset really groks on CPU, through the same `grokscope demo` a user runs."""

import json
import os
import subprocess
import sys

import pytest

from grokscope import load
from grokscope.store import metric_names as names

CHANCE_MARGIN = 3.0  # "near chance": held-out accuracy at most 3x chance when training accuracy first hits 99%


@pytest.mark.slow
def test_demo_memorizes_then_groks(tmp_path):
    result = subprocess.run([sys.executable, "-m", "grokscope", "demo", "--preset", "tiny", "--out", str(tmp_path)],
                            capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "2"})
    assert result.returncode == 0, result.stderr
    run = load(result.stdout.strip().splitlines()[-1])
    assert (run.path / "summary.json").is_file() and (run.path / "curves.svg").read_text().startswith("<svg")

    with run.metrics() as store:
        steps, train_acc = store.series(names.TRAIN_ACC)
        _, test_acc = store.series(names.TEST_ACC)
    train_acc, test_acc = train_acc[0], test_acc[0]
    chance = 1 / run.config.p
    memorized = next(i for i, acc in enumerate(train_acc) if acc >= 0.99)
    generalized = next(i for i, acc in enumerate(test_acc) if acc >= 0.99)
    # 1. memorization first, with held-out accuracy still near chance (symmetric split: no mirror leaks)
    assert test_acc[memorized] <= CHANCE_MARGIN * chance
    # 2. generalization later, after a plateau at least 3x as long as memorization took
    assert steps[generalized] >= 3 * steps[memorized]
    # the plateau: held-out accuracy stays low well past memorization
    plateau = [acc for step, acc in zip(steps, test_acc) if steps[memorized] <= step <= 2 * steps[memorized]]
    assert max(plateau) <= 0.5
    summary = json.loads((run.path / "summary.json").read_text())
    member = summary["members"][0]
    assert member["steps_to_memorize"] == steps[memorized]
    assert member["steps_to_generalize"] == steps[generalized]
    assert member["final_test_acc"] >= 0.95  # it stays generalized through the patience window
