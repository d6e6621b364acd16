import json
import sqlite3

import pytest
import torch
from conftest import tiny_config

from grokscope import train
from grokscope.errors import CheckpointError, RunLockedError
from grokscope.store.atomic import write_text_atomic
from grokscope.store.checkpoints import (
    load_resume,
    load_weights,
    save_resume,
    save_weights,
    weight_steps,
)
from grokscope.store.metrics import MetricsStore
from grokscope.store.run_dir import RunLock
from grokscope.training.schedule import checkpoint_steps


def test_weights_round_trip_and_ignore_temporaries(tmp_path):
    params = {"embed.W_E": torch.randn(2, 5, 3), "unembed.W_U": torch.randn(2, 3, 5)}
    path = save_weights(tmp_path, 7, params)
    (tmp_path / "checkpoints" / ".tmp-abc").write_bytes(b"half")  # a crashed writer's leftover
    step, loaded = load_weights(path)
    assert step == 7 and torch.equal(loaded["embed.W_E"], params["embed.W_E"])
    assert weight_steps(tmp_path) == [7]


def test_corrupt_checkpoint_is_a_checkpoint_error(tmp_path):
    (tmp_path / "resume.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="resume.safetensors"):
        load_resume(tmp_path)


def test_resume_format_checked(tmp_path):
    save_weights(tmp_path, 0, {"w": torch.zeros(1)})
    (tmp_path / "checkpoints" / "step_00000000.safetensors").rename(tmp_path / "resume.safetensors")
    with pytest.raises(CheckpointError, match="format"):
        load_resume(tmp_path)
    save_resume(tmp_path, {"param/w": torch.ones(2)}, {"step": 3})
    tensors, state = load_resume(tmp_path)
    assert state == {"step": 3} and torch.equal(tensors["param/w"], torch.ones(2))


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "status.json"
    write_text_atomic(path, json.dumps({"a": 1}))
    write_text_atomic(path, json.dumps({"a": 2}))
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_metrics_long_format_wal_and_concurrent_reader(tmp_path):
    store = MetricsStore(tmp_path / "m.sqlite")
    reader = MetricsStore(tmp_path / "m.sqlite", readonly=True)
    store.write_evaluation(0, {"train/loss": torch.tensor([1.0, 2.0]), "test/acc": torch.tensor([0.1, float("nan")])})
    store.write_evaluation(0, {"train/loss": torch.tensor([1.5, 2.0])})  # a resumed run rewrites its rows
    store.write_evaluation(0, {}, {"spectrum": torch.tensor([[1.0, 2.0]])})
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    steps, values = reader.series("train/loss")
    assert steps == [0] and values == {0: [1.5], 1: [2.0]}
    assert reader.series("test/acc")[1][1] == [None]
    assert reader.rows(["train/loss"]) == [(0, 0, "train/loss", 1.5), (1, 0, "train/loss", 2.0)]
    with pytest.raises(sqlite3.OperationalError):
        reader.conn.execute("INSERT INTO meta VALUES ('x', 'y')")


def test_run_lock_excludes_a_second_writer(tmp_path):
    with RunLock(tmp_path):
        with pytest.raises(RunLockedError, match="another process"):
            with RunLock(tmp_path):
                pass
    with RunLock(tmp_path):  # released
        pass


def test_checkpoint_schedule_dense_early():
    steps = sorted(checkpoint_steps(10_000, 20))
    assert steps[0] == 0 and steps[-1] == 10_000 and len(steps) <= 22
    early = [s for s in steps if s <= 1_000]
    assert len(early) > len(steps) / 2


def test_checkpoint_every_adds_evenly_spaced_checkpoints_that_the_trainer_writes(tmp_path):
    assert {0, 250, 500, 750, 1_000} <= checkpoint_steps(1_000, 5, 250)
    assert checkpoint_steps(1_000, 5, 0) == checkpoint_steps(1_000, 5)
    run = train(tiny_config(max_steps=20, checkpoints=1, checkpoint_every=5), tmp_path)
    assert run.checkpoint_steps() == [0, 5, 10, 15, 20]


def test_eval_schedule_sees_the_first_steps():
    from grokscope.training.schedule import eval_steps

    steps = eval_steps(5_000, eval_every=25, log_points=100)
    assert {0, 25, 5_000} <= steps and {1, 2, 3, 5, 10} <= steps
    assert eval_steps(20, eval_every=5, log_points=0) == {0, 5, 10, 15, 20}


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_get_the_mode_of_any_new_file(tmp_path, umask, mode):
    """mkstemp creates its file 0600; the renamed result must follow the user's umask instead."""
    import os
    import stat

    import torch

    from grokscope.store.atomic import write_text_atomic
    from grokscope.store.checkpoints import save_weights

    before = os.umask(umask)
    try:
        write_text_atomic(tmp_path / "report.html", "<html></html>")
        path = save_weights(tmp_path, 0, {"embed.W_E": torch.zeros(1, 2, 2)})
    finally:
        os.umask(before)
    assert stat.S_IMODE((tmp_path / "report.html").stat().st_mode) == mode
    assert stat.S_IMODE(path.stat().st_mode) == mode
