"""A model published for Cog imports what Cog's SDK installed (yaml, pydantic) without listing it, and loads:
built and run through the real CLI against a real engine."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

# The CLI as tests/images runs it (its own user settings, the CA bundle builds need behind this machine's proxy),
# and the check that a Docker engine answers (a failure, never a skip).
from tests.images.conftest import cog, cog_env, docker_engine  # noqa: F401

pytestmark = pytest.mark.docker

PROJECTS = Path(__file__).parent / "projects"


@pytest.fixture
def implicit_deps(tmp_path):
    """A copy of the project under a unique name, so its image (cog-DIRECTORY) is this test's; removed after."""
    directory = tmp_path / f"implicit-deps-{uuid.uuid4().hex[:10]}"
    shutil.copytree(PROJECTS / "implicit-deps", directory)
    yield directory
    subprocess.run(["docker", "image", "rm", "-f", f"cog-{directory.name}"], capture_output=True)


def test_a_model_importing_yaml_and_pydantic_without_requirements_predicts(docker_engine, cog, implicit_deps):
    result = cog("predict", "-i", "name=world", cwd=implicit_deps, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout == "text: HELLO world!\nto: world\n"
    assert "predict.py:1: imports yaml, which Cog's SDK brought along; adding PyYAML to the model's requirements" in result.stderr
    assert "predict.py:2: imports pydantic, which Cog's SDK brought along; adding pydantic>=1.9,<3" in result.stderr
