"""The validation's statistics and ground truth, on series whose answers are known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from grokscope.analysis.censored_stats import mann_whitney_u
from grokscope.analysis.monitor_validation import (
    EARLY_WARNING,
    MEASURES,
    AlarmRule,
    MemberTrace,
    compression_step,
    fit_alarm_rule,
    matched_comparisons,
    restricted_loss_spearman,
    score_alarm,
    split_halves,
    to_markdown,
    validate,
)
from grokscope.analysis.rank_stats import auroc, bootstrap_interval, spearman

STEPS = np.arange(0, 4001, 100)


def test_spearman_ranks_ties_at_their_mid_ranks():
    # x's ranks 3.5, 1, 3.5, 2 against y's 1..4: Pearson's r of the ranks by hand
    rx, ry = np.array([3.5, 1.0, 3.5, 2.0]), np.array([1.0, 2.0, 3.0, 4.0])
    rx, ry = rx - rx.mean(), ry - ry.mean()
    assert spearman(np.array([3.0, 1.0, 3.0, 2.0]), np.array([1.0, 2.0, 3.0, 4.0])) == pytest.approx(
        (rx * ry).sum() / np.sqrt((rx ** 2).sum() * (ry ** 2).sum()), rel=1e-12)


def test_spearman_is_one_for_any_monotone_map_and_minus_one_reversed():
    x = np.array([0.1, 0.5, 2.0, 7.0, 9.0])
    assert spearman(x, np.exp(x)) == pytest.approx(1.0)
    assert spearman(x, -x ** 3) == pytest.approx(-1.0)
    assert math.isnan(spearman(x, np.ones(5)))  # a constant side has no ranks to correlate
    assert spearman(np.array([1.0, math.nan, 2.0, 3.0]), np.array([1.0, 5.0, 2.0, 3.0])) == pytest.approx(1.0)


def test_auroc_is_the_mann_whitney_u_over_pairs():
    rng = np.random.default_rng(0)
    positive, negative = rng.normal(1.0, 1.0, 30), rng.normal(0.0, 1.0, 40)
    u, _ = mann_whitney_u(positive, negative)
    assert auroc(positive, negative) == pytest.approx(u / (30 * 40))
    assert auroc(np.array([5.0, 6.0]), np.array([1.0, 2.0])) == 1.0
    assert auroc(np.array([1.0, 2.0]), np.array([5.0, 6.0])) == 0.0
    assert auroc(np.array([1.0, 1.0]), np.array([1.0])) == 0.5


def test_the_bootstrap_interval_is_seeded_and_covers_the_estimate():
    values = np.random.default_rng(1).normal(3.0, 1.0, 50)
    interval = bootstrap_interval(lambda idx: float(values[idx].mean()), [50], resamples=500, seed=3)
    assert interval == bootstrap_interval(lambda idx: float(values[idx].mean()), [50], resamples=500, seed=3)
    assert interval[0] < values.mean() < interval[1]
    assert 0.2 < interval[1] - interval[0] < 1.0  # ≈ 2 · 1.96 / √50 = 0.55


def trace(arm, seed, values, *, grokked=None, restricted=None, memorized=100, warning=None) -> MemberTrace:
    series = np.asarray(values, dtype=float)
    return MemberTrace(arm=arm, member=seed, seed=seed, steps=STEPS, values={m: series for m in MEASURES},
                       restricted_loss=np.asarray(restricted if restricted is not None else series, dtype=float),
                       memorized=memorized, compressed=None, grokked=grokked, alarms={EARLY_WARNING: warning},
                       budget=int(STEPS[-1]))


def falling_member(seed: int, lead: int = 1_500) -> MemberTrace:
    """Flat at 10 after memorization, falling to 4 from t_g − lead on; t_g = 2,000 + 50·seed."""
    t_g = 2_000 + 50 * seed
    values = np.where(STEPS >= t_g - lead, 4.0, 10.0)
    return trace("grok", seed, values, grokked=t_g, warning=t_g - 700 if seed % 2 else None)


def flat_control(seed: int) -> MemberTrace:
    return trace("control", seed, 10.0 + 0.01 * np.sin(STEPS / 300.0 + seed), warning=900 if seed == 0 else None)


def test_compression_is_the_first_checkpoint_below_half_the_memorization_level():
    restricted = np.where(STEPS < 1_300, 3.0, 1.4)
    restricted[0] = 4.0  # before memorization: not the baseline
    assert compression_step(trace("grok", 0, np.ones(len(STEPS)), restricted=restricted)) == 1_300
    assert compression_step(trace("grok", 0, np.ones(len(STEPS)), restricted=np.full(len(STEPS), 3.0))) is None
    assert compression_step(trace("grok", 0, np.ones(len(STEPS)), memorized=None)) is None


def test_a_measure_that_falls_before_grokking_scores_as_a_detector():
    grok = [falling_member(s) for s in range(8)]
    controls = [flat_control(s) for s in range(8)]
    rule = fit_alarm_rule("llc", grok[:4], controls[:4])
    assert rule.direction == -1 and 0 < rule.threshold <= math.log(10 / 4) + 1e-12
    score = score_alarm(rule, grok[4:], controls[4:], resamples=200, seed=0)
    assert (score.true_rate, score.false_rate) == (1.0, 0.0)
    # The alarm is the first checkpoint at or after t_g − 1,500 (checkpoints every 100 steps).
    assert 1_400 <= score.median_lead <= 1_500
    assert restricted_loss_spearman(grok[0], "llc") == pytest.approx(1.0)
    pairs = matched_comparisons(grok, controls, "llc", lambda g: g.grokked - 1_000)
    assert pairs.shape == (8, 8) and np.all(pairs == 0.0)  # lower in every grokking member at the same step


def test_a_fall_later_than_the_lead_is_not_seen_by_the_auroc():
    """The fall starts 500 steps before t_g; at t_g − 1,000 every grokking member still reads 10, as every
    control does: every pair ties and the AUROC is 0.5."""
    grok = [falling_member(s, lead=500) for s in range(8)]
    controls = [trace("control", s, np.full(len(STEPS), 10.0)) for s in range(8)]
    assert np.all(matched_comparisons(grok, controls, "llc", lambda g: g.grokked - 1_000) == 0.5)
    assert np.all(matched_comparisons(grok, controls, "llc", lambda g: g.grokked - 400) == 0.0)


def test_validate_fits_on_the_first_half_of_the_seeds_and_scores_the_other():
    grok = [falling_member(s) for s in range(8)]
    controls = {"control": [flat_control(s) for s in range(8)]}
    fit, held = split_halves(grok)
    assert [t.seed for t in fit] == [0, 1, 2, 3] and [t.seed for t in held] == [4, 5, 6, 7]
    table, rules = validate(grok, controls, task="synthetic", resamples=200)
    llc = next(row for row in table.rows if row.measure == "llc")
    assert llc.alarm.n_grokked == 4 and llc.alarm.n_controls == 4
    assert llc.auroc["control"] == 0.0 and llc.auroc_interval["control"] == (0.0, 0.0)
    warning = next(row for row in table.rows if row.measure == EARLY_WARNING)
    assert rules[EARLY_WARNING].fixed and warning.rule.fixed
    # The fixed rule fired on seeds 5 and 7 (odd), before t_g; never on controls 4–7.
    assert warning.alarm.true_rate == 0.5 and warning.alarm.false_rate == 0.0 and warning.alarm.median_lead == 700
    # A second task is scored with these rules on every member, nothing refit.
    second, _ = validate(grok, controls, task="held out", rules=rules, resamples=200)
    assert next(r for r in second.rows if r.measure == "llc").alarm.n_grokked == 8
    text = to_markdown(table)
    assert "| llc |" in text and "falls" in text and "instruments' fixed rule" in text


def test_members_that_never_grokked_are_neither_positives_nor_counted_as_true_alarms():
    grok = [falling_member(s) for s in range(4)] + [trace("grok", 9, np.full(len(STEPS), 4.0))]
    score = score_alarm(AlarmRule("llc", -1, 0.5), grok, [flat_control(0)], resamples=50, seed=0)
    assert score.n_grokked == 4 and score.true_rate == 1.0
