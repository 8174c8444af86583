"""The built wheel carries templates/ and cuda_matrix/: installed into a fresh venv it works from any directory."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )
    return next(out.glob("cog-*.whl"))


def test_wheel_contains_data_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "cog/_data/templates/Dockerfile.j2" in names
    assert "cog/_data/cuda_matrix/torch.yaml" in names
    assert "cog/_data/cuda_matrix/schema.json" in names


def test_installed_wheel_generates_a_dockerfile_from_another_directory(wheel, tmp_path):
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    # The dependencies come from this test run's environment; cog itself only from the wheel.
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    (site / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True, timeout=300)
    project = tmp_path / "elsewhere"
    project.mkdir()
    (project / "cog.yaml").write_text('build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\n')
    result = subprocess.run([str(environment / "bin" / "cog"), "generate-dockerfile"], cwd=project, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "FROM python:3.11-slim" in result.stdout
    located = subprocess.check_output([str(python), "-c", "import cog.resources as r; print(r.templates_dir())"], cwd=project, text=True)
    assert located.strip() == str(site / "cog" / "_data" / "templates")
