import pytest
import torch
from conftest import tiny_config

from grokscope import load, train
from grokscope import metric_names as names
from grokscope.dataset import RunData
from grokscope.training.sampler import BatchSampler


def _final_params(run):
    return run.model().params


def test_packed_member_trains_like_a_lone_run(tmp_path):
    """Member e of an E=3 ensemble with its own lr, wd, fraction and seed ends where a lone run of it ends."""
    config = tiny_config(seeds=(3, 4, 5), lr=(1e-3, 3e-3, 1e-2), wd=(1.0, 0.5, 0.0), frac=(0.3, 0.5, 0.7), max_steps=15)
    packed = train(config, tmp_path / "packed")
    packed_params = _final_params(packed)
    for e in range(3):
        lone = train(config.replace(seeds=(config.seeds[e],), lr=config.per_member("lr")[e], wd=config.per_member("wd")[e], frac=config.per_member("frac")[e]),
                     tmp_path / f"lone{e}")
        for name, tensor in _final_params(lone).items():
            torch.testing.assert_close(packed_params[name][e : e + 1], tensor, rtol=1e-10, atol=1e-12)
    assert not torch.allclose(packed_params["embed.W_E"][0], packed_params["embed.W_E"][1])


def test_packed_member_trains_like_a_lone_run_minibatch(tmp_path):
    config = tiny_config(seeds=(1, 2), frac=(0.4, 0.6), batch_size=16, max_steps=12)
    packed = _final_params(train(config, tmp_path / "packed"))
    lone = _final_params(train(config.replace(seeds=(2,), frac=0.6), tmp_path / "lone"))
    for name, tensor in lone.items():
        torch.testing.assert_close(packed[name][1:2], tensor, rtol=1e-10, atol=1e-12)


def test_minibatches_cover_each_epoch_once():
    config = tiny_config(seeds=(0, 1), frac=(0.5, 0.3), batch_size=20)
    data = RunData.build(config, torch.device("cpu"))
    sampler = BatchSampler(data, config.seeds, config.batch_size)
    n_train = data.n_train.tolist()
    for e in range(2):
        spe = int(sampler.steps_per_epoch[e])
        seen = []
        for step in range(spe):
            rows, weights = sampler.batch_at(step)
            seen += rows[e][weights[e] > 0].tolist()
        assert sorted(seen) == sorted(torch.nonzero(data.train_mask[e]).flatten().tolist())
        assert len(seen) == n_train[e]
    first, _ = sampler.batch_at(0)
    next_epoch, _ = sampler.batch_at(int(sampler.steps_per_epoch[0]))
    assert not torch.equal(first[0], next_epoch[0])  # reshuffled every epoch


def test_metrics_and_checkpoints_written(tmp_path):
    config = tiny_config(seeds=(0, 1), max_steps=20, eval_every=5)
    run = train(config, tmp_path)
    store = run.metrics()
    steps, by_member = store.series(names.TEST_ACC)
    assert set(by_member) == {0, 1}
    assert set(steps) == {0, 5, 10, 15, 20} | set(run.checkpoint_steps())  # every checkpoint is evaluated too
    assert names.MIRROR_ACC in store.names()  # x+y is commutative
    assert store.schema_version() == 1
    store.close()
    assert run.checkpoint_steps()[0] == 0 and run.checkpoint_steps()[-1] == 20
    assert run.status()["state"] == "finished"
    reloaded = load(run.path)
    assert reloaded.config == config and reloaded.provenance["torch_version"] == torch.__version__


def test_diverged_member_is_frozen_and_others_carry_on(tmp_path):
    config = tiny_config(seeds=(0, 1), lr=(1e-3, 1e30), wd=0.0, max_steps=30, eval_every=5, loss_dtype="float32",
                         param_dtype="float32")
    run = train(config, tmp_path / "pack")
    summary = run.summary()
    assert summary["members"][0]["diverged"] is False and summary["members"][0]["diverged_at"] is None
    assert summary["members"][1]["diverged"] is True
    with run.metrics() as store:
        steps, flags = store.series(names.DIVERGED)
    assert summary["members"][1]["diverged_at"] == next(s for s, v in zip(steps, flags[1]) if v)
    from typer.testing import CliRunner

    from grokscope.cli import app

    table = CliRunner().invoke(app, ["show", str(run.path)], terminal_width=200).stdout
    assert "diverged at" in table  # a person sees it, not only show --json
    (row,) = [line for line in table.splitlines() if line.startswith("│ 1 ")]
    assert row.rstrip(" │").endswith(str(summary["members"][1]["diverged_at"]))
    assert run.status()["step"] == 30
    lone = train(config.replace(seeds=(0,), lr=1e-3), tmp_path / "lone")
    torch.testing.assert_close(run.model().params["embed.W_E"][:1], lone.model().params["embed.W_E"])


@pytest.mark.slow
def test_stops_after_generalization_holds_through_patience(tmp_path):
    from grokscope import get_preset

    config = get_preset("tiny").replace(seeds=(3, 7), patience=100, eval_log_points=0, instruments=False)
    run = train(config, tmp_path)
    assert run.status()["stop_reason"] == "generalized"
    with run.metrics() as store:
        steps, acc = store.series(names.TEST_ACC)
    held = [all(a[i] >= 0.99 for a in acc.values()) for i in range(len(steps))]
    streak_start = steps[max(i for i, h in enumerate(held) if not h) + 1]
    assert all(held[steps.index(streak_start):])
    assert steps[-1] == streak_start + 100  # stopped at the first evaluation past the patience window


class _Interrupt(Exception):
    pass


def test_divergence_survives_an_interrupted_resume(tmp_path):
    from grokscope import resume

    config = tiny_config(seeds=(0, 1), lr=(1e-3, 1e30), wd=0.0, max_steps=30, eval_every=5, loss_dtype="float32",
                         param_dtype="float32")
    whole = train(config, tmp_path / "whole").summary()

    def interrupt(step):
        if step == 7:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        train(config, tmp_path / "cut", after_step=interrupt)
    run_dir = next((tmp_path / "cut").iterdir())
    resumed = resume(run_dir).summary()
    assert [m["diverged"] for m in resumed["members"]] == [m["diverged"] for m in whole["members"]] == [False, True]
