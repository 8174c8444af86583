"""Where requirements come from, built for real: pyproject.toml with an extra and a dependency group, uv.lock,
pylock.toml, and cog.lock made by `cog lock`. Each model answers with the distributions installed in its
environment (but pip, setuptools, wheel and cog, which every image has), which must be exactly what the file
says: for a lock, its versions (older ones than a resolution would pick), and nothing else."""

from __future__ import annotations

import json
import subprocess
import tomllib

import pytest
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.docker

# project → what `cog predict` answers: the model's environment, package by package.
EXPECTED = {
    # six from [project].dependencies, idna from the idna extra, packaging from the tools group; not attrs (in
    # the unused extra and the dev group).
    "requirements-pyproject": "idna==3.7 packaging==24.1 six==1.16.0",
    # uv.lock locked with --resolution lowest-direct: six 1.15.0 and idna 3.6, where resolving the ranges of its
    # pyproject.toml would install six 1.16.0 and idna 3.7; packaging from the version-tools extra; attrs (the dev
    # group) left out.
    "requirements-uv-lock": "idna==3.6 packaging==24.1 six==1.15.0",
    # pylock.toml (uv export --format pylock.toml): idna 3.6 on x86_64 (3.7 is for aarch64).
    "requirements-pylock": "idna==3.6 packaging==24.1 six==1.16.0",
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_the_image_has_what_the_file_says(cog, compat_project, image_name, name):
    project = compat_project(name)
    tag = image_name(f"cog-compat-{name}")
    built = cog("build", "-t", tag, cwd=project)
    assert f"Image built as {tag}\n" in built.stderr
    assert not [line for line in built.stderr.splitlines() if line.startswith("warning:")], built.stderr
    assert cog("predict", tag, cwd=project).stdout == EXPECTED[name] + "\n"


def test_a_lock_is_installed_with_its_hashes_and_nothing_resolved(cog, compat_project):
    dockerfile = cog("generate-dockerfile", cwd=compat_project("requirements-uv-lock")).stdout
    assert ("six==1.15.0 \\\n    --hash=sha256:30639c035cdb23534cd4aa2dd52c3bf48f06e5f4a941509c8bafd8ce11080259 \\\n"
            "    --hash=sha256:8b74bedcbbbaca38ff6d7491d76f2b06b3592611af620f8426e82dddb04a5ced\n") in dockerfile
    assert "-r /opt/cog/requirements.txt --no-deps --require-hashes\n" in dockerfile


def test_a_lock_that_leaves_out_the_python_fails_before_building(cog, compat_project):
    project = compat_project("requirements-uv-lock")
    config = project / "cog.yaml"
    config.write_text(config.read_text().replace('"3.11"', '"3.10"'))
    result = cog("build", cwd=project, check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == (
        "error: uv.lock:3: uv.lock is for Python >=3.11, which leaves out the image's Python 3.10 "
        "(build.python_version, cog.yaml:2:19); change python_version or uv.lock's requires-python")


def test_a_tampered_hash_fails_the_install(cog, compat_project):
    """--require-hashes is what makes a lock exact: a wheel that is not the one locked is refused."""
    project = compat_project("requirements-uv-lock")
    lock = project / "uv.lock"
    lock.write_text(lock.read_text().replace("30639c035cdb23534cd4aa2dd52c3bf48f06e5f4a941509c8bafd8ce11080259",
                                             "0" * 64).replace(
        "8b74bedcbbbaca38ff6d7491d76f2b06b3592611af620f8426e82dddb04a5ced", "1" * 64))
    result = cog("build", cwd=project, check=False)
    assert result.returncode == 1
    assert "Hash mismatch for `six==1.15.0`" in result.stderr, result.stderr[-2000:]


# Every distribution in one of the image's environments (not the base Python's), by name: what `docker run` answers.
INSTALLED = ("import importlib.metadata, json, sysconfig; print(json.dumps(sorted({d.metadata['Name']: d.version for d "
             "in importlib.metadata.distributions(path=[sysconfig.get_paths()['purelib']])}.items())))")


def test_a_built_image_has_in_each_environment_exactly_what_cog_lock_says(cog, compat_project, image_name):
    """requirements.txt with ranges, locked by `cog lock` and built: the model's environment holds the lock's
    model packages at the locked versions, the server's its own, and each nothing else but the cog wheel (the
    CPU image's pip is the base image's, which the lock pins by digest)."""
    project = compat_project("requirements-pyproject")
    (project / "pyproject.toml").unlink()
    (project / "requirements.txt").write_text("six>=1.15\nidna>=3.6,<3.8\n", encoding="utf-8")
    (project / "cog.yaml").write_text('build:\n  python_version: "3.11"\n  python_requirements: requirements.txt\n'
                                      'predict: "predict.py:Predictor"\n', encoding="utf-8")
    cog("lock", "--platform", "linux/amd64", cwd=project)
    lock = tomllib.loads((project / "cog.lock").read_text(encoding="utf-8"))
    tag = image_name("cog-compat-locked")
    cog("build", "-t", tag, cwd=project)

    def locked(*environments: str) -> dict[str, str]:
        return {package["name"]: package["version"] for package in lock["package"]
                if any("cpu linux/amd64" in package.get(environment, ()) for environment in environments)}

    def installed(python: str) -> dict[str, str]:
        answer = subprocess.run(["docker", "run", "--rm", tag, python, "-c", INSTALLED],
                                capture_output=True, text=True, check=True).stdout
        return {canonicalize_name(name): version for name, version in json.loads(answer) if name != "cog"}

    model = locked("model", "seed")
    assert model == {"six": model["six"], "idna": model["idna"]}
    assert installed("/opt/cog/model/bin/python") == model
    assert installed("/opt/cog/server/bin/python") == locked("server")
