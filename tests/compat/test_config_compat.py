"""cog.yaml as Cog users write it, through the real CLI and engine: today's keys (python_overrides, model:, run:,
fast, cog_runtime, sdk_version, weights:), and the checks cog build makes (a model to serve, the original
dialect's architectures, input defaults inside their own constraints): the exact lines a user sees."""

from __future__ import annotations

import json
import subprocess

import pytest

from cog._version import __version__
from tests.heredocs import heredoc

pytestmark = pytest.mark.docker


def image_exists(name: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode == 0


def labels(name: str) -> dict:
    out = subprocess.run(["docker", "image", "inspect", "--format", "{{json .Config.Labels}}", name],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_python_overrides_win_over_what_dependencies_ask_for(cog, compat_project, image_name):
    project = compat_project("config-overrides")
    tag = image_name("cog-compat-overrides")
    built = cog("build", "-t", tag, cwd=project)
    assert f"Image built as {tag}\n" in built.stderr
    dockerfile = cog("generate-dockerfile", cwd=project).stdout
    assert heredoc(dockerfile, "COG_OVERRIDES") == "six==1.16.0\n"
    result = cog("predict", tag, cwd=project)
    assert result.stdout == "six 1.16.0, dateutil 2.9.0.post0\n"


def test_a_default_that_breaks_its_constraint_fails_the_build_naming_the_input(cog, compat_project, image_name):
    project = compat_project("config-bad-default")
    tag = image_name("cog-compat-bad-default")
    result = cog("build", "-t", tag, cwd=project, check=False)
    assert result.returncode == 1, result.stderr[-2000:]
    assert errors(result.stderr) == [
        "error: the image was built, but its model does not load: input 'steps': default 0 is invalid because it "
        "is less than ge=1"]
    assert "Traceback" not in result.stderr and "Image built as" not in result.stderr


def test_build_without_a_model_stops_first_and_exec_still_runs(cog, compat_project):
    project = compat_project("config-environment-only")
    name = f"cog-{project.name}"
    subprocess.run(["docker", "image", "rm", "-f", name], capture_output=True)
    try:
        refused = cog("build", cwd=project, check=False)
        assert refused.returncode == 1 and refused.stdout == ""
        assert refused.stderr.strip() == (
            'error: cog.yaml has no `predict:`, so the image would have no model to run; add predict: '
            '"predict.py:Predictor", or write `predict:` with no value to build only the model\'s environment '
            "(for cog exec and cog run)")
        assert not image_exists(name)
        ran = cog("exec", "sh", "train.sh", cwd=project)
        assert "trained with Python 3.11." in ran.stdout
        (project / "cog.yaml").write_text((project / "cog.yaml").read_text() + "predict:\n")
        built = cog("build", cwd=project)
        assert f"Image built as {name}\n" in built.stderr and image_exists(name)
    finally:
        subprocess.run(["docker", "image", "rm", "-f", name], capture_output=True)


@pytest.mark.parametrize("variant", ["gpu", "all"])
def test_the_original_architectures_cpu_refuses_a_gpu_image(cog, compat_project, variant):
    project = compat_project("config-cpu-only")
    result = cog("build", "--variant", variant, cwd=project, check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == "error: cog.yaml:3:18: environment.architectures lists only cpu; add gpu to build a GPU image"
    assert not image_exists(f"cog-{project.name}")


def test_todays_keys_build_with_one_notice_each_and_model_names_the_image(cog, compat_project, image_name):
    project = compat_project("config-todays-keys")
    repository = image_name("cog-compat-model")
    config = project / "cog.yaml"
    config.write_text(config.read_text().replace("MODEL_REPOSITORY", repository))
    built = cog("build", cwd=project)
    warnings = [line for line in built.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: cog.yaml:6:3: `build.fast` is ignored: cog has one kind of build, which already caches every "
        "layer and installs packages with uv",
        "warning: cog.yaml:7:3: `build.cog_runtime` is ignored: the image always runs this cog's own prediction "
        "server; there is no other runtime to choose",
        f"warning: cog.yaml:8:3: `build.sdk_version` is ignored: the model's environment gets the SDK of the cog "
        f"that builds the image ({__version__}), not Cog's SDK 0.16.8 from PyPI",
        "warning: cog.yaml:10:1: `weights` is recorded but cog does not download or push weights yet; put weights "
        "files in the project directory, where they get their own image layer",
    ], built.stderr
    assert f"Image built as {repository}\n" in built.stderr
    recorded = json.loads(labels(repository)["run.cog.config"])
    assert recorded["predict"] == "run.py:Runner" and recorded["image"] == repository
    assert recorded["weights"] == [{"name": "base", "source": "hf://example/base-model", "target": "/src/weights/base",
                                    "include": ["*.safetensors"]}]
    assert cog("predict", repository, "-i", "text=cog", cwd=project).stdout == "COG\n"
