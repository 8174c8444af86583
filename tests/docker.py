"""Fixtures for tests that run the real CLI against a real Docker engine with BuildKit (tests/images, tests/compat).

scripts/setup.sh provides the engine, the registries and the base-image stand-ins (scripts/test.sh runs it first).
Without Docker these tests fail, never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


@pytest.fixture(scope="session")
def docker_engine():
    problem = None
    if shutil.which("docker") is None:
        problem = "the docker command is not installed"
    else:
        info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
        if info.returncode != 0:
            problem = f"the Docker daemon does not answer ({info.stderr.strip().splitlines()[-1:]})"
    if problem:
        pytest.fail(f"these tests need Docker: {problem}; run scripts/setup.sh", pytrace=False)


@pytest.fixture(scope="session")
def cog_env(tmp_path_factory) -> dict[str, str]:
    """The environment the CLI runs in: its own user settings (no cog server set, unless a test sets one), and
    behind this machine's TLS proxy, the CA bundle that builds need."""
    home = tmp_path_factory.mktemp("user")
    env = {**os.environ, "COLUMNS": "200", "PYTHONUNBUFFERED": "1",
           "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data")}
    if SYSTEM_CA_BUNDLE.is_file():
        env["COG_CA_BUNDLE"] = str(SYSTEM_CA_BUNDLE)
    return env


@pytest.fixture(scope="session")
def cog(cog_env, docker_engine):
    def run(*args: str, cwd: Path | None = None, env: dict | None = None, input: str | None = None, check: bool = True):
        result = subprocess.run(
            [sys.executable, "-m", "cog.cli", *args], cwd=cwd, env={**cog_env, **(env or {})},
            capture_output=True, text=True, input=input, timeout=900,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"cog {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-4000:]}")
        return result

    return run


@pytest.fixture
def image_name():
    """A unique image name, removed from the engine after the test."""
    names = []

    def make(prefix: str = "cog-test") -> str:
        names.append(f"{prefix}-{uuid.uuid4().hex[:10]}")
        return names[-1]

    yield make
    for name in names:
        subprocess.run(["docker", "image", "rm", "-f", name, f"{name}:latest-gpu"], capture_output=True)
