"""`python -m cog.server.http` as a process: what the model prints reaches the server's stderr as it arrives,
COG_LOG_LEVEL quiets the server's own lines, and started in a project directory without COG_PREDICT it serves
what cog.yaml names (both dialects), environment variables still winning."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from cog.server.project import ProjectError, read_project, read_top_level

from .conftest import FIXTURES, REPO, wait_until

HELLO = (FIXTURES / "hello.py").read_text()


# -- the log -----------------------------------------------------------------------------------------------------


def test_what_the_model_prints_goes_to_stderr_as_it_arrives(start_server, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = start_server("iterators.py:Predictor", log=log)
    assert "serving iterators.py:Predictor on http://127.0.0.1:" in server.output()  # INFO, the default level
    job = server.client.post("/predictions", json={"input": {"n": 3, "delay": 0.5}},
                             headers={"Prefer": "respond-async"}).json()
    wait_until(lambda: "token 0" in server.output(), timeout=5, what="the first print on stderr")
    assert "token 2" not in server.output()  # the prediction still runs: line by line, not at the end
    done = server.client.put(f"/predictions/{job['id']}", json={"input": {"n": 3, "delay": 0.5}}).json()
    assert done["logs"] == "token 0\ntoken 1\ntoken 2\n"  # the job's logs have them too
    wait_until(lambda: "token 2" in server.output(), timeout=5, what="the last print on stderr")


def test_setup_prints_reach_stderr_and_warning_hides_the_servers_info_lines(start_server, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = start_server("hello.py:Predictor", log=log, COG_LOG_LEVEL="warning", COG_WEIGHTS="/w")
    assert server.predict(text="quiet")["output"] == "hello quiet"
    wait_until(lambda: "greeting quiet" in server.output(), timeout=5, what="the prediction's print")
    output = server.output()
    assert "loading weights: /w" in output and "serving" not in output and " INFO " not in output


def test_an_unknown_log_level_is_said_and_info_is_kept(start_server, tmp_path: Path) -> None:
    server = start_server("hello.py:Predictor", log=tmp_path / "server.log", COG_LOG_LEVEL="chatty")
    output = server.output()
    assert "COG_LOG_LEVEL=chatty is not one of debug, info, warning, error" in output and "serving" in output


# -- cog.yaml, when COG_PREDICT is not set --------------------------------------------------------------------------


def project(tmp_path: Path, cog_yaml: str, **files: str) -> Path:
    (tmp_path / "cog.yaml").write_text(cog_yaml)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


TRAIN = "def train(epochs: int = 1) -> int:\n    return epochs * 10\n"
ORIGINAL = '''import cog


class Model(cog.Model):
    def setup(self):
        pass

    @cog.input("text", type=str, help="Text")
    def run(self, text):
        return "original " + text
'''


def test_todays_cog_yaml_names_the_predictor_the_trainer_and_the_concurrency(start_server, tmp_path: Path) -> None:
    directory = project(tmp_path, 'build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\n'
                                  'train: "train.py:train"\nconcurrency:\n  max: 2\n',
                        **{"predict.py": HELLO, "train.py": TRAIN})
    server = start_server(None, cwd=directory)
    assert server.predict(text="yaml")["output"] == "hello yaml"
    assert server.client.get("/").json()["trainings_url"] == "/trainings"
    assert server.client.post("/trainings", json={"input": {"epochs": 3}}).json()["output"] == 30
    assert "cog_prediction_slots 2" in server.client.get("/metrics").text


def test_run_is_todays_alias_of_predict(start_server, tmp_path: Path) -> None:
    directory = project(tmp_path, "run: predict.py:Predictor  # today's Cog\n", **{"predict.py": HELLO})
    assert start_server(None, cwd=directory).predict(text="run")["output"] == "hello run"


def test_the_original_dialects_model_names_the_predictor(start_server, tmp_path: Path) -> None:
    directory = project(tmp_path, 'environment:\n  python_packages: []\nmodel: "model.py:Model"\n',
                        **{"model.py": ORIGINAL})
    assert start_server(None, cwd=directory).predict(text="x")["output"] == "original x"


def test_environment_variables_win_over_cog_yaml(start_server, tmp_path: Path) -> None:
    other = HELLO.replace('"hello "', '"other "')
    directory = project(tmp_path, 'predict: "predict.py:Predictor"\nconcurrency:\n  max: 3\n',
                        **{"predict.py": HELLO, "other.py": other})
    server = start_server("other.py:Predictor", cwd=directory)
    assert server.predict(text="env")["output"] == "other env"
    assert "cog_prediction_slots 1" in server.client.get("/metrics").text  # cog.yaml was not read
    stub = start_server(None, cwd=directory, COG_PREDICT_TYPE_STUB="other.py:Predictor", COG_MAX_CONCURRENCY="1")
    assert stub.predict(text="stub")["output"] == "other stub"
    (directory / "train.py").write_text(TRAIN)
    trained = start_server(None, cwd=directory, COG_TRAIN_TYPE_STUB="train.py:train")
    assert "cog_prediction_slots 3" in trained.client.get("/metrics").text  # cog.yaml filled in the rest
    assert trained.client.post("/trainings", json={"input": {}}).json()["output"] == 10


def test_a_cog_yaml_that_names_no_predictor_is_one_error_line(tmp_path: Path) -> None:
    directory = project(tmp_path, 'build:\n  python_version: "3.11"\nmodel: r8.im/owner/model\n')
    environment = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "cog.server.http", "--port", "0"], cwd=directory,
                            env=environment, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and time.monotonic() - started < 30
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: Can't run predictions: 'predict' option not found in ")
    assert "cog.yaml" in lines[0] and "COG_PREDICT" in lines[0]


@pytest.mark.parametrize("text, message", [
    ("predict: [1, 2]\n", "`predict` must be a reference"),
    ("predict: p.py:P\nconcurrency:\n  max: 0\n", "`concurrency.max` must be a whole number"),
    ("predict: 'p.py:P\n", "not valid YAML"),
    ("- predict\n", "must be a mapping"),
])
def test_cog_yaml_mistakes_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "cog.yaml").write_text(text)
    with pytest.raises(ProjectError) as info:
        read_project(str(tmp_path))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_no_cog_yaml_is_none(tmp_path: Path) -> None:
    assert read_project(str(tmp_path)) is None


@pytest.mark.parametrize("text", [
    'predict: "predict.py:Predictor"\ntrain: train.py:train  # a comment\nconcurrency:\n  max: 4\n',
    "build:\n  gpu: true\n  run:\n    - command: \"echo 'a: b'\"\n  python_version: '3.11'\nrun: 'predict.py:P'\n",
    "# header\nmodel: \"model.py:Model\"\nenvironment:\n  python_packages:\n    - torch==2.0\n"
    "concurrency: {max: 3}\n",
    'image: "r8.im/a/b"\npredict: "p.py:P" # c\nweights:\n  - source: x\n    target: "#y"\n',
])
def test_the_reader_without_pyyaml_agrees_with_pyyaml_on_what_serving_needs(text: str) -> None:
    ours, theirs = read_top_level(text), yaml.safe_load(text)
    for key in ("predict", "run", "model", "train"):
        assert ours.get(key) == theirs.get(key), key
    assert (ours.get("concurrency") or {}).get("max") == (theirs.get("concurrency") or {}).get("max")


def test_cog_yaml_is_read_without_pyyaml(tmp_path: Path) -> None:
    project(tmp_path, 'predict: "predict.py:Predictor"\nconcurrency:\n  max: 2\n')
    code = ("import sys, json; sys.modules['yaml'] = None; from cog.server.project import read_project;"
            f"p = read_project({str(tmp_path)!r}); print(json.dumps([p.predict_ref, p.max_concurrency]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == '["predict.py:Predictor", 2]'


def test_a_server_with_cog_predict_never_imports_yaml() -> None:
    code = ("import os, sys; os.environ['COG_PREDICT'] = 'p.py:P'; from cog.server.runner import Settings;"
            "Settings.from_env(project_dir='.'); import cog.server.http; print('yaml' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("args, env, line", [
    pytest.param([], {"COG_SHUTDOWN_GRACE_SECONDS": "soon"},
                 "error: COG_SHUTDOWN_GRACE_SECONDS=soon is not a number of seconds (0 or more)", id="a setting"),
    pytest.param(["--port", "http"], {}, "error: --port=http is not a port number (0 to 65535)", id="the port"),
    pytest.param([], {"COG_MAX_CONCURRENCY": "abc"}, "error: COG_MAX_CONCURRENCY=abc is not a whole number (1 or more)",
                 id="a concurrency that is no number"),
    pytest.param([], {"COG_MAX_CONCURRENCY": "0"}, "error: COG_MAX_CONCURRENCY=0 is not a whole number (1 or more)",
                 id="a concurrency that would run nothing"),
    pytest.param([], {"COG_MAX_REQUEST_BYTES": "1e6"}, "error: COG_MAX_REQUEST_BYTES=1e6 is not a whole number (0 or more)",
                 id="a body limit that is no whole number"),
    pytest.param([], {"COG_SETUP_TIMEOUT": "nan"}, "error: COG_SETUP_TIMEOUT=nan is not a number of seconds (0 or more)",
                 id="a setup timeout that is no number"),
    pytest.param([], {"COG_BUSY_POLL_SECONDS": "-1"}, "error: COG_BUSY_POLL_SECONDS=-1 is not a number of seconds (0 or more)",
                 id="a busy-poll below zero"),
])
def test_a_server_setting_it_cannot_use_is_one_error_line(tmp_path: Path, args: list, env: dict, line: str) -> None:
    environment = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "COG_PREDICT": "predict.py:Predictor", **env}
    result = subprocess.run([sys.executable, "-m", "cog.server.http", *args], cwd=tmp_path, env=environment,
                            capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stderr) == (1, line + "\n")


# -- what is imported before READY ----------------------------------------------------------------------------------

SERVER_PACKAGES = ("fastapi", "starlette", "uvicorn", "pydantic", "httpx", "prometheus_client")


def test_the_models_process_starts_before_the_server_imports_its_packages(tmp_path: Path) -> None:
    # What the server has imported by the time it starts the model's process (which then stops it).
    code = ("import json, sys; import cog.server.process as process\n"
            "def spawn(settings):\n"
            f"    print(json.dumps([m for m in {SERVER_PACKAGES!r} if m in sys.modules])); sys.exit(0)\n"
            "process.StartedWorker.spawn = spawn\n"
            "from cog.server.http import main; main(['--port', '0'])\n")
    environment = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "COG_PREDICT": "hello.py:Predictor"}
    out = subprocess.run([sys.executable, "-c", code], cwd=FIXTURES, env=environment, capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_a_model_without_files_or_webhooks_never_imports_httpx(start_server, tmp_path: Path) -> None:
    # PYTHONPROFILEIMPORTTIME: the interpreters write a line to stderr for each module they import, lazily or not.
    server = start_server("hello.py:Predictor", log=tmp_path / "server.log", PYTHONPROFILEIMPORTTIME="1")
    assert server.predict(text="lean")["output"] == "hello lean"
    imported = {line.rsplit("|", 1)[-1].strip() for line in server.output().splitlines() if "import time:" in line}
    assert "uvicorn" in imported and "httpx" not in imported


def test_a_port_in_use_stops_the_server_at_once_with_uvicorns_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        environment = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "COG_PREDICT": "hello.py:Predictor"}
        result = subprocess.run([sys.executable, "-m", "cog.server.http", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=FIXTURES, env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert f"error while attempting to bind on address ('127.0.0.1', {port}): address already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_files_of_the_model_named_like_the_servers_packages_do_not_replace_them(start_server, tmp_path: Path) -> None:
    (tmp_path / "predict.py").write_text(HELLO)
    for package in ("starlette", "uvicorn", "h11", "anyio", "prometheus_client"):
        (tmp_path / f"{package}.py").write_text(f"raise SystemExit('the project file {package}.py was imported')\n")
    server = start_server("predict.py:Predictor", cwd=tmp_path)
    assert server.predict(text="world")["status"] == "succeeded"
