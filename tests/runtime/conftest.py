"""Real servers for the runtime tests: `python -m cog.server.http` on a free loopback port, and a loopback
HTTP receiver for webhooks, file downloads and uploads."""

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
from typing import Any, Dict, Iterator, List, Optional

import httpx
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, process: subprocess.Popen, url: str) -> None:
        self.process = process
        self.url = url
        self.client = httpx.Client(base_url=url, timeout=30)

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
                if self.process.poll() is not None:
                    raise AssertionError(f"server exited with {self.process.returncode}") from None
            if time.monotonic() > deadline:
                raise AssertionError(f"health never became {statuses}")
            time.sleep(0.05)

    def predict(self, **inputs: Any) -> Dict[str, Any]:
        response = self.client.post("/predictions", json={"input": inputs})
        assert response.status_code == 200, response.text
        return response.json()

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def start_server() -> Iterator[Any]:
    servers: List[Server] = []

    def start(predict: str, *, wait: Optional[str] = "READY", args: List[str] = (), **env: str) -> Server:
        port = free_port()
        environment = dict(os.environ, COG_PREDICT=predict, PYTHONPATH=str(REPO))
        environment.update(env)
        process = subprocess.Popen(
            [sys.executable, "-m", "cog.server.http", "--host", "127.0.0.1", "--port", str(port), *args],
            cwd=FIXTURES, env=environment,
        )
        server = Server(process, f"http://127.0.0.1:{port}")
        servers.append(server)
        if wait:
            server.wait_for(wait, "SETUP_FAILED", "DEFUNCT")
        return server

    yield start
    for server in servers:
        server.stop()


class Receiver:
    """Records webhook POSTs and upload PUTs; serves files for download tests; may fail the first requests."""

    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []
        self.failures_left = 0
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
                    fail = receiver.failures_left > 0
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
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def webhooks(self, path: str = "/webhook") -> List[Dict[str, Any]]:
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests
                    if r["path"] == path and r["method"] == "POST" and not r["failed"]]

    def wait_for_completed(self, path: str = "/webhook", timeout: float = 10) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            done = [w for w in self.webhooks(path) if w["status"] in ("succeeded", "failed", "canceled")]
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
