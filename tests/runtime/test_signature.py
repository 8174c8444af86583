"""The model SDK: stdlib-only imports, signatures from both declaration styles, the OpenAPI schema."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from dataclasses import fields
from typing import Iterator, List, Optional

import pytest

import cog
from cog.sdk.predictor import Constraints, constraints_of
from cog.sdk.schema import openapi_schema
from cog.sdk.signature import InputError, SignatureError, signature_of
from cog.server.process import SchemaError, openapi_schema_for

from .conftest import FIXTURES, REPO, SERVER_ONLY


def test_model_side_imports_only_the_standard_library() -> None:
    code = (
        "import sys, json; import cog, cog.types, cog.sdk.signature, cog.sdk.schema, cog.sdk.worker;"
        f"print(json.dumps([m for m in {SERVER_ONLY!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def schema_of(ref: str) -> dict:
    return openapi_schema_for(ref, project_dir=str(FIXTURES))


def test_schema_inputs_have_cog_shape() -> None:
    schemas = schema_of("types_predictor.py:Predictor")["components"]["schemas"]
    props = schemas["Input"]["properties"]
    assert schemas["Input"]["required"] == ["text"]
    assert props["text"] == {"title": "Text", "type": "string", "description": "A word", "minLength": 2,
                             "maxLength": 10, "pattern": "^[a-z]+$", "x-order": 0}
    assert props["count"] == {"title": "Count", "type": "integer", "default": 3, "minimum": 1, "maximum": 10,
                              "x-order": 1}
    assert props["file"]["format"] == "uri" and props["file"]["nullable"] is True
    assert props["token"]["format"] == "password" and props["token"]["x-cog-secret"] is True
    assert props["numbers"] == {"title": "Numbers", "type": "array", "items": {"type": "integer"},
                                "default": [1, 2], "x-order": 6}
    assert props["note"]["nullable"] is True and "default" not in props["note"]
    assert props["size"] == {"allOf": [{"$ref": "#/components/schemas/size"}], "default": "small", "x-order": 8}
    assert schemas["size"]["enum"] == ["small", "large"]
    assert schemas["color"]["enum"] == ["red", "green"] and props["color"]["deprecated"] is True
    assert [p["x-order"] for p in props.values()] == list(range(10))


def test_schema_says_what_the_server_answers_and_refuses() -> None:
    """What tests/contracts checks against the running server, stated here for one model."""
    schema = schema_of("types_predictor.py:Predictor")
    schemas = schema["components"]["schemas"]
    assert schemas["Input"]["additionalProperties"] is False and schemas["Input"]["properties"]["token"]["nullable"]
    request, response = schemas["PredictionRequest"], schemas["PredictionResponse"]["properties"]
    assert request["required"] == ["input"] and request["properties"]["webhook"]["pattern"] == "^https?://"
    assert [name for name, field in response.items() if field.get("nullable")] == [
        "started_at", "completed_at", "output", "error"]
    post = schema["paths"]["/predictions"]["post"]
    assert post["requestBody"]["required"] is True
    assert sorted(post["responses"]) == ["200", "202", "409", "413", "422", "503"]
    assert "Retry-After" in post["responses"]["409"]["headers"]
    put = schema["paths"]["/predictions/{prediction_id}"]["put"]
    assert put["parameters"][0]["schema"]["pattern"] == "^[^/]+$"
    assert sorted(schema["paths"]["/predictions/{prediction_id}/cancel"]["post"]["responses"]) == ["200", "404"]
    optional = schema_of("failures.py:Predictor")  # no input is required: the body may be left out
    assert optional["paths"]["/predictions"]["post"]["requestBody"]["required"] is False
    assert "required" not in optional["components"]["schemas"]["PredictionRequest"]


def test_schema_outputs() -> None:
    output = schema_of("types_predictor.py:Predictor")["components"]["schemas"]["Output"]
    assert output["type"] == "object" and output["properties"]["numbers"]["items"] == {"type": "integer"}
    assert "file_text" in output["properties"] and "file_text" in output["required"]
    iterator = schema_of("iterators.py:Predictor")["components"]["schemas"]["Output"]
    assert iterator == {"title": "Output", "type": "array", "items": {"type": "string"}, "x-cog-array-type": "iterator"}
    concatenate = schema_of("iterators.py:Tokens")["components"]["schemas"]["Output"]
    assert concatenate["x-cog-array-display"] == "concatenate"
    paths = schema_of("files.py:Predictor")["components"]["schemas"]["Output"]
    assert paths["items"] == {"type": "string", "format": "uri"}
    streamer = schema_of("async_predictor.py:Streamer")["components"]["schemas"]["Output"]
    assert streamer["x-cog-array-type"] == "iterator" and streamer["items"] == {"type": "integer"}


def test_original_dialect_keeps_declaration_order() -> None:
    schema = schema_of("original.py:JazzSoloComposerModel")
    props = schema["components"]["schemas"]["Input"]["properties"]
    assert list(props) == ["notes", "style", "score", "tempo"]
    assert props["notes"]["minimum"] == 1 and props["notes"]["description"] == "How many notes"
    assert schema["components"]["schemas"]["style"]["enum"] == ["bebop", "swing"]
    assert schema["components"]["schemas"]["Input"]["required"] == ["tempo"]


def test_train_adds_training_endpoints() -> None:
    schema = openapi_schema_for("hello.py:Predictor", project_dir=str(FIXTURES), train_ref="train.py:train")
    assert "/trainings" in schema["paths"]
    assert schema["components"]["schemas"]["TrainingInput"]["required"] == ["dataset"]
    assert schema["components"]["schemas"]["TrainingOutput"]["properties"]["epochs"]["type"] == "integer"


@pytest.mark.parametrize("ref, message", [
    ("bad_declarations.py:DefaultOutOfRange", "input 'steps': default 100 is invalid because it is greater than le=50"),
    ("bad_declarations.py:ChoicesOnFloat", "input 'scale': choices are supported only for str and int"),
    ("bad_declarations.py:UnsupportedType", "input 'options': unsupported type bytes"),
    ("hello.py:Missing", "hello.py has no 'Missing'"),
    ("nowhere.py:Predictor", "nowhere.py does not exist"),
])
def test_bad_declarations_are_one_line_errors(ref: str, message: str) -> None:
    with pytest.raises(SchemaError) as info:
        schema_of(ref)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_annotations_in_both_spellings_give_one_signature() -> None:
    def old(self, a: Optional[str] = None, b: List[int] = cog.Input(default=[1])) -> Iterator[str]: ...

    def new(self, a: str | None = None, b: list[int] = cog.Input(default=[1])) -> Iterator[str]: ...

    old_sig, new_sig = signature_of(old.__get__(object())), signature_of(new.__get__(object()))
    assert old_sig == new_sig
    assert openapi_schema(old_sig) == openapi_schema(new_sig)


def test_validation_messages_name_the_field() -> None:
    def predict(self, n: int = cog.Input(ge=1, le=5), tag: str = cog.Input(default="a", choices=["a", "b"])) -> str:
        ...

    sig = signature_of(predict.__get__(object()))
    assert sig.validate({"n": 2.0}) == {"n": 2, "tag": "a"}
    for payload, field, fragment in [
        ({}, "n", "is required"),
        ({"n": "2"}, "n", "must be an integer"),
        ({"n": 9}, "n", "less than or equal to 5"),
        ({"n": True}, "n", "must be an integer"),
        ({"n": 1, "tag": "c"}, "tag", "must be one of 'a', 'b'"),
        ({"n": 1, "bogus": 1}, "bogus", "unknown input"),
    ]:
        with pytest.raises(InputError) as info:
            sig.validate(payload)
        assert info.value.field == field and fragment in info.value.message


def test_input_takes_the_default_then_every_constraint_by_keyword() -> None:
    constraints = [f.name for f in fields(Constraints)]
    parameters = inspect.signature(cog.Input).parameters.values()
    assert [(p.name, p.kind) for p in parameters] == [("default", inspect.Parameter.POSITIONAL_OR_KEYWORD)] + [
        (name, inspect.Parameter.KEYWORD_ONLY) for name in ["default_factory", *constraints]
    ]
    assert [f.name for f in fields(cog.FieldInfo)] == ["default", *constraints]


def test_a_default_factory_gives_the_default_as_cog_takes_it() -> None:
    assert cog.Input(default_factory=lambda: [1, 2], description="d").default == [1, 2]
    with pytest.raises(TypeError, match="a default or a default_factory, not both"):
        cog.Input(1, default_factory=list)


def test_every_constraint_reaches_the_signature() -> None:
    declared = cog.Input(default="ab", description="d", min_length=1, max_length=5, regex="^[ab]+$",
                         choices=("ab", "ba"), deprecated=True)

    def predict(self, text: str = declared) -> str: ...

    (f,) = signature_of(predict.__get__(object())).inputs
    assert constraints_of(f) == constraints_of(declared) and f.choices == ["ab", "ba"]


def test_missing_annotation_is_a_signature_error() -> None:
    def predict(self, x) -> str: ...  # noqa: ANN001

    with pytest.raises(SignatureError, match="parameter 'x' has no type annotation"):
        signature_of(predict.__get__(object()))


def _declared(annotation, **input_options):
    """predict(self, x: ANNOTATION = Input(**OPTIONS)) -> str, bound (annotations are objects, not strings)."""

    def predict(self, x=cog.Input(**input_options)):
        ...

    predict.__annotations__ = {"x": annotation, "return": str}
    return predict.__get__(object())


@pytest.mark.parametrize(("annotation", "options", "message"), [
    (int, {"default": 0, "ge": 1}, "input 'x': default 0 is invalid because it is less than ge=1"),
    (float, {"default": 2.5, "le": 1}, "input 'x': default 2.5 is invalid because it is greater than le=1"),
    (float, {"default": 0.5, "ge": 0.75}, "input 'x': default 0.5 is invalid because it is less than ge=0.75"),
    (str, {"default": "c", "choices": ["a", "b"]}, "input 'x': default 'c' is invalid because it is not one of the choices 'a', 'b'"),
    (int, {"default": 3, "choices": [1, 2]}, "input 'x': default 3 is invalid because it is not one of the choices 1, 2"),
    (str, {"default": "ab", "min_length": 3}, "input 'x': default 'ab' is invalid because it is shorter than min_length=3"),
    (str, {"default": "abcd", "max_length": 3}, "input 'x': default 'abcd' is invalid because it is longer than max_length=3"),
    (str, {"default": "ABC", "regex": "^[a-z]+$"}, "input 'x': default 'ABC' is invalid because it does not match regex='^[a-z]+$'"),
    (List[int], {"default": [1, 0], "ge": 1}, "input 'x': default [1, 0] is invalid because its item 1 (0) is less than ge=1"),
    (int, {"default": "a"}, "input 'x': default 'a' is invalid because it must be an integer, got a string"),
    (cog.Secret, {"default": "abc", "min_length": 5}, "input 'x': default (a secret) is invalid because it is shorter than min_length=5"),
])
def test_a_default_that_breaks_its_own_constraint_names_the_input(annotation, options, message):
    with pytest.raises(SignatureError) as caught:
        signature_of(_declared(annotation, **options))
    assert str(caught.value) == message


def test_a_literal_default_outside_its_values_is_refused():
    from typing import Literal

    with pytest.raises(SignatureError, match=r"^input 'x': default 'c' is invalid because it is not one of the choices 'a', 'b'$"):
        signature_of(_declared(Literal["a", "b"], default="c"))


@pytest.mark.parametrize(("options", "message"), [
    ({"type": int, "default": 0, "min": 1, "max": 10}, "input 'steps': default 0 is invalid because it is less than min=1"),
    ({"type": int, "default": 11, "min": 1, "max": 10}, "input 'steps': default 11 is invalid because it is greater than max=10"),
    ({"type": str, "default": "c", "options": ["a", "b"]}, "input 'steps': default 'c' is invalid because it is not one of the options 'a', 'b'"),
])
def test_the_original_dialect_default_is_checked_in_its_own_words(options, message):
    class Model(cog.Model):
        @cog.input("steps", **options)
        def run(self, steps):
            ...

    with pytest.raises(SignatureError) as caught:
        signature_of(Model().run)
    assert str(caught.value) == message


@pytest.mark.parametrize(("annotation", "options"), [
    (int, {"default": 1, "ge": 1, "le": 1}),
    (str, {"default": "a", "choices": ["a"]}),
    (str, {"default": "abc", "min_length": 3, "max_length": 3, "regex": "^a"}),
    (Optional[int], {"default": None, "ge": 1}),
    (List[int], {"default": [1, 2], "ge": 1}),
])
def test_defaults_inside_their_constraints_are_kept(annotation, options):
    (field,) = signature_of(_declared(annotation, **options)).inputs
    assert field.default == options["default"]


def test_default_checks_run_on_python_3_8_syntax():
    # signature.py runs in the model's environment, which may be Python 3.8: it must compile there.
    import ast

    source = (REPO / "cog" / "sdk" / "signature.py").read_text(encoding="utf-8")
    ast.parse(source, feature_version=(3, 8))


def test_redacted_shows_each_secret_as_cog_does_and_leaves_the_rest() -> None:
    def predict(text: str, token: cog.Secret, tokens: List[cog.Secret], spare: Optional[cog.Secret] = None) -> str:
        return text

    signature = signature_of(predict)
    given = {"text": "a", "token": "s3cret", "tokens": ["x", "y"], "spare": None}
    assert signature.redacted(given) == {"text": "a", "token": "**********", "tokens": ["**********", "**********"],
                                         "spare": None}
    assert given["token"] == "s3cret"  # the model's arguments are another dict

    def plain(text: str) -> str:
        return text

    assert signature_of(plain).redacted({"text": "a"}) == {"text": "a"}
