"""What a user of a Ray cluster meets first (issue 19): a wrong address, a request no node can satisfy, a node that
does not see the sweep directory or runs another grokscope, a relative --out. Each is one line and an exit code,
with nothing written; the address refusals come before ray.init is called (which retries a wrong address for a
minute or more); and progress streams from the packs while they train."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest
import ray
from conftest import invoke
from sweep_helpers import tiny_spec, two_cpu_ray_instance

from grokscope.errors import ConfigError, GrokscopeError, RunNotFoundError
from grokscope.sweep import plan, run_sweep
from grokscope.sweep.directory import SWEEP_FILE, open_sweep_dir
from grokscope.sweep.ray_backend import _failure, _train_pack_task, ray_cluster, run_ray
from grokscope.sweep.runner import Tally


def _sweep_cli(tmp_path, monkeypatch, *args: str) -> tuple[int, str]:
    """(exit code, stderr) of `grokscope sweep SPEC --backend ray ARGS --out tmp/out`, in this process, with ray.init
    failing the test if reached: each refusal here must come before Ray is asked to connect."""
    def connects(*_, **__):
        raise AssertionError("ray.init was called: the refusal did not come before connecting")

    monkeypatch.setattr(ray, "init", connects)
    spec = tmp_path / "spec.toml"
    spec.write_text('name = "s"\npreset = "tiny"\n[base]\nmax_steps = 10\np = 13\n[grid]\nseed = [0]\n')
    code, _, stderr = invoke(["sweep", str(spec), "--backend", "ray", *args, "--out", str(tmp_path / "out")])
    return code, stderr


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr[-800:]
    return lines[0]


@pytest.mark.parametrize("address", ["not an address", "localhost", "host:99999", "http://127.0.0.1:6379", ":6379",
                                     "127.0.0.1:63\u0667\u0669", ""])
def test_a_malformed_address_is_exit_2(tmp_path, monkeypatch, address):
    code, stderr = _sweep_cli(tmp_path, monkeypatch, "--address", address)
    assert code == 2 and _one_line(stderr).startswith("error: address: expected HOST:PORT")
    assert not (tmp_path / "out").exists()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_dead_port_is_one_line_before_connecting(tmp_path, monkeypatch):
    port = _free_port()
    code, stderr = _sweep_cli(tmp_path, monkeypatch, "--address", f"127.0.0.1:{port}")
    assert code == 1 and _one_line(stderr).startswith(f"error: address: nothing answers at 127.0.0.1:{port}")
    assert not (tmp_path / "out").exists()


def test_a_server_that_is_not_ray_is_one_line_before_connecting(tmp_path, monkeypatch):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def answer() -> None:  # an HTTP/1 server: accepts, answers nonsense to gRPC's preface, closes
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with contextlib.suppress(OSError):
                connection.recv(1024)
                connection.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")
            connection.close()

    threading.Thread(target=answer, daemon=True).start()
    try:
        code, stderr = _sweep_cli(tmp_path, monkeypatch, "--address", f"127.0.0.1:{port}")
    finally:
        server.close()
    assert code == 1 and _one_line(stderr) == (f"error: address: 127.0.0.1:{port} answers but is not a Ray cluster "
                                               "(no gRPC within 3 s)")
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def two_cpu_ray():
    with two_cpu_ray_instance():
        yield


def test_more_threads_than_any_node_has_is_exit_2_before_writing(tmp_path, two_cpu_ray):
    with pytest.raises(ConfigError, match=r"^threads: each pack asks for 3 CPUs, and the largest node of the Ray "
                                          r"cluster has 2; use --threads 2 or fewer$"):
        run_sweep(tiny_spec(seed=[0]), tmp_path / "out", backend="ray", threads=3)
    cuda = tiny_spec(base={"device": "cuda"}, seed=[0])
    with pytest.raises(ConfigError, match=r"^device: pack 000-\S+ runs on CUDA and no node"):
        run_sweep(cuda, tmp_path / "out", backend="ray", threads=1)
    assert not (tmp_path / "out").exists()
    assert ray.is_initialized()  # the caller's instance is kept


def test_a_relative_out_is_one_sweep_directory_and_progress_streams_with_the_node(tmp_path, two_cpu_ray, monkeypatch):
    monkeypatch.chdir(tmp_path)
    events = []
    spec = tiny_spec(max_pack=4, frac=[0.4], seed=[0, 1])  # 2 packs of 2
    sweep_dir = run_sweep(spec, "sweeps", backend="ray", threads=1, progress=events.append)
    assert sweep_dir == tmp_path / "sweeps" / spec.name and sweep_dir.is_absolute()
    assert sorted(p.name for p in (sweep_dir / "packs").iterdir()) == sorted(p.name for p in plan(spec))
    assert all((sweep_dir / "packs" / p.name / "metrics.sqlite").is_file() for p in plan(spec))
    training = [e for e in events if e.detail is not None]
    assert {e.pack.name for e in training} == {p.name for p in plan(spec)}  # every pack streamed its progress
    assert all(e.node for e in training) and max(e.detail.step for e in training) == 20
    assert events[-1].packs_done == 2


def test_a_node_that_does_not_see_the_sweep_directory_refuses_in_one_line(tmp_path, two_cpu_ray):
    spec = tiny_spec(seed=[0])
    packs = plan(spec)
    with ray_cluster(None, packs, 1):
        sweep_dir = open_sweep_dir(tmp_path, spec)
        (sweep_dir / SWEEP_FILE).unlink()  # what a node without the shared filesystem sees
        with pytest.raises(RunNotFoundError, match=r"^pack 00[01]-\S+: sweep: node \S+ [0-9a-f]{8} does not see .* \(no sweep\.json "
                                                   r"there\); the sweep directory must be on a filesystem every node"):
            run_ray(sweep_dir, Tally(sweep_dir, packs, spec.axes, None), threads=1)
    assert not any((sweep_dir / "packs" / pack.name).exists() for pack in packs)  # no private copy made on a node


def test_another_grokscope_on_a_node_is_refused_by_the_task(tmp_path, two_cpu_ray):
    spec = tiny_spec(seed=[0])
    sweep_dir = open_sweep_dir(tmp_path, spec)
    with pytest.raises(GrokscopeError, match=r"^node \S+ [0-9a-f]{8} runs grokscope \S+, the driver 0\.0\.0; install the same"):
        _train_pack_task(str(sweep_dir), plan(spec)[0], spec.axes, 1, "0.0.0")


def test_a_task_failure_is_one_line_naming_the_pack_with_its_exit_code(two_cpu_ray):
    pack = plan(tiny_spec(seed=[0]))[0]

    @ray.remote
    def refuses():
        raise ConfigError("frac: must be in (0, 1), got 2")

    @ray.remote
    def breaks():
        raise ZeroDivisionError("division by zero\nand a second line")

    @ray.remote
    def no_grokscope():  # what a node without grokscope raises while unpickling the task
        raise ModuleNotFoundError("No module named 'grokscope'")

    for task, kind, code, message in ((refuses, ConfigError, 2, "frac: must be in (0, 1), got 2"),
                                      (breaks, GrokscopeError, 1, "division by zero"),
                                      (no_grokscope, GrokscopeError, 1, "a node of the Ray cluster cannot import "
                                       "grokscope; install grokscope (the driver's version) on every node")):
        with pytest.raises(ray.exceptions.RayError) as raised:
            ray.get(task.remote())
        failure = _failure(pack, raised.value)
        assert isinstance(failure, kind) and failure.exit_code == code
        assert str(failure) == f"pack {pack.name}: {message}"


@pytest.mark.parametrize("args, message", [
    (["--gpus-per-pack", "0"], "gpus-per-pack: must be a fraction in (0, 1] or a whole number"),
    (["--gpus-per-pack", "1.5"], "gpus-per-pack: must be a fraction in (0, 1] or a whole number"),
    (["--gpus-per-pack", "-1"], "gpus-per-pack: must be a fraction in (0, 1] or a whole number"),
    (["--gpus-per-pack", "nan"], "gpus-per-pack: must be a fraction in (0, 1] or a whole number"),
])
def test_a_bad_gpu_share_is_exit_2(tmp_path, monkeypatch, args, message):
    code, stderr = _sweep_cli(tmp_path, monkeypatch, *args)
    assert code == 2 and _one_line(stderr).startswith(f"error: {message}")
    assert not (tmp_path / "out").exists()


def test_a_pack_asks_for_a_gpu_only_where_it_runs_on_one():
    from grokscope.sweep.ray_backend import pack_gpus

    on = {device: plan(tiny_spec(base={"device": device}, seed=[0]))[0] for device in ("cuda", "cpu", "auto")}
    assert pack_gpus(on["cuda"], 0, 0.25) == 0.25 and pack_gpus(on["cuda"], 8) == 1
    assert pack_gpus(on["cpu"], 8) == 0  # a CPU spec on a GPU cluster reserves no GPU
    assert pack_gpus(on["auto"], 8, 0.5) == 0.5 and pack_gpus(on["auto"], 0) == 0


def test_a_worker_that_dies_once_retries_are_spent_is_one_line(two_cpu_ray):
    import os

    pack = plan(tiny_spec(seed=[0]))[0]

    @ray.remote(max_retries=0)
    def dies():
        os._exit(1)

    with pytest.raises(ray.exceptions.RayError) as raised:
        ray.get(dies.remote())
    failure = _failure(pack, raised.value)
    assert failure.exit_code == 1 and str(failure) == (
        f"pack {pack.name}: the Ray worker training it died and Ray's retries are spent (WorkerCrashedError); run the "
        "sweep again to resume it from its checkpoint")


def test_ray_client_missing_is_exit_2_before_writing(tmp_path, monkeypatch):
    """`ray://` needs Ray Client (grpc and ray.util.client): where it is not installed, one line, exit 2."""
    import sys

    monkeypatch.setitem(sys.modules, "grpc", None)  # an import of it fails, as where ray[client] is missing
    code, stderr = _sweep_cli(tmp_path, monkeypatch, "--address", "ray://127.0.0.1:10001")
    assert code == 2 and _one_line(stderr) == "error: address: ray:// needs Ray Client: pip install 'ray[client]'"
    assert not (tmp_path / "out").exists()
