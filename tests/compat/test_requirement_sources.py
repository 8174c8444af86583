"""Where requirements come from, built for real: pyproject.toml with an extra and a dependency group, uv.lock and
pylock.toml. Each model answers with the distributions installed in its environment (but pip, setuptools, wheel
and cog, which every image has), which must be exactly what the file says: for a lock, its versions (older ones
than a resolution would pick), and nothing else."""

from __future__ import annotations

import pytest

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
