"""Tests that build and run real images: a real Docker engine with BuildKit and real registries on loopback.

scripts/setup.sh provides them (scripts/test.sh runs it first). Without Docker these tests fail, never skip.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.docker import cog, cog_env, docker_engine, image_name  # noqa: F401 - fixtures shared with tests/compat

PROJECTS = Path(__file__).parent / "projects"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OPEN_REGISTRY = "127.0.0.1:5000"


def mirror_with(*images: tuple[str, str]) -> str:
    """A fresh mirror on the loopback registry holding only these (official name, path in the mirror) images."""
    mirror = f"{OPEN_REGISTRY}/mirror-{uuid.uuid4().hex[:8]}"
    for official, path in images:
        subprocess.run(["docker", "tag", official, f"{mirror}/{path}"], check=True)
        for _ in range(3):
            # docker pushes a multi-platform image's tag twice at once, and distribution 2.8's filesystem storage
            # rewrites a tag in place: a HEAD between the two can read it empty and answer 500 "invalid checksum
            # digest format" (seen once in CI). The registry's race, not cog's: push again.
            pushed = subprocess.run(["docker", "push", "-q", f"{mirror}/{path}"], capture_output=True, text=True)
            if pushed.returncode == 0:
                break
        subprocess.run(["docker", "image", "rm", f"{mirror}/{path}"], check=True, capture_output=True)
        assert pushed.returncode == 0, f"docker push {mirror}/{path} failed: {pushed.stderr.strip()}"
    return mirror


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/images/" in str(item.fspath):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session", autouse=True)
def _engine(docker_engine):
    """Every test here needs the engine (tests/docker.py says why, and fails without it)."""


@pytest.fixture
def project(tmp_path):
    """A copy of a test project (or an example) to build and edit."""

    def copy(name: str) -> Path:
        source = EXAMPLES / name if (EXAMPLES / name).is_dir() else PROJECTS / name
        target = tmp_path / name
        shutil.copytree(source, target)
        return target

    return copy
