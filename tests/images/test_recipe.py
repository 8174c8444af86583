"""A code-only rebuild replayed from the recipe of the last full build (cog.images.recipe): it runs when only the
Python source changed, makes the very image a full build makes, and steps aside for any other change.

Whether a build was a replay is read from what it imported (`python -X importtime`): a replay starts before the
command line is parsed, so typer is never imported; and one whose stubs of the source are the recorded ones takes
the recorded schema, so the SDK's signature code is not imported either."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from cog.images.recipe import _includes_from_outside, recipe_file


def imported(stderr: str) -> set[str]:
    return set(re.findall(r"^import time:.*\|\s+([\w.]+)$", stderr, re.MULTILINE))


def build(cog_env: dict, directory: Path, tag: str, *extra: str, env: dict | None = None,
          schema_read: bool | None = None) -> tuple[bool, str]:
    """(replayed, what cog printed) for `cog build -t TAG`; `schema_read`: whether the static reader ran the stubs
    (None: either)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "cog.cli", "build", "-t", tag, *extra],
                            cwd=directory, env={**cog_env, **(env or {})}, capture_output=True, text=True, timeout=900)
    printed = "\n".join(line for line in result.stderr.splitlines() if not line.startswith("import time:"))
    assert result.returncode == 0, printed[-3000:]
    assert f"Image built as {tag}" in printed
    modules = imported(result.stderr)
    if schema_read is not None:
        assert ("cog.sdk.signature" in modules) is schema_read, printed
    return "typer" not in modules, printed


def image(tag: str) -> tuple[str, dict]:
    inspected = json.loads(subprocess.run(["docker", "image", "inspect", tag], check=True, capture_output=True,
                                          text=True).stdout)[0]
    return inspected["Id"], inspected["Config"]["Labels"]


def edit(path: Path, old: str = "", new: str = "") -> None:
    path.write_text(path.read_text().replace(old, new) + f"# {uuid.uuid4().hex}\n")


def test_a_code_edit_is_replayed_and_makes_the_image_a_full_build_makes(cog, cog_env, project, image_name):
    directory = project("hello-world")
    tag = image_name()
    assert not build(cog_env, directory, tag)[0]  # the first build is a full one
    edit(directory / "predict.py", '"hello"', '"hi"')
    edit(directory / "predict.py", 'text: str = Input(description="Text to greet")',
         'text: str = Input(description="Text to greet"), times: int = Input(default=1, ge=1)')
    edit(directory / "predict.py", 'return f"{self.greeting} {text}"', 'return " ".join([f"{self.greeting} {text}"] * times)')
    replayed, printed = build(cog_env, directory, tag, schema_read=True)  # the signature changed: read anew
    assert replayed, printed
    assert printed.splitlines()[0] == f"Building the CPU image {tag} for linux/amd64"
    _, labels = image(tag)
    schema = json.loads(labels["run.cog.openapi_schema"])
    assert schema["components"]["schemas"]["Input"]["properties"]["times"]["minimum"] == 1
    assert cog("predict", tag, "-i", "text=you", "-i", "times=2", cwd=directory).stdout == "hi you hi you\n"
    # An edit to a body only: the schema that replay read is taken as it is.
    edit(directory / "predict.py", '"hi"', '"hey"')
    assert build(cog_env, directory, tag, schema_read=False)[0]
    replayed_id, replayed_labels = image(tag)
    assert replayed_labels["run.cog.openapi_schema"] == labels["run.cog.openapi_schema"]
    assert replayed_labels["run.cog.code_digest"] != labels["run.cog.code_digest"]
    assert cog("predict", tag, "-i", "text=you", "-i", "times=2", cwd=directory).stdout == "hey you hey you\n"
    # The same code built in full (--debug never replays) is the same image, labels and all.
    assert not build(cog_env, directory, tag, "--debug")[0]
    assert image(tag)[0] == replayed_id


@pytest.mark.parametrize("change", ["config", "new file", "requirements", "imports", "environment", "weights"])
def test_any_change_but_python_source_builds_in_full(cog_env, project, image_name, change):
    directory = project("hello-world")
    tag = image_name()
    build(cog_env, directory, tag)
    edit(directory / "predict.py")
    assert build(cog_env, directory, tag)[0], "a code edit after a full build is replayed"
    env = {}
    if change == "config":
        (directory / "cog.yaml").write_text((directory / "cog.yaml").read_text().replace('python_version: "3.11"', 'python_version: "3.11"\n  python_packages: ["six==1.16.0"]'))
    elif change == "new file":
        (directory / "notes.txt").write_text("read by the model")
    elif change == "requirements":  # a file that cog.yaml names, and that a later edit changes
        (directory / "requirements.txt").write_text("")
        (directory / "cog.yaml").write_text((directory / "cog.yaml").read_text().replace('python_version: "3.11"', 'python_version: "3.11"\n  python_requirements: requirements.txt'))
        build(cog_env, directory, tag)
        edit(directory / "predict.py")
        assert build(cog_env, directory, tag)[0]
        (directory / "requirements.txt").write_text("six==1.16.0\n")
    elif change == "imports":
        edit(directory / "predict.py", "from cog import", "import json\nfrom cog import")
    elif change == "environment":
        env = {"COG_TORCH_INDEX": "pypi"}
        edit(directory / "predict.py")
    elif change == "weights":
        (directory / "model.bin").write_bytes(b"\0" * 1024)
    replayed, printed = build(cog_env, directory, tag, env=env)
    assert not replayed, printed
    _, labels = image(tag)
    if change in ("config", "requirements"):
        assert subprocess.run(["docker", "run", "--rm", tag, "/opt/cog/model/bin/python", "-c", "import six"]).returncode == 0
    if change == "new file":
        assert subprocess.run(["docker", "run", "--rm", tag, "cat", "notes.txt"], capture_output=True, text=True).stdout == "read by the model"
    # ...and the full build leaves a recipe again; a replay says the config's warnings as a full build does.
    edit(directory / "predict.py")
    replayed, printed = build(cog_env, directory, tag, env=env)
    assert replayed, printed
    assert ("warning: cog.yaml:4:3: python_packages is deprecated" in printed) is (change == "config")


def test_a_recipe_is_named_by_the_command_line_its_folder_and_the_environment_cog_reads(tmp_path):
    base = recipe_file(["build", "-t", "a"], str(tmp_path), {"HOME": "/root"})
    assert recipe_file(["build", "-t", "a"], str(tmp_path), {"HOME": "/root", "SHLVL": "3", "OLDPWD": "/"}) == base
    assert recipe_file(["build", "-t", "b"], str(tmp_path), {"HOME": "/root"}) != base
    assert recipe_file(["build", "-t", "a"], str(tmp_path / "x"), {"HOME": "/root"}) != base
    for name in ("COG_CA_BUNDLE", "DOCKER_HOST", "BUILDKIT_PROGRESS", "NO_COLOR", "HTTPS_PROXY"):
        assert recipe_file(["build", "-t", "a"], str(tmp_path), {"HOME": "/root", name: "1"}) != base, name


def test_a_requirements_file_that_includes_one_from_outside_the_project_is_not_watched(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    requirements = project / "requirements.txt"
    for lines, outside in ((["six", "-r other.txt", "-c constraints.txt"], False), (["-r ../common.txt"], True),
                           (["--requirement=/etc/common.txt"], True), (["-c../pins.txt"], True)):
        requirements.write_text("\n".join(lines) + "\n")
        assert _includes_from_outside(requirements, project) is outside, lines
