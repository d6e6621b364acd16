"""A sweep on a real two-node Ray cluster on localhost, with one node killed mid-pack (issue 19).

The head and a second node are `ray start ... --block` processes, each with one CPU and a temp dir of its own,
started from a directory of their own and stopped by killing their process groups. The sweep is the CLI in a
third directory with a relative --out. While both packs train (one per node), the second node is SIGKILLed; Ray
retries its pack on the head, where it resumes from its checkpoint. Asserted: exit 0, one sweep directory on the
driver holding every run directory, a results table equal to the local backend's, every pack's evaluations
logged once each up to the end, and a re-run that trains nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
import ray
import torch
from safetensors.torch import load_file

from grokscope.sweep import load_spec, read_results, run_sweep

SPEC = """name = "two-nodes"
preset = "tiny"
max_pack = 2
[base]
p = 23
max_steps = 2000
eval_every = 50
resume_every = 50  # the wait for both packs ends soon after the later one starts, however late its node starts it
eval_log_points = 0
patience = 100000
symmetric_split = false
device = "cpu"
[grid]
frac = [0.4, 0.6]
seed = [0, 1]
"""
ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "OMP_NUM_THREADS": "1"}  # Ray 2.60's `ray start` wants a token


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ray_start(where: Path, *args: str) -> subprocess.Popen:
    """`ray start ... --block` in `where`, its temp dir short (Ray's sockets live there, and a Unix socket's path
    is at most 107 bytes), its output in where/ray.log."""
    where.mkdir(parents=True)
    temp = tempfile.mkdtemp(prefix="gs-ray-", dir="/tmp")
    ray_cli = str(Path(sys.executable).with_name("ray"))
    with open(where / "ray.log", "wb") as log:
        process = subprocess.Popen([ray_cli, "start", "--node-ip-address", "127.0.0.1", "--num-cpus", "1",
                                    "--temp-dir", temp, "--disable-usage-stats", "--block", *args],
                                   cwd=where, env=ENV, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    process.temp_dir = temp
    return process


def _kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the node's raylet, workers (and the head's GCS) share its group
    except ProcessLookupError:
        pass
    process.wait(timeout=30)
    shutil.rmtree(process.temp_dir, ignore_errors=True)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _alive_nodes(address: str) -> int:
    probe = subprocess.run([sys.executable, "-c", "import ray; ray.init(address=%r, log_to_driver=False); "
                            "print(sum(n['Alive'] for n in ray.nodes()))" % address],
                           capture_output=True, text=True, env=ENV, timeout=60)
    return int(probe.stdout.strip().splitlines()[-1]) if probe.returncode == 0 else 0


@pytest.fixture
def cluster(tmp_path):
    """(address, head, second node) of a two-node cluster on localhost."""
    port = _free_port()
    address = f"127.0.0.1:{port}"
    head = _ray_start(tmp_path / "head", "--head", "--port", str(port), "--include-dashboard=false")
    node = None
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):  # ray.init on a port nobody listens at yet retries for a minute
            assert time.monotonic() < deadline, "the head did not start"
            time.sleep(0.2)
        node = _ray_start(tmp_path / "node", "--address", address)
        while _alive_nodes(address) < 2:
            assert time.monotonic() < deadline, "the second node did not join"
            time.sleep(0.5)
        yield address, head, node
    finally:
        for process in (node, head):
            if process is not None:
                _kill(process)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "-wal" not in p.name and "-shm" not in p.name}


def _evaluated_steps(run_dir: Path) -> list[tuple[int, int]]:
    with sqlite3.connect(f"file:{run_dir / 'metrics.sqlite'}?mode=ro", uri=True) as db:
        return db.execute("SELECT step, COUNT(member) FROM scalars WHERE name = 'train/acc' GROUP BY step "
                          "ORDER BY step").fetchall()


def test_a_sweep_survives_a_lost_node_in_one_directory_equal_to_local(tmp_path, cluster):
    address, _, node = cluster
    driver = tmp_path / "driver"
    driver.mkdir()
    (driver / "spec.toml").write_text(SPEC)
    command = [sys.executable, "-m", "grokscope", "sweep", "spec.toml", "--backend", "ray", "--address", address,
               "--threads", "1", "--out", "sweeps"]
    sweep = subprocess.Popen(command, cwd=driver, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    packs = driver / "sweeps" / "two-nodes" / "packs"
    deadline = time.monotonic() + 120
    while not (len(list(packs.glob("*/checkpoints/*.safetensors"))) >= 2 * 2 and len(list(packs.glob("*"))) == 2
               and all((p / "resume.safetensors").is_file() for p in packs.glob("*"))):  # both packs training
        assert sweep.poll() is None, sweep.communicate()
        assert time.monotonic() < deadline, "the packs did not start"
        time.sleep(0.2)
    states = [json.loads((p / "status.json").read_text())["state"] for p in packs.glob("*")]
    assert states == ["running", "running"]  # one on each node, neither finished: the kill lands mid-pack
    _kill(node)
    stdout, stderr = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, stderr[-2000:]
    assert "Traceback" not in stderr
    sweep_dir = driver / "sweeps" / "two-nodes"
    assert stdout.strip().splitlines()[-1] == str(sweep_dir)
    assert sorted(p.name for p in packs.iterdir()) == ["000-add-p23-e2", "001-add-p23-e2"]
    assert not (tmp_path / "head" / "sweeps").exists() and not (tmp_path / "node" / "sweeps").exists()

    local_dir = run_sweep(load_spec(driver / "spec.toml"), tmp_path / "local", threads=1)
    remote = read_results(sweep_dir)
    assert all(re.fullmatch(r"\S+ [0-9a-f]{8}", node) for node in remote["node"])  # the node that finished each pack
    pd.testing.assert_frame_equal(remote.drop(columns="node"), read_results(local_dir))
    for pack in packs.iterdir():  # every evaluation of each member, up to the last step; the local run's weights
        steps = _evaluated_steps(pack)
        assert steps == _evaluated_steps(local_dir / "packs" / pack.name) and steps[-1][0] == 2000
        assert all(count == 2 for _, count in steps)
        final = sorted((pack / "checkpoints").glob("*.safetensors"))[-1]
        assert final.name == "step_00002000.safetensors"
        ours, theirs = load_file(final), load_file(local_dir / "packs" / pack.name / "checkpoints" / final.name)
        assert all(torch.equal(ours[k], theirs[k]) for k in theirs)

    before = _digest(sweep_dir)
    again = subprocess.run(command, cwd=driver, env=ENV, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr[-2000:]
    assert _digest(sweep_dir) == before  # a re-run trains nothing and rewrites nothing (the nodes kept)
    assert not ray.is_initialized()
