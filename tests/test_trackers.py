"""TensorBoard and Weights & Biases, one tracker run per member: live (`train --log-to`) and after the fact
(`export --to`), read back from the files the real packages write (W&B offline)."""

from __future__ import annotations

import json
import math
import struct

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from typer.testing import CliRunner
from wandb.proto import wandb_internal_pb2

from grokscope import get_preset, train
from grokscope import metric_names as names
from grokscope.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def wandb_offline(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory):
    """Two tiny members, 60 steps, logged to TensorBoard while training."""
    return train(get_preset("tiny").replace(seeds=(7, 3), max_steps=60, checkpoints=2, device="cpu"),
                 tmp_path_factory.mktemp("trackers"), log_to=("tensorboard",))


def _scalars(folder) -> dict[str, dict[int, float]]:
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: {e.step: e.value for e in events.Scalars(tag)} for tag in events.Tags()["scalars"]}


def _rows(run) -> dict[tuple[int, str], dict[int, float]]:
    """(member, name) -> step -> value of every finite scalar row."""
    found: dict[tuple[int, str], dict[int, float]] = {}
    with run.metrics() as store:
        for member, step, name, value in store.rows():
            if value is not None and math.isfinite(value):
                found.setdefault((member, name), {})[step] = value
    return found


def test_training_logs_every_evaluation_to_tensorboard_one_folder_per_member(logged_run):
    rows = _rows(logged_run)
    for e in range(2):
        logged = _scalars(logged_run.path / "tensorboard" / f"member_{e}")
        for name in (names.TRAIN_LOSS, names.TEST_ACC, names.WEIGHT_NORM_SQ, names.GINI_EMBED):
            assert logged[name].keys() == rows[(e, name)].keys(), name  # every evaluation step, no other
            assert all(math.isclose(v, rows[(e, name)][s], rel_tol=1e-6, abs_tol=1e-7) for s, v in logged[name].items())


def test_export_replays_every_finite_row_into_tensorboard(logged_run, tmp_path):
    result = runner.invoke(app, ["export", str(logged_run.path), "--to", "tensorboard", "--out", str(tmp_path / "tb")])
    assert result.exit_code == 0, result.output
    rows = _rows(logged_run)
    assert f"{sum(len(v) for v in rows.values())} values, tensorboard" in result.stdout
    for e in range(2):
        logged = _scalars(tmp_path / "tb" / f"member_{e}")
        expected = {name: steps for (member, name), steps in rows.items() if member == e}
        assert logged.keys() == expected.keys()  # the retrospective measures too
        for name, steps in expected.items():
            assert logged[name].keys() == steps.keys(), name


def _wandb_records(path) -> list:
    """The records of a W&B run file: a LevelDB-style log (header ':W&B', 32 KiB blocks of chunks, each chunk's header
    CRC32, length, type: 1 full, 2 first, 3 middle, 4 last) of wandb_internal_pb2.Record messages."""
    data = path.read_bytes()
    assert data[:4] == b":W&B"
    chunks, pending, pos, block = [], b"", 7, 32768
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        body, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind == 1:
            chunks.append(body)
        elif kind in (2, 3):
            pending = (pending if kind == 3 else b"") + body
        elif kind == 4:
            chunks.append(pending + body)
    records = []
    for raw in chunks:
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        records.append(record)
    return records


def test_export_makes_one_wandb_run_per_member_grouped_by_the_run(logged_run, tmp_path):
    result = runner.invoke(app, ["export", str(logged_run.path), "--to", "wandb", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 2
    rows = _rows(logged_run)
    seen = set()
    for path in files:
        records = _wandb_records(path)
        (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
        config = {item.key: json.loads(item.value_json) for item in run.config.update}
        e = config["member"]
        seen.add(e)
        assert run.run_group == logged_run.path.name and run.display_name == f"{logged_run.path.name}/member{e}"
        assert config["seed"] == logged_run.config.seeds[e] and config["wd"] == 1.0
        history = [r.history for r in records if r.WhichOneof("record_type") == "history"]
        steps = {s for (member, _), values in rows.items() if member == e for s in values}
        assert len(history) == len(steps)  # one history row per step with any value
        last = {item.key or ".".join(item.nested_key): json.loads(item.value_json) for item in history[-1].item}
        final = max(rows[(e, names.TEST_ACC)])
        assert history[-1].step.num == max(steps) == final
        assert last[names.TEST_ACC] == pytest.approx(rows[(e, names.TEST_ACC)][final], rel=1e-12)
    assert seen == {0, 1}


def test_training_logs_every_evaluation_to_one_wandb_run_per_member(tmp_path):
    run = train(get_preset("tiny").replace(seeds=(7, 3), max_steps=30, checkpoints=2, device="cpu"), tmp_path,
                log_to=("wandb",))
    rows = _rows(run)
    files = sorted((run.path / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(files) == 2
    for path in files:
        records = _wandb_records(path)
        (info,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
        e = json.loads({item.key: item.value_json for item in info.config.update}["member"])
        history = [r.history for r in records if r.WhichOneof("record_type") == "history"]
        assert [h.step.num for h in history] == sorted(rows[(e, names.TRAIN_LOSS)])  # every evaluation, in order


def test_a_sweep_exports_each_pack_into_its_own_folder(tmp_path):
    spec = tmp_path / "two.toml"
    spec.write_text('name = "two"\npreset = "tiny"\n[base]\nmax_steps = 10\neval_every = 5\neval_log_points = 0\n'
                    'checkpoints = 1\ninstruments = false\n[grid]\np = [13, 17]\nseed = [0]\n')
    assert runner.invoke(app, ["sweep", str(spec), "--out", str(tmp_path)]).exit_code == 0
    result = runner.invoke(app, ["export", str(tmp_path / "two"), "--to", "tensorboard", "--out", str(tmp_path / "tb")])
    assert result.exit_code == 0, result.output
    packs = sorted(p.name for p in (tmp_path / "tb").iterdir())
    assert len(packs) == 2 and all((tmp_path / "tb" / p / "member_0").is_dir() for p in packs)
    assert all(names.TEST_ACC in _scalars(tmp_path / "tb" / p / "member_0") for p in packs)


@pytest.mark.parametrize("args", [["train", "--log-to", "mlflow"], ["export", "RUN", "--to", "mlflow"],
                                  ["export", "RUN", "--to", "transformer-lens"]])
def test_bad_tracker_input_is_one_line_and_writes_nothing(logged_run, tmp_path, args):
    args = [str(logged_run.path) if a == "RUN" else a for a in args]
    result = runner.invoke(app, [*args, *(["--out", str(tmp_path / "runs")] if args[0] == "train" else [])])
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert ("log-to:" if args[0] == "train" else "to:" if "mlflow" in args else "out:") in result.output
    assert list(tmp_path.iterdir()) == []
