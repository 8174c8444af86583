"""The model's environment is not the server's: a worker on another interpreter, with pydantic 1 or none."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Kept between runs: building the pydantic-1 environment downloads from PyPI.
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cog-tests" / f"py{sys.version_info[0]}{sys.version_info[1]}"


def _venv(name: str, *requirements: str) -> Path:
    root = CACHE / name
    python = root / "bin" / "python"
    marker = root / ".complete"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(root)] + ([] if requirements else ["--without-pip"]),
                       check=True)
        if requirements:
            subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], check=True)
        marker.touch()
    return python


@pytest.fixture(scope="session")
def pydantic1_python() -> Path:
    return _venv("pydantic1", "pydantic>=1.10,<2")


@pytest.fixture(scope="session")
def bare_python() -> Path:
    return _venv("bare")


def test_model_pinning_pydantic_1_runs_under_a_pydantic_2_server(start_server, pydantic1_python: Path) -> None:
    import pydantic

    assert pydantic.VERSION.startswith("2.")  # the server's own environment
    server = start_server("pydantic1_model.py:Predictor", COG_WORKER_PYTHON=str(pydantic1_python))
    assert server.health()["status"] == "READY", server.health()
    result = server.predict(name="ada")
    assert result["status"] == "succeeded", result
    assert result["output"]["greeting"] == "hi ada" and result["output"]["pydantic_version"].startswith("1.")
    schema = server.client.get("/openapi.json").json()["components"]["schemas"]["Output"]
    assert schema["properties"]["pydantic_version"] == {"title": "Pydantic Version", "type": "string"}


def test_model_environment_without_any_third_party_package(start_server, bare_python: Path) -> None:
    server = start_server("hello.py:Predictor", COG_WORKER_PYTHON=str(bare_python))
    assert server.predict(text="bare")["output"] == "hello bare"
