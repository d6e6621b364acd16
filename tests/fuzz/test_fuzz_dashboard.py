"""The dashboard under hostile requests, as a user starts it: `grokscope serve DIR` in its own process on a free
localhost port, spoken to over raw sockets so that nothing is normalized on the way (issue 18, sections 4 and 5).

DIR holds a real run, a copy of it under a hostile name, a symlink to a run outside DIR, a symlink to a directory
outside DIR holding a secret file, and a symlink inside DIR. Every request below must be answered with a status
(never a dropped connection or a traceback on the server's stderr), nothing outside DIR is ever served, no error
body names the server's own directory, idle connections are closed after --timeout, and the server keeps serving.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import tiny_config

from grokscope import train

SECRET = b"TOPSECRET-outside-dir"
HOSTILE = "<!--<script>\u2028x"
TIMEOUT_S = 2


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(host, port, root, process) of `grokscope serve ROOT --port 0 --timeout 2`, with ROOT laid out as above."""
    base = tmp_path_factory.mktemp("dashboard")
    outside = base / "outside"
    run = train(tiny_config(seeds=(0,), max_steps=10), outside / "runs").path
    (outside / "secret").mkdir()
    (outside / "secret" / "secret.txt").write_bytes(SECRET)
    root = base / "root"
    root.mkdir()
    shutil.copytree(run, root / "run")
    shutil.copytree(run, root / HOSTILE)
    (root / "linked-run").symlink_to(run, target_is_directory=True)  # a run outside DIR
    (root / "secret-dir").symlink_to(outside / "secret", target_is_directory=True)
    (root / "inside").symlink_to(root / "run", target_is_directory=True)  # a link that stays inside DIR
    process = subprocess.Popen([sys.executable, "-m", "grokscope", "serve", str(root), "--port", "0",
                                "--timeout", str(TIMEOUT_S)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "COLUMNS": "200"})
    line = process.stdout.readline().decode()
    found = re.search(r"http://([\d.]+):(\d+)/", line)
    assert found, f"no address in {line!r}"
    yield found.group(1), int(found.group(2)), root, process
    process.send_signal(signal.SIGINT)
    process.wait(timeout=10)


def _raw(served, request: bytes, read_timeout: float = 20) -> bytes:
    """Send `request` as bytes and read the whole answer (the server closes after each HTTP/1.0 request)."""
    host, port = served[:2]
    with socket.create_connection((host, port), timeout=read_timeout) as connection:
        connection.sendall(request)
        chunks = []
        while chunk := connection.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def _get(served, path: str, method: str = "GET") -> tuple[int, bytes]:
    answer = _raw(served, f"{method} {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode("latin-1"))
    assert answer.startswith(b"HTTP/1."), f"{method} {path[:80]!r}: no status line, got {answer[:80]!r}"
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def _server_alive(served) -> None:
    process = served[3]
    assert process.poll() is None, "the server exited"
    assert _get(served, "/api/runs")[0] == 200


TRAVERSALS = [
    "/files/../../outside/secret/secret.txt", "/files/..%2f..%2foutside%2fsecret%2fsecret.txt",
    "/files/%2e%2e/%2e%2e/outside/secret/secret.txt", "/files/%252e%252e/%252e%252e/outside/secret/secret.txt",
    "/files/..%5c..%5coutside%5csecret%5csecret.txt", "/files/%2E%2E%2F%2E%2E%2Foutside%2Fsecret%2Fsecret.txt",
    "/files/secret-dir/secret.txt", "/files/secret-dir%2fsecret.txt", "/files/./secret-dir/./secret.txt",
    "/files/inside/../secret-dir/secret.txt", "/files/linked-run/config.json", "/files/run/../../outside/secret/secret.txt",
    "/files//etc/passwd", "/files/%2fetc%2fpasswd", "//etc/passwd", "/files/" + "../" * 40 + "etc/passwd",
    "/files/..;/..;/outside/secret/secret.txt", "/files/%c0%ae%c0%ae/%c0%ae%c0%ae/outside/secret/secret.txt",
    "/runs/linked-run/", "/api/runs/linked-run/report.json", "/api/runs/linked-run/progress.json",
    "/runs/../outside/runs/", "/api/runs/..%2f..%2foutside/report.json", "/runs/secret-dir/",
    "/files/run/config.json%00.txt", "/files/%00", "/runs/%00/", "/api/runs/a%00b/report.json", "/files/run/%00/config.json",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_nothing_outside_dir_by_any_route(served, path):
    status, body = _get(served, path)
    assert status in (400, 404), (path, status)
    assert SECRET not in body and b"root:" not in body
    assert str(served[2]).encode() not in body  # an error body never names the server's own directory


def test_what_is_inside_dir_is_served_and_listed(served):
    status, body = _get(served, "/api/runs")
    names = sorted(row["name"] for row in json.loads(body))
    assert status == 200 and names == sorted([HOSTILE, "inside", "run"])  # the outside links are not listed
    assert _get(served, "/files/run/config.json")[0] == 200
    assert _get(served, "/files/inside/config.json")[0] == 200  # a link that stays inside DIR is fine
    assert _get(served, "/api/runs/run/progress.json")[0] == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE", "OPTIONS", "CONNECT", "PROPFIND", "FOO"])
def test_only_get_and_head_are_answered(served, method):
    status, _ = _get(served, "/api/runs", method=method)
    assert status in (405, 501), (method, status)
    head_status, head_body = _get(served, "/api/runs", method="HEAD")
    assert head_status == 200 and head_body == b""


@pytest.mark.parametrize("request_bytes, expected", [
    (b"GET /" + b"a" * 10_000 + b" HTTP/1.0\r\n\r\n", 404),  # a long path: not found
    (b"GET /files/" + b"%41" * 20_000 + b" HTTP/1.0\r\n\r\n", 404),
    (b"GET /" + b"a" * 100_000 + b" HTTP/1.0\r\n\r\n", 414),  # longer than a request line may be
    (b"GET /api/runs HTTP/1.0\r\nX-Long: " + b"b" * 100_000 + b"\r\n\r\n", 431),  # a header line too long
    (b"GET /api/runs HTTP/1.0\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(200)) + b"\r\n", 431),
    (b"GET /api/runs HTTP/9.9\r\n\r\n", 505), (b"GET\r\n\r\n", 400), (b"\x00\x01\x02\xff\r\n\r\n", 400),
    (b"GET /\xff\xfe HTTP/1.0\r\n\r\n", 404), (b"GET /a\x00b HTTP/1.0\r\n\r\n", 404),
    (b"GET /files/run/config.json HTTP/1.0\r\nContent-Length: -5\r\n\r\n", 200),  # a GET body is never read
], ids=["path-10k", "encoded-60k", "path-100k", "header-100k", "headers-200", "version", "bare", "binary",
        "latin1-path", "raw-nul", "negative-length"])
def test_malformed_requests_get_a_status(served, request_bytes, expected):
    answer = _raw(served, request_bytes)
    assert answer.startswith(b"HTTP/1.") and int(answer.split()[1]) == expected, answer[:120]
    _server_alive(served)


def test_idle_connections_close_after_the_timeout_and_threads_stay_bounded(served):
    host, port, _, process = served
    idle = [socket.create_connection((host, port), timeout=20) for _ in range(40)]
    half = [socket.create_connection((host, port), timeout=20) for _ in range(5)]
    for connection in half:
        connection.sendall(b"GET /api/runs HTTP/1.0\r\n")  # a request never finished
    time.sleep(0.5)
    threads = int(re.search(r"Threads:\s+(\d+)", Path(f"/proc/{process.pid}/status").read_text()).group(1))
    assert threads <= 32 + 4, threads  # MAX_CONNECTIONS handlers, the main thread and a few of Python's own
    started = time.monotonic()
    for connection in (*idle, *half):
        try:
            assert connection.recv(100) == b""  # closed unanswered: idled out, or refused when all slots were held
        except ConnectionResetError:
            pass  # closed too
        except TimeoutError:
            pytest.fail("an idle connection was still open 20 s after --timeout")
    assert time.monotonic() - started < TIMEOUT_S + 10  # each closed within about --timeout
    for connection in (*idle, *half):
        connection.close()
    time.sleep(0.3)
    _server_alive(served)


def test_a_client_that_goes_away_early_is_no_traceback(served):
    host, port = served[:2]
    for request in (b"GET /runs/run/ HTTP/1.0\r\n\r\n", b"GET /api/runs/run/report.json HTTP/1.0\r\n\r\n", b"GET /"):
        connection = socket.create_connection((host, port), timeout=10)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        connection.sendall(request)
        connection.close()  # a reset, before the answer is read
    time.sleep(1)
    _server_alive(served)


def test_a_hostile_run_name_stays_data(served):
    status, body = _get(served, "/")
    assert status == 200 and b"<!--<script>" not in body and "\u2028".encode() not in body  # all inline data
    quoted = "/runs/%3C%21--%3Cscript%3E%E2%80%A8x/"
    status, body = _get(served, quoted)
    assert status == 200 and b"<!--<script>" not in body
    scripts = re.findall(rb"<script[^>]*>(.*?)</script>", body, flags=re.S)
    assert scripts and not any("\u2028".encode() in script for script in scripts)  # the inline data escapes it
    status, body = _get(served, "/api/runs/%3C%21--%3Cscript%3E%E2%80%A8x/report.json")
    assert status == 200 and json.loads(body)["run"] == HOSTILE


def test_the_server_stderr_holds_no_traceback(served):
    """Last in the file: everything above has been sent. Stop the server and read what it wrote to stderr."""
    _server_alive(served)
    process = served[3]
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=10)
    assert b"Traceback" not in stderr and b"Exception" not in stderr, stderr.decode(errors="replace")[-2000:]
