import os
import subprocess
import sys

import torch

from grokscope import load

ARGS = ["train", "--set", "eval_log_points=0", "--set", "p=13", "--set", "d_model=16", "--set", "d_mlp=32", "--set", "param_dtype=float64",
        "--set", "resume_every=5", "--max-steps", "30", "--eval-every", "5", "--seeds", "0,1", "--frac", "0.5",
        "--set", "batch_size=16", "--device", "cpu"]


def _grokscope(args, out, kill_after=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GROKSCOPE_KILL_AFTER_STEP", None)
    if kill_after is not None:
        env["GROKSCOPE_KILL_AFTER_STEP"] = str(kill_after)
    return subprocess.run([sys.executable, "-m", "grokscope", *args, "--out", str(out)] if out else
                          [sys.executable, "-m", "grokscope", *args], env=env, capture_output=True, text=True)


def test_killed_run_resumes_to_the_uninterrupted_trajectory(tmp_path):
    whole = _grokscope(ARGS, tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr
    reference = load(whole.stdout.strip().splitlines()[-1])

    killed = _grokscope(ARGS, tmp_path / "killed", kill_after=13)
    assert killed.returncode == -9  # SIGKILL after step 13: no cleanup ran
    run_dir = next((tmp_path / "killed").iterdir())
    status = load(run_dir).status()  # status.json still says running; no process holds the lock any more
    assert status["state"] == "stopped" and "--resume" in status["note"]
    resumed = _grokscope(["train", "--resume", str(run_dir)], None)
    assert resumed.returncode == 0, resumed.stderr
    run = load(run_dir)
    assert run.status()["state"] == "finished"

    assert run.checkpoint_steps() == reference.checkpoint_steps()
    for name, tensor in reference.model().params.items():
        assert torch.equal(run.model().params[name], tensor), name
    with run.metrics() as ours, reference.metrics() as theirs:
        assert ours.rows() == theirs.rows()
        assert len(ours.rows()) > 0


def test_a_run_stopped_by_sigterm_is_listed_and_shown_as_stopped(tmp_path):
    """SIGTERM ends the process without a last status write; `runs` must not say it is still running."""
    import json
    import signal
    import time

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GROKSCOPE_KILL_AFTER_STEP", None)
    out = tmp_path / "runs"
    args = [a if a != "30" else "100000" for a in ARGS]  # a budget it cannot finish before the signal
    process = subprocess.Popen([sys.executable, "-m", "grokscope", *args, "--out", str(out)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    status_file = None
    while time.time() < deadline and status_file is None:
        found = list(out.glob("*/status.json")) if out.is_dir() else []
        if found and json.loads(found[0].read_text()).get("step", 0) >= 10:
            status_file = found[0]
        time.sleep(0.2)
    assert status_file is not None, "the run never reported progress"
    assert load(status_file.parent).status()["state"] == "running"  # its writer holds the lock
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    listed = _grokscope(["runs", str(out)], None)
    assert listed.returncode == 0 and "stopped" in listed.stdout and "running" not in listed.stdout
    shown = _grokscope(["show", str(status_file.parent)], None)
    assert "stopped at step" in shown.stdout and "--resume" in shown.stdout
