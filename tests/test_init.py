"""`cog init` without Docker: what it writes, that it parses and declares a model, and that it never overwrites."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

from cog.matrix import load_matrix
from cog.config.parse import load_config
from cog.sdk.signature import signature_of

SCAFFOLD = ["cog.yaml", "predict.py", ".dockerignore"]


def cog_init(directory):
    return subprocess.run([sys.executable, "-m", "cog.cli", "init"], cwd=directory, capture_output=True, text=True,
                          timeout=60)


def test_init_writes_a_project_that_parses_and_declares_a_model(tmp_path):
    result = cog_init(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Created cog.yaml, predict.py and .dockerignore" in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(SCAFFOLD)
    config = load_config(tmp_path / "cog.yaml")
    assert config.python_version == load_matrix().python.default and config.python_version_explicit
    assert config.predict == "predict.py:Predictor" and config.variants == ("cpu",) and not config.warnings
    spec = importlib.util.spec_from_file_location("scaffolded_predict", tmp_path / "predict.py")
    predict = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(predict)
    signature = signature_of(predict.Predictor().predict)
    assert [(field.name, field.default) for field in signature.inputs] == [("name", "world")]
    assert predict.Predictor().predict(name="you") == "hello, you"


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path):
    (tmp_path / "predict.py").write_text("# mine\n")
    result = cog_init(tmp_path)
    assert result.returncode == 1
    assert result.stderr == "error: predict.py already exists here; cog init writes only into a directory without them\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["predict.py"]
    assert (tmp_path / "predict.py").read_text() == "# mine\n"
