"""Each server against its own OpenAPI document: schemathesis, every check (schemathesis.toml names the few
exceptions and why), zero failures and zero 5xx. Generic over whatever operations the document declares.

Each run is a real server process and schemathesis inside a network namespace of their own (`unshare -rn`: a new
user and network namespace, loopback only; no root needed), so that the webhooks, file URLs and upload prefixes
schemathesis generates reach nothing outside. Examples per operation are bounded (and the seed fixed) so that a
run costs seconds, not minutes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from tests.loopback import free_port

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "runtime" / "fixtures"
MAX_EXAMPLES = "5"


@pytest.fixture(scope="module")
def sandbox() -> List[str]:
    """The command prefix that runs a command in a fresh network namespace; a failure (never a skip) without it."""
    missing = [tool for tool in ("unshare", "ip") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"these tests need {' and '.join(missing)} (util-linux, iproute2): run scripts/setup.sh",
                    pytrace=False)
    probe = subprocess.run(["unshare", "-rn", "ip", "link", "set", "lo", "up"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail(f"cannot make a network namespace here (unshare -rn: {probe.stderr.strip()}); user namespaces "
                    "must be enabled (sysctl kernel.unprivileged_userns_clone=1)", pytrace=False)
    return ["unshare", "-rn", sys.executable, "-m", "tests.contracts.sandboxed"]


def fuzz(sandbox: List[str], port: int, schema: str, server: List[str], cwd: Path, env: dict, *extra: str) -> None:
    result = subprocess.run([*sandbox, "--port", str(port), "--schema", schema, "--max-examples", MAX_EXAMPLES,
                             *extra, "--", *server], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report[-12000:]
    assert " passed" in report and "failed" not in report.split("SUMMARY")[-1], report[-12000:]


def test_the_runtime_answers_as_its_openapi_document_says(sandbox: List[str]) -> None:
    """A model with every input type and a trainer: /predictions and /trainings with their PUT and cancel twins.
    POST /shutdown is left out: it ends the server the run is against."""
    port = free_port()
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO),
           "COG_PREDICT": "types_predictor.py:Predictor", "COG_TRAIN": "train.py:train"}
    fuzz(sandbox, port, "/openapi.json",
         [sys.executable, "-m", "cog.server.http", "--host", "127.0.0.1", "--port", str(port)],
         FIXTURES, env, "--exclude-path", "/shutdown")


def test_cog_server_answers_as_its_openapi_document_says(sandbox: List[str], tmp_path: Path) -> None:
    """An empty store, no builds; schemathesis sends the admin token (and, to check that it is needed, none)."""
    port = free_port()
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data")}
    token = tmp_path / "token"
    fuzz(sandbox, port, "/openapi.json",
         [sys.executable, "-m", "cog.cli", "server", "--port", str(port), "--storage", (tmp_path / "store").as_uri(),
          "--token-file", str(token)],
         tmp_path, env, "--token-file", str(token))
