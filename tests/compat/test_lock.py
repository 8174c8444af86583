"""`cog lock` through the real CLI, with uv's resolver against package indexes on loopback (tests/wheels.py).

One project with torch, CPU and GPU, for linux/amd64 and linux/arm64: PyTorch's index is a loopback mirror of
small stand-in wheels (COG_TORCH_INDEX), the project's own index holds the rest, and the prediction server's
packages come from the same loopback index (UV_DEFAULT_INDEX). Nothing leaves the machine: any other address goes
through a proxy on a loopback port that refuses (the base images' digests are read from the engine's own copies).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from cog.images.context import runtime_requirements
from cog.matrix import load_matrix
from tests.heredocs import heredoc
from tests.loopback import free_port
from tests.wheels import make_wheel, serving, sha256

COG = [sys.executable, "-m", "cog.cli"]
MACHINES = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
TORCH = "2.8.0"
# The prediction server's packages as cog declares them, each at the lowest version its requirement allows.
SERVER = {Requirement(line).name: next(spec.version for spec in Requirement(line).specifier if spec.operator == ">=")
          for line in runtime_requirements()}
COG_YAML = ('build:\n  gpu: true\n  python_version: "3.11"\n  python_requirements: requirements.txt\n'
            'predict: "predict.py:Predictor"\n')
SEED = ("pip", "setuptools", "wheel")  # what the model's environment starts with, where the base image has no Python
PREDICT = "from cog import BasePredictor\n\n\nclass Predictor(BasePredictor):\n    def predict(self) -> str:\n        return 'ok'\n"


def _tag(machine: str) -> str:
    return f"cp311-cp311-manylinux_2_28_{machine}"


@pytest.fixture(scope="module")
def indexes(tmp_path_factory):
    """(the project's index URL, the PyTorch mirror URL with {index}): torch for each build cuda_matrix/ lists
    for TORCH, a CUDA build requiring an nvidia-* package, a package only for aarch64, the server's packages and
    the model environment's seed."""
    root = tmp_path_factory.mktemp("indexes")
    simple = root / "simple"
    row = next(row for row in load_matrix().torch if row.torch == TORCH)
    for build in row.builds:
        name = build.index_url.rstrip("/").rsplit("/", 1)[1]
        folder = root / "whl" / name
        for platform in build.platforms:
            labelled = not (build.cuda == "cpu" and platform == "linux/arm64")
            version = f"{TORCH}+{build.local_version}" if labelled else TORCH
            requires = () if build.cuda == "cpu" else ("nvidia-cublas-cu12==12.8.1",)
            make_wheel(folder / "torch", "torch", version, _tag(MACHINES[platform]), requires)
        if build.cuda != "cpu":
            for machine in MACHINES.values():
                make_wheel(folder / "nvidia-cublas-cu12", "nvidia-cublas-cu12", "12.8.1", f"py3-none-manylinux_2_27_{machine}")
    make_wheel(simple / "tinydep", "tinydep", "1.0.0")
    make_wheel(simple / "tinydep", "tinydep", "1.2.0")
    make_wheel(simple / "onlyarm", "onlyarm", "0.1.0", _tag("aarch64"))
    for name in SEED:
        make_wheel(simple / name, name, "1.0")
    for name, version in SERVER.items():
        make_wheel(simple / name, name, version)
    with serving(root) as url:
        yield root, f"{url}/simple", f"{url}/whl/{{index}}"


def write_project(directory: Path, simple: str) -> Path:
    requirements = f"--index-url {simple}\ntorch=={TORCH}\ntinydep>=1\nonlyarm; platform_machine == 'aarch64'\n"
    for name, text in {"cog.yaml": COG_YAML, "predict.py": PREDICT, "requirements.txt": requirements}.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


@pytest.fixture
def lock_project(tmp_path, indexes):
    return write_project(tmp_path, indexes[1])


@pytest.fixture(scope="module")
def locked_once(tmp_path_factory, indexes):
    """A project locked once by `cog lock` for both variants and platforms, and its cog.lock as read back."""
    project = write_project(tmp_path_factory.mktemp("locked"), indexes[1])
    result = cog(project, indexes, "lock")
    assert result.returncode == 0, result.stderr
    return project, tomllib.loads((project / "cog.lock").read_text(encoding="utf-8"))


@pytest.fixture
def locked_project(locked_once, tmp_path):
    """A copy of the project locked once, to edit."""
    shutil.copytree(locked_once[0], tmp_path, dirs_exist_ok=True)
    return tmp_path


def cog(project: Path, indexes, *args: str) -> subprocess.CompletedProcess:
    root, simple, torch_mirror = indexes
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("COG_", "_COG_", "UV_"))}
    nowhere = f"http://127.0.0.1:{free_port()}"  # what is not on loopback goes through a proxy that refuses
    environment.update({
        "COLUMNS": "200", "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1", "COG_TORCH_INDEX": torch_mirror,
        "HTTPS_PROXY": nowhere, "https_proxy": nowhere, "HTTP_PROXY": nowhere, "http_proxy": nowhere,
        "UV_DEFAULT_INDEX": simple, "UV_CACHE_DIR": str(root / "uv-cache"),
    })
    return subprocess.run([*COG, *args], cwd=project, capture_output=True, text=True, env=environment, timeout=300)


def packages(lock: dict, name: str) -> list[dict]:
    return [package for package in lock["package"] if package["name"] == name]


def test_lock_resolves_each_variant_and_platform_with_its_torch_build(locked_once):
    _, lock = locked_once
    keys = ["cpu linux/amd64", "cpu linux/arm64", "gpu linux/amd64", "gpu linux/arm64"]
    assert [f"{image['variant']} {image['platform']}" for image in lock["image"]] == keys
    torch = {package["version"]: package["model"] for package in packages(lock, "torch")}
    assert torch == {"2.8.0": ["cpu linux/arm64"], "2.8.0+cpu": ["cpu linux/amd64"],
                     "2.8.0+cu128": ["gpu linux/arm64"], "2.8.0+cu129": ["gpu linux/amd64"]}
    assert packages(lock, "nvidia-cublas-cu12")[0]["model"] == ["gpu linux/amd64", "gpu linux/arm64"]
    assert packages(lock, "onlyarm")[0]["model"] == ["cpu linux/arm64", "gpu linux/arm64"]
    assert [(p["version"], p["model"]) for p in packages(lock, "tinydep")] == [("1.2.0", keys)]
    for name, version in SERVER.items():
        assert [(p["version"], p["server"], p.get("model")) for p in packages(lock, name)] == [(version, keys, None)]
    for name in SEED:  # the GPU images' own; the CPU images' environment sees the pip of Python's image
        assert [(p["version"], p["seed"]) for p in packages(lock, name)] == [("1.0", keys[2:])]


def test_the_lock_holds_each_wheels_hash_and_the_files_it_was_made_from(locked_once, indexes):
    root, _, _ = indexes
    project, lock = locked_once
    wheel = root / "whl" / "cpu" / "torch" / f"torch-{TORCH}+cpu-{_tag('x86_64')}.whl"
    assert packages(lock, "torch")[1]["hashes"] == [sha256(wheel)]
    assert lock["inputs"] == {name: sha256(project / name) for name in ("cog.yaml", "requirements.txt")}


def test_locking_again_writes_the_same_file(locked_project, indexes):
    first = (locked_project / "cog.lock").read_bytes()
    assert cog(locked_project, indexes, "lock").returncode == 0
    assert (locked_project / "cog.lock").read_bytes() == first


def test_the_dockerfile_installs_the_lock_with_hashes(locked_once, indexes):
    result = cog(locked_once[0], indexes, "generate-dockerfile", "--variant", "gpu", "--platform", "linux/arm64")
    assert result.returncode == 0, result.stderr
    body = heredoc(result.stdout, "COG_REQUIREMENTS")
    names = [line.split(" ")[0] for line in body.splitlines() if not line.startswith((" ", "--"))]
    assert names == ["nvidia-cublas-cu12==12.8.1", "onlyarm==0.1.0", "tinydep==1.2.0", f"torch=={TORCH}+cu128"]
    assert "--hash=sha256:" in body
    assert "--no-deps --require-hashes" in result.stdout
    assert "-r /opt/cog/server-requirements.txt" in result.stdout


def test_check_passes_on_a_fresh_lock_and_fails_naming_the_edited_file(locked_project, indexes):
    lock_project = locked_project
    checked = cog(lock_project, indexes, "lock", "--check")
    assert checked.returncode == 0, checked.stderr
    with (lock_project / "requirements.txt").open("a") as requirements:
        requirements.write("tinydep<1.1\n")
    stale = cog(lock_project, indexes, "lock", "--check")
    assert stale.returncode == 1
    assert stale.stderr.strip() == ("error: cog.lock is out of date: requirements.txt changed since it was made; run "
                                    "cog lock (or delete cog.lock to build without it)")
    generated = cog(lock_project, indexes, "generate-dockerfile")
    assert generated.returncode == 1 and "requirements.txt changed since it was made" in generated.stderr


def test_check_without_a_lock_is_a_one_line_error(lock_project, indexes):
    result = cog(lock_project, indexes, "lock", "--check")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: there is no cog.lock next to cog.yaml; run cog lock"


def test_a_platform_the_lock_leaves_out_is_refused_by_the_build(lock_project, indexes):
    assert cog(lock_project, indexes, "lock", "--platform", "linux/amd64").returncode == 0
    result = cog(lock_project, indexes, "generate-dockerfile", "--platform", "linux/arm64")
    assert result.returncode == 1
    assert result.stderr.strip() == ("error: cog.lock has no gpu image for linux/arm64 (it locks: cpu linux/amd64, "
                                     "gpu linux/amd64); run cog lock --platform linux/amd64,linux/arm64")


def test_an_unresolvable_requirement_is_a_one_line_error_naming_the_image(lock_project, indexes):
    with (lock_project / "requirements.txt").open("a") as requirements:
        requirements.write("tinydep>=5\n")
    result = cog(lock_project, indexes, "lock", "--platform", "linux/amd64")
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: uv cannot resolve the model's requirements of the cpu image for linux/amd64: ")
    assert "tinydep" in line and "Traceback" not in result.stderr


@pytest.mark.docker
def test_build_refuses_a_lock_older_than_the_requirements_naming_the_file(locked_project, indexes, docker_engine):
    with (locked_project / "requirements.txt").open("a") as requirements:
        requirements.write("tinydep<1.1\n")
    result = cog(locked_project, indexes, "build", "-t", "cog-test-stale-lock")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: cog.lock is out of date: requirements.txt changed since it was made; run cog lock (or delete cog.lock "
        "to build without it)")


def test_the_lock_is_one_of_the_packages_files_so_a_server_builds_exactly_it(locked_once):
    from cog.packages.package import scan

    assert "cog.lock" in [entry.path for entry in scan(locked_once[0]).manifest.files]
