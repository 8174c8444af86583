"""A stop in the middle of a prediction, as an orchestrator stops a replica: SIGTERM, then SIGKILL once the grace
period is over. The prediction finishes and the runtime exits 0 on its own, before the kill."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from tests.deploy.conftest import docker
from tests.loopback import free_port

pytestmark = pytest.mark.docker

GRACE = 10  # seconds: the runtime's drain (COG_SHUTDOWN_GRACE_SECONDS), and docker stop's wait before SIGKILL


def _health(url: str) -> str | None:
    try:
        return httpx.get(f"{url}/health-check", timeout=5).json()["status"]
    except httpx.HTTPError:
        return None


def _until(condition, what: str, budget: float = 60) -> None:
    deadline = time.monotonic() + budget
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_sigterm_during_a_prediction_lets_it_finish_and_exits_0_within_the_grace(hello_images, run_id):
    _, v2 = hello_images
    container = f"{run_id}-drain"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    docker("run", "-d", "--name", container, "-p", f"127.0.0.1:{port}:5000", "-e", f"COG_SHUTDOWN_GRACE_SECONDS={GRACE}", v2)
    try:
        _until(lambda: _health(url) == "READY", "setup")
        answers = []
        request = threading.Thread(target=lambda: answers.append(httpx.post(
            f"{url}/predictions", json={"input": {"text": "world", "seconds": 3}}, timeout=60)))
        request.start()
        _until(lambda: _health(url) == "BUSY", "the prediction to start")
        stopped = docker("stop", "--time", str(GRACE), container, timeout=GRACE + 30)  # SIGTERM; SIGKILL after GRACE
        request.join(timeout=30)

        assert stopped.returncode == 0
        (answer,) = answers
        assert answer.status_code == 200 and answer.json()["status"] == "succeeded", answer.text
        assert answer.json()["output"] == "bonjour world"
        state = json.loads(docker("inspect", "--format", "{{json .State}}", container).stdout)
        # 0: it exited on its own; a SIGKILL at the end of the grace period would read 137.
        assert state["ExitCode"] == 0 and not state["OOMKilled"], state
    finally:
        docker("rm", "-f", container, check=False)
