"""The model's environment is not the server's: a worker on another interpreter, with pydantic 1, with no
third-party package, or with nothing of cog but its SDK."""

from __future__ import annotations

import ast
import json
import os
import select
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, List, Tuple

import pytest

from cog.sdk.protocol import FILE_MARKER, LineBuffer, Status, encode

from .conftest import REPO, SERVER_ONLY

# Kept between runs: building the pydantic-1 environment downloads from PyPI.
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cog-tests" / f"py{sys.version_info[0]}{sys.version_info[1]}"


def _venv(name: str, *requirements: str) -> Path:
    root = CACHE / name
    python = root / "bin" / "python"
    marker = root / ".complete"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(root)] + ([] if requirements else ["--without-pip"]),
                       check=True)
        if requirements:
            subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], check=True)
        marker.touch()
    return python


@pytest.fixture(scope="session")
def pydantic1_python() -> Path:
    return _venv("pydantic1", "pydantic>=1.10,<2")


@pytest.fixture(scope="session")
def bare_python() -> Path:
    return _venv("bare")


def test_model_pinning_pydantic_1_runs_under_a_pydantic_2_server(start_server, pydantic1_python: Path) -> None:
    import pydantic

    assert pydantic.VERSION.startswith("2.")  # the server's own environment
    server = start_server("pydantic1_model.py:Predictor", COG_WORKER_PYTHON=str(pydantic1_python))
    assert server.health()["status"] == "READY", server.health()
    result = server.predict(name="ada")
    assert result["status"] == "succeeded", result
    assert result["output"]["greeting"] == "hi ada" and result["output"]["pydantic_version"].startswith("1.")
    schema = server.client.get("/openapi.json").json()["components"]["schemas"]["Output"]
    assert schema["properties"]["pydantic_version"] == {"title": "Pydantic Version", "type": "string"}


def test_model_environment_without_any_third_party_package(start_server, bare_python: Path) -> None:
    server = start_server("hello.py:Predictor", COG_WORKER_PYTHON=str(bare_python))
    assert server.predict(text="bare")["output"] == "hello bare"


# -- the SDK alone: the standard library and nothing else ------------------------------------------------------

SDK = ["__init__.py", "_version.py", "types.py", "sdk", "coder"]  # what a model's environment needs of cog

BARE_MODEL = '''from typing import Iterator

from cog import BasePredictor, Input, Path, current_scope
from cog.coder import json_coder  # noqa: F401


class Predictor(BasePredictor):
    def setup(self) -> None:
        print("set up")

    def predict(self, text: str = Input(description="Text"), n: int = Input(default=2, ge=1)) -> Iterator[Path]:
        current_scope().record_metric("who", current_scope().context.get("who"))
        for i in range(n):
            current_scope().record_metric("items", 1, mode="incr")
            print("item", i)
            path = Path(f"{i}.txt").resolve()
            path.write_text(text * (i + 1))
            yield path
'''


@pytest.fixture
def sdk_alone(tmp_path: Path) -> Tuple[List[str], Path]:
    """An interpreter that sees only the standard library and a copy of cog's SDK: (argv prefix, model dir)."""
    root = tmp_path / "path"
    (root / "cog").mkdir(parents=True)
    for name in SDK:
        source = REPO / "cog" / name
        if source.is_dir():
            shutil.copytree(source, root / "cog" / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, root / "cog" / name)
    model = tmp_path / "model"
    model.mkdir()
    (model / "predict.py").write_text(BARE_MODEL)
    # -I: no environment variables, no user site, no script directory on the path; -S: no site-packages at all.
    prelude = (
        "import sys, importlib.util; sys.path.insert(0, %r);"
        "found = [m for m in %r if importlib.util.find_spec(m)];"
        "assert not found, f'third-party packages importable: {found}';"
        "import cog; assert cog.__file__.startswith(%r), cog.__file__;"
        "from cog.sdk.worker import main; sys.exit(main(sys.argv[1:]))"
    ) % (str(root), SERVER_ONLY + ["pytest"], str(root))
    return [sys.executable, "-I", "-S", "-c", prelude], model


def test_the_sdk_alone_prints_the_openapi_schema(sdk_alone: Tuple[List[str], Path]) -> None:
    argv, model = sdk_alone
    result = subprocess.run(argv + ["--openapi", "predict.py:Predictor"], cwd=model, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    schemas = json.loads(result.stdout)["components"]["schemas"]
    assert schemas["Input"]["required"] == ["text"] and schemas["Output"]["x-cog-array-type"] == "iterator"


def test_the_sdk_alone_runs_a_prediction_through_the_worker_protocol(sdk_alone: Tuple[List[str], Path]) -> None:
    argv, model = sdk_alone
    commands_r, commands_w = os.pipe()
    events_r, events_w = os.pipe()
    control_r, control_w = os.pipe()
    process = subprocess.Popen(
        argv + ["--predict", "predict.py:Predictor", "--fds", f"{commands_r},{events_w},{control_r}"],
        cwd=model, pass_fds=(commands_r, events_w, control_r), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    for fd in (commands_r, events_w, control_r):
        os.close(fd)
    events = _Events(events_r)
    try:
        setup_log, ready = events.next(), events.next()
        assert setup_log == {"type": "log", "id": None, "data": "set up\n"}
        assert ready["type"] == "ready" and ready["is_async"] is False
        assert [f["name"] for f in ready["signature"]["inputs"]] == ["text", "n"]
        os.write(commands_w, encode({"op": "predict", "id": "p1", "input": {"text": "ab", "n": 2},
                                     "context": {"who": "bare"}}))
        messages = [events.next() for _ in range(5)]
        assert [(m["type"], m.get("data")) for m in messages] == [
            ("log", "item 0\n"), ("output", None), ("log", "item 1\n"), ("output", None), ("done", None)]
        done = messages[-1]
        assert done["id"] == "p1" and done["status"] == Status.SUCCEEDED and done["error"] is None
        assert done["metrics"] == {"who": "bare", "items": 2}
        files = [item[FILE_MARKER] for item in done["output"]]
        assert [Path(f).read_text() for f in files] == ["ab", "abab"]
        assert [m["value"] for m in messages if m["type"] == "output"] == done["output"]
    finally:
        os.close(commands_w)  # the worker finishes what it has and exits
        os.close(control_w)
        code = process.wait(10)
        os.close(events_r)
    assert code == 0, process.stdout.read() if process.stdout else ""


class _Events:
    """The worker's EVENTS pipe, read with the protocol's framing; a silent worker fails the test in 10 s."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lines = LineBuffer()
        self._ready: List[Any] = []

    def next(self) -> Any:
        while not self._ready:
            readable, _, _ = select.select([self._fd], [], [], 10)
            assert readable, "the worker sent nothing for 10 s"
            chunk = os.read(self._fd, 1 << 16)
            assert chunk, "the worker closed its events pipe"
            self._ready.extend(self._lines.feed(chunk))
        return self._ready.pop(0)


def test_the_sdk_parses_as_python_3_8() -> None:
    """Models may run on 3.8: the grammar of every SDK module is 3.8's (what the interpreter checks at import)."""
    files = [REPO / "cog" / name for name in SDK if name.endswith(".py")]
    files += [path for name in SDK if not name.endswith(".py") for path in sorted((REPO / "cog" / name).glob("*.py"))]
    for path in files:
        ast.parse(path.read_text(), str(path), feature_version=(3, 8))
