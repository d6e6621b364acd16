"""Softmax collapse in words (instruments/collapse.py): the rule against a plain loop, the remedies tailored to
the config, and the verdict in `Run.summary()` and `grokscope show` on a provoked collapse (test_levers.py's
float32 MLP), never on its StableMax control nor on a grokked run."""

from __future__ import annotations

import json
import math

import pytest
import torch
from conftest import tiny_config
from typer.testing import CliRunner

from grokscope import metric_names as names
from grokscope import train
from grokscope.cli import app
from grokscope.instruments.collapse import (
    COLLAPSED_FRACTION,
    collapse_onsets,
    remedies,
    softmax_collapse,
)

NAN = math.nan
# test_levers.py's provoked collapse: Gromov's MLP, no weight decay, a large lr, 100 steps
PROVOKED = dict(arch="mlp", d_model=16, d_mlp=64, frac=0.8, wd=0.0, lr=3e-2, param_dtype="float32", max_steps=100,
                eval_every=25, instruments=False, checkpoints=2, resume_every=1000)
ALL_REMEDIES = "loss_dtype=float64, loss=stablemax, orthogonal_grad=true, wd=1.0"


def _reference_onset(row: list[float]) -> int:
    """The first index from which every value is above the threshold, by a plain loop (-1: none)."""
    for t in range(len(row)):
        if all(v > COLLAPSED_FRACTION for v in row[t:]):  # NaN > x is False
            return t
    return -1


def test_onset_is_the_first_evaluation_that_stays_above_the_threshold_to_the_end():
    rows = [[0.0, 0.2, 0.6, 0.7, 0.8],   # onset 2
            [0.0, 0.7, 0.4, 0.6, 0.9],   # a dip: onset after it, 3
            [0.0, 0.6, 0.8, 0.7, 0.3],   # collapsed, then recovered (weight decay): none
            [0.9, 0.9, 0.9, 0.9, 0.9],   # from the first evaluation
            [0.0, 0.9, NAN, 0.9, 0.9],   # a missing value breaks the run
            [0.0, 0.5, 0.5, 0.5, 0.5],   # exactly half is not more than half
            [0.0, 0.0, 0.0, 0.0, 0.0]]
    onsets = collapse_onsets(torch.tensor(rows, dtype=torch.float64))
    assert onsets.tolist() == [_reference_onset(r) for r in rows] == [2, 3, -1, 0, 3, -1, -1]
    assert collapse_onsets(torch.zeros(3, 0, dtype=torch.float64)).tolist() == [-1, -1, -1]


def test_remedies_offer_only_what_the_member_does_not_use():
    assert ", ".join(remedies(tiny_config(loss_dtype="float32", wd=0.0), 0)) == ALL_REMEDIES
    assert remedies(tiny_config(loss_dtype="float64", wd=0.0), 0) == ["loss=stablemax", "orthogonal_grad=true", "wd=1.0"]
    assert remedies(tiny_config(loss_dtype="float32", loss="stablemax", wd=0.0), 0) == \
        ["loss_dtype=float64", "orthogonal_grad=true", "wd=1.0"]
    per_member = tiny_config(seeds=(0, 1, 2), loss_dtype="float32", wd=(0.0, 0.0, 0.5), orthogonal_grad=(False, True, False))
    assert [remedies(per_member, e) for e in range(3)] == [
        ["loss_dtype=float64", "loss=stablemax", "orthogonal_grad=true", "wd=1.0"],
        ["loss_dtype=float64", "loss=stablemax", "wd=1.0"],
        ["loss_dtype=float64", "loss=stablemax", "orthogonal_grad=true"]]


def test_a_member_that_generalized_gets_no_verdict():
    config = tiny_config(seeds=(0, 1), loss_dtype="float32", wd=0.0)
    frac = torch.tensor([[0.0, 0.8, 0.9], [0.0, 0.8, 0.9]], dtype=torch.float64)
    verdicts = softmax_collapse(config, [0, 10, 20], frac, torch.tensor([False, True]))
    assert verdicts[1] is None
    assert verdicts[0] == {"step": 10, "zero_grad_fraction": 0.8, "final_zero_grad_fraction": 0.9,
                           "above": COLLAPSED_FRACTION, "remedies": ALL_REMEDIES}
    # diagnostics off: nothing logged, no verdict
    assert softmax_collapse(config, [], torch.zeros(2, 0, dtype=torch.float64), torch.tensor([False, False])) == [None, None]


@pytest.fixture(scope="module")
def provoked(tmp_path_factory):
    """float32, one ensemble: member 0 plain (collapses), 1 with ⊥Grad, 2 with wd 0.1, 3 with wd 1."""
    config = tiny_config(seeds=(0, 0, 0, 0), loss_dtype="float32", **{**PROVOKED, "wd": (0.0, 0.0, 0.1, 1.0)},
                         orthogonal_grad=(False, True, False, False))
    return train(config, tmp_path_factory.mktemp("runs"))


def _zero_grad(run) -> tuple[list[int], dict[int, list[float]]]:
    with run.metrics() as store:
        return store.series(names.COLLAPSE_ZERO_GRAD_FRAC)


def test_provoked_collapse_gets_a_verdict_with_its_step_and_every_remedy(provoked):
    steps, frac = _zero_grad(provoked)
    members = provoked.summary()["members"]
    verdict = members[0]["softmax_collapse"]
    onset = _reference_onset(frac[0])
    assert onset > 0 and verdict["step"] == steps[onset] <= 50  # measured: step 50, 0.74 of the training pairs
    assert verdict["zero_grad_fraction"] == frac[0][onset] > COLLAPSED_FRACTION
    assert verdict["final_zero_grad_fraction"] == frac[0][-1]
    assert verdict["remedies"] == ALL_REMEDIES
    assert members[0]["steps_to_generalize"] is None
    # ⊥Grad and wd 1 never collapse; wd 0.1 passes the threshold, then decay brings it back below: no verdict
    assert max(frac[1]) == 0 and max(frac[3]) == 0
    assert max(frac[2]) > COLLAPSED_FRACTION > frac[2][-1]
    assert [m["softmax_collapse"] for m in members[1:]] == [None, None, None]


def test_no_verdict_on_the_stablemax_control_and_float64_is_not_offered_where_it_is_on(tmp_path):
    stable = train(tiny_config(seeds=(0, 1), loss_dtype="float32", loss="stablemax", **PROVOKED), tmp_path / "stablemax")
    assert [m["softmax_collapse"] for m in stable.summary()["members"]] == [None, None]
    # float64 moves the rounding to larger logits but does not stop their growth: seed 1 still collapses
    # (measured: 0.59 of the training pairs from step 75; seed 0 stays at 0.44-0.46)
    verdicts = [m["softmax_collapse"] for m in train(tiny_config(seeds=(0, 1), loss_dtype="float64", **PROVOKED),
                                                          tmp_path / "f64").summary()["members"]]
    assert any(verdicts)
    assert all("loss_dtype" not in v["remedies"] and "loss=stablemax" in v["remedies"] for v in verdicts if v)


def test_no_verdict_on_a_grokked_run(grokked_run):
    assert [m["softmax_collapse"] for m in grokked_run.summary()["members"]] == [None, None]
    result = CliRunner().invoke(app, ["show", str(grokked_run.path)])
    assert result.exit_code == 0 and "Softmax collapse" not in result.stdout


def test_show_names_the_member_the_step_and_the_remedies(provoked):
    runner = CliRunner()
    result = runner.invoke(app, ["show", str(provoked.path)])
    assert result.exit_code == 0, result.output
    step = provoked.summary()["members"][0]["softmax_collapse"]["step"]
    assert "Softmax collapse stopped 1 of 4 members" in result.stdout
    assert f"member 0 (seed 0): from step {step} " in result.stdout
    assert "StableMax (--set loss=stablemax)" in result.stdout and "⊥Grad (--set orthogonal_grad=true)" in result.stdout
    assert "member 1 (seed 0)" not in result.stdout
    result = runner.invoke(app, ["show", str(provoked.path), "--json"])
    members = json.loads(result.stdout)["members"]
    assert members[0]["softmax_collapse"]["step"] == step and members[1]["softmax_collapse"] is None
