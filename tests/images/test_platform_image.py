"""One built image, run the ways serving platforms run it, without a rebuild: SageMaker's `docker run IMAGE
serve` (port 8080, /ping, /invocations), Vertex AI's AIP_* variables, and a container stopped the way an
orchestrator stops it (SIGTERM during a prediction: it finishes, the container exits 0)."""

from __future__ import annotations

import concurrent.futures
import subprocess
import uuid
from pathlib import Path
from typing import Iterator, List

import httpx
import pytest

from tests.runtime.conftest import wait_until

PROJECT = Path(__file__).parent / "projects" / "platforms"
LABEL = "cog-test=platform-image"


@pytest.fixture(scope="module")
def image(cog) -> Iterator[str]:  # `cog`: tests/docker.py's, through tests/images/conftest.py
    tag = f"cog-test-platforms-{uuid.uuid4().hex[:10]}"
    cog("build", "-t", tag, cwd=PROJECT)
    yield tag
    subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True)


@pytest.fixture
def run(image: str) -> Iterator:
    """run(*docker run options, port=CONTAINER_PORT, command=[...]) → (container id, its loopback URL)."""
    containers: List[str] = []

    def start(*options: str, port: int, command: List[str] = ()) -> tuple:
        container = subprocess.check_output(["docker", "run", "-d", "--label", LABEL, "-p", f"127.0.0.1::{port}",
                                             *options, image, *command], text=True).strip()
        containers.append(container)
        published = subprocess.check_output(["docker", "port", container, str(port)], text=True)
        return container, f"http://127.0.0.1:{published.splitlines()[0].rsplit(':', 1)[1]}"

    yield start
    for container in containers:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_sagemaker_runs_the_image_with_serve(run) -> None:
    _, url = run(port=8080, command=["serve"])
    wait_until(lambda: answers(f"{url}/ping"), timeout=60, what="GET /ping")
    answer = httpx.post(f"{url}/invocations", json={"text": "sagemaker"}, timeout=30)
    assert answer.status_code == 200 and answer.json() == "hello sagemaker"


def test_vertex_ai_runs_the_image_with_its_variables(run) -> None:
    _, url = run("-e", "AIP_HTTP_PORT=8085", "-e", "AIP_HEALTH_ROUTE=/v1/health",
                 "-e", "AIP_PREDICT_ROUTE=/v1/models/m:predict", port=8085)
    wait_until(lambda: answers(f"{url}/v1/health"), timeout=60, what="GET AIP_HEALTH_ROUTE")
    answer = httpx.post(f"{url}/v1/models/m:predict", json={"instances": [{"text": "a"}, {"text": "b"}]}, timeout=30)
    assert answer.status_code == 200 and answer.json() == {"predictions": ["hello a", "hello b"]}


def test_sigterm_during_a_prediction_lets_it_finish_and_the_container_exits_0(run) -> None:
    container, url = run("-e", "COG_SHUTDOWN_GRACE_SECONDS=20", port=5000)
    wait_until(lambda: answers(f"{url}/readyz"), timeout=60, what="GET /readyz")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        answer = pool.submit(httpx.put, f"{url}/predictions/three-seconds",
                             json={"input": {"text": "drain", "seconds": 3}}, timeout=30)
        poll = f"{url}/predictions/three-seconds"
        wait_until(lambda: httpx.get(poll, timeout=2).json().get("status") == "processing",
                   what="the prediction's start")
        subprocess.run(["docker", "kill", "--signal", "TERM", container], check=True, capture_output=True)
        finished = answer.result(timeout=30)
    assert finished.status_code == 200 and finished.json()["output"] == "hello drain"
    exit_code = subprocess.run(["docker", "wait", container], capture_output=True, text=True, timeout=30).stdout
    assert exit_code.strip() == "0"
