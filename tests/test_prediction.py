"""Inputs from the command line and outputs to files: the pure parts of cog predict."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest

from cog.errors import CogError
from cog.cli.prediction import parse_inputs, write_output

SCHEMA = {"components": {"schemas": {
    "Input": {"properties": {
        "text": {"type": "string"}, "steps": {"type": "integer"}, "scale": {"type": "number"},
        "fast": {"type": "boolean"}, "tags": {"type": "array", "items": {"type": "string"}},
        "sizes": {"type": "array", "items": {"type": "integer"}}, "image": {"type": "string", "format": "uri"},
    }},
    "Output": {"type": "string", "format": "uri"},
    "TrainingInput": {"properties": {"epochs": {"type": "integer"}}},
    "TrainingOutput": {"type": "string"},
}}}


def test_values_are_typed_by_the_schema():
    assert parse_inputs(["text=hi", "steps=3", "scale=0.5", "fast=true"], None, SCHEMA) == {
        "text": "hi", "steps": 3, "scale": 0.5, "fast": True}


def test_repeated_names_and_arrays_become_lists():
    assert parse_inputs(["tags=a", "tags=b", "sizes=1"], None, SCHEMA) == {"tags": ["a", "b"], "sizes": [1]}


def test_file_inputs_are_data_uris(tmp_path):
    (tmp_path / "cat.png").write_bytes(b"\x89PNG")
    value = parse_inputs([f"image=@{tmp_path / 'cat.png'}"], None, SCHEMA)["image"]
    assert value == "data:image/png;base64," + base64.b64encode(b"\x89PNG").decode()


def test_json_from_text_file_and_stdin_with_overrides(tmp_path):
    assert parse_inputs([], '{"text": "a", "steps": 2}', SCHEMA) == {"text": "a", "steps": 2}
    (tmp_path / "in.json").write_text('{"text": "from file"}')
    assert parse_inputs(["steps=4"], f"@{tmp_path / 'in.json'}", SCHEMA) == {"text": "from file", "steps": 4}
    assert parse_inputs([], "@-", SCHEMA, stdin=io.StringIO('{"fast": false}')) == {"fast": False}


def test_training_inputs_use_the_training_component():
    assert parse_inputs(["epochs=5"], None, SCHEMA, endpoint="trainings") == {"epochs": 5}


def test_a_value_without_a_name_goes_to_the_only_input_or_the_only_file_input(tmp_path):
    (tmp_path / "dog.jpg").write_bytes(b"jpg")
    assert parse_inputs([f"@{tmp_path / 'dog.jpg'}"], None, SCHEMA)["image"].startswith("data:image/jpeg;base64,")
    only_text = {"components": {"schemas": {"Input": {"properties": {"text": {"type": "string"}}}}}}
    assert parse_inputs(["hello there"], None, only_text) == {"text": "hello there"}
    with pytest.raises(CogError, match="the model has no input named a"):  # NAME=VALUE always names the input
        parse_inputs(["a=b"], None, only_text)


@pytest.mark.parametrize(("pairs", "json_input", "message"), [
    (["novalue"], None, "-i novalue: say which input it is for, as NAME=VALUE (inputs: text, steps, scale, fast, tags, sizes, image)"),
    (["nope=1"], None, "-i nope: the model has no input named nope (inputs: text, steps, scale, fast, tags, sizes, image)"),
    (["steps=three"], None, "-i steps=three: steps is an integer"),
    (["scale=big"], None, "-i scale=big: scale is a number"),
    (["fast=maybe"], None, "-i fast=maybe: fast is true or false"),
    (["image=@/no/such/file"], None, "-i image=@/no/such/file: No such file or directory"),
    ([], "{bad", "--json is not valid JSON: Expecting property name enclosed in double quotes (line 1, column 2)"),
    ([], "[1]", "--json must be a JSON object of input names and values"),
])
def test_mistakes_are_one_clear_line(pairs, json_input, message):
    with pytest.raises(CogError) as caught:
        parse_inputs(pairs, json_input, SCHEMA)
    assert str(caught.value) == message


def test_outputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    printed = []
    png = "data:image/png;base64," + base64.b64encode(b"png-bytes").decode()
    assert write_output(png, SCHEMA, None, printed.append) == [Path("output.png")]
    assert (tmp_path / "output.png").read_bytes() == b"png-bytes"
    paths = write_output([png, png], SCHEMA, tmp_path / "result.png", printed.append)
    assert [p.name for p in paths] == ["result.0.png", "result.1.png"]
    text_schema = {"components": {"schemas": {"Output": {"type": "string"}}}}
    write_output("plain text", text_schema, None, printed.append)
    stream_schema = {"components": {"schemas": {"Output": {"type": "array", "x-cog-array-display": "concatenate"}}}}
    write_output(["to", "ken", "s"], stream_schema, None, printed.append)
    write_output({"label": "cat", "score": 0.9}, {}, None, printed.append)
    assert printed == ["plain text", "tokens", '{\n  "label": "cat",\n  "score": 0.9\n}']


def test_object_inputs_are_parsed_as_json():
    schema = {"components": {"schemas": {"Input": {"properties": {"config": {"type": "object"}}}}}}
    assert parse_inputs(['config={"steps": 3}'], None, schema) == {"config": {"steps": 3}}
    with pytest.raises(CogError, match=r"config is a JSON object, and this is not JSON"):
        parse_inputs(["config={steps"], None, schema)
    with pytest.raises(CogError, match=r"config is a JSON object, not list"):
        parse_inputs(["config=[1]"], None, schema)


def test_an_unwritable_output_path_is_one_line(tmp_path):
    with pytest.raises(CogError, match=r"^cannot write the output to .*/nosuch/out.txt: No such file or directory$"):
        write_output("text", {}, tmp_path / "nosuch" / "out.txt", print)
