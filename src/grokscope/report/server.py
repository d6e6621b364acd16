"""`grokscope serve`: a read-only web dashboard over a directory of runs, live while they train.

The index lists the runs under DIR (task, p, fraction, members, status, steps to generalize); each
run opens its report, which polls `/api/runs/NAME/progress.json` and, when the run has a new
evaluation, checkpoint or state, fetches `/api/runs/NAME/report.json` and redraws. Runs are read from
their SQLite stores, which the training process writes concurrently (WAL mode: a reader sees whole
evaluations). The server binds to 127.0.0.1 unless told otherwise, answers GET and HEAD only, and
serves files under DIR only: a path that resolves outside it (through `..`, an encoding or a symlink), holds a NUL, or
names no run is a 404. Idle connections time out (TIMEOUT_S), at most MAX_CONNECTIONS are served at once, a client
that goes away early is no traceback, and an error body names paths relative to DIR, never the server's own.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np

from ..analysis.censored_stats import censored_quantile
from ..errors import ConfigError, GrokscopeError
from ..run import Run, load
from .data import report_data
from .html import asset, render_report, script_json

RUN_DEPTH = 3  # runs are found this many directory levels under DIR (a sweep's packs sit below it)
TIMEOUT_S = 30  # an idle connection is closed after this long
MAX_CONNECTIONS = 32  # requests served at once; more are closed unanswered
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".json": "application/json", ".svg": "image/svg+xml",
                 ".png": "image/png", ".csv": "text/csv; charset=utf-8", ".txt": "text/plain; charset=utf-8"}


def find_runs(root: Path) -> dict[str, Path]:
    """name (the path under root, with '/') -> run directory, for every run up to RUN_DEPTH levels down whose
    directory resolves inside root (a symlink to a run elsewhere is not served)."""
    found = {}
    inside = root.resolve()
    for depth in range(1, RUN_DEPTH + 1):
        for config in sorted(root.glob("/".join(["*"] * depth) + "/config.json")):
            if config.parent.resolve().is_relative_to(inside) and config.resolve().is_relative_to(inside):
                found[config.parent.relative_to(root).as_posix()] = config.parent
    return found


def generalized_summary(summary: dict[str, Any]) -> dict[str, Any]:
    """Members generalized and their median steps to generalize, `compare`'s way: a member that never got there
    counts at the budget (the last evaluated step) as censored, and a median that lands on one is censored too
    (`median_censored`: the dashboard shows it as >N). Mirror-held-out accuracy where the run logs it."""
    steps = [m["steps_to_generalize_mirror"] if "steps_to_generalize_mirror" in m else m["steps_to_generalize"]
             for m in summary["members"]]
    if not steps:
        return {"generalized": 0, "median_steps_to_generalize": None, "median_censored": False}
    censored = np.array([s is None for s in steps])
    at = np.array([summary["steps"] if s is None else s for s in steps], dtype=float)
    median, median_censored = censored_quantile(at, censored, 0.5)
    return {"generalized": int((~censored).sum()), "median_steps_to_generalize": median, "median_censored": median_censored}


class Dashboard:
    """What the handler serves, with per-run caches keyed by the run's progress (last step, checkpoints, state)."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], tuple[Any, Any]] = {}

    def _progress_key(self, run: Run) -> Any:
        with run.metrics() as store:
            last = store.last_step()
        return last, tuple(run.checkpoint_steps()), run.status().get("state")

    def _cached(self, name: str, kind: str, run: Run, compute) -> Any:
        key = self._progress_key(run)
        with self._lock:  # one computation at a time: they read checkpoints and run the model
            hit = self._cache.get((name, kind))
            if hit is not None and hit[0] == key:
                return hit[1]
            value = compute()
            self._cache[(name, kind)] = (key, value)
            return value

    def run(self, name: str) -> Run | None:
        path = find_runs(self.root).get(name)
        if path is None or not (path / "metrics.sqlite").is_file():
            return None
        return load(path)

    def runs(self) -> list[dict[str, Any]]:
        rows = []
        for name, path in find_runs(self.root).items():
            row: dict[str, Any] = {"name": name}
            try:
                run = load(path)
                config = run.config
                row.update(task=config.task, p=config.p, frac=None if config.task == "table" else config.frac,
                           members=config.n_members)
                if (path / "metrics.sqlite").is_file():
                    summary = self._cached(name, "summary", run, run.summary)
                    row.update(state=summary["status"].get("state"), step=summary["steps"])
                    if config.task != "table":  # a stored table's scalar target has no accuracy to generalize on
                        row.update(generalized_summary(summary))
                else:
                    row.update(state="starting", step=0)
            except (GrokscopeError, OSError, ValueError) as error:  # a run being created, or a damaged one
                row.update(state="unreadable", error=str(error))
            rows.append(row)
        return rows

    def progress(self, name: str) -> dict[str, Any] | None:
        """What changes as a run trains (last step, checkpoints, state): the live page polls this, and
        fetches the whole report only when it changed."""
        run = self.run(name)
        if run is None:
            return None
        last, checkpoints, state = self._progress_key(run)
        return {"step": last, "checkpoints": len(checkpoints), "state": state}

    def report(self, name: str) -> dict[str, Any] | None:
        run = self.run(name)
        if run is None:
            return None
        return self._cached(name, "report", run, lambda: report_data(run, live=True))

    def file(self, relative: str) -> Path | None:
        """A regular file under the root, or None (missing, or outside the root after resolving links and '..')."""
        try:
            path = (self.root / relative).resolve()
            return path if path.is_relative_to(self.root) and path.is_file() else None
        except OSError:  # a name too long, a loop of links: nothing there to serve
            return None


def _handler(dashboard: Dashboard, timeout: float) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "grokscope"
        default_request_version = "HTTP/1.0"  # a request line too malformed to name a version still gets a status line

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the terminal shows the URL only
            pass

        def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def setup(self) -> None:
            self.timeout = timeout  # read by StreamRequestHandler.setup: idle connections close after it
            super().setup()

        def _json(self, value: Any) -> None:
            self._send(HTTPStatus.OK, json.dumps(value, allow_nan=False).encode(), "application/json")

        def _not_found(self) -> None:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")

        def do_GET(self) -> None:
            path = unquote(urlsplit(self.path).path)
            if "\x00" in path:
                return self._not_found()
            try:
                self._route(path)
            except (GrokscopeError, OSError) as error:  # a run being written, or damaged: said without our paths
                message = str(error).replace(str(dashboard.root) + "/", "").replace(str(dashboard.root), ".")
                self._send(HTTPStatus.SERVICE_UNAVAILABLE, f"{message}\n".encode(), "text/plain; charset=utf-8")

        do_HEAD = do_GET

        def _route(self, path: str) -> None:
            if path in ("/", "/index.html"):
                page = asset("dashboard.html").replace("$runs", script_json(dashboard.runs()))
                return self._send(HTTPStatus.OK, page.encode(), CONTENT_TYPES[".html"])
            if path == "/api/runs":
                return self._json(dashboard.runs())
            for endpoint, read in (("/report.json", dashboard.report), ("/progress.json", dashboard.progress)):
                if path.startswith("/api/runs/") and path.endswith(endpoint):
                    data = read(path[len("/api/runs/"):-len(endpoint)])
                    return self._json(data) if data is not None else self._not_found()
            if path.startswith("/runs/") and path.endswith("/"):
                name = path[len("/runs/"):-1]
                data = dashboard.report(name)
                if data is None:
                    return self._not_found()
                page = render_report(data, live_url=f"/api/runs/{name}/", nav='<a href="/">all runs</a>')
                return self._send(HTTPStatus.OK, page.encode(), CONTENT_TYPES[".html"])
            if path.startswith("/files/"):
                file = dashboard.file(path[len("/files/"):])
                if file is None:
                    return self._not_found()
                return self._send(HTTPStatus.OK, file.read_bytes(), CONTENT_TYPES.get(file.suffix, "application/octet-stream"))
            return self._not_found()

        def _read_only(self) -> None:
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"read-only\n", "text/plain; charset=utf-8")

        do_POST = do_PUT = do_DELETE = do_PATCH = _read_only

    return Handler


class DashboardServer(ThreadingHTTPServer):
    """A thread per request, at most MAX_CONNECTIONS at once; a client that disconnects early is not an error."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]):
        super().__init__(address, handler)
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request, client_address) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # full: closed unanswered, the client may retry
            return
        try:
            super().process_request(request, client_address)
        except Exception:  # the thread could not start, so it will not release its slot. Not BaseException: a
            self._slots.release()  # Ctrl-C inside Thread.start() comes after the thread runs (and releases it);
            raise  # a second release raised ValueError there, which the server logged and served on, Ctrl-C lost

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request, client_address) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # the client went away or idled out
        super().handle_error(request, client_address)


def make_server(root: str | Path, *, host: str = "127.0.0.1", port: int = 8000,
                timeout: float | None = None) -> ThreadingHTTPServer:
    """A dashboard server over `root` (call serve_forever on it; port 0 picks a free port); an idle connection is
    closed after `timeout` seconds (TIMEOUT_S by default)."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"dir: {root} is not a directory of runs")
    timeout = TIMEOUT_S if timeout is None else timeout
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 3600:
        raise ConfigError(f"timeout: must be a number of seconds in (0, 3600], got {timeout!r}")
    return DashboardServer((host, port), _handler(Dashboard(root), timeout))


def serve_until_interrupted(server: ThreadingHTTPServer) -> None:
    """Serve until Ctrl-C (SIGINT), then close the socket and end the process at once.

    A launcher can hand the process SIGINT ignored (a non-interactive shell does so for background jobs) or
    blocked (a signal mask is inherited from the thread that started it); both are undone first, so that "Ctrl-C
    stops" holds. The server only reads, so once its socket is closed nothing is left to write: the process exits
    without waiting for request threads, which a database read or a torch op in flight could otherwise hold up at
    interpreter shutdown. Returns normally where another thread called `server.shutdown()`.
    """
    if threading.current_thread() is threading.main_thread():  # signal dispositions belong to the main thread
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    else:
        return
    finally:
        server.server_close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
