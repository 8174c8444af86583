"""Servers for the runtime tests, and a loopback HTTP receiver for webhooks, file downloads and uploads.

`serve` runs the app in this process: uvicorn in a thread on a loopback port, the model in-process
(cog.server.inprocess), started in milliseconds; for what the HTTP API answers. `start_server` runs
`python -m cog.server.http` with a real worker process; for crashes, cancels by signal, SIGTERM, timeouts and
other interpreters. Both give a `Server`: `.client` (httpx, base URL set), `.health()`, `.predict(**inputs)`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

import httpx
import pytest
import uvicorn

from cog.sdk.protocol import TERMINAL
from cog.server.app import create_app
from cog.server.inprocess import InProcessWorker
from cog.server.runner import Settings

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]
# Packages of the server's environment (and the CLI's) that the model-side SDK must never import.
SERVER_ONLY = ["pydantic", "fastapi", "starlette", "uvicorn", "httpx", "anyio", "yaml", "jinja2", "typer", "rich",
               "prometheus_client"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Any, timeout: float = 10, what: str = "the condition") -> Any:
    """Poll `condition()` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        time.sleep(0.01)


class Server:
    """A running prediction server, wherever it runs."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = httpx.Client(base_url=url, timeout=30)

    def running(self) -> bool:
        raise NotImplementedError

    def health(self) -> Dict[str, Any]:
        return self.client.get("/health-check").json()

    def wait_for(self, *statuses: str, timeout: float = 20) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                health = self.health()
                if health["status"] in statuses:
                    return health
            except httpx.TransportError:
                if not self.running():
                    raise AssertionError("the server has stopped") from None
            if time.monotonic() > deadline:
                raise AssertionError(f"health never became {statuses}")
            time.sleep(0.01)

    def predict(self, **inputs: Any) -> Dict[str, Any]:
        response = self.client.post("/predictions", json={"input": inputs})
        assert response.status_code == 200, response.text
        return response.json()

    def stop(self) -> None:
        self.client.close()


class ProcessServer(Server):
    """`python -m cog.server.http` in its own process, with a worker process of its own. With `log`, what it
    writes (stdout and stderr) goes to that file: `.output()` reads it."""

    def __init__(self, process: subprocess.Popen, url: str, log: Optional[Path] = None) -> None:
        super().__init__(url)
        self.process = process
        self.log = log

    def output(self) -> str:
        assert self.log is not None, "start the server with log=PATH to read what it writes"
        return self.log.read_text(errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        super().stop()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class InProcessServer(Server):
    """The app served by uvicorn in a thread of this process, the model in-process."""

    def __init__(self, settings: Settings) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        super().__init__(f"http://127.0.0.1:{sock.getsockname()[1]}")
        app = create_app(settings, self.request_shutdown, worker=InProcessWorker)
        self.server = uvicorn.Server(uvicorn.Config(app, access_log=False, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive(), what="uvicorn's start")

    def request_shutdown(self) -> None:
        self.server.should_exit = True

    def running(self) -> bool:
        return self.thread.is_alive()

    def stop(self) -> None:
        super().stop()
        self.server.should_exit = True
        self.thread.join(15)
        assert not self.thread.is_alive(), "the in-process server did not stop"


def _servers(make: Callable[..., Server]) -> Iterator[Callable[..., Server]]:
    """A fixture's `start(predict_ref, wait=..., **options)`: make a server, wait for its setup, stop it at the end."""
    servers: List[Server] = []

    def start(predict: str, *, wait: Optional[str] = "READY", **options: Any) -> Server:
        server = make(predict, **options)
        servers.append(server)
        if wait:
            server.wait_for(wait, "SETUP_FAILED", "DEFUNCT")
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """serve(predict_ref, wait=..., **Settings fields) → an InProcessServer for a model in fixtures/ (or in
    project_dir=...)."""
    yield from _servers(lambda predict, **settings: InProcessServer(
        Settings(**{"project_dir": str(FIXTURES), **settings, "predict_ref": predict})))


def _process_server(predict: Optional[str], *, args: List[str] = (), cwd: Path = FIXTURES,
                    log: Optional[Path] = None, **env: str) -> Server:
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COG_")}
    environment["PYTHONPATH"] = str(REPO)
    if predict is not None:
        environment["COG_PREDICT"] = predict
    environment.update(env)
    output = open(log, "wb") if log is not None else None
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "cog.server.http", "--host", "127.0.0.1", "--port", str(port), *args],
            cwd=cwd, env=environment, stdout=output, stderr=subprocess.STDOUT if output else None,
        )
    finally:
        if output is not None:
            output.close()
    return ProcessServer(process, f"http://127.0.0.1:{port}", log)


@pytest.fixture
def start_server() -> Iterator[Callable[..., Server]]:
    """start_server(predict_ref, wait=..., args=[...], cwd=..., log=PATH, **environment) → a ProcessServer for a
    model in fixtures/ (or in `cwd`); predict_ref None leaves COG_PREDICT unset (cog.yaml in `cwd` says)."""
    yield from _servers(_process_server)


class Receiver:
    """Records webhook POSTs and upload PUTs; serves files for download tests; may fail the first requests."""

    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []
        self.failures_left = 0
        self.failing_path: Optional[str] = None  # where the failures go; None: any path
        self.files: Dict[str, bytes] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                data = receiver.files.get(self.path)
                self.send_response(200 if data is not None else 404)
                self.send_header("Content-Length", str(len(data or b"")))
                self.end_headers()
                self.wfile.write(data or b"")

            def _record(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    fail = receiver.failures_left > 0 and receiver.failing_path in (None, self.path)
                    receiver.failures_left -= fail
                    receiver.requests.append({
                        "method": self.command, "path": self.path, "headers": dict(self.headers),
                        "body": body, "failed": fail,
                    })
                self.send_response(503 if fail else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = _record

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short poll interval: shutdown() waits for it, at the end of every test that uses a receiver.
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def webhooks(self, path: str = "/webhook") -> List[Dict[str, Any]]:
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests
                    if r["path"] == path and r["method"] == "POST" and not r["failed"]]

    def wait_for_completed(self, path: str = "/webhook", timeout: float = 10) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            done = [w for w in self.webhooks(path) if w["status"] in TERMINAL]
            if done:
                return done[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no completed webhook; got {self.webhooks(path)}")
            time.sleep(0.02)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()
