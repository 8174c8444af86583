"""Stores on file://, memory:// and s3:// (a real S3 API: moto's server on a loopback port), and cog servers on
loopback: in this process (uvicorn in a thread) or as `cog server` processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import boto3
import httpx
import pytest
import uvicorn
from moto.server import ThreadedMotoServer

from cog.packages.api import ServerState, create_app
from cog.packages.store import Store

S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
# One try, a short wait: an unreachable S3 fails in a second, not after botocore's retries.
S3_FAST_FAILURE = {"config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1}}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint() -> str:
    os.environ.update(S3_CREDENTIALS)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_url(s3_endpoint) -> str:
    """A fresh bucket on the S3 server."""
    bucket = f"cog-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return f"s3://{bucket}/store"


@pytest.fixture(params=["file", "memory", "s3"])
def store(request, tmp_path) -> Store:
    if request.param == "file":
        return Store((tmp_path / "store").as_uri())
    if request.param == "memory":
        return Store(f"memory://cog-{uuid.uuid4().hex}")
    endpoint = request.getfixturevalue("s3_endpoint")
    return Store(request.getfixturevalue("s3_url"), client_kwargs={"endpoint_url": endpoint})


class LiveServer:
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.token = state.store.create_token("test")
        self.url = f"http://127.0.0.1:{free_port()}"
        config = uvicorn.Config(create_app(state), host="127.0.0.1", port=int(self.url.rsplit(":", 1)[1]), log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def http(self, token: str | None = "default") -> httpx.Client:
        token = self.token if token == "default" else token
        return httpx.Client(base_url=f"{self.url}/v1", headers={"Authorization": f"Bearer {token}"} if token else {})


@pytest.fixture
def live_server(tmp_path_factory):
    """A server without image builds over a file:// store, in this process, on real HTTP."""
    storage = tmp_path_factory.mktemp("store").as_uri()
    state = ServerState(store=Store(storage), builds=None, max_blob_size=10 * 1024 * 1024)
    with LiveServer(state) as server:
        yield server


@pytest.fixture
def cli_env(tmp_path_factory) -> dict[str, str]:
    """The CLI's settings in a fresh home, so that tests never see the user's remote, tokens or hash cache."""
    home = tmp_path_factory.mktemp("home")
    return {**os.environ, "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"),
            "XDG_CACHE_HOME": str(home / "cache"), "COLUMNS": "200", "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def run_cog(cli_env):
    def run(*args: str, cwd: Path, check: bool = True, input: str | None = None, env: dict | None = None):
        result = subprocess.run([sys.executable, "-m", "cog.cli", *args], cwd=cwd, env={**cli_env, **(env or {})},
                                capture_output=True, text=True, input=input, timeout=600)
        if check and result.returncode != 0:
            raise AssertionError(f"cog {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return result

    return run


class ServerProcess:
    """`cog server` as its own process, as users run it."""

    def __init__(self, args: list[str], env: dict[str, str], token_file: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token_file = token_file
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cog.cli", "server", "--port", str(self.port), "--token-file", str(token_file), *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"cog server exited: {self.process.stdout.read()}")
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("cog server did not answer within 30 s")

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            output, _ = self.process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate()
        return output


@pytest.fixture
def start_server(cli_env, tmp_path_factory):
    started: list[ServerProcess] = []
    token_file = tmp_path_factory.mktemp("server") / "token"

    def start(*args: str, env: dict | None = None) -> ServerProcess:
        started.append(ServerProcess(list(args), {**cli_env, **(env or {})}, token_file))
        return started[-1]

    yield start
    for server in started:
        server.stop()
