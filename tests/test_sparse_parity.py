"""Sparse parity (Barak et al. 2022): a task family of bits, not pairs, through the same config, trainer, store,
readers and sweep as x+y; its ground-truth progress measures on planted weights and logits."""

from __future__ import annotations

import json
import math

import pytest
import torch
from typer.testing import CliRunner

from grokscope import get_preset, load, train
from grokscope import metric_names as names
from grokscope.cli import app
from grokscope.errors import ConfigError
from grokscope.instruments.parity import (
    coordinate_mass,
    relevant_weight_ratio,
    walsh_coefficient,
)
from grokscope.report import render_report, report_data
from grokscope.tasks import build_parity_table

# Faster than the preset for CI: more training examples and a larger step shorten the plateau to a few hundred steps.
FAST = dict(frac=0.16, lr=1e-2, max_steps=500, eval_every=25, eval_log_points=0, patience=100_000, checkpoints=6,
            seeds=(0, 1, 2), device="cpu")


def test_the_pool_is_the_tasks_distinct_examples_labelled_by_the_hidden_subset():
    table = build_parity_table(12, 3, 500)
    again = build_parity_table(12, 3, 500)
    assert torch.equal(table.bits, again.bits) and table.subset == again.subset  # (n, k, N) decide it
    codes = (table.bits << torch.arange(12)).sum(1)
    assert codes.unique().numel() == 500  # without replacement below 2^20
    assert len(table.subset) == 3 and len(set(table.subset)) == 3
    assert torch.equal(table.c, table.bits[:, list(table.subset)].sum(1) % 2)
    assert 0.4 < table.c.double().mean() < 0.6
    assert torch.equal(table.character(), 1 - 2 * table.c.double())
    wide = build_parity_table(40, 3, 300)  # beyond 2^20 inputs: uniform draws
    assert wide.bits.shape == (300, 40) and set(wide.bits.unique().tolist()) == {0, 1}


def test_the_walsh_coefficient_is_one_for_the_parity_and_zero_for_a_constant():
    table = build_parity_table(10, 3, 400)
    confident = torch.stack([1 - table.c.double(), table.c.double()], dim=1)[None] * 40  # [1, N, 2]: predicts the label
    assert walsh_coefficient(confident, table.character()).item() == pytest.approx(1.0, abs=1e-9)
    assert walsh_coefficient(torch.zeros(1, 400, 2), table.character()).item() == pytest.approx(0.0, abs=1e-12)
    wrong = walsh_coefficient(-confident, table.character()).item()
    assert wrong == pytest.approx(-1.0, abs=1e-9)


def test_the_weight_ratio_reads_the_mass_on_the_subsets_bits():
    n, d, m, subset = 6, 4, 5, (1, 4)
    embed = torch.randn(2, 2, d)  # [E, 2, d]
    w_in = torch.randn(2, n * d, m)  # [E, n*d, m]
    mass = coordinate_mass(embed, w_in)  # [E, n]
    flip = embed[0, 1] - embed[0, 0]
    assert mass[0, 3].item() == pytest.approx((flip @ w_in[0, 3 * d:4 * d]).norm().item(), rel=1e-6)
    planted = w_in.clone()
    for i in range(n):
        if i not in subset:
            planted[:, i * d:(i + 1) * d] *= 0.1  # the others' weights a tenth
    ratio = relevant_weight_ratio(embed, planted, subset) / relevant_weight_ratio(embed, w_in, subset)
    assert torch.allclose(ratio, torch.full((2,), 10.0, dtype=torch.float64), rtol=1e-6)


@pytest.mark.parametrize("changes, field", [
    (dict(arch="nanda"), "arch"), (dict(parity_k=21), "parity_k"), (dict(p=10, parity_examples=2_000), "parity_examples"),
    (dict(p=70), "p"),
])
def test_settings_that_do_not_suit_the_family_are_refused_by_field(changes, field):
    with pytest.raises(ConfigError, match=f"^{field}:"):
        get_preset("sparse-parity").replace(**changes)
    with pytest.raises(ConfigError, match="^layout:"):
        get_preset("tiny").replace(layout="bits")


def test_the_cli_refuses_a_bad_subset_before_writing(tmp_path):
    result = CliRunner().invoke(app, ["train", "--preset", "sparse-parity", "--set", "parity_k=0", "--out", str(tmp_path / "runs")])
    assert result.exit_code == 2 and result.stderr.strip().count("\n") == 0 and "parity_k" in result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.fixture(scope="module")
def parity_run(tmp_path_factory):
    return train(get_preset("sparse-parity").replace(**FAST), tmp_path_factory.mktemp("parity"))


def test_sparse_parity_memorizes_first_and_generalizes_later_through_the_core(parity_run):
    summary = parity_run.summary(threshold=0.9)
    with parity_run.metrics() as store:
        steps, test = store.series(names.TEST_ACC)
        _, walsh = store.series(names.WALSH_COEFFICIENT)
        _, ratio = store.series(names.RELEVANT_WEIGHT_RATIO)
    grokked = 0
    for m in summary["members"]:
        e, memorized = m["member"], m["steps_to_memorize"]
        assert memorized is not None and test[e][steps.index(memorized)] < 0.75  # held-out far from done then
        if m["steps_to_generalize"] is not None:
            grokked += 1
            assert m["steps_to_generalize"] >= 2 * memorized  # later, not alongside
            assert m["phases"]["memorization_end"] is not None
            end = steps.index(m["steps_to_generalize"])
            assert walsh[e][end] > 0.7 and walsh[e][end] > walsh[e][steps.index(memorized)] + 0.4
            assert ratio[e][end] > 1.3 * ratio[e][0]  # the first layer has turned to the subset's bits
    assert grokked >= 2
    assert parity_run.model().params["mlp.W_in"].shape[1] == 20 * 8  # n bits x d_model, concatenated


def test_a_parity_run_is_listed_shown_and_reported_like_any_run(parity_run):
    runner = CliRunner()
    listed = runner.invoke(app, ["runs", str(parity_run.path.parent)])
    assert listed.exit_code == 0 and "sparse_parity" in listed.stdout
    shown = runner.invoke(app, ["show", str(parity_run.path), "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["config"]["task"] == "sparse_parity"
    data = report_data(load(parity_run.path))
    assert names.WALSH_COEFFICIENT in data["scalars"] and names.RELEVANT_WEIGHT_RATIO in data["scalars"]
    assert any("Fourier" in note for note in data.get("notes", [])) or "fourier" not in data.get("panels", {})
    assert "<html" in render_report(data).lower()


def test_a_sweep_over_bits_subset_size_and_fraction_packs_and_tables(tmp_path):
    spec = tmp_path / "parity.toml"
    spec.write_text('name = "parity"\npreset = "sparse-parity"\nmax_pack = 4\n[base]\nparity_examples = 600\n'
                    'max_steps = 40\neval_every = 20\neval_log_points = 0\ncheckpoints = 2\n'
                    '[grid]\np = [10, 12]\nparity_k = [2, 3]\nfrac = [0.3, 0.5]\nseed = [0]\n')
    result = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    table = CliRunner().invoke(app, ["results", str(tmp_path / "parity"), "--format", "json"])
    rows = json.loads(table.stdout)
    assert len(rows) == 8 and {(r["p"], r["frac"]) for r in rows} == {(10, 0.3), (10, 0.5), (12, 0.3), (12, 0.5)}
    assert all(r["task"] == "sparse_parity" and not math.isnan(r["final_train_acc"]) for r in rows)
