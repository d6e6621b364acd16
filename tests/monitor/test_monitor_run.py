"""`grokscope monitor RUN` and monitor_run: members measured on their own training pairs (grouped by size, equal
to a lone member), rows written and replaced, flagged LLC estimates missing, refusals; and, on a grokking
ensemble, the LLC rising through memorization and peaking before test accuracy reaches 99%."""

import math
import sqlite3

import pytest
import torch
from conftest import tiny_config
from monitor_helpers import one_thread  # noqa: F401 (an autouse fixture)
from typer.testing import CliRunner

from grokscope import cli, get_preset, train
from grokscope import metric_names as names
from grokscope.dataset import RunData
from grokscope.monitor import (
    Monitor,
    MonitorSettings,
    SGLDSettings,
    TrainingData,
    calibrate_llc,
    linear_probe_fit,
    online_code_length,
    run_monitors,
)
from grokscope.monitor.registry import MEASURES
from grokscope.monitor.run_monitor import (
    MonitorOptions,
    MonitorReport,
    default_hook,
    llc_settings,
    member_groups,
    monitor_run,
    plan_checkpoints,
    readout_features,
)
from grokscope.store.run_dir import RunLock
from grokscope.training.loss import per_example_loss

runner = CliRunner()
SHORT_LLC = ["--llc-set", "burn_in=5", "--llc-set", "draws=10", "--llc-set", "chains=1"]


@pytest.fixture
def small_run(tmp_path):
    """Three members whose symmetric splits give 84, 85 and 84 training pairs (two groups); 20 steps, 5 checkpoints."""
    return train(tiny_config(seeds=(0, 1, 2), symmetric_split=True), tmp_path / "runs")


def rows(run, prefix="monitor/"):
    with sqlite3.connect(run.path / "metrics.sqlite") as conn:
        scalars = conn.execute("SELECT name, member, step, value FROM scalars WHERE name LIKE ? ORDER BY 1, 2, 3",
                               (prefix + "%",)).fetchall()
        vectors = conn.execute("SELECT name, member, step, idx, value FROM vectors WHERE name LIKE ? ORDER BY 1, 2, 3, 4",
                               (prefix + "%",)).fetchall()
    return scalars, vectors


def test_members_are_grouped_by_training_set_size_and_read_only_their_training_pairs(small_run):
    data = RunData.build(small_run.config, torch.device("cpu"))
    groups = member_groups(data)
    assert [members for members, _ in groups] == [[0, 2], [1]]
    for members, train_data in groups:
        for g, e in enumerate(members):
            expected = data.inputs[data.train_mask[e]]  # the member's training pairs, in table order: no held-out pair
            assert torch.equal(train_data.inputs[g], expected)
            assert torch.equal(train_data.labels[g], data.targets[data.train_mask[e]])


def test_members_are_measured_on_the_labels_they_trained_on():
    """Label noise: the monitor reads each member's noisy training labels, not the true answers."""
    data = RunData.build(tiny_config(seeds=(0, 1), label_noise=(0.0, 0.3)), torch.device("cpu"))
    (members, train_data), = member_groups(data)
    assert members == [0, 1]
    for e in members:
        assert torch.equal(train_data.labels[e], data.train_targets[e][data.train_mask[e]])
    assert not torch.equal(train_data.labels[1], data.targets[data.train_mask[1]])  # 30% of them are wrong


def test_the_linear_probe_reads_informative_features_and_fits_each_member_alone():
    """Features that carry the label (member 0) give a code far below uniform; a member's probe is the one it gets
    fit alone (the members share one Adam program)."""
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 5, (2, 400), generator=g)
    noise = torch.randn(2, 400, 8, generator=g, dtype=torch.float64)
    signal = torch.nn.functional.one_hot(labels, 8).double() * torch.tensor([4.0, 0.0]).double()[:, None, None]
    inputs = signal + noise  # the "model input" is already the feature: features = identity
    data = TrainingData(inputs, labels)
    fit = linear_probe_fit(lambda x: x, n_classes=5)
    code = online_code_length(data, fit, n_classes=5, order=torch.arange(400).expand(2, 400))
    assert code.bits[0] < 0.3 * code.uniform_bits  # the label is linearly readable from few examples
    assert code.bits[1] > 0.9 * code.uniform_bits  # pure noise: about the uniform code (a probe overfits a little)
    alone = online_code_length(TrainingData(inputs[1:], labels[1:]), fit, n_classes=5, order=torch.arange(400)[None])
    torch.testing.assert_close(alone.bits, code.bits[1:], rtol=1e-9, atol=0)


def test_run_monitors_feed_the_calibration_helper(small_run):
    groups = run_monitors(small_run, small_run.checkpoint_steps()[-1])
    assert [members for members, _ in groups] == [[0, 2], [1]]
    members, monitor = groups[0]
    base = SGLDSettings(burn_in=5, draws=10)
    table = calibrate_llc(monitor.stack, monitor.data, monitor.loss, epsilons=(1e-4, 1e-3), nbetas=(20.0,), base=base,
                          seeds=(0,)).table()
    assert [(row["epsilon"], row["member"]) for row in table] == [(1e-4, 0), (1e-4, 1), (1e-3, 0), (1e-3, 1)]


def test_a_grouped_member_measures_what_it_measures_alone(small_run):
    """monitor_run's values for member 2 (grouped with member 0) equal a one-member Monitor on member 2's training pairs."""
    llc, chains = llc_settings({"burn_in": 5, "draws": 10, "chains": 2})
    step = small_run.checkpoint_steps()[-1]
    report = monitor_run(small_run, MonitorOptions(measures=("llc", "effective_rank", "weight_norm", "route_ablation"),
                                                   steps=(step,), llc=llc, llc_chains=chains))
    assert report.groups == [[0, 2], [1]]
    model = small_run.model(step).members(slice(2, 3))
    data = small_run.member_data(2)
    x, y = data.inputs[data.train_mask[0]][None], data.targets[data.train_mask[0]][None]
    loss = lambda out, lab: per_example_loss(out, lab, loss_dtype=torch.float64)  # noqa: E731
    alone = Monitor(model, loss, x, y, features=readout_features(model, default_hook(model), None),
                    feature_groups={"a": [0], "b": [1]}, settings=MonitorSettings(llc=llc, llc_seeds=(0, 1)))
    expected = alone.measure(["llc", "effective_rank", "weight_norm", "route_ablation"], step).values
    assert set(expected) <= {name for m in ("llc", "effective_rank", "weight_norm", "route_ablation") for name in MEASURES[m].metrics}
    with small_run.metrics() as store:
        for name in (names.LLC, names.LLC_STD, names.LLC_LOSS_INIT, names.EFFECTIVE_RANK, names.WEIGHT_NORM):
            _, by_member = store.series(name)
            value = math.nan if by_member[2][0] is None else by_member[2][0]  # 20 steps: not a minimum, flagged
            assert value == pytest.approx(expected[name].item(), rel=1e-9, nan_ok=True), name
        _, ablation = store.vector_series(names.ROUTE_ABLATION, 2)
    assert ablation[0] == pytest.approx(expected[names.ROUTE_ABLATION][0].tolist(), rel=1e-9)


def test_cli_writes_the_metrics_and_a_second_pass_replaces_them(small_run):
    path = str(small_run.path)
    steps = small_run.checkpoint_steps()
    first = runner.invoke(cli.app, ["monitor", path, "--measures", "llc,weight_norm,effective_lr,route_ablation",
                                    "--checkpoints", "all", *SHORT_LLC])
    assert first.exit_code == 0, first.output
    assert first.stdout.strip().splitlines()[-1] == path
    assert "LLC: " in first.stdout and f"of {3 * len(steps)} estimates flagged" in first.stdout
    with small_run.metrics() as store:  # the value table prints values (the members' median), costs apart
        _, norms = store.series(names.WEIGHT_NORM)
    last = sorted(v[-1] for v in norms.values())
    assert f"{last[1]:.3g} [{last[0]:.3g}–{last[2]:.3g}]" in first.stdout
    assert "values per checkpoint" in first.stdout and "cost: wall-clock seconds" in first.stdout
    assert "draws these values in its Monitor panel" in first.stdout
    scalars, vectors = rows(small_run)
    written = {(name, member, step) for name, member, step, _ in scalars}
    assert len(written) == len(scalars)
    for name in (names.LLC, names.LLC_EPSILON, names.LLC_NBETA, names.LLC_GAMMA, names.LLC_BATCH_SIZE, names.LLC_DRAWS,
                 names.WEIGHT_NORM):
        assert {(m, s) for n, m, s in written if n == name} == {(m, s) for m in range(3) for s in steps}, name
    assert {s for n, _, s in written if n == names.EFFECTIVE_LR} == set(steps[1:])  # the first has no predecessor
    assert {row[0] for row in vectors} == {names.ROUTE_ABLATION} and len(vectors) == 3 * len(steps) * 2
    settings = {n: v for n, m, s, v in scalars if n in (names.LLC_EPSILON, names.LLC_DRAWS) and m == 0 and s == steps[-1]}
    assert settings == {names.LLC_EPSILON: 1e-3, names.LLC_DRAWS: 10}

    again = runner.invoke(cli.app, ["monitor", path, "--measures", "llc,weight_norm,effective_lr,route_ablation",
                                    "--checkpoints", "all", *SHORT_LLC])
    assert again.exit_code == 0, again.output
    assert rows(small_run) == (scalars, vectors)  # the same rows again, none added

    sparse = runner.invoke(cli.app, ["monitor", path, "--measures", "weight_norm", "--every", "2", "--json"])
    assert sparse.exit_code == 0, sparse.output
    kept = [s for s in steps[::2]] + ([steps[-1]] if (len(steps) - 1) % 2 else [])
    after, _ = rows(small_run, names.WEIGHT_NORM)
    assert sorted({s for _, _, s, _ in after}) == kept  # replaced: the rows of steps not measured now are gone
    before_llc = [r for r in scalars if r[0] == names.LLC]
    assert [r for r in rows(small_run)[0] if r[0] == names.LLC] == before_llc  # other measures untouched


def test_flagged_llc_estimates_are_written_missing_and_counted(small_run):
    """ε = 10: every chain blows up. No value is written, LLC_ACCEPTED is 0, the output counts each estimate."""
    step = str(small_run.checkpoint_steps()[-1])
    result = runner.invoke(cli.app, ["monitor", str(small_run.path), "--measures", "llc", "--checkpoints", step,
                                     "--llc-set", "epsilon=10", *SHORT_LLC])
    assert result.exit_code == 0, result.output
    assert "LLC: 3 of 3 estimates flagged and written as missing (member 0 at step" in result.stdout
    assert "blew up" in result.stdout
    scalars, _ = rows(small_run)
    assert [v for n, _, _, v in scalars if n == names.LLC] == [None, None, None]
    assert [v for n, _, _, v in scalars if n == names.LLC_ACCEPTED] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("args, message", [
    (["--measures", "llc,nope"], "error: measures: unknown 'nope'; choose from llc, prequential,"),
    (["--measures", "vrex"], "error: vrex: needs environments "),
    (["--measures", "effective_rank", "--hook", "blocks.9.mlp.hook_post"], "error: hook: no activation"),
    (["--checkpoints", "7"], "error: checkpoints: no weights checkpoint at step 7; the run has them at"),
    (["--checkpoints", "all", "--every", "2"], "error: checkpoints: cannot be combined"),
    (["--every", "0"], "error: every: must be a positive integer"),
    (["--llc-set", "eps=1e-3"], "error: llc-set: unknown field 'eps'; choose from epsilon,"),
    (["--device", "tpu"], "error: device: must be one of cpu, cuda, auto"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(small_run, args, message):
    before = small_run.path.joinpath("metrics.sqlite").read_bytes()
    result = runner.invoke(cli.app, ["monitor", str(small_run.path), *args])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert small_run.path.joinpath("metrics.sqlite").read_bytes() == before


def test_a_run_without_checkpoints_is_refused(small_run):
    for path in small_run.path.joinpath("checkpoints").iterdir():
        path.unlink()
    result = runner.invoke(cli.app, ["monitor", str(small_run.path)])
    assert result.exit_code == 2 and result.stderr.startswith("error: run: ") and "no weights checkpoint" in result.stderr


def test_a_run_being_written_is_refused_with_exit_1(small_run):
    with RunLock(small_run.path):  # what a trainer holds while it trains
        result = runner.invoke(cli.app, ["monitor", str(small_run.path), "--measures", "weight_norm"])
    assert result.exit_code == 1 and "is being written by another process" in result.stderr
    assert rows(small_run) == ([], [])


def test_cli_options_reach_the_monitor_options(monkeypatch, small_run):
    received = {}

    def fake(self, options, progress=None):
        received["o"] = options
        return MonitorReport(str(self.path), {}, {}, [], 0, 0, 0, [])

    monkeypatch.setattr(type(small_run), "monitor", fake)
    result = runner.invoke(cli.app, ["monitor", str(small_run.path), "--measures", "llc,weight_norm", "--every", "2",
                                     "--expensive-every", "3", "--llc-set", "epsilon=3e-4", "--llc-set", "chains=1",
                                     "--llc-set", "batch_size=null", "--hook", "blocks.0.hook_resid_post"])
    assert result.exit_code == 0, result.output
    llc, _ = llc_settings({"epsilon": 3e-4, "batch_size": None})
    assert received["o"] == MonitorOptions(measures=("llc", "weight_norm"), every=2, expensive_every=3, llc=llc,
                                           llc_chains=1, hook="blocks.0.hook_resid_post")


def test_the_default_cadence_puts_the_expensive_measures_on_about_eight_checkpoints():
    steps = [0, 1, 2, 3, 4, 6, 9, 13, 19, 27, 39, 56, 80, 116, 167, 241, 347, 501, 722, 1041, 1125]
    plan = plan_checkpoints(steps, MonitorOptions())
    assert plan["llc"] == plan["prequential"] == [0, 3, 9, 27, 80, 241, 722, 1125]
    assert plan["weight_norm"] == steps and plan["effective_lr"] == steps[1:]


@pytest.mark.slow
def test_llc_rises_through_memorization_and_peaks_before_grokking_in_most_members(tmp_path):
    """The tiny preset, four seeds, the LLC at the default SGLD settings and cadence (~8 checkpoints), one chain per
    member (the default is two: the shape is a property of each chain, and one halves the cost). The reference
    (grokking.md, LLC) measured ~4 before memorization, a plateau after it, a fall through grokking. Asserted for
    most members that grokked: the peak is ≥ 5× the value at initialization, comes at a checkpoint before test
    accuracy first reaches 99%, and the last checkpoint's value is below 60% of the peak."""
    run = train(get_preset("tiny").replace(seeds=(1, 2, 3, 5)), tmp_path / "runs")
    report = monitor_run(run, MonitorOptions(measures=("llc",), llc_chains=1))
    assert len(report.plan["llc"]) <= 9
    grokked = {m["member"]: m["steps_to_generalize"] for m in run.summary()["members"] if m["steps_to_generalize"]}
    assert len(grokked) >= 3
    with run.metrics() as store:
        steps, llc = store.series_tensor(names.LLC, run.config.n_members)
    passed = []
    for e, t_g in grokked.items():
        values = llc[e]
        measured = ~torch.isnan(values)
        peak = int(torch.where(measured, values, torch.tensor(-math.inf, dtype=values.dtype)).argmax())
        rises = bool(values[peak] >= 5 * values[0])  # step 0 is never flagged here: the plan always measures it
        before = steps[peak] < t_g
        falls = bool(values[-1] <= 0.6 * values[peak])
        passed.append(rises and before and falls)
    assert sum(passed) >= math.ceil(0.75 * len(grokked)), (steps, llc, grokked)
