"""`cog generate-dockerfile`, `--help`, `--version`, as a user runs them: a real process, real exit codes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cog._version import __version__
from tests.heredocs import heredoc

COG = [sys.executable, "-m", "cog.cli"]


def run(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([*COG, *args], cwd=cwd, capture_output=True, text=True, env=environment, timeout=60)


def test_version_is_cogs_line(tmp_path):
    result = run("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert re.fullmatch(rf"cog version {re.escape(__version__)} \(built \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)\n", result.stdout)


def test_help_lists_commands(tmp_path):
    result = run("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "generate-dockerfile" in result.stdout


def test_generate_dockerfile_prints_the_dockerfile(make_project):
    project = make_project({"cog.yaml": 'build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\n'})
    result = run("generate-dockerfile", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "FROM python:3.11-slim" in result.stdout
    assert 'COG_PREDICT="predict.py:Predictor"' in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("tracing", [False, True])
def test_build_tracing_adds_the_opentelemetry_sdk_to_the_server_environment_only(make_project, tracing):
    config = f'build:\n  python_version: "3.11"\n  tracing: {str(tracing).lower()}\npredict: "predict.py:Predictor"\n'
    result = run("generate-dockerfile", cwd=make_project({"cog.yaml": config}))
    assert result.returncode == 0, result.stderr
    server_install, = [line for line in result.stdout.splitlines() if "--python /opt/cog/server/bin/python" in line
                       and "prometheus-client" in line]
    sdk = {"'opentelemetry-sdk>=1.20'", "'opentelemetry-exporter-otlp-proto-http>=1.20'"}
    assert (sdk <= set(server_install.split())) == tracing
    assert result.stdout.count("opentelemetry") == (2 if tracing else 0)  # never in the model's environment


def test_generate_dockerfile_from_a_subdirectory(make_project):
    project = make_project({"cog.yaml": 'build:\n  python_version: "3.12"\n', "src/lib/x.py": ""})
    result = run("generate-dockerfile", cwd=project / "src" / "lib")
    assert result.returncode == 0, result.stderr
    assert "FROM python:3.12-slim" in result.stdout


def test_file_option_variant_platform_and_mirror(make_project):
    project = make_project({"configs/gpu.yaml": 'build:\n  gpu: true\n  cuda: "12.4"\n  python_version: "3.11"\n'})
    result = run("generate-dockerfile", "-f", "configs/gpu.yaml", "--variant", "gpu", "--platform", "linux/arm64",
                 cwd=project, env={"COG_BASE_IMAGE_MIRROR": "mirror.local:5000"})
    assert result.returncode == 0, result.stderr
    assert "FROM mirror.local:5000/nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04" in result.stdout
    assert "torch" not in result.stdout


def test_gpu_only_config_defaults_to_the_gpu_image(make_project):
    project = make_project({"cog.yaml": 'build:\n  gpu: true\n  cuda: "12.4"\n  python_version: "3.11"\n'})
    assert "FROM nvidia/cuda:" in run("generate-dockerfile", cwd=project).stdout
    assert "FROM python:3.11-slim" in run("generate-dockerfile", "--variant", "cpu", cwd=project).stdout


def test_warnings_go_to_stderr(make_project):
    project = make_project({"cog.yaml": 'build:\n  gpu: true\n  python_version: "3.11"\n'})
    result = run("generate-dockerfile", cwd=project)
    assert result.returncode == 0
    assert "warning: " in result.stderr and "no CUDA version is set" in result.stderr
    assert "warning" not in result.stdout


@pytest.mark.parametrize(("files", "args", "expected"), [
    ({"cog.yaml": "build:\n  python_versoin: '3.11'\n"}, [],
     "error: cog.yaml:2:3: unknown key `python_versoin` under `build`; did you mean `python_version`?"),
    ({"cog.yaml": "build:\n  gpu: true\n  cuda: '12.4'\n  python_requirements: r.txt\n", "r.txt": "torch==2.5.1+cu121\n"},
     [], "error: cog.yaml:3:9: `torch==2.5.1+cu121` has wheels for CUDA 12.1; that clashes with CUDA 12.4"),
    ({}, [], "error: no cog.yaml in this directory or any parent"),
    ({}, ["-f", "missing.yaml"], "error: missing.yaml: file not found"),
])
def test_errors_are_one_red_line_and_exit_1(make_project, files, args, expected):
    project = make_project(files)
    result = run("generate-dockerfile", *args, cwd=project)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [expected] or result.stderr.startswith(expected), result.stderr
    assert "Traceback" not in result.stderr


def test_bad_option_value_is_a_usage_error(make_project):
    project = make_project({"cog.yaml": ""})
    result = run("generate-dockerfile", "--variant", "tpu", cwd=project)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "tpu" in result.stderr


@pytest.mark.parametrize(("config", "command", "expected"), [
    ('build:\n  python_version: "3.11"\n', "predict", 'error: cog.yaml has no `predict:`; add predict: "predict.py:Predictor"'),
    ('environment:\n  python_version: "3.11"\n', "predict", 'error: cog.yaml has no `model:`; add model: "predict.py:Predictor"'),
    ('predict: "p.py:P"\n', "train", 'error: cog.yaml has no `train:`; add train: "train.py:train"'),
])
def test_predict_and_train_need_their_entry_point(make_project, config, command, expected):
    project = make_project({"cog.yaml": config})
    result = run(command, cwd=project)
    assert result.returncode == 1 and result.stderr.strip() == expected


def test_predict_against_an_unreachable_url_fails_fast(tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again once the probe goes
    result = run("predict", "--url", f"http://127.0.0.1:{port}", "-i", "text=x", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: cannot reach a model server at http://127.0.0.1:{port} (connection refused: nothing listens on that "
        f"port); check --url, and that the model's server runs there")


def test_generate_dockerfile_adds_what_cogs_sdk_brought_along(make_project):
    project = make_project({"cog.yaml": 'build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\n',
                            "predict.py": "import yaml\n"})
    result = run("generate-dockerfile", cwd=project)
    assert "\nPyYAML\nCOG_REQUIREMENTS" in result.stdout
    assert "predict.py:1: imports yaml, which Cog's SDK brought along" in result.stderr


def _isolated(project: Path) -> dict:
    """No cog server set (cog build would push a package to it instead)."""
    return {"XDG_CONFIG_HOME": str(project / ".config"), "XDG_DATA_HOME": str(project / ".data")}


@pytest.mark.parametrize(("config", "expected"), [
    ('build:\n  python_version: "3.11"\n',
     'error: cog.yaml has no `predict:`, so the image would have no model to run; add predict: "predict.py:Predictor", '
     "or write `predict:` with no value to build only the model's environment (for cog exec and cog run)"),
    ('environment:\n  python_version: "3.11"\n',
     'error: cog.yaml has no `model:`, so the image would have no model to run; add model: "predict.py:Predictor", '
     "or write `model:` with no value to build only the model's environment (for cog exec and cog run)"),
])
def test_build_without_a_model_fails_before_building(make_project, config, expected):
    project = make_project({"cog.yaml": config})
    result = run("build", cwd=project, env={**_isolated(project), "DOCKER_HOST": "unix:///nonexistent.sock"})
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == expected


@pytest.mark.parametrize("command", ["build", "generate-dockerfile"])
def test_a_gpu_image_of_an_original_cpu_only_model_is_refused(make_project, command):
    project = make_project({"cog.yaml": 'environment:\n  python_version: "3.11"\n  architectures: [cpu]\nmodel: "model.py:Model"\n'})
    result = run(command, "--variant", "gpu", cwd=project, env={**_isolated(project), "DOCKER_HOST": "unix:///nonexistent.sock"})
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip() == "error: cog.yaml:3:18: environment.architectures lists only cpu; add gpu to build a GPU image"


def test_generate_dockerfile_applies_python_overrides(make_project):
    project = make_project({
        "cog.yaml": 'build:\n  python_version: "3.12"\n  python_requirements: requirements.txt\n  python_overrides: overrides.txt\n',
        "requirements.txt": "six\n", "overrides.txt": "six==1.17.0\n",
    })
    result = run("generate-dockerfile", cwd=project)
    assert result.returncode == 0, result.stderr
    assert heredoc(result.stdout, "COG_OVERRIDES") == "six==1.17.0\n"
    assert "-r /opt/cog/requirements.txt --overrides /opt/cog/overrides.txt\n" in result.stdout


def test_a_missing_overrides_file_is_one_located_line(make_project):
    project = make_project({"cog.yaml": "build:\n  python_overrides: overrides.txt\n"})
    result = run("generate-dockerfile", cwd=project)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "error: cog.yaml:2:21: python_overrides names `overrides.txt`, which does not exist next to cog.yaml"
