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
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

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


class Run:
    """One sandboxed schemathesis run, started at once; `report()` waits for it and checks it passed."""

    def __init__(self, sandbox: List[str], schema: str, server: List[str], cwd: Path, env: Dict[str, str],
                 *extra: str) -> None:
        self.log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen([*sandbox, "--port", str(PORT), "--schema", schema, "--max-examples",
                                         MAX_EXAMPLES, *extra, "--", *server],
                                        cwd=cwd, env=env, stdout=self.log, stderr=subprocess.STDOUT, text=True)

    def report(self) -> str:
        try:
            self.process.wait(300)
        finally:
            self.process.kill()
        self.log.seek(0)
        report = self.log.read()
        assert self.process.returncode == 0, report[-12000:]
        assert " passed" in report, report[-12000:]  # something ran
        return report


# Inside its namespace each server may take any port; the same one for both.
PORT = 5000
BASE_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO)}


@pytest.fixture(scope="module")
def runs(sandbox: List[str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Run]]:
    """Both runs at once (they share nothing), so the pair costs about as long as the longer one."""
    home = tmp_path_factory.mktemp("cog-server")
    token = home / "token"
    started = {
        # A model with every input type and a trainer: /predictions and /trainings with their PUT and cancel
        # twins. POST /shutdown is left out: it ends the server the run is against.
        "runtime": Run(sandbox, "/openapi.json",
                       [sys.executable, "-m", "cog.server.http", "--host", "127.0.0.1", "--port", str(PORT)],
                       FIXTURES, {**BASE_ENV, "COG_PREDICT": "types_predictor.py:Predictor",
                                  "COG_TRAIN": "train.py:train"}, "--exclude-path", "/shutdown"),
        # An empty store, no builds; schemathesis sends the admin token (and, to check that it is needed, none).
        "cog server": Run(sandbox, "/openapi.json",
                          [sys.executable, "-m", "cog.cli", "server", "--port", str(PORT),
                           "--storage", (home / "store").as_uri(), "--token-file", str(token)],
                          home, {**BASE_ENV, "XDG_CONFIG_HOME": str(home / "config"),
                                 "XDG_DATA_HOME": str(home / "data")}, "--token-file", str(token)),
    }
    yield started
    for run in started.values():
        run.process.kill()


def test_the_runtime_answers_as_its_openapi_document_says(runs: Dict[str, Run]) -> None:
    runs["runtime"].report()


def test_cog_server_answers_as_its_openapi_document_says(runs: Dict[str, Run]) -> None:
    runs["cog server"].report()
