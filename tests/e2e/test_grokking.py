"""End to end: `grokscope demo` trains the quickstart preset, which really groks on CPU, and its
instruments show Nanda et al.'s picture underneath the loss curve."""

import json
import os
import subprocess
import sys

import pytest
import torch

from grokscope import load
from grokscope import metric_names as names

CHANCE_MARGIN = 3.0  # "near chance": held-out accuracy at most 3x chance when training accuracy first hits 99%


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = subprocess.run([sys.executable, "-m", "grokscope", "demo", "--out", str(out)],
                            capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "2"})
    assert result.returncode == 0, result.stderr
    run = load(result.stdout.strip().splitlines()[-1])
    run.demo_stdout = result.stdout
    return run


@pytest.mark.slow
def test_demo_memorizes_then_groks(demo_run):
    run = demo_run
    assert run.config.task == "x+y" and run.config.symmetric_split  # plain held-out accuracy is honest here
    assert (run.path / "summary.json").is_file() and (run.path / "figures" / "curves.svg").read_text().startswith("<?xml")
    assert "Plotly" in (run.path / "report.html").read_text()
    with run.metrics() as store:
        steps, train_acc = store.series(names.TRAIN_ACC)
        _, test_acc = store.series(names.TEST_ACC)
    train_acc, test_acc = train_acc[0], test_acc[0]
    chance = 1 / run.config.p
    memorized = next(i for i, acc in enumerate(train_acc) if acc >= 0.99)
    generalized = next(i for i, acc in enumerate(test_acc) if acc >= 0.99)
    # 1. memorization first, with held-out accuracy still near chance
    assert test_acc[memorized] <= CHANCE_MARGIN * chance
    # 2. generalization later, after a plateau at least 3x as long as memorization took
    assert steps[generalized] >= 3 * steps[memorized]
    plateau = [acc for step, acc in zip(steps, test_acc) if steps[memorized] <= step <= 2 * steps[memorized]]
    assert max(plateau) <= 0.5
    summary = json.loads((run.path / "summary.json").read_text())
    member = summary["members"][0]
    assert member["steps_to_memorize"] == steps[memorized]
    assert member["steps_to_generalize"] == steps[generalized]
    assert member["final_test_acc"] >= 0.95  # it stays generalized through the patience window
    # 3. the demo says why its bar stopped short of the budget
    stopped = run.status()["step"]
    assert stopped < run.config.max_steps and f"stopped at step {stopped:,} of {run.config.max_steps:,}: every member " \
        f"reached 0.99 test accuracy" in run.demo_stdout and f"patience window of {run.config.patience:,} steps" in run.demo_stdout


@pytest.mark.slow
def test_measures_see_the_circuit_before_the_test_loss(demo_run):
    """Few key frequencies; restricted loss falling long before test loss; excluded loss on the
    training pairs rising through the plateau (Nanda et al. 2023, §5)."""
    with demo_run.metrics() as store:
        _, keys = store.vector_series(names.KEY_FREQUENCIES, 0)
        steps, restricted = store.series(names.RESTRICTED_LOSS)
        _, excluded = store.series(names.EXCLUDED_LOSS)
        eval_steps, test_loss = store.series(names.TEST_LOSS)
        _, train_acc = store.series(names.TRAIN_ACC)
        _, gini_embed = store.series(names.GINI_EMBED)
        _, ideal = store.series(names.IDEAL_FORM_FVE)
    restricted, excluded = restricted[0], excluded[0]
    test_at = dict(zip(eval_steps, test_loss[0]))  # every checkpoint is an evaluation step
    assert 1 <= sum(keys[-1]) <= 6
    memorized = next(s for s, acc in zip(eval_steps, train_acc[0]) if acc >= 0.99)
    late = [i for i, s in enumerate(steps) if s >= memorized]
    assert all(restricted[i] < test_at[steps[i]] for i in late)
    first_restricted = next(s for s, v in zip(steps, restricted) if v < 0.1)
    first_test = next(s for s, v in zip(eval_steps, test_loss[0]) if v < 0.1)
    assert first_restricted < first_test
    plateau = [excluded[i] for i in late if steps[i] < first_test]
    assert max(plateau) > plateau[0] + 1.0  # rises after memorization, while the test loss is still high
    assert gini_embed[0][-1] > 2 * gini_embed[0][0]  # the embedding becomes sparse in frequency
    at_memorization = ideal[0][late[0]]
    assert ideal[0][-1] > 0.8 > at_memorization  # the logits take the ideal form Σ α_k cos(w_k(a+b−c))


@pytest.mark.slow
def test_mechanistic_report_verifies_the_clock(demo_run):
    report = demo_run.analyze()
    assert 1 <= len(report.key_frequencies) <= 6
    assert report.key_frequencies_clustered == report.key_frequencies
    assert all(f.clock_angle_fit > 0.9 for f in report.frequencies)  # residues sit at angle w_k a on each clock
    assert report.neurons_clustered_fraction > 0.5
    assert report.logit_fit_explained_variance > 0.8
    assert report.loss_key_frequencies_only < 0.1  # keeping only the clock keeps the loss low
    assert report.loss_key_frequencies_removed > 0.8 * report.chance_loss  # removing it destroys the predictions
    early = demo_run.analyze(step=demo_run.checkpoint_steps()[1])
    assert early.neurons_clustered_fraction < 0.1 and early.logit_fit_explained_variance < report.logit_fit_explained_variance


@pytest.mark.slow
def test_phases_are_ordered_and_the_warning_comes_first(demo_run):
    member = demo_run.summary()["members"][0]
    phases = member["phases"]
    assert member["steps_to_memorize"] <= phases["memorization_end"] < phases["cleanup_start"] < phases["cleanup_end"]
    # the warning (a few frequencies rising in W_E) comes once memorized and by the time the sparse set is in
    assert member["steps_to_memorize"] <= member["early_warning_step"] <= phases["cleanup_start"]
    assert member["early_warning_step"] < member["steps_to_generalize"]
    assert member["early_warning_lead_to_test_acc_99"] > 0
    # the test loss falls before the member generalizes, and the lead to that fall is measured from the warning
    assert member["steps_to_memorize"] <= member["test_loss_fall_start"] <= member["steps_to_generalize"]
    assert member["early_warning_lead_to_test_loss_fall"] == member["test_loss_fall_start"] - member["early_warning_step"]
    # textbook early stopping on the test loss would have kept weights at chance, long before grokking
    stopping = member["early_stopping"]
    assert stopping["stopped_at"] < member["steps_to_generalize"]
    assert stopping["test_acc_kept"] <= CHANCE_MARGIN / demo_run.config.p and member["final_test_acc"] >= 0.99
    assert 1 <= len(member["key_frequencies_live"]) <= 6  # the live set at the end
    assert member["key_frequencies_stable_since"] is not None


@pytest.mark.slow
def test_early_warning_stays_silent_when_nothing_generalizes(tmp_path):
    """Negative controls: no weight decay, and a training fraction below the threshold."""
    from grokscope import get_preset, train
    from grokscope.instruments.warning import (
        PEAK_THRESHOLD,
        SHUFFLE_Z_THRESHOLD,
        gated,
        gated_statistic,
    )

    config = get_preset("tiny").replace(seeds=(7, 7), wd=(0.0, 1.0), frac=(0.8, 0.2), patience=1_500)
    run = train(config, tmp_path)
    summary = run.summary()
    for member in summary["members"]:
        assert member["steps_to_generalize"] is None  # the controls really do not generalize
        assert member["early_warning_step"] is None
    assert all(m["early_warning_step"] is None for m in run.summary(warning_rule="shuffle")["members"])
    with run.metrics() as store:
        _, train_acc = store.series_tensor(names.TRAIN_ACC, 2)
        _, norms = store.vector_array(names.EMBED_NORMS, [0, 1])
        _, z = store.series_tensor(names.EMBED_PEAK_Z, 2)
    train_acc = train_acc.nan_to_num(nan=0.0)
    statistic = gated_statistic(train_acc, torch.tensor(norms, dtype=torch.float64))  # [2, S]
    # the no-decay member memorized, so the gate was open: its silence comes from the statistic staying below
    assert train_acc[0].max().item() >= 0.99 and (statistic[0] > 0).any()
    assert statistic[0].max().item() < PEAK_THRESHOLD
    assert 0 < gated(train_acc, z)[0].max().item() < SHUFFLE_Z_THRESHOLD  # likewise for the shuffle rule's z
    # show says how near each silent member came: the same maxima, read from the store by the summary
    shuffle = run.summary(warning_rule="shuffle")
    peak = run.summary(warning_rule="peak")
    assert peak["early_warning"] == {"rule": "peak", "threshold": PEAK_THRESHOLD}
    assert shuffle["early_warning"]["threshold"] == SHUFFLE_Z_THRESHOLD
    for e in range(2):
        assert peak["members"][e]["early_warning_statistic_max"] == pytest.approx(statistic[e].max().item(), rel=1e-12)
        assert shuffle["members"][e]["early_warning_statistic_max"] == pytest.approx(
            gated(train_acc, z)[e].max().item(), rel=1e-12)
    assert run.summary(warning_rule="legacy")["members"][0]["early_warning_statistic_max"] is None
    either = run.summary()  # the default: the union of the two, in units of their thresholds, still below 1
    assert either["early_warning"] == {"rule": "either", "threshold": 1.0}
    for e in range(2):
        assert either["members"][e]["early_warning_step"] is None
        assert either["members"][e]["early_warning_statistic_max"] == pytest.approx(max(
            statistic[e].max().item() / PEAK_THRESHOLD, gated(train_acc, z)[e].max().item() / SHUFFLE_Z_THRESHOLD), rel=1e-12)
