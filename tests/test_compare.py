"""`grokscope compare` and its API: arms from per-member fields, censoring at the budget, the bootstrap
interval, the Mann–Whitney p-value against hand-computed values, the CLI's table, JSON and error exits, and
an end-to-end comparison where weight decay decides whether the tiny preset groks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import tiny_config
from typer.testing import CliRunner

from grokscope import get_preset, train
from grokscope.analysis.censored_stats import (
    bootstrap_median_ratio,
    censored_quantile,
    logrank_p,
    mann_whitney_u,
)
from grokscope.analysis.compare import compare, generalized_fraction
from grokscope.cli import app
from grokscope.errors import ConfigError

runner = CliRunner()


@pytest.fixture(scope="module")
def wd_run(tmp_path_factory):
    """Four tiny members, two arms by weight decay; 20 steps, so none generalizes (all censored at 20)."""
    return train(tiny_config(seeds=(0, 1, 2, 3), wd=(1.0, 1.0, 0.0, 0.0)), tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def one_arm_runs(tmp_path_factory):
    """Two runs of seeds 0 and 1 that differ only in weight decay (each run alone is a single arm)."""
    root = tmp_path_factory.mktemp("runs")
    return [train(tiny_config(seeds=(0, 1), wd=wd), root) for wd in (1.0, 0.0)]


def test_arms_are_found_from_per_member_fields(wd_run):
    comparison = compare([wd_run])
    assert comparison.by == ("wd",)
    assert [(a.arm, a.members, a.settings) for a in comparison.arms] == [("wd=1.0", 2, {"wd": 1.0}), ("wd=0.0", 2, {"wd": 0.0})]
    assert comparison.control == "wd=1.0"
    assert [m.arm for m in comparison.outcomes] == ["wd=1.0", "wd=1.0", "wd=0.0", "wd=0.0"]
    assert comparison.arms[1].paired is None  # seeds 0, 1 against 2, 3: nothing to pair


def test_members_that_never_generalize_are_censored_at_the_budget(wd_run):
    comparison = compare([wd_run])
    assert {(m.step, m.budget, m.steps) for m in comparison.outcomes} == {(None, 20, 20)}
    for arm in comparison.arms:
        assert (arm.generalized, arm.median, arm.median_censored, arm.q75_censored) == (0, 20.0, True, True)
    assert comparison.arms[1].speedup is None  # both medians censored: no ratio
    assert generalized_fraction(comparison, "wd=0.0") == ([1, 20], [0.0, 0.0])


def test_kaplan_meier_quantiles_against_hand_computed_curves():
    steps, censored = np.array([100, 200, 1000, 1000]), np.array([False, False, True, True])
    # S = 3/4 from 100, 1/2 from 200, then only censored members: the quartile sits exactly at 3/4 until 200
    assert censored_quantile(steps, censored, 0.25) == (150.0, False)  # the midpoint of the flat stretch
    assert censored_quantile(steps, censored, 0.5) == (200.0, True)  # flat at 1/2 into the censored: beyond 200
    assert censored_quantile(steps, censored, 0.75) == (1000.0, True)  # never reached within the budget
    # nothing censored: the ordinary median
    assert censored_quantile(np.array([100, 200, 300, 400]), np.zeros(4, bool), 0.5) == (250.0, False)
    # a member that generalized at the budget counts before one censored there: S(50) = 2/3, S(1000) = 1/3
    assert censored_quantile(np.array([50, 1000, 1000]), np.array([False, False, True]), 0.5) == (1000.0, False)
    # censored in the middle (a shorter run): S(100) = 3/4; 300 leaves the risk set; S(400) = 3/4 · 1/2 = 3/8
    assert censored_quantile(np.array([100, 300, 400, 500]), np.array([False, True, False, False]), 0.5) == (400.0, False)


def test_several_runs_form_arms_and_pair_their_seeds(one_arm_runs):
    comparison = compare(one_arm_runs, control="wd=0.0")
    assert [a.arm for a in comparison.arms] == ["wd=1.0", "wd=0.0"]
    treatment = comparison.arms[0]
    assert (treatment.paired, treatment.paired_faster) == (2, 0)  # all censored: ties are not "faster"
    assert treatment.p_value is None  # log-rank: no member of either arm generalized, nothing to compare
    assert treatment.p_mann_whitney == 1.0  # one budget: every member tied at it


def test_paired_faster_counts_generalizing_at_the_budget_as_faster_than_censored():
    from grokscope.analysis.compare import MemberOutcome, _arm_result

    def outcome(arm, seed, step):
        return MemberOutcome("run", seed, seed, arm, step, 1000, "test/acc")

    control = [outcome("c", s, None) for s in (1, 2, 3)]
    arm = [outcome("t", 1, 1000), outcome("t", 2, 166), outcome("t", 3, None)]  # at the budget; early; censored
    row = _arm_result("t", {}, arm, control, is_control=False, resamples=100, seed=0)
    assert (row.paired, row.paired_faster) == (3, 2)  # both censored is a tie, not faster


def test_bootstrap_interval_contains_the_estimate_and_is_reproducible():
    control, treatment = np.array([900.0, 1200, 1500, 2000, 2500]), np.array([300.0, 350, 500, 800, 1000])
    low, high = bootstrap_median_ratio(control, treatment, resamples=2_000, seed=0)
    assert low <= np.median(control) / np.median(treatment) <= high
    assert (low, high) == bootstrap_median_ratio(control, treatment, resamples=2_000, seed=0)
    assert 900 / 1000 <= low < high <= 2500 / 300  # every resampled median ratio lies in this range
    # every member censored at one budget: BCa is undefined, the percentile interval is the point
    assert bootstrap_median_ratio(np.full(3, 20.0), np.full(3, 20.0), resamples=200) == (1.0, 1.0)
    assert bootstrap_median_ratio(np.array([40.0]), np.array([40.0, 80.0])) == (None, None)  # one member: no resample


def test_mann_whitney_against_hand_computed_values():
    # no ties, 3 against 3 fully separated: the exact distribution, 2 of the C(6, 3) = 20 orderings as extreme
    u, p = mann_whitney_u(np.array([1, 2, 3]), np.array([4, 5, 6]))
    assert u == 0.0 and p == pytest.approx(2 / 20, rel=1e-12)  # the normal approximation said 0.081
    # ties: pooled mid-ranks 1, 3, 3 | 3, 5, 6 → U_x = 7 − 6 = 1; one tie group of 3 → σ² = 9/12·(7 − 24/30)
    u, p = mann_whitney_u(np.array([1, 2, 2]), np.array([2, 3, 4]))
    assert u == 1.0 and p == pytest.approx(math.erfc(3 / math.sqrt(0.75 * 6.2) / math.sqrt(2)), rel=1e-12)
    assert mann_whitney_u(np.array([5, 5]), np.array([5, 5, 5]))[1] == 1.0  # all tied


def test_log_rank_against_a_hand_computed_test():
    # x generalizes at 1 and 2, y at 3 and 4. At t = 1: 4 at risk, 2 of x, 1 event: E_x = 1/2, V = 2·2·1·3/(4²·3);
    # at t = 2: 3 at risk, 1 of x: E_x = 1/3, V = 1·2·1·2/(3²·2); later no x at risk. χ² = (2 − E)²/V, 1 d.f.
    expected, variance = 1 / 2 + 1 / 3, 2 * 2 * 3 / (16 * 3) + 1 * 2 * 2 / (9 * 2)
    chi2 = (2 - expected) ** 2 / variance
    p = logrank_p(np.array([1.0, 2.0]), np.zeros(2, bool), np.array([3.0, 4.0]), np.zeros(2, bool))
    assert p == pytest.approx(math.erfc(math.sqrt(chi2 / 2)), rel=1e-9)  # the χ²₁ tail
    assert logrank_p(np.full(2, 20.0), np.ones(2, bool), np.full(2, 20.0), np.ones(2, bool)) is None


def test_arms_censored_at_different_budgets_are_compared_by_log_rank_not_by_their_budgets():
    from grokscope.analysis.compare import MemberOutcome, _arm_result

    def outcome(arm, seed, step, budget):
        return MemberOutcome("run", seed, seed, arm, step, budget, "test/acc")

    arm = [outcome("t", 0, 150, 400), outcome("t", 1, 250, 400), outcome("t", 2, None, 400), outcome("t", 3, None, 400)]
    control = [outcome("c", 0, 300, 3000), outcome("c", 1, 350, 3000), outcome("c", 2, None, 3000),
               outcome("c", 3, None, 3000)]
    row = _arm_result("t", {}, arm, control, is_control=False, resamples=200, seed=0)
    assert row.p_mann_whitney is None  # read as steps, the short run's censored members would look fast (p 0.31)
    assert row.p_value == pytest.approx(logrank_p(np.array([150.0, 250, 400, 400]), np.array([False, False, True, True]),
                                                  np.array([300.0, 350, 3000, 3000]), np.array([False, False, True, True])))
    assert row.p_value > 0.5  # 0.73: two of four generalized in each arm, at about the same steps


@pytest.mark.parametrize("kwargs, field", [(dict(by=["seeds"]), "by:"), (dict(by=["nope"]), "by:"),
                                           (dict(by=["lr"]), "by:"), (dict(control="wd=3.0"), "control:"),
                                           (dict(threshold=1.5), "threshold:")])
def test_bad_options_raise_config_error_naming_the_option(wd_run, kwargs, field):
    with pytest.raises(ConfigError, match=f"^{field}"):
        compare([wd_run], **kwargs)


def test_cli_prints_the_table_json_and_saves_the_files(wd_run, tmp_path):
    result = runner.invoke(app, ["compare", str(wd_run.path), "--control", "wd=0.0"])
    assert result.exit_code == 0, result.output
    assert "wd=1.0" in result.output and "0/2" in result.output and ">20" in result.output and "control" in result.output
    result = runner.invoke(app, ["compare", str(wd_run.path), "--json", "--out", str(tmp_path / "t.csv"),
                                 "--figure", str(tmp_path / "f.png")])
    assert result.exit_code == 0, result.output
    table = json.loads(result.stdout)
    assert [a["arm"] for a in table["arms"]] == ["wd=1.0", "wd=0.0"] and table["threshold"] == 0.99
    assert (tmp_path / "t.csv").read_text().splitlines()[0].startswith("wd,arm,members,generalized,median")
    assert (tmp_path / "f.png").stat().st_size > 0


@pytest.mark.parametrize("args, field", [(["--by", "nope"], "by:"), (["--control", "lr=1"], "control:"),
                                         (["--out", "t.txt"], "out:"), (["--figure", "f.pdf"], "figure:")])
def test_cli_bad_input_exits_2_with_one_line_and_writes_nothing(wd_run, tmp_path, args, field):
    result = runner.invoke(app, ["compare", str(wd_run.path), *args, "--out" if "--out" not in args else "--figure",
                                 str(tmp_path / ("t.csv" if "--out" not in args else "f.png"))])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and f"error: {field}" in result.output
    assert list(tmp_path.iterdir()) == []


def test_the_report_draws_compares_arms_and_curves(wd_run, one_arm_runs):
    from grokscope.report.data import arms

    comparison, drawn = compare([wd_run]), arms(wd_run)
    assert drawn["arms"] == comparison.to_dict()["arms"] and drawn["control"] == comparison.control
    assert [c["arm"] for c in drawn["curves"]] == ["wd=1.0", "wd=0.0"]
    for curve in drawn["curves"]:
        assert (curve["steps"], curve["fractions"]) == generalized_fraction(comparison, curve["arm"])
    assert arms(one_arm_runs[0]) is None  # a single arm: no figure


def test_cli_single_arm_run_exits_2(one_arm_runs):
    result = runner.invoke(app, ["compare", str(one_arm_runs[0].path)])
    assert result.exit_code == 2 and "error: by: the members form a single arm" in result.output
    assert "--wd 0,0,0,0,1,1,1,1" in result.output and result.output.count("\n") == 1  # how to make arms, one line


@pytest.mark.slow
def test_weight_decay_groks_faster_than_none_over_seeds(tmp_path):
    """The tiny preset, seeds 1-3 × wd ∈ {1, 0} in one ensemble: wd = 1 groks within 1,000 steps, wd = 0 does not."""
    config = get_preset("tiny").replace(seeds=(1, 2, 3, 1, 2, 3), wd=(1.0,) * 3 + (0.0,) * 3, max_steps=1_000,
                                        instruments=False)
    run = train(config, tmp_path)
    comparison = compare([run], control="wd=0.0")
    decay, none = comparison.arms
    assert (decay.arm, none.arm) == ("wd=1.0", "wd=0.0")
    assert none.generalized == 0 and none.median_censored and none.median == 1_000
    assert decay.generalized >= 2 and not decay.median_censored
    assert decay.speedup > 1 and decay.speedup_bound == "lower"  # on the median, over seeds; ≥: the control is censored
    assert decay.paired == 3 and decay.paired_faster == decay.generalized
    result = runner.invoke(app, ["compare", str(run.path), "--control", "wd=0.0"])
    assert result.exit_code == 0 and ">1,000" in result.output and "≥" in result.output
