"""Cog users' projects and command lines, run through the real CLI against a real engine (tests/docker.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.docker import cog, cog_env, docker_engine, image_name  # noqa: F401 - fixtures

PROJECTS = Path(__file__).parent / "projects"


@pytest.fixture
def compat_project(tmp_path):
    """A copy of a project under tests/compat/projects, to build and to let the model write into."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(PROJECTS / name, target)
        return target

    return copy
