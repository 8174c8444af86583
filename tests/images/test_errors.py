"""What cog says when the engine cannot give it an image: one line naming the image, what was tried and what to do,
never python-on-whales' text or BuildKit's raw error. Through the real CLI and the real engine.

Every registry here is on loopback (one that lacks the image, or a port where nothing listens), so no test sends
anything past this machine: the air-gapped case these tests are about."""

from __future__ import annotations

import re
import subprocess
import uuid

import pytest

from tests.images.conftest import OPEN_REGISTRY, mirror_with
from tests.loopback import free_port

PREDICT = "from cog import BasePredictor\n\nclass Predictor(BasePredictor):\n    def predict(self, text: str) -> str:\n        return text\n"
TODO = ("take base images from a registry this machine reaches with --base-image-mirror HOST[:PORT] (or "
        "COG_BASE_IMAGE_MIRROR), or pre-load it: docker pull {image} on a connected machine, docker save {image} -o "
        "image.tar there, then docker load -i image.tar here")


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """Exit 1, and the last line of stderr is the only error line; no traceback, no BuildKit error text."""
    assert result.returncode == 1, result.stderr[-3000:]
    lines = result.stderr.rstrip().splitlines()
    assert [line for line in lines if line.startswith("error:")] == lines[-1:], result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "python_on_whales" not in result.stderr
    assert "failed to resolve" not in lines[-1] and "failed to solve" not in lines[-1]
    return lines[-1]


def write_project(directory, config: str):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cog.yaml").write_text(config)
    (directory / "predict.py").write_text(PREDICT)
    return directory


# --- cog infer / predict IMAGE --------------------------------------------------------------------------------


def test_predict_an_image_that_its_registry_does_not_have(cog, tmp_path):
    image = f"{OPEN_REGISTRY}/cog-test/nosuch-{uuid.uuid4().hex[:8]}"
    assert one_error_line(cog("predict", image, "-i", "text=x", cwd=tmp_path, check=False)) == (
        f"error: cannot run {image}: there is no image {image} here and it could not be pulled from {OPEN_REGISTRY} "
        f"(it has no such image); check the name, or build it here (cog build -t NAME) or load it (docker load -i FILE)")


def test_predict_an_image_whose_registry_does_not_answer(cog, tmp_path):
    registry = f"127.0.0.1:{free_port()}"
    image = f"{registry}/cog-test/hello"
    assert one_error_line(cog("predict", image, "-i", "text=x", cwd=tmp_path, check=False)) == (
        f"error: cannot run {image}: there is no image {image} here and it could not be pulled from {registry} (not "
        f"reachable from here: connection refused); check the name, or build it here (cog build -t NAME) or load it "
        f"(docker load -i FILE)")


@pytest.mark.parametrize("command", [("build",), ("predict", "-i", "text=x")])
def test_a_docker_daemon_that_does_not_answer(cog, tmp_path, command):
    directory = write_project(tmp_path / "project", "build:\n  python_version: '3.11'\npredict: predict.py:Predictor\n")
    socket = tmp_path / "no-daemon.sock"
    result = cog(*command, cwd=directory, env={"DOCKER_HOST": f"unix://{socket}"}, check=False)
    assert one_error_line(result) == (
        f"error: cannot reach the Docker daemon (Cannot connect to the Docker daemon at unix://{socket}. Is the docker "
        f"daemon running?); start Docker and try again")
    assert result.returncode == 1


def test_predict_an_image_name_that_is_not_one(cog, tmp_path):
    assert one_error_line(cog("predict", "My_Model", "-i", "text=x", cwd=tmp_path, check=False)) == (
        "error: My_Model is not a valid image name: names are lowercase, as REGISTRY/NAME[:TAG]")


def test_build_with_a_builder_that_does_not_exist(cog, tmp_path):
    directory = write_project(tmp_path / "p", 'build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\n')
    assert one_error_line(cog("build", "--builder", "nosuch", cwd=directory, check=False)) == (
        "error: --builder nosuch: there is no such buildx builder here; see the builders with docker buildx ls, or "
        "leave --builder out to use the active one")


# --- base images that cannot be pulled ---------------------------------------------------------------------------


def test_the_uv_image_missing_from_the_mirror(cog, tmp_path):
    mirror = mirror_with(("python:3.11-slim", "library/python:3.11-slim"))
    directory = write_project(tmp_path / "p", 'build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\n')
    image = f"{mirror}/astral-sh/uv:0.13.8"
    assert one_error_line(cog("build", "--base-image-mirror", mirror, cwd=directory, check=False)) == (
        f"error: the base image {image} could not be pulled from its registry {OPEN_REGISTRY} (it has no such image); "
        + TODO.format(image=image))


def test_a_cuda_image_missing_from_the_mirror(cog, tmp_path):
    mirror = mirror_with(("ghcr.io/astral-sh/uv:0.13.8", "astral-sh/uv:0.13.8"))
    directory = write_project(tmp_path / "gpu", 'build:\n  gpu: true\n  cuda: "12.8"\n  python_version: "3.11"\n'
                                                'predict: "predict.py:Predictor"\n')
    image = f"{mirror}/nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04"
    assert one_error_line(cog("build", "--variant", "gpu", cwd=directory, check=False,
                              env={"COG_BASE_IMAGE_MIRROR": mirror})) == (
        f"error: the base image {image} could not be pulled from its registry {OPEN_REGISTRY} (it has no such image); "
        + TODO.format(image=image))


def test_a_mirror_that_does_not_answer(cog, tmp_path):
    mirror = f"127.0.0.1:{free_port()}"
    directory = write_project(tmp_path / "p", 'build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\n')
    line = one_error_line(cog("build", "--base-image-mirror", mirror, cwd=directory, check=False))
    found = re.fullmatch(
        re.escape("error: the base image ") + r"(?P<image>\S+)" + re.escape(
            f" could not be pulled from its registry {mirror} (not reachable from here: connection refused); ")
        + r"(?P<todo>.+)", line)
    assert found and found.group("image") in (f"{mirror}/library/python:3.11-slim", f"{mirror}/astral-sh/uv:0.13.8"), line
    assert found.group("todo") == TODO.format(image=found.group("image"))
