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
