"""The warning benchmark's scores on hand-made traces whose answers are known, and on a small trained sweep."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from grokscope.analysis.monitor_validation import AlarmRule, MemberTrace
from grokscope.analysis.warning_benchmark import (
    CLEANUP_START,
    EITHER_WARNING,
    GROK,
    LEGACY_WARNING,
    MEASURES,
    NO_DECAY,
    SHUFFLE_WARNING,
    SMALL_FRACTION,
    WARNING,
    Arm,
    score_task,
    targets_met,
    to_markdown,
)
from grokscope.cli import app

STEPS = np.arange(0, 2_001, 100)


def _trace(arm: str, seed: int, statistic: np.ndarray, *, memorized=200, grokked=None, alarm=None, final=None) -> MemberTrace:
    values = {m: np.full(len(STEPS), math.nan) for m in MEASURES}
    values[WARNING] = statistic
    return MemberTrace(arm=arm, member=seed, seed=seed, steps=STEPS, values=values, restricted_loss=np.full(len(STEPS), math.nan),
                       memorized=memorized, compressed=None, grokked=grokked, alarms={WARNING: alarm}, budget=int(STEPS[-1]),
                       final_heldout=final)


def _grok(seed: int, alarm: int, t_g: int) -> MemberTrace:
    return _trace("g", seed, np.where(STEPS >= alarm, 20.0 + seed, 1.0), grokked=t_g, alarm=alarm)


def _control(seed: int, level: float = 3.0, alarm=None, grokked=None, final=None) -> MemberTrace:
    return _trace("c", seed, np.full(len(STEPS), level + 0.01 * seed), alarm=alarm, grokked=grokked, final=final)


RULES = {WARNING: AlarmRule(WARNING, fixed=True)}


def test_a_warning_that_separates_scores_perfectly_with_its_lead_as_a_plateau_fraction():
    grok = Arm("x+y", 31, 0.8, 1.0, GROK, [_grok(s, 500, 1_200) for s in range(4)])  # plateau 200 -> 1,200
    small = Arm("x+y", 31, 0.5, 1.0, SMALL_FRACTION, [_control(s) for s in range(5)])
    nodecay = Arm("x+y", 31, 0.8, 0.0, NO_DECAY, [_control(s) for s in range(3)])
    table = score_task([grok, small, nodecay], RULES, held_out=True, resamples=200)
    row = next(r for r in table.rows if r.measure == WARNING)
    assert [r.measure for r in table.rows] == [WARNING]  # measures with no values in the sweep are left out
    for control in (small.name, nodecay.name):
        assert row.auroc[control] == 1.0  # read at 200 + 0.5 * 1,000 = 700: every grokking member above every control
        score = row.alarms[control]
        assert (score.true_rate, score.false_rate) == (1.0, 0.0)
        assert score.median_lead == 700 and score.median_lead_fraction == pytest.approx(0.7)
    assert table.arms[small.name]["generalized"] == 0 and table.arms[grok.name]["median_plateau"] == 1_000
    assert targets_met(table) == [] and "all met" in to_markdown(table) and "held-out task" in to_markdown(table)


def test_false_alarms_count_only_controls_that_never_generalized_and_misses_are_said():
    grok = Arm("x-y", 31, 0.8, 1.0, GROK, [_grok(s, 1_100, 1_200) for s in range(4)])  # lead 0.1 of the plateau
    # control: one of four alarms (a false alarm); one generalized and alarmed (not counted as a false alarm)
    members = [_control(0, alarm=900), _control(1), _control(2), _control(3), _control(4, alarm=300, grokked=1_500)]
    small = Arm("x-y", 31, 0.5, 1.0, SMALL_FRACTION, members)
    table = score_task([grok, small], RULES, held_out=False, resamples=200)
    score = next(r for r in table.rows if r.measure == WARNING).alarms[small.name]
    assert score.false_rate == 0.25 and score.n_controls == 4
    assert score.median_lead_fraction == pytest.approx(0.1)
    misses = targets_met(table)
    assert any(m.startswith("false alarms 0.25") for m in misses) and any(m.startswith("median lead 0.10") for m in misses)
    assert any(m.startswith("AUROC 0.00") for m in misses)  # at 700 the grokking members are not yet above


def test_false_alarms_are_also_counted_on_the_controls_that_learned_nothing():
    grok = Arm("x-y", 31, 0.8, 1.0, GROK, [_grok(s, 500, 1_200) for s in range(4)])
    # final held-out accuracy: 0.5 learned part of the rule (partial); 0.05 and 0.03 nothing of it (clean)
    members = [_control(0, alarm=900, final=0.5), _control(1, alarm=700, final=0.05), _control(2, final=0.03),
               _control(3, final=0.03)]
    small = Arm("x-y", 31, 0.5, 1.0, SMALL_FRACTION, members)
    table = score_task([grok, small], RULES, held_out=True, resamples=200)
    score = next(r for r in table.rows if r.measure == WARNING).alarms[small.name]
    assert score.false_rate == 0.5 and score.false_rate_clean == pytest.approx(1 / 3)
    assert (score.n_clean, score.n_partial, score.n_controls) == (3, 1, 4)
    assert any("0.33 on its 3 clean members, 1 partly learned" in m for m in targets_met(table))
    assert "0.33 [" in to_markdown(table) and "on 3 clean, 1 partly learned" in to_markdown(table)


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    """x+y mod 31 at the tiny size: a grokking arm, a small-fraction and a no-decay control, two seeds each."""
    root = tmp_path_factory.mktemp("bench")
    spec = root / "bench.toml"
    spec.write_text('name = "bench"\npreset = "tiny"\nmax_pack = 6\n[base]\np = 31\nmax_steps = 400\neval_every = 50\n'
                    'eval_log_points = 0\npatience = 100000\n[grid]\nseed = [0, 1]\n'
                    '[[cases]]\nfrac = 0.8\nwd = 1.0\n[[cases]]\nfrac = 0.3\nwd = 1.0\n[[cases]]\nfrac = 0.8\nwd = 0.0\n')
    result = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(root)])
    assert result.exit_code == 0, result.output
    return root / "bench"


def test_validate_warning_scores_a_trained_sweep(small_sweep, tmp_path):
    out = tmp_path / "table.json"
    result = CliRunner().invoke(app, ["validate-warning", str(small_sweep), "--tuning", "x+y", "--resamples", "50",
                                      "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    (table,) = document["tables"]
    kinds = {arm["kind"] for arm in table["arms"].values()}
    assert kinds == {GROK, SMALL_FRACTION, NO_DECAY} and not table["held_out"]
    assert table["grok_arm"] == "x+y p=31 frac=0.8 wd=1"
    measures = [row["measure"] for row in table["rows"]]
    assert {WARNING, SHUFFLE_WARNING, LEGACY_WARNING, CLEANUP_START, "embed_peak_ratio", "embed_peak_z",
            "train_loss"} <= set(measures)
    assert "llc" not in measures  # the monitor has not run on these packs
    rows = {row["measure"]: row for row in table["rows"]}
    for control, either in rows[EITHER_WARNING]["alarms"].items():  # the union fires wherever either rule does
        for key in ("true_rate", "false_rate"):  # NaN where the arm has no member to rate (none grokked in 400 steps)
            rates = [rows[m]["alarms"][control][key] for m in (WARNING, SHUFFLE_WARNING)]
            assert math.isnan(either[key]) if all(map(math.isnan, rates)) else either[key] >= max(rates)
    assert not math.isnan(rows[EITHER_WARNING]["alarms"][table["control_arms"][0]]["false_rate"])
    for row in table["rows"]:
        for value in row["auroc"].values():
            assert math.isnan(value) or 0.0 <= value <= 1.0
        for score in row["alarms"].values():  # every control member that never generalized is clean or partial
            assert score["n_clean"] + score["n_partial"] == score["n_controls"]
    calibrated = CliRunner().invoke(app, ["validate-warning", str(small_sweep), "--tuning", "x+y", "--calibrate", "--json"])
    assert calibrated.exit_code == 0, calibrated.output
    numbers = json.loads(calibrated.output)
    assert set(numbers["rules"]) == {"peak", "shuffle"}  # both statistics are logged by this sweep
    for rule in numbers["rules"].values():
        assert rule["calibrated_threshold"] == pytest.approx(numbers["margin"] * rule["largest_control_statistic"])


def test_validate_warning_refuses_bad_input_in_one_line(small_sweep, tmp_path):
    for args in (["--tuning", "x-y"], ["--fraction", "1.5"], ["--out", str(tmp_path / "t.txt")]):
        result = CliRunner().invoke(app, ["validate-warning", str(small_sweep), *args])
        assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    result = CliRunner().invoke(app, ["validate-warning", str(tmp_path)])
    assert result.exit_code != 0 and "sweep" in result.output
