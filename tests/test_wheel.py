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


def install_with_test_dependencies(wheel: Path, environment: Path) -> tuple[Path, Path]:
    """A fresh venv with cog installed only from `wheel`; its dependencies come from this test run's environment.
    Returns the venv's python and its site-packages."""
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    (site / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True, timeout=300)
    return python, site


def test_wheel_contains_data_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "cog/_data/templates/Dockerfile.j2" in names
    assert "cog/_data/cuda_matrix/torch.yaml" in names
    assert "cog/_data/cuda_matrix/schema.json" in names


def test_installed_wheel_generates_a_dockerfile_from_another_directory(wheel, tmp_path):
    environment = tmp_path / "venv"
    python, site = install_with_test_dependencies(wheel, environment)
    project = tmp_path / "elsewhere"
    project.mkdir()
    (project / "cog.yaml").write_text('build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\n')
    result = subprocess.run([str(environment / "bin" / "cog"), "generate-dockerfile"], cwd=project, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "FROM python:3.11-slim" in result.stdout
    located = subprocess.check_output([str(python), "-c", "import cog.resources as r; print(r.templates_dir())"], cwd=project, text=True)
    assert located.strip() == str(site / "cog" / "_data" / "templates")


def test_installed_cog_repacks_the_wheel_that_images_carry(wheel, tmp_path):
    """Without a checkout, `cog build` puts into images a wheel made from the installed files, offline."""
    python, _ = install_with_test_dependencies(wheel, tmp_path / "installed")
    out = tmp_path / "out"
    repacked = subprocess.check_output(
        [str(python), "-c", f"from pathlib import Path; from cog.images.wheel import build_runtime_wheel, source_checkout; "
                            f"assert source_checkout() is None; print(build_runtime_wheel(Path({str(out)!r})))"],
        cwd=tmp_path, text=True).strip()
    names = zipfile.ZipFile(repacked).namelist()
    assert "cog/_data/templates/Dockerfile.j2" in names and "cog/sdk/worker.py" in names
    assert not [name for name in names if name.endswith(("INSTALLER", "REQUESTED", "direct_url.json"))]
    model_env = tmp_path / "model"
    venv.create(model_env, with_pip=True)
    subprocess.run([str(model_env / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index", repacked],
                   check=True, timeout=300)
    version = subprocess.check_output([str(model_env / "bin" / "python"), "-c", "import cog, cog.sdk.worker; print(cog.__version__)"], text=True)
    assert version.strip() == subprocess.check_output([sys.executable, "-c", "import cog; print(cog.__version__)"], text=True).strip()
