"""Behind a PyPI-only mirror: where torch comes from (COG_TORCH_INDEX=auto|pypi|URL), through the real CLI.

`cog generate-dockerfile` shows what `cog build` would install, so no image is built (and no torch downloaded). The
probe of PyTorch's index is pointed at loopback only: a server that answers, a port that refuses.
"""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cog.compiler.resolve import resolve
from cog.config.parse import parse_config
from cog.errors import CogError
from cog.images.indexes import index_answers, resolve_torch_source, torch_index_setting
from tests.heredocs import heredoc

COG = [sys.executable, "-m", "cog.cli"]
PYTORCH_CPU = "https://download.pytorch.org/whl/cpu"
FALLBACK = (f"warning: the PyTorch wheel index ({PYTORCH_CPU}) did not answer; installing torch from PyPI instead "
            f"(set COG_TORCH_INDEX to a mirror of it to choose)")
NO_PROXY = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


class _Index(http.server.BaseHTTPRequestHandler):
    """/whl/cpu answers 200 (as PyTorch's index does), /moved redirects to it, anything else is a 404."""

    requests: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        type(self).requests.append(self.path)
        if self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/whl/cpu/")
            self.end_headers()
            return
        found = self.path.rstrip("/") == "/whl/cpu"
        body = b"<html><body><a href='torch/'>torch</a></body></html>" if found else b"not found"
        self.send_response(200 if found else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def index_server():
    _Index.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Index)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def refusing_url():
    """A loopback port nothing listens on: a connection there is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/whl/cpu"


@pytest.fixture
def no_proxy(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in NO_PROXY.items():
        monkeypatch.setenv(name, value)


# A project as Cog users write them: torch on the CPU, with the PyTorch index line Cog's docs suggest.
COG_YAML = 'build:\n  python_version: "3.11"\n  python_requirements: requirements.txt\npredict: "predict.py:Predictor"\n'
PREDICT = ("import torch\nfrom cog import BasePredictor, Input\n\n\nclass Predictor(BasePredictor):\n"
           "    def predict(self, n: int = Input(default=2)) -> int:\n        return int(torch.tensor(n) * 2)\n")


@pytest.fixture
def torch_project(make_project):
    def make(requirements: str = "torch==2.5.1\ntorchvision==0.20.1\n") -> Path:
        return make_project({"cog.yaml": COG_YAML, "predict.py": PREDICT, "requirements.txt": requirements})

    return make


def generate(project: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("COG_", "_COG_"))}
    environment.update({"COLUMNS": "200", **NO_PROXY, **env})
    return subprocess.run([*COG, "generate-dockerfile"], cwd=project, capture_output=True, text=True, env=environment, timeout=60)


def requirement_lines(dockerfile: str) -> list[str]:
    """The lines of the requirements file the Dockerfile writes (its heredoc), index options included."""
    return heredoc(dockerfile, "COG_REQUIREMENTS").splitlines()


# --- the probe ---------------------------------------------------------------------------------------------


def test_probe_answers_for_a_server_that_answers(index_server, no_proxy):
    assert index_answers(f"{index_server}/whl/cpu")
    assert index_answers(f"{index_server}/moved")  # redirects are followed
    assert _Index.requests == ["/whl/cpu", "/moved", "/whl/cpu/"]


def test_probe_does_not_answer_for_an_error_or_a_refused_port(index_server, refusing_url, no_proxy):
    assert not index_answers(f"{index_server}/whl/cu999")  # 404
    started = time.monotonic()
    assert not index_answers(refusing_url)
    assert time.monotonic() - started < 2


def test_probe_with_an_unreadable_ca_bundle_is_a_one_line_error(tmp_path, index_server, no_proxy):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate\n")
    with pytest.raises(CogError, match="the CA bundle .* cannot be read"):
        index_answers(f"{index_server}/whl/cpu", ca_bundle=bundle)


@pytest.mark.parametrize(("value", "setting"), [
    ("", "auto"), ("auto", "auto"), ("AUTO", "auto"), ("pypi", "pypi"), (" PyPI ", "pypi"),
    ("https://mirror.corp/whl/cpu", "https://mirror.corp/whl/cpu"), ("http://10.0.0.1:8080/whl/{index}", "http://10.0.0.1:8080/whl/{index}"),
])
def test_setting(value, setting):
    assert torch_index_setting({"COG_TORCH_INDEX": value}) == setting
    assert torch_index_setting({}) == "auto"


@pytest.mark.parametrize("value", ["download.pytorch.org/whl/cpu", "mirror", "ftp://x/y"])
def test_a_setting_that_is_no_source_is_a_one_line_error(value):
    with pytest.raises(CogError, match=rf"^COG_TORCH_INDEX={value}: use auto, pypi, or the URL of a mirror"):
        torch_index_setting({"COG_TORCH_INDEX": value})


def test_auto_probes_only_projects_with_torch(make_project, index_server, no_proxy):
    project = make_project({"requirements.txt": "numpy\n"})
    config = parse_config(COG_YAML, file="cog.yaml", project_dir=project)
    seen = []
    plans = resolve_torch_source(lambda index: seen.append(index) or [resolve(config, "cpu", torch_index=index)],
                                 environ={"_COG_TORCH_INDEX_PROBE": f"{index_server}/whl/cpu"})
    assert seen == [None] and _Index.requests == []
    assert plans[0].python_requirements == ("numpy",)


# --- through the CLI ---------------------------------------------------------------------------------------


def test_pypi_takes_torch_from_pypi(torch_project):
    result = generate(torch_project(), COG_TORCH_INDEX="pypi")
    assert result.returncode == 0, result.stderr
    lines = requirement_lines(result.stdout)
    assert "torch==2.5.1" in lines and "torchvision==0.20.1" in lines
    assert "download.pytorch.org" not in result.stdout and "+cpu" not in result.stdout
    assert "did not answer" not in result.stderr


def test_pypi_leaves_out_the_projects_own_pytorch_index_with_a_notice(torch_project):
    result = generate(torch_project(f"--extra-index-url {PYTORCH_CPU}\ntorch==2.5.1\n"), COG_TORCH_INDEX="pypi")
    assert result.returncode == 0, result.stderr
    assert "download.pytorch.org" not in result.stdout
    assert f"warning: leaving {PYTORCH_CPU} out of the install: torch comes from PyPI in this build" in result.stderr.splitlines()


@pytest.mark.parametrize(("mirror", "index"), [
    ("https://artifactory.corp/api/pypi/pytorch-cpu/simple", "https://artifactory.corp/api/pypi/pytorch-cpu/simple"),
    ("http://127.0.0.1:9/whl/{index}", "http://127.0.0.1:9/whl/cpu"),
])
def test_a_mirror_replaces_pytorchs_index(torch_project, mirror, index):
    result = generate(torch_project(f"--extra-index-url {PYTORCH_CPU}\ntorch==2.5.1\n"), COG_TORCH_INDEX=mirror)
    assert result.returncode == 0, result.stderr
    lines = requirement_lines(result.stdout)
    assert f"--extra-index-url {index}" in lines and "torch==2.5.1+cpu" in lines
    assert "download.pytorch.org" not in result.stdout
    assert result.stderr == ""  # no fallback, nothing left out


def test_auto_falls_back_to_pypi_with_one_warning_when_the_index_does_not_answer(torch_project, refusing_url):
    result = generate(torch_project(), _COG_TORCH_INDEX_PROBE=refusing_url)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines().count(FALLBACK) == 1
    assert [line for line in result.stderr.splitlines() if "did not answer" in line] == [FALLBACK]
    lines = requirement_lines(result.stdout)
    assert "torch==2.5.1" in lines and "download.pytorch.org" not in result.stdout


def test_auto_keeps_pytorchs_index_when_it_answers(torch_project, index_server):
    result = generate(torch_project(), COG_TORCH_INDEX="auto", _COG_TORCH_INDEX_PROBE=f"{index_server}/whl/cpu")
    assert result.returncode == 0, result.stderr
    assert _Index.requests == ["/whl/cpu"]
    lines = requirement_lines(result.stdout)
    assert f"--extra-index-url {PYTORCH_CPU}" in lines and "torch==2.5.1+cpu" in lines
    assert "did not answer" not in result.stderr


def test_a_setting_that_is_no_source_fails_in_one_line(torch_project):
    result = generate(torch_project(), COG_TORCH_INDEX="download.pytorch.org")
    assert result.returncode == 1
    assert result.stderr.startswith("error: COG_TORCH_INDEX=download.pytorch.org: use auto, pypi, or the URL")
    assert len(result.stderr.splitlines()) == 1
