"""Fixtures of the orchestrator tests: the engine in swarm mode (left as it was found), and hello-world's images in
two versions, built once per session. scripts/setup.sh provides the engine and the load balancer's image."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.docker import cog, cog_env, docker_engine  # noqa: F401 - the shared fixtures

HELLO_WORLD = Path(__file__).resolve().parents[2] / "examples" / "hello-world"
# The new version of the model: another greeting (a code change), a setup that takes a while (so that a replica
# that got traffic before its setup finished would show), and a slow prediction on request (for the drain).
HELLO_WORLD_V2 = '''\
import time

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def setup(self):
        time.sleep(3)
        self.greeting = "bonjour"

    def predict(self, text: str = Input(description="Text to greet"), seconds: float = Input(default=0, ge=0)) -> str:
        time.sleep(seconds)
        return f"{self.greeting} {text}"
'''


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


@pytest.fixture(scope="session")
def run_id() -> str:
    """Names every Docker object of this session: cogdeploy-ID-..."""
    return f"cogdeploy-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def hello_images(cog, run_id, tmp_path_factory):
    """(v1, v2): examples/hello-world as it is, and with HELLO_WORLD_V2 as its predict.py."""
    images = []
    for version in ("v1", "v2"):
        project = tmp_path_factory.mktemp(version) / "hello-world"
        shutil.copytree(HELLO_WORLD, project)
        if version == "v2":
            (project / "predict.py").write_text(HELLO_WORLD_V2, encoding="utf-8")
        images.append(f"{run_id}-hello:{version}")
        cog("build", "-t", images[-1], "--progress", "quiet", cwd=project)
    yield tuple(images)
    docker("image", "rm", "-f", *images, check=False)


@pytest.fixture(scope="session")
def swarm_mode(docker_engine):
    """The engine as a one-node swarm: made a manager for these tests and made to leave afterwards, whatever
    happened; an engine that already was in a swarm is used and left in it."""
    state = docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()
    if state not in ("active", "inactive"):
        pytest.fail(f"the engine's swarm state is {state!r}; expected inactive (or active)", pytrace=False)
    if state == "inactive":
        docker("swarm", "init", "--advertise-addr", "127.0.0.1")
    try:
        yield
    finally:
        if state == "inactive":
            docker("swarm", "leave", "--force", check=False)
