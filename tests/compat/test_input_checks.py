"""`cog predict`/`cog train` check the inputs against the model's schema before building or starting anything
(issue: a typo should cost well under a second): from the schema read statically from the source, else from the
label of an image built from the same code. Through the real CLI; a failed check leaves no image behind."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

PREDICT = '''\
from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(
        self,
        text: str = Input(description="What to say"),
        steps: int = Input(default=3, ge=1, le=10),
        style: str = Input(default="plain", choices=["plain", "loud"]),
    ) -> str:
        return f"{style} {text} x{steps}"
'''
TRAIN = '''\
from cog import Input


def train(epochs: int = Input(description="Epochs", ge=1)) -> str:
    return f"trained {epochs}"
'''
# A default from the environment: the static reader cannot decide this one (the runtime's schema would say it).
UNDECIDED = '''\
import os

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, name: str, greeting: str = Input(default=os.environ.get("GREETING", "hello"))) -> str:
        return f"{greeting} {name}"
'''


def _project(directory: Path, predict: str, tag: str, train: str | None = None) -> Path:
    directory.mkdir()
    (directory / "predict.py").write_text(predict)
    config = f'build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\nimage: {tag}\n'
    if train:
        (directory / "train.py").write_text(train)
        config += 'train: "train.py:train"\n'
    (directory / "cog.yaml").write_text(config)
    return directory


def _exists(image: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0


def _image_id(image: str) -> str:
    return subprocess.check_output(["docker", "image", "inspect", image, "--format", "{{.Id}}"], text=True).strip()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A model the static reader decides, whose image is not built until the last test builds it."""
    tag = f"cog-test-checks-{uuid.uuid4().hex[:10]}"
    directory = _project(tmp_path_factory.mktemp("checks") / "model", PREDICT, tag, TRAIN)
    yield directory, tag
    subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True)


REFUSED = "error: the model refused the input: input."


@pytest.mark.parametrize(("command", "stdin", "line"), [
    (["predict", "-i", "nosuch=1"], None,
     "error: -i nosuch: the model has no input named nosuch (inputs: text, steps, style)"),
    (["predict", "-i", "text=hi", "-i", "steps=three"], None, "error: -i steps=three: steps is an integer"),
    (["predict", "--json", '{"text": 3}'], None, REFUSED + "text: input 'text' must be a string, got an integer"),
    (["predict", "-i", "text=hi", "-i", "steps=11"], None,
     REFUSED + "steps: input 'steps' must be less than or equal to 10"),
    (["predict", "-i", "text=hi", "-i", "style=quiet"], None, REFUSED + "style: input 'style' must be one of 'plain', 'loud'"),
    (["predict", "-i", "steps=2"], None, REFUSED + "text: input 'text' is required"),
    (["predict", "--json", "{bad"], None,
     "error: --json is not valid JSON: Expecting property name enclosed in double quotes (line 1, column 2)"),
    (["predict", "--json", "@-"], '{"text": "hi", "nosuch": 1}',
     REFUSED + "nosuch: unknown input 'nosuch'; expected one of: text, steps, style"),
    (["predict", "-i", "text=@missing.txt"], None, "error: -i text=@missing.txt: No such file or directory"),
    (["train", "-i", "epochs=0"], None, REFUSED + "epochs: input 'epochs' must be greater than or equal to 1"),
    (["train", "-i", "text=hi"], None, "error: -i text: the model has no input named text (inputs: epochs)"),
], ids=["unknown input", "wrong type (-i)", "wrong type (--json)", "out of range", "not a choice", "missing input",
        "bad --json", "--json from stdin", "missing file", "train: out of range", "train: unknown input"])
def test_a_bad_input_is_one_line_before_any_build(cog, model, command, stdin, line):
    directory, tag = model
    result = cog(*command, cwd=directory, input=stdin, check=False)
    assert (result.returncode, result.stderr.splitlines()) == (1, [line])
    assert not _exists(tag), "the check ran after a build"


def test_good_inputs_build_and_predict_as_before(cog, model):
    directory, tag = model
    result = cog("predict", "--json", "@-", "-i", "style=loud", cwd=directory, input='{"text": "hi", "steps": 2}')
    assert json.loads(result.stdout) == {"status": "succeeded", "output": "loud hi x2", "error": ""}  # --json: Cog's envelope
    assert _exists(tag)
    # An image's own label decides for `cog predict IMAGE`: refused before any container starts.
    refused = cog("predict", tag, "-i", "steps=0", "-i", "text=a", cwd=directory, check=False)
    assert (refused.returncode, refused.stderr.splitlines()) == (
        1, [REFUSED + "steps: input 'steps' must be greater than or equal to 1"])


def test_an_undecided_model_is_checked_by_its_images_label_only_for_the_same_code(cog, tmp_path, image_name):
    tag = image_name()
    directory = _project(tmp_path / "undecided", UNDECIDED, tag)
    wrong = ("predict", "-i", "name=x", "-i", "nosuch=1")
    line = "error: -i nosuch: the model has no input named nosuch (inputs: name, greeting)"
    # No image yet, and the source does not decide: the check is the runtime's, after the build.
    first = cog(*wrong, cwd=directory, check=False)
    assert first.returncode == 1 and first.stderr.splitlines()[-1] == line
    assert "Building the CPU image" in first.stderr
    built = _image_id(tag)
    # The image holds this code: its label decides, before any build.
    again = cog(*wrong, cwd=directory, check=False)
    assert (again.returncode, again.stderr.splitlines()) == (1, [line])
    assert _image_id(tag) == built
    # With -e the runtime reads the schema anew: the label is not trusted.
    with_env = cog(*wrong, "-e", "GREETING=hi", cwd=directory, check=False)
    assert with_env.returncode == 1 and "Building the CPU image" in with_env.stderr
    # Other code than the image's: no label is trusted, the build runs again.
    (directory / "predict.py").write_text(UNDECIDED + "# changed\n")
    changed = cog(*wrong, cwd=directory, check=False)
    assert changed.returncode == 1 and changed.stderr.splitlines()[-1] == line
    assert "Building the CPU image" in changed.stderr
