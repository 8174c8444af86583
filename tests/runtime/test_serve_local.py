"""`cog serve --local`: the runtime from a project directory in this Python, without Docker."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.runtime.conftest import free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello-world"


def test_serve_local_answers_predictions(tmp_path):
    project = tmp_path / "hello"
    shutil.copytree(EXAMPLE, project)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "cog.cli", "serve", "--local", "--port", str(port)], cwd=project,
        env={**os.environ, "COLUMNS": "200"}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health-check", timeout=1).json()["status"] == "READY":
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "the local server did not become READY"
            time.sleep(0.05)
        response = httpx.post(f"http://127.0.0.1:{port}/predictions", json={"input": {"text": "local"}}, timeout=10)
        assert response.json()["output"] == "hello local"
        assert httpx.get(f"http://127.0.0.1:{port}/playground", timeout=10).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(15)
    assert f"Playground: http://127.0.0.1:{port}/playground\n" in process.stdout.read()
