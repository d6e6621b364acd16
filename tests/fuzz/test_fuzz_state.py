"""State read back is validated: corrupt databases, checkpoints, configs and status files of each kind, and every
command that reads them (issue 18, sections 2, 3 and 5).

For each corruption of a copy of a real run, each command either works or refuses: exit 1 or 2, one line on
standard error, no traceback, and the run directory byte for byte as it was (no file written, replaced or added:
no -wal or -shm either); a reader (show, report to another path, analyze) leaves it so even when it works. The commands a corruption concerns must refuse: a resume never trains on a damaged
store or a crafted state.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import torch
from conftest import invoke, tiny_config
from safetensors import safe_open
from safetensors.torch import save_file

from grokscope import train
from grokscope.store.checkpoints import checkpoint_path

STOP_AT = 12


class Interrupted(Exception):
    pass


def _stop(step: int) -> None:
    if step == STOP_AT:
        raise Interrupted


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory) -> Path:
    """Two tiny members interrupted at step 12 of 20: a resume checkpoint at step 10, weights checkpoints, a store."""
    out = tmp_path_factory.mktemp("stopped")
    with pytest.raises(Interrupted):
        train(tiny_config(seeds=(0, 1), max_steps=20, resume_every=5), out, after_step=_stop)
    return next(out.iterdir())


def _rewrite_resume(run: Path, change) -> None:
    path = run / "resume.safetensors"
    with safe_open(str(path), framework="pt") as handle:
        metadata = dict(handle.metadata())
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    change(tensors, metadata)
    save_file(tensors, str(path), metadata=metadata)


def _state(**fields):
    def change(tensors, metadata):
        state = json.loads(metadata["state"])
        metadata["state"] = json.dumps({**state, **fields})
    return lambda run: _rewrite_resume(run, change)


def _tensor(name, value):
    def change(tensors, metadata):
        if value is None:
            del tensors[name]
        else:
            tensors[name] = value(tensors.get(name))
    return lambda run: _rewrite_resume(run, change)


def _sql(*statements):
    def corrupt(run):
        with sqlite3.connect(run / "metrics.sqlite") as conn:
            for statement in statements:
                conn.execute(statement)
        conn.close()
    return corrupt


def _truncate(name, size):
    def corrupt(run):
        path = run / name
        path.write_bytes(path.read_bytes()[:size])
    return corrupt


def _garbage(name):
    return lambda run: (run / name).write_bytes(bytes(range(256)) * 40)


def _last_weights(run: Path) -> Path:
    return sorted((run / "checkpoints").glob("step_*.safetensors"))[-1]


def _weights(change):
    def corrupt(run):
        path = _last_weights(run)
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata())
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        change(tensors, metadata)
        save_file(tensors, str(path), metadata=metadata)
    return corrupt


def _json_file(name, text):
    return lambda run: (run / name).write_text(text)


def _config(**fields):
    def corrupt(run):
        document = json.loads((run / "config.json").read_text())
        document["config"] |= fields
        (run / "config.json").write_text(json.dumps(document))
    return corrupt


W_E = "embed.W_E"
WRITERS = {"resume", "monitor"}  # the commands that add to a run when they succeed
# corruption -> (how, the commands that must refuse it)
CORRUPTIONS = {
    "metrics truncated": (_truncate("metrics.sqlite", 3000), {"resume", "show", "report", "monitor"}),
    "metrics garbage": (_garbage("metrics.sqlite"), {"resume", "show", "report", "monitor"}),
    "metrics text file": (_json_file("metrics.sqlite", "hello"), {"resume", "show", "report", "monitor"}),
    "metrics without tables": (_sql("DROP TABLE scalars", "DROP TABLE vectors", "DROP TABLE meta"),
                               {"resume", "show", "report", "monitor"}),
    "metrics without scalars": (_sql("DROP TABLE scalars"), {"resume", "show", "report", "monitor"}),
    "metrics of schema 99": (_sql("UPDATE meta SET value = '99' WHERE key = 'schema_version'"),
                             {"resume", "show", "report", "monitor"}),
    "resume truncated": (_truncate("resume.safetensors", 500), {"resume"}),
    "resume garbage": (_garbage("resume.safetensors"), {"resume"}),
    "resume tensor of another shape": (_tensor(f"param/{W_E}", lambda t: torch.zeros(2, 3, 3, dtype=t.dtype)), {"resume"}),
    "resume tensor of another dtype": (_tensor(f"param/{W_E}", lambda t: t.float()), {"resume"}),
    "resume tensor missing": (_tensor(f"exp_avg/{W_E}", None), {"resume"}),
    "resume tensor unexpected": (_tensor("param/extra", lambda t: torch.zeros(2)), {"resume"}),
    "resume step -100": (_state(step=-100), {"resume"}),
    "resume step past the budget": (_state(step=10**9), {"resume"}),
    "resume step as text": (_state(step="10"), {"resume"}),
    "resume step true": (_state(step=True), {"resume"}),
    "resume diverged_at too short": (_state(diverged_at=[None]), {"resume"}),
    "resume diverged_at of text": (_state(diverged_at=["x", None]), {"resume"}),
    "resume diverged_at after the step": (_state(diverged_at=[None, 500]), {"resume"}),
    "resume optimizer_steps past the step": (_state(optimizer_steps=11), {"resume"}),
    "resume all_generalized_at negative": (_state(all_generalized_at=-3), {"resume"}),
    "resume unknown state field": (_state(extra=1), {"resume"}),
    "resume state not JSON": (lambda run: _rewrite_resume(run, lambda t, m: m.update(state="{not json")), {"resume"}),
    "resume state a list": (lambda run: _rewrite_resume(run, lambda t, m: m.update(state="[1, 2]")), {"resume"}),
    "resume of another format": (lambda run: _rewrite_resume(run, lambda t, m: m.update(format="x")), {"resume"}),
    "weights truncated": (lambda run: _last_weights(run).write_bytes(_last_weights(run).read_bytes()[:200]),
                          {"analyze", "report"}),
    "weights of another shape": (_weights(lambda t, m: t.update({W_E: torch.zeros(2, 4, 4, dtype=torch.float64)})),
                                 {"analyze", "report"}),
    "weights step text": (_weights(lambda t, m: m.update(step="abc")), {"analyze", "report"}),
    "config garbage": (_json_file("config.json", "{nope"), {"resume", "show", "report", "analyze", "monitor"}),
    "config a list": (_json_file("config.json", "[1, 2]"), {"resume", "show", "report", "analyze", "monitor"}),
    "config missing": (lambda run: (run / "config.json").unlink(), {"resume", "show", "report", "analyze", "monitor"}),
    "config unknown field": (_config(d_hidden=3), {"resume", "show", "report", "analyze", "monitor"}),
    "config invalid value": (_config(frac=2.0), {"resume", "show", "report", "analyze", "monitor"}),
    "config other shape": (_config(d_model=32), {"resume", "analyze", "report"}),
    # status.json is the writer's account of itself: a resume rewrites it, the readers must not trip on it
    "status garbage": (_json_file("status.json", "{nope"), set()),
    "status a list": (_json_file("status.json", "[]"), set()),
    "config not UTF-8": (lambda run: (run / "config.json").write_bytes(b"\xff\xfe{"),
                         {"resume", "show", "report", "analyze", "monitor"}),
}


def _commands(run: Path, report_out: Path) -> dict[str, list[str]]:
    return {"resume": ["train", "--resume", str(run)], "show": ["show", str(run)],
            "report": ["report", str(run), "--out", str(report_out)], "analyze": ["analyze", str(run)],
            "monitor": ["monitor", str(run), "--measures", "weight_norm"]}


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_a_corrupt_run_is_refused_in_one_line_and_left_as_it_was(stopped_run, tmp_path, corruption):
    run = tmp_path / "run"
    shutil.copytree(stopped_run, run)
    corrupt, must_refuse = CORRUPTIONS[corruption]
    corrupt(run)
    before = _snapshot(run)
    for name, args in _commands(run, tmp_path / "report.html").items():
        code, stdout, stderr = invoke(args)
        assert "Traceback" not in stdout + stderr, (corruption, name, stderr[-800:])
        if name in must_refuse:
            assert code in (1, 2), (corruption, name, code, stderr[-400:])
        if code != 0:
            lines = stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), (corruption, name, lines)
            assert _snapshot(run) == before, (corruption, name)
        if name not in WRITERS:  # the readers leave the run as they found it, -wal and -shm included
            assert _snapshot(run) == before, (corruption, name, set(_snapshot(run)) ^ set(before))
        elif code == 0:  # a writer that worked (a damage it need not read) changed the run legitimately
            before = _snapshot(run)


def test_the_uncorrupted_copy_resumes_and_readers_leave_no_files(stopped_run, tmp_path):
    """The control: every command works on the copy itself, and show/report/analyze add no file to the run."""
    run = tmp_path / "run"
    shutil.copytree(stopped_run, run)
    commands = _commands(run, tmp_path / "report.html")
    code, _, stderr = invoke(commands["resume"])
    assert code == 0, stderr
    before = _snapshot(run)
    assert not [name for name in before if name.endswith(("-wal", "-shm"))]
    for name in ("show", "report", "analyze"):
        code, _, stderr = invoke(commands[name])
        assert code == 0, (name, stderr)
        assert _snapshot(run) == before, name


def test_stray_temporaries_of_a_killed_writer_are_removed_on_resume(stopped_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(stopped_run, run)
    dead = run / "checkpoints" / ".tmp-999999999-abc"  # no such process
    dead.write_bytes(b"half a checkpoint")
    old = run / ".tmp-xyz"  # written before the pid was in the name
    old.write_bytes(b"half")
    code, _, stderr = invoke(["train", "--resume", str(run)])
    assert code == 0, stderr
    assert not dead.exists() and not old.exists()


def test_a_weights_checkpoint_is_the_same_after_a_refused_resume(stopped_run, tmp_path):
    """The crafted step of the issue: a resume state saying step -100 must not overwrite checkpoints."""
    run = tmp_path / "run"
    shutil.copytree(stopped_run, run)
    _state(step=-100)(run)
    first = checkpoint_path(run, 0).read_bytes()
    code, _, stderr = invoke(["train", "--resume", str(run)])
    assert code == 1 and "resume state step" in stderr
    assert checkpoint_path(run, 0).read_bytes() == first
