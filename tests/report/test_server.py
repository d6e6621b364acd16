"""The dashboard server without a browser: what it lists, what it refuses."""

from __future__ import annotations

import http.client
import json
import threading

import pytest

from grokscope.errors import ConfigError
from grokscope.report.server import make_server


@pytest.fixture
def server(grokked_run):
    server = make_server(grokked_run.path.parent, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _request(server, method: str, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(*server.server_address[:2], timeout=30)
    connection.request(method, path)  # sent as written: no client-side normalization of '..'
    response = connection.getresponse()
    return response.status, response.read()


def test_binds_to_loopback_by_default(server):
    assert server.server_address[0] == "127.0.0.1"


def test_lists_runs_with_their_progress(server, grokked_run):
    status, body = _request(server, "GET", "/api/runs")
    assert status == 200
    [row] = json.loads(body)
    summary = grokked_run.summary()
    assert row["name"] == grokked_run.path.name and row["members"] == 2 and row["state"] == "finished"
    assert row["step"] == summary["steps"] and row["generalized"] == 2


def test_serves_files_under_the_root_only(server, grokked_run):
    status, body = _request(server, "GET", f"/files/{grokked_run.path.name}/config.json")
    assert status == 200 and json.loads(body)["config"]["task"] == "x+y"
    for path in ("/files/../../../etc/passwd", "/files/%2e%2e/%2e%2e/etc/passwd", "/files//etc/passwd",
                 f"/files/{grokked_run.path.name}/../../../etc/hostname", "/runs/../x/", "/api/runs/%2e%2e/report.json"):
        status, body = _request(server, "GET", path)
        assert status == 404, path
        assert b"root:" not in body


def test_is_read_only(server):
    for method in ("POST", "PUT", "DELETE"):
        assert _request(server, method, "/api/runs")[0] == 405


def test_report_json_of_a_run(server, grokked_run):
    status, body = _request(server, "GET", f"/api/runs/{grokked_run.path.name}/report.json")
    data = json.loads(body)
    assert status == 200 and data["live"] is True and data["summary"]["steps"] == grokked_run.summary()["steps"]


def test_refuses_a_missing_directory(tmp_path):
    with pytest.raises(ConfigError, match="dir"):
        make_server(tmp_path / "nothing", port=0)


def test_the_median_counts_members_that_never_generalized_at_the_budget():
    """compare's censored median: one of three members generalized at step 400, the others never within 1,000."""
    from grokscope.report.server import generalized_summary

    member = lambda step: {"steps_to_generalize": step}  # noqa: E731
    one = generalized_summary({"steps": 1000, "members": [member(400), member(None), member(None)]})
    assert one == {"generalized": 1, "median_steps_to_generalize": 1000.0, "median_censored": True}
    two = generalized_summary({"steps": 1000, "members": [member(400), member(600), member(None)]})
    assert two == {"generalized": 2, "median_steps_to_generalize": 600.0, "median_censored": False}
    mirror = generalized_summary({"steps": 1000, "members": [{"steps_to_generalize": 100, "steps_to_generalize_mirror": None}]})
    assert mirror["generalized"] == 0 and mirror["median_censored"]  # mirror-held-out accuracy decides where logged


@pytest.fixture
def hostile_root(grokked_run, tmp_path):
    """A DIR holding a copy of a run under a hostile name, and a symlink to a run outside DIR."""
    import shutil

    root = tmp_path / "dir"
    root.mkdir()
    shutil.copytree(grokked_run.path, root / "<!--<script>\u2028x")
    (root / "outside").symlink_to(grokked_run.path, target_is_directory=True)
    server = make_server(root, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_symlink_out_of_dir_is_neither_listed_nor_served(hostile_root):
    status, body = _request(hostile_root, "GET", "/api/runs")
    assert status == 200 and [row["name"] for row in json.loads(body)] == ["<!--<script>\u2028x"]
    for path in ("/runs/outside/", "/api/runs/outside/report.json", "/api/runs/outside/progress.json",
                 "/files/outside/config.json"):
        assert _request(hostile_root, "GET", path)[0] == 404, path


def test_a_nul_byte_is_a_404_and_the_server_keeps_serving(hostile_root):
    for path in ("/files/%00", "/runs/%00/", "/api/runs/a%00b/report.json"):
        assert _request(hostile_root, "GET", path)[0] == 404, path
    assert _request(hostile_root, "GET", "/api/runs")[0] == 200


def test_a_hostile_run_name_stays_data_in_the_page(hostile_root, page):
    status, body = _request(hostile_root, "GET", "/")
    assert status == 200 and b"<!--<script>" not in body  # the inline JSON escapes <, >, & and U+2028
    host, port = hostile_root.server_address[:2]
    index = page.open(f"http://{host}:{port}/", ready="document.querySelector('#runs tbody tr a')")
    assert index.page.inner_text("#runs tbody tr a") == "<!--<script>\u2028x"
    report = page.open(f"http://{host}:{port}/runs/%3C%21--%3Cscript%3E%E2%80%A8x/")  # its report draws
    assert report.page.evaluate("() => window.grokscope.data.run") == "<!--<script>\u2028x"
    assert index.errors == [] and report.errors == []


def test_idle_connections_time_out_and_connections_are_bounded(grokked_run, monkeypatch):
    import socket
    import time

    from grokscope.report import server as module

    monkeypatch.setattr(module, "TIMEOUT_S", 2)
    monkeypatch.setattr(module, "MAX_CONNECTIONS", 2)
    server = make_server(grokked_run.path.parent, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        address = server.server_address[:2]
        idle = [socket.create_connection(address, timeout=10) for _ in range(2)]  # hold both slots, say nothing
        time.sleep(0.3)
        third = socket.create_connection(address, timeout=10)
        third.sendall(b"GET /api/runs HTTP/1.0\r\n\r\n")
        assert third.recv(100) == b""  # full: closed unanswered
        started = time.monotonic()
        assert idle[0].recv(100) == b"" and time.monotonic() - started < 5  # the idle ones time out and free the slots
        time.sleep(0.3)
        assert _request(server, "GET", "/api/runs")[0] == 200
        for connection in (*idle, third):
            connection.close()
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("launcher", ["plain", "sigint-ignored", "sigint-blocked"])
def test_ctrl_c_stops_the_dashboard_however_it_was_launched(tmp_path, launcher):
    """`grokscope serve` prints "(Ctrl-C stops)": a parent that ignored or blocked SIGINT (a background job of a
    non-interactive shell; a thread's signal mask) must not make that untrue, and it stops without a traceback."""
    import os
    import re
    import signal
    import subprocess
    import sys

    def inherit():  # runs in the child before exec: what the launcher leaves it
        if launcher == "sigint-ignored":
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        elif launcher == "sigint-blocked":
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})

    process = subprocess.Popen([sys.executable, "-m", "grokscope", "serve", str(tmp_path), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=inherit,
                               env={**os.environ, "COLUMNS": "200"})
    try:
        host, port = re.search(r"http://([\d.]+):(\d+)/", process.stdout.readline().decode()).groups()
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        connection.request("GET", "/")
        assert connection.getresponse().status == 200
        connection.close()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0 and b"Traceback" not in stderr, stderr.decode(errors="replace")
