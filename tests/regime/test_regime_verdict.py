"""The verdict: not identifiable on one sub-period, photographed/compressed on four, its statistics against a loop,
and `grokscope regime verdict` through the command line."""

from __future__ import annotations

import json

import pytest
import torch
from regime_helpers import one_thread  # noqa: F401 (an autouse fixture)
from torch import nn
from typer.testing import CliRunner

from grokscope import cli
from grokscope.errors import ConfigError
from grokscope.regime.models import Members, TrainSettings, mse, train_zoo
from grokscope.regime.report import verdict_page
from grokscope.regime.shortcut import MULTI_PERIOD, SINGLE_PERIOD
from grokscope.regime.synthetic import RegimeSpec
from grokscope.regime.verdict import (
    ANSWERS,
    IRMV1_Z2_THRESHOLD,
    environment_statistics,
    period_probe_accuracy,
    regime_verdict,
)

NOT_IDENTIFIABLE, PHOTOGRAPHED, COMPRESSED = ANSWERS[2], ANSWERS[1], ANSWERS[0]


@pytest.fixture(scope="module")
def zoos():
    """Rule (C) and shortcut (P) models of seeds 0 and 1 on each case, trained once (~1.5 s a case)."""
    torch.set_num_threads(1)
    members = Members(("C", "C", "P", "P"), (0, 1, 0, 1), (0.1,) * 4, (1.0,) * 4)
    return {name: train_zoo(spec, members, TrainSettings()) for name, spec in
            (("single", SINGLE_PERIOD), ("multi", MULTI_PERIOD), ("demo1", RegimeSpec(n_regimes=16)))}


def _verdict(zoo, e, **changes):
    d = zoo.data
    kwargs = dict(time_order=d.train_time[e], environments=d.train_regime[e], feature_groups=d.groups) | changes
    return regime_verdict(zoo.model.member(e), d.train_x[e], d.train_y[e], **kwargs)


@pytest.mark.parametrize("e", [0, 1, 2, 3])
def test_single_sub_period_is_not_identifiable_for_rule_and_shortcut_models(zoos, e):
    verdict = _verdict(zoos["single"], e)
    assert verdict.answer == NOT_IDENTIFIABLE and verdict.n_periods == 1
    assert "Demo 2" in verdict.reason
    # The same without sub-period labels at all: one undivided era.
    assert _verdict(zoos["single"], e, environments=None).answer == NOT_IDENTIFIABLE


@pytest.mark.parametrize("e, answer", [(0, COMPRESSED), (1, COMPRESSED), (2, PHOTOGRAPHED), (3, PHOTOGRAPHED)])
def test_four_sub_periods_tell_the_rule_model_from_the_shortcut_model(zoos, e, answer):
    verdict = _verdict(zoos["multi"], e)
    assert verdict.answer == answer and verdict.n_periods == 4
    z2 = next(row.value for row in verdict.evidence if row.measure == "irmv1_z2")
    # With margin: rule models sit near the null mean 1, shortcut models well above the threshold.
    assert z2 < IRMV1_Z2_THRESHOLD / 2 if answer == COMPRESSED else z2 > 1.5 * IRMV1_Z2_THRESHOLD


@pytest.mark.parametrize("e", [0, 2])
def test_inputs_that_name_the_sub_period_are_not_identifiable(zoos, e):
    """Demo 1's inputs carry the regime id: a lookup (P) looks invariant, so the guard answers for both kinds."""
    verdict = _verdict(zoos["demo1"], e)
    probe = next(row.value for row in verdict.evidence if row.measure == "period_probe_accuracy")
    assert verdict.answer == NOT_IDENTIFIABLE and probe > 0.95 and "name the sub-period" in verdict.reason


def test_evidence_rows_and_page(zoos):
    verdict = _verdict(zoos["multi"], 2)
    rows = {row.measure: row for row in verdict.evidence}
    assert rows["irmv1_z2"].role == "decides" and rows["weight_norm"].role == "supporting"
    assert "Demo 1 at B = 4" in rows["weight_norm"].trust  # M = 4 sub-periods: Demo 1's B = 4 column
    assert {"train_ablation_state", "train_ablation_shortcut", "effective_rank", "prequential_bits"} <= set(rows)
    json.dumps(verdict.to_dict(), allow_nan=False)
    page = verdict_page(verdict)
    assert PHOTOGRAPHED in page and "<script" not in page and "irmv1_z2" in page


def test_any_module_and_refusals(zoos):
    d = zoos["multi"].data
    module = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1)).double().eval()
    verdict = regime_verdict(module, d.train_x[0].double(), d.train_y[0].double(), time_order=d.train_time[0],
                             environments=d.train_regime[0])
    assert verdict.answer in ANSWERS and "effective_rank" not in {row.measure for row in verdict.evidence}
    with pytest.raises(ConfigError, match="model: one model per verdict"):
        regime_verdict(zoos["multi"].model, d.train_x[0], d.train_y[0], time_order=d.train_time[0])


def test_environment_statistics_match_a_loop_and_the_null():
    g = torch.Generator().manual_seed(0)
    E, N, M = 300, 400, 4
    env = torch.randint(0, M, (E, N), generator=g)
    f = torch.randn(E, N, 1, generator=g, dtype=torch.float64)
    y = f[..., 0] + torch.randn(E, N, generator=g, dtype=torch.float64)  # f is the optimal prediction everywhere
    stats = environment_statistics(f, y, env, mse)
    # Under invariance both are χ²/dof: mean 1.
    assert abs(stats["irmv1_z2"].mean() - 1) < 0.1 and abs(stats["risk_heterogeneity"].mean() - 1) < 0.1
    # Against a loop over members and environments (the reference), with d_i = 2 (f_i − y_i) f_i for MSE.
    for e in range(3):
        z2, w_sum, wr_sum, parts = 0.0, 0.0, 0.0, []
        for m in range(M):
            rows = env[e] == m
            d = 2 * (f[e, rows, 0] - y[e, rows]) * f[e, rows, 0]
            z2 += (d.mean() ** 2 / (d.var() / rows.sum())).item()
            loss = (f[e, rows, 0] - y[e, rows]) ** 2
            w = (rows.sum() / loss.var()).item()
            parts.append((w, loss.mean().item()))
            w_sum, wr_sum = w_sum + w, wr_sum + w * loss.mean().item()
        q = sum(w * (r - wr_sum / w_sum) ** 2 for w, r in parts)
        assert stats["irmv1_z2"][e].item() == pytest.approx(z2 / M, rel=1e-9)
        assert stats["risk_heterogeneity"][e].item() == pytest.approx(q / (M - 1), rel=1e-9)


def test_period_probe_reads_a_one_hot_exactly_and_noise_near_chance():
    g = torch.Generator().manual_seed(1)
    env = torch.randint(0, 4, (1, 800), generator=g)
    assert period_probe_accuracy(nn.functional.one_hot(env, 4).double(), env).item() == 1.0
    assert period_probe_accuracy(torch.randn(1, 800, 2, generator=g), env).item() < 0.4


def test_verdict_command_writes_the_page(tmp_path):
    page = tmp_path / "verdict.html"
    result = CliRunner().invoke(cli.app, ["regime", "verdict", "--case", "single-period", "--kind", "rule",
                                          "--report", str(page)])
    assert result.exit_code == 0, result.output
    assert f"**Verdict: {NOT_IDENTIFIABLE}**" in result.stdout and "| irmv1_z2 |" in result.stdout
    assert NOT_IDENTIFIABLE in page.read_text()


@pytest.mark.parametrize("args, message", [
    (["--case", "bogus"], "case: must be one of"),
    (["--kind", "lookup"], "kind: must be one of"),
    (["--seed", "-1"], "seed: must be an integer in 0.."),
    (["--seed", "100000000000000000000"], "seed: must be an integer in 0.."),
    (["--report", "page.txt"], "report: must end in .html"),
])
def test_verdict_command_refuses_bad_input_with_one_line_and_exit_2(tmp_path, args, message):
    args = [str(tmp_path / a) if a == "page.txt" else a for a in args]
    result = CliRunner().invoke(cli.app, ["regime", "verdict", *args])
    assert result.exit_code == 2 and message in result.output and len(result.output.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())
