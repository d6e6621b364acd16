"""A full disk is one line, exit 1, and the run resumes to the weights an uninterrupted run reaches (issue 18, §2).

The disk is filled by making the checkpoint writer fail as safetensors does on a full disk (its SafetensorError
says "No space left on device (os error 28)"; that is what a real full tmpfs gave, docs/reliability.md).
"""

from __future__ import annotations

import errno
import sqlite3

import pytest
from conftest import invoke
from safetensors import SafetensorError
from safetensors.torch import load_file

from grokscope.errors import is_disk_full
from grokscope.store import checkpoints


@pytest.mark.parametrize("error, full", [
    (OSError(errno.ENOSPC, "No space left on device", "runs/x/config.json"), True),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), True),
    (SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)"), True),
    (sqlite3.OperationalError("database or disk is full"), True),
    (OSError(errno.EACCES, "Permission denied"), False),
    (sqlite3.OperationalError("database is locked"), False),
    (RuntimeError("CUDA out of memory"), False),
])
def test_what_counts_as_a_full_disk(error, full):
    assert is_disk_full(error) is full
    try:  # also when it is the cause of another error
        raise RuntimeError("while writing a checkpoint") from error
    except RuntimeError as wrapped:
        assert is_disk_full(wrapped) is full


def test_a_full_disk_mid_run_is_one_line_and_the_run_resumes_exactly(tmp_path, monkeypatch):
    args = ["train", "--preset", "tiny", "--set", "max_steps=300", "--set", "patience=0", "--threads", "1"]
    code, _, stderr = invoke([*args, "--out", str(tmp_path / "whole")])
    assert code == 0, stderr[-600:]
    (whole,) = (tmp_path / "whole").iterdir()

    real_save, calls = checkpoints.save_file, []

    def fills_up(*a, **k):
        calls.append(1)
        if len(calls) >= 4:
            raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
        return real_save(*a, **k)

    monkeypatch.setattr(checkpoints, "save_file", fills_up)
    code, _, stderr = invoke([*args, "--out", str(tmp_path / "full")])
    (run,) = (tmp_path / "full").iterdir()
    assert code == 1 and "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1] == (f"error: {run}: no space left on device; free space, then: "
                                               f"grokscope train --resume {run}")

    monkeypatch.setattr(checkpoints, "save_file", real_save)  # space again
    code, _, stderr = invoke(["train", "--resume", str(run), "--threads", "1"])
    assert code == 0, stderr[-600:]
    assert not list(run.rglob(".tmp-*"))
    final = sorted((whole / "checkpoints").glob("*.safetensors"))[-1].name
    expected, got = load_file(whole / "checkpoints" / final), load_file(run / "checkpoints" / final)
    assert expected.keys() == got.keys() and all((expected[k] == got[k]).all() for k in expected)


def test_a_full_disk_under_a_report_is_one_line_naming_the_file_and_keeps_the_old_one(tmp_path, grokked_run,
                                                                                         monkeypatch):
    import os

    from grokscope.store import atomic

    target = tmp_path / "report.html"
    target.write_text("the old report")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    code, _, stderr = invoke(["report", str(grokked_run.path), "--out", str(target)])
    monkeypatch.setattr(atomic.os, "fsync", os.fsync)
    assert code == 1 and stderr.strip().splitlines() == [
        f"error: {target}: no space left on device (the file is as it was); free space and run it again"]
    assert target.read_text() == "the old report" and sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_a_full_disk_outside_the_atomic_writer_is_one_line_too(tmp_path, monkeypatch):
    from grokscope import run as api

    def full(root):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(api, "scan_runs", full)
    code, _, stderr = invoke(["runs", str(tmp_path)])
    assert code == 1 and stderr.strip().splitlines() == [
        "error: a file being written: no space left on device; free space and run it again"]
