"""What cog predict, train, run and exec print, write and exit with, as Cog's CLI does, for a model in Cog's style.

One project (projects/outputs) is built once; each test runs the real CLI against the real engine."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.compat.conftest import PROJECTS

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, cog):
    directory = tmp_path_factory.mktemp("compat") / "outputs"
    shutil.copytree(PROJECTS / "outputs", directory)
    tag = f"cog-compat-outputs-{directory.parent.name}"
    (directory / "cog.yaml").write_text((directory / "cog.yaml").read_text() + f"image: {tag}\n")
    built = cog("build", cwd=directory)
    assert f"Image built as {tag}\n" in built.stderr
    yield directory
    subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True)


@pytest.mark.parametrize(("inputs", "stdout"), [
    (["-i", "kind=text"], "hello\n"),
    (["-i", "kind=number"], "1.5\n"),
    (["-i", "kind=integral"], "20\n"),  # 20.0 prints as JSON does
    (["-i", "kind=integral", "-i", "count=3"], "60\n"),  # choices of integers are sent as integers
    (["-i", "kind=object"], '{\n  "count": 1,\n  "nested": {\n    "a": true,\n    "z": []\n  },\n  "ratio": 0.25,\n  "word": "\\u003cb\\u003e"\n}\n'),
    (["-i", "kind=list"], '[\n  1,\n  "two",\n  null\n]\n'),
], ids=["string", "float", "integral float", "integer choice", "object", "list"])
def test_outputs_print_on_stdout_as_cog_prints_them(cog, outputs, inputs, stdout):
    result = cog("predict", *inputs, cwd=outputs)
    assert result.stdout == stdout


def test_the_models_own_output_streams_to_stderr(cog, outputs):
    result = cog("predict", "-i", "kind=text", cwd=outputs)
    assert "setting up the outputs model" in result.stderr and "predicting text" in result.stderr
    assert result.stderr.index("Starting Docker image") < result.stderr.index("predicting text")


@pytest.mark.parametrize(("kind", "content"), [("text", "hello"), ("object", None), ("file", "file contents")])
def test_dash_o_writes_any_output(cog, outputs, kind, content):
    target = outputs / f"out-{kind}"
    result = cog("predict", "-i", f"kind={kind}", "-o", str(target), cwd=outputs)
    assert result.stdout == "" and f"Written output to: {target}\n" in result.stderr
    text = target.read_text()
    assert text == content if content is not None else json.loads(text)["word"] == "<b>"


def test_a_file_output_is_written_to_output_ext(cog, outputs):
    result = cog("predict", "-i", "kind=file", cwd=outputs)
    assert result.stdout == "" and "Written output to: output.txt\n" in result.stderr
    assert (outputs / "output.txt").read_text() == "file contents"


def test_no_output_is_a_warning(cog, outputs):
    result = cog("predict", "-i", "kind=none", cwd=outputs)
    assert result.returncode == 0 and result.stdout == "" and "No output generated" in result.stderr


def test_a_failed_prediction_exits_1_with_the_models_error_on_one_line(cog, outputs):
    result = cog("predict", "-i", "kind=fail", cwd=outputs, check=False)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.splitlines()[-1] == "error: the prediction failed: the model failed on purpose"


@pytest.mark.parametrize("how", ["text", "@file", "@-", "-"])
def test_json_input_prints_cogs_envelope(cog, outputs, how):
    document = '{"kind": "integral", "count": 2}'
    (outputs / "inputs.json").write_text(document)
    argument = {"text": document, "@file": "@inputs.json", "@-": "@-", "-": "-"}[how]
    result = cog("predict", "--json", argument, cwd=outputs, input=document)
    assert result.stdout == '{\n  "status": "succeeded",\n  "output": 40,\n  "error": ""\n}\n'


def test_json_envelope_of_a_failure_exits_1(cog, outputs):
    result = cog("predict", "--json", '{"kind": "fail"}', cwd=outputs, check=False)
    assert result.returncode == 1
    assert json.loads(result.stdout) == {"status": "failed", "output": None, "error": "the model failed on purpose"}


def test_json_envelope_goes_to_dash_o(cog, outputs):
    result = cog("predict", "--json", '{"kind": "text"}', "-o", "result.json", cwd=outputs)
    assert result.stdout == "" and "Written output to: result.json" in result.stderr
    assert json.loads((outputs / "result.json").read_text()) == {"status": "succeeded", "output": "hello", "error": ""}


def test_env_reaches_the_model(cog, outputs):
    assert cog("predict", "-e", "GREETING=hi there", "-i", "kind=env", cwd=outputs).stdout == "hi there\n"


def test_the_project_is_mounted_at_the_workdir(cog, outputs):
    result = cog("predict", "-i", "kind=write", cwd=outputs)
    assert result.stdout == "/src\n"
    assert (outputs / "written-by-the-model.txt").read_text() == "from the container"


def test_train_writes_its_output_to_weights(cog, outputs):
    result = cog("train", "-i", "steps=3", cwd=outputs)
    assert result.stdout == "" and "Written output to: weights\n" in result.stderr
    assert (outputs / "weights").read_text() == "trained for 3 steps"
    assert (outputs / "weights.bin").read_bytes() == bytes(3)  # what the model wrote lands in the project
    assert "trained for 3 steps" in result.stderr


@pytest.mark.parametrize("form", [["--debug", "predict"], ["predict", "--debug"]])
def test_debug_is_taken_before_or_after_the_command(cog, outputs, form):
    result = cog(*form, "-i", "kind=text", cwd=outputs)
    assert result.stdout == "hello\n"


def test_cogs_build_flags_are_accepted_with_a_notice(cog, outputs):
    result = cog("build", "--debug", "--separate-weights", "--use-cog-base-image=false", "--use-cuda-base-image", "auto",
                 "--precompile", cwd=outputs)
    notes = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
    assert len(notes) == 3 and "Image built as " in result.stderr  # =false is as if not given


def test_run_and_exec_run_a_command_with_its_exit_code(cog, outputs):
    ran = cog("exec", "python", "-c", "import os; print(os.getcwd())", cwd=outputs)
    assert ran.stdout.strip().splitlines()[-1] == "/src"
    failed = cog("run", "python", "-c", "raise SystemExit(3)", cwd=outputs, check=False)
    assert failed.returncode == 3


def test_run_with_inputs_is_a_prediction(cog, outputs):
    assert cog("run", "-i", "kind=text", cwd=outputs).stdout == "hello\n"


def test_debug_prints_the_dockerfile(cog, outputs):
    result = cog("debug", cwd=outputs)
    assert result.stdout.startswith("# Generated by cog") and "FROM " in result.stdout


def test_openapi_schema_file_labels_the_image(cog, outputs, tmp_path):
    given = {"openapi": "3.0.2", "info": {"title": "Cog", "version": "0.1.0"}, "paths": {}}
    (tmp_path / "schema.json").write_text(json.dumps(given))
    tag = f"cog-compat-schema-{tmp_path.name}"
    try:
        cog("build", "-t", tag, "--openapi-schema", str(tmp_path / "schema.json"), cwd=outputs)
        label = subprocess.check_output(["docker", "image", "inspect", tag, "--format", '{{index .Config.Labels "run.cog.openapi_schema"}}'], text=True)
        assert json.loads(label) == given
    finally:
        subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True)


@pytest.mark.parametrize(("text", "message"), [
    ("{", "is not JSON: Expecting property name enclosed in double quotes (line 1, column 2)"),
    ('{"swagger": "2.0"}', 'is not an OpenAPI 3 document'),
    # The validator's own words (how it quotes the name differs between its versions).
    ('{"openapi": "3.0.2", "paths": {}}', "is not a valid OpenAPI document: 'info' is a required property"),
])
def test_a_bad_openapi_schema_file_is_one_line_before_any_build(cog, outputs, tmp_path, text, message):
    (tmp_path / "schema.json").write_text(text)
    result = cog("build", "--openapi-schema", str(tmp_path / "schema.json"), cwd=outputs, check=False)
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
    assert result.stderr.replace('"', "'").startswith(f"error: --openapi-schema {tmp_path / 'schema.json'} {message}")
