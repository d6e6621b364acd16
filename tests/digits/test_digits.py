"""The Omnigrok digits preset: config refusals, splits, packing, init scale, loss, the effect, store, report, CLI."""

from __future__ import annotations

import json
import re

import pytest
import torch
from typer.testing import CliRunner

from grokscope import cli
from grokscope import metric_names as names
from grokscope.digits import (
    DigitsConfig,
    get_preset,
    init_params,
    split_indices,
    train_digits,
    train_members,
)
from grokscope.digits.loss import mse_per_example
from grokscope.errors import ConfigError
from grokscope.store.metrics import MetricsStore


@pytest.fixture(autouse=True)
def one_thread():
    # The digits MLP's small batched matmuls ran ~20x slower with two threads on a shared 2-core CPU
    # (the quick-preset test: 345 s with 2 threads while another process trained, ~20 s with 1).
    torch.set_num_threads(1)

runner = CliRunner()


@pytest.mark.parametrize("changes, field", [
    ({"seeds": ()}, "seeds"), ({"seeds": (0, -1)}, "seeds"), ({"init_scale": (8.0, 1.0, 1.0)}, "init_scale"),
    ({"init_scale": 0.0}, "init_scale"), ({"weight_decay": -0.1}, "weight_decay"), ({"lr": 0.0}, "lr"),
    ({"batch_size": 2000}, "batch_size"), ({"n_train": 1797}, "n_train"), ({"max_steps": 0}, "max_steps"),
    ({"monitor_every": 7}, "monitor_every"), ({"loss": "l1"}, "loss"), ({"device": "tpu"}, "device"),
    ({"dtype": "int8"}, "dtype"), ({"scale_biases": 1}, "scale_biases"), ({"colour": 1}, "colour"),
])
def test_config_refusal_names_the_field(changes, field):
    with pytest.raises(ConfigError, match=rf"^{field}:"):
        DigitsConfig().replace(**changes)


def test_unknown_preset_is_refused():
    with pytest.raises(ConfigError, match="^preset:"):
        get_preset("mnist")


def test_split_sizes_disjoint_and_from_the_members_seed_only():
    train, test = split_indices(torch.tensor([3, 5, 9]), 1000)
    assert train.shape == (3, 1000) and test.shape == (3, 797)
    for e in range(3):
        both = torch.cat([train[e], test[e]])
        assert torch.equal(both.sort().values, torch.arange(1797))  # disjoint, and together every image
    alone_train, alone_test = split_indices(torch.tensor([5]), 1000)
    assert torch.equal(alone_train[0], train[1]) and torch.equal(alone_test[0], test[1])
    assert not torch.equal(train[0], train[1])


def test_packed_member_equals_the_same_seed_trained_alone():
    small = dict(d_hidden=16, max_steps=12, eval_every=4, checkpoint_every=4, monitor_every=None, expensive_every=None,
                 batch_size=100, dtype="float64")
    packed = train_members(DigitsConfig(seeds=(0, 7, 2), init_scale=(8.0, 3.0, 1.0), weight_decay=(0.1, 0.05, 0.0),
                                        lr=(1e-3, 2e-3, 1e-3), **small))
    alone = train_members(DigitsConfig(seeds=(7,), init_scale=3.0, weight_decay=0.05, lr=2e-3, **small))
    for name, t in alone.params.items():
        torch.testing.assert_close(packed.params[name][1:2].detach(), t.detach(), rtol=1e-10, atol=0)


def test_init_scale_multiplies_the_initial_norm():
    seeds = torch.tensor([4, 4])
    params = init_params(seeds, torch.tensor([8.0, 1.0]), d_hidden=32, dtype=torch.float64)
    norm = lambda e: torch.sqrt(sum(t[e].square().sum() for t in params.values()))  # noqa: E731
    assert float(norm(0) / norm(1)) == pytest.approx(8.0, rel=1e-12)
    weights_only = init_params(seeds, torch.tensor([8.0, 1.0]), d_hidden=32, scale_biases=False, dtype=torch.float64)
    assert torch.equal(weights_only["layers.0.b"][0], weights_only["layers.0.b"][1])
    torch.testing.assert_close(weights_only["layers.1.W"][0], 8 * weights_only["layers.1.W"][1], rtol=1e-12, atol=0)
    bound = 1 / 64**0.5  # nn.Linear's default: uniform in ±1/sqrt(fan_in)
    assert float(params["layers.0.W"][1].abs().max()) <= bound and float(params["layers.0.W"][1].abs().max()) > 0.95 * bound


def test_mse_is_the_mean_over_classes_against_one_hot():
    outputs = torch.tensor([[[0.0] * 10, [1.0] + [0.0] * 9]], dtype=torch.float64)  # [1, 2, 10]
    labels = torch.tensor([[3, 0]])
    torch.testing.assert_close(mse_per_example(outputs, labels), torch.tensor([[0.1, 0.0]], dtype=torch.float64))
    x = torch.randn(1, 5, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([[1, 2, 3, 4, 9]])
    expected = torch.nn.MSELoss()(x[0], torch.nn.functional.one_hot(y[0], 10).double())
    torch.testing.assert_close(mse_per_example(x, y).mean(), expected)


@pytest.mark.slow
def test_quick_preset_shows_delayed_generalization():
    # Measured (docs/digits.md): x8 members at step 1,500 train 0.81-0.94 / test 0.45-0.55 (seeds 0, 1, 3, 4, 5),
    # x1 test 0.98-0.99 from step 500; x8 test 0.86-0.92 at step 3,000.
    config = get_preset("omnigrok-digits-quick").replace(monitor_every=None, expensive_every=None)
    acc: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    from grokscope.digits.data import DigitsData
    from grokscope.digits.train import evaluate
    data = DigitsData.build(config)

    def record(step, model):
        values = evaluate(model, data, config.loss)
        acc[step] = (values[names.TRAIN_ACC], values[names.TEST_ACC])

    train_members(config, on_eval=record)
    big = torch.tensor(config.per_member("init_scale")) > 1
    train_early, test_early = acc[1500]
    assert float(train_early[big].mean()) >= 0.7
    assert float(test_early[~big].mean()) - float(test_early[big].mean()) >= 0.3
    assert float(train_early[big].mean()) - float(test_early[big].mean()) >= 0.2
    assert float(acc[500][1][~big].min()) >= 0.95
    test_late = acc[3000][1]
    assert float(test_late[big].mean()) >= 0.75 and float(test_late[big].mean()) >= float(test_early[big].mean()) + 0.2


@pytest.mark.slow
def test_run_writes_monitor_values_and_a_report_with_every_point(tmp_path):
    config = DigitsConfig(seeds=(0, 0), init_scale=(8.0, 1.0), d_hidden=16, max_steps=60, eval_every=20,
                          checkpoint_every=20, monitor_every=20, expensive_every=60)
    run_dir = train_digits(config, tmp_path)
    with MetricsStore(run_dir / "metrics.sqlite", readonly=True) as store:
        assert {names.TRAIN_LOSS, names.TEST_ACC, names.LLC, names.PREQUENTIAL_BITS, names.WEIGHT_NORM,
                names.EFFECTIVE_LR, names.EFFECTIVE_RANK} <= set(store.names())
        assert store.series(names.WEIGHT_NORM)[0] == [0, 20, 40, 60]
        assert store.series(names.EFFECTIVE_LR)[0] == [20, 40, 60]
        assert store.series(names.PREQUENTIAL_BITS)[0] == [0, 60]
        assert store.series(names.TEST_ACC)[0] == [0, 20, 40, 60]
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir())[-1] == "step_00000060.safetensors"
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'<script id="digits-data" type="application/json">(.*?)</script>', html, re.S).group(1))
    points = {p["metric"]: sum(len(t["values"]) for t in p["traces"]) for p in data["panels"]}
    assert points[names.TRAIN_ACC] == points[names.TEST_ACC] == 4 * 2  # evaluations x members
    assert points[names.WEIGHT_NORM] == 4 * 2 and points[names.EFFECTIVE_LR] == 3 * 2 and points[names.LLC] == 2 * 2
    assert "Plotly.newPlot" in html and "<script src=" not in html  # self-contained


@pytest.mark.parametrize("args, field", [
    (["--init-scale", "8,1,1"], "init_scale"), (["--preset", "mnist"], "preset"), (["--wd", "-1"], "weight_decay"),
    (["--seeds", "x"], "seeds"), (["--max-steps", "0"], "max_steps"),
])
def test_cli_refuses_bad_input_with_exit_2_and_writes_nothing(tmp_path, args, field):
    out = tmp_path / "runs"
    result = runner.invoke(cli.app, ["digits", "--preset", "omnigrok-digits-quick", *args, "--out", str(out)])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and f"{field}:" in result.output
    assert not out.exists()


def test_cli_dry_run_prints_the_config_and_writes_nothing(tmp_path, monkeypatch):
    called = []
    monkeypatch.setattr("grokscope.digits.train_digits", lambda *a, **k: called.append(a))
    out = tmp_path / "runs"
    result = runner.invoke(cli.app, ["digits", "--preset", "omnigrok-digits-quick", "--init-scale", "8,1,8,1",
                                     "--no-monitor", "--dry-run", "--out", str(out)])
    assert result.exit_code == 0, result.output
    config = json.loads(result.output)
    assert config["init_scale"] == [8.0, 1.0, 8.0, 1.0] and config["monitor_every"] is None
    assert not out.exists() and not called


def test_the_model_is_a_stacked_model_the_monitor_takes_unchanged():
    from grokscope.digits import DigitsMLP
    from grokscope.monitor.stacked import replicate, stack

    config = DigitsConfig(seeds=(0, 1), init_scale=(8.0, 1.0), d_hidden=8, dtype="float64")
    model = DigitsMLP.from_config(config)
    assert stack(model) is model
    x = torch.rand(2, 5, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    rows = model.outputs(replicate(model.parameters(), 3), x.repeat_interleave(3, dim=0))  # [6, 5, 10]
    torch.testing.assert_close(rows[::3], model(x).detach())
