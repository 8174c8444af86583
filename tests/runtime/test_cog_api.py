"""Every name Replicate's Cog exports, as Cog documents it, through the HTTP API (in process: `serve`) and the
schema: the scope (metrics, context), JSON-object inputs (coders, Opaque), URLPath/URLFile, Weights, concurrent."""

from __future__ import annotations

import base64
import concurrent.futures
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Annotated, Any, Dict, List, Optional

import pytest

import cog
import cog.types
from cog.sdk import scope
from cog.sdk.signature import InputError, signature_of

from .conftest import REPO, Receiver, Server

V0_16 = ["__version__", "current_scope", "AsyncConcatenateIterator", "BaseModel", "BasePredictor",
         "ConcatenateIterator", "ExperimentalFeatureWarning", "File", "Input", "Path", "Secret"]
TODAY = ["BaseRunner", "Opaque", "FieldInfo", "URLFile", "URLPath", "CancelationException", "streaming",
         "concurrent", "emit_metric", "AsyncIterator"]
FIRST = ["Model", "input"]  # the first Cog's; its cog.Predictor too, though not in a star import


def data_uri(text: str, media_type: str = "text/plain") -> str:
    return f"data:{media_type};base64," + base64.b64encode(text.encode()).decode()


def schemas(server: Server) -> Dict[str, Any]:
    return server.client.get("/openapi.json").json()["components"]["schemas"]


# -- the names ----------------------------------------------------------------------------------------------


def test_cog_exports_every_name_of_replicates_cog() -> None:
    for name in V0_16 + TODAY + FIRST:
        assert hasattr(cog, name) and name in cog.__all__, name
    assert hasattr(cog, "Predictor") and "Predictor" not in cog.__all__
    assert issubclass(cog.ExperimentalFeatureWarning, FutureWarning)
    assert issubclass(cog.CancelationException, BaseException) and not issubclass(cog.CancelationException, Exception)
    assert repr(cog.Opaque) == "cog.Opaque"
    for name in ["Weights", "URLPath", "URLFile", "Path", "File", "Secret", "Input"]:
        assert hasattr(cog.types, name), name
    from cog.coder import Coder, dataclass_coder, json_coder, pydantic_coder, set_coder  # noqa: F401
    assert json_coder.JsonCoder.lookup(dict) is not None


def test_a_model_importing_every_name_loads_and_runs(serve) -> None:
    server = serve("cog_names.py:Predictor")
    assert server.predict(prompt="to be")["output"] == ["to ", "be "]
    assert schemas(server)["Output"]["x-cog-array-display"] == "concatenate"
    versioned = serve("cog_names.py:Versioned").predict()["output"]
    assert versioned == {"version": cog.__version__, "field_info": True, "tokens": ""}


def test_concurrent_marks_the_function_and_refuses_a_sync_one_above_one() -> None:
    @cog.concurrent(max=4)
    async def predict() -> str:
        return ""

    assert predict.__cog_concurrent_max__ == 4  # type: ignore[attr-defined]
    assert cog.concurrent(lambda: None).__cog_concurrent_max__ == 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="requires an async function"):
        cog.concurrent(max=2)(lambda: None)
    with pytest.raises(ValueError):
        cog.concurrent(max=0)
    with pytest.raises(TypeError):
        cog.concurrent(max=True)


# -- the scope: metrics and context ----------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the fixture's emit_metric()
def test_recorded_metrics_land_next_to_predict_time_with_every_mode(serve) -> None:
    server = serve("scope_metrics.py:Predictor")
    result = server.predict(text="hello")
    metrics = result["metrics"]
    assert result["status"] == "succeeded" and metrics["predict_time"] > 0
    assert {k: v for k, v in metrics.items() if k != "predict_time"} == {
        "chars": 5, "tokens": 5, "steps": ["a", "b"], "temperature": 0.5, "legacy": 7, "from_thread": True}
    assert "ignored" not in metrics  # recorded in setup(): outside a prediction, nothing is kept
    failed = server.predict(fail=True)
    assert failed["status"] == "failed" and failed["metrics"]["chars"] == 2  # a failed one keeps its metrics


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_requests_context_is_the_scopes_context(serve) -> None:
    server = serve("scope_metrics.py:Predictor")
    body = {"input": {}, "context": {"replicate_api_token": "r8_secret", "attempt": 2}}
    result = server.client.post("/predictions", json=body).json()
    assert result["output"] == {"context": {"replicate_api_token": "r8_secret", "attempt": "2"}, "setup_context": {}}
    assert "r8_secret" not in str({k: v for k, v in result.items() if k != "output"})  # never echoed back
    assert server.predict()["output"]["context"] == {}
    refused = server.client.post("/predictions", json={"input": {}, "context": {"a": {"b": 1}}})
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "context", "a"]
    assert server.client.post("/predictions", json={"input": {}, "context": "x"}).status_code == 422


def test_concurrent_predictions_each_have_their_own_scope_and_the_decorator_sets_the_slots(serve) -> None:
    server = serve("scope_metrics.py:Concurrent")
    assert "cog_prediction_slots 3" in server.client.get("/metrics").text

    def one(n: int) -> Dict[str, Any]:
        return server.client.post("/predictions", json={"input": {"n": n}, "context": {"who": str(n)}}).json()

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = list(pool.map(one, [1, 2, 3]))
    for n, result in zip([1, 2, 3], results):
        assert result["output"] == {"n": n, "context": {"who": str(n)}} and result["metrics"]["n"] == n
    starts = sorted(r["started_at"] for r in results)
    ends = sorted(r["completed_at"] for r in results)
    assert starts[-1] < ends[0]  # all three ran at once


def test_current_scope_outside_a_prediction_is_a_scope_that_records_nothing() -> None:
    outside = cog.current_scope()
    outside.record_metric("x", 1)
    outside.metrics["y"] = 2
    outside.context["z"] = "3"
    assert dict(outside.metrics) == {} and outside.context == {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cog.emit_metric("x", 1)
        cog.current_scope()
    assert [w.category for w in caught] == [DeprecationWarning]  # emit_metric's; current_scope warns no more


def test_record_metric_modes_and_their_mistakes() -> None:
    s = scope.Scope({"k": "v"})
    s.record_metric("n", 1, mode="incr")
    s.record_metric("n", 2.5, mode="incr")
    s.record_metric("v", 1)
    s.record_metric("v", 2, mode="append")
    s.record_metric("gone", 1)
    s.record_metric("gone", None)
    assert s.metrics.to_json() == {"n": 3.5, "v": [1, 2]} and s.context == {"k": "v"}
    for name, value, mode, error in [("", 1, "replace", ValueError), ("n", "a", "incr", TypeError),
                                     ("n", 1, "sum", ValueError)]:
        with pytest.raises(error):
            s.record_metric(name, value, mode=mode)


# -- JSON objects: dict, TypedDict, Opaque, coders ---------------------------------------------------------------


def test_json_object_inputs_pass_through_and_show_as_objects_in_the_schema(serve) -> None:
    server = serve("json_inputs.py:Predictor")
    props = schemas(server)["Input"]["properties"]
    assert props["data"] == {"title": "Data", "type": "object", "x-order": 0}
    assert props["message"] == {"title": "Message", "type": "object", "description": "One chat message", "x-order": 1}
    assert props["messages"] == {"title": "Messages", "type": "array", "items": {"type": "object"}, "default": [],
                                 "x-order": 2}
    assert props["raw"]["type"] == "object" and props["options"]["default"] == {"k": 1}
    assert props["point"] == {"title": "Point", "type": "object", "nullable": True, "x-order": 5}
    assert schemas(server)["Input"]["required"] == ["data", "message"]
    assert schemas(server)["Output"] == {"title": "Output", "type": "object"}
    inputs = {"data": {"a": [1, {"b": None}]}, "message": {"role": "user", "content": "hi"},
              "messages": [{"role": "user", "content": "x"}], "raw": {"anything": True},
              "point": {"x": 3}, "tags": {"items": ["b", "a"]}}
    result = server.predict(**inputs)
    assert result["status"] == "succeeded", result
    assert result["output"] == {**inputs, "options": {"k": 1}, "point": {"x": 3, "y": 0}, "tags": ["a", "b"]}
    refused = server.client.post("/predictions", json={"input": {"data": [1], "message": {}}})
    assert refused.status_code == 422 and "must be a JSON object" in refused.json()["detail"][0]["msg"]


def test_opaque_and_coded_outputs_are_objects(serve) -> None:
    server = serve("json_inputs.py:OpaqueOutput")
    assert schemas(server)["Output"] == {"title": "Output", "type": "object"}
    assert server.predict(n=2)["output"] == {"n": 2, "nested": {"list": [1, 2]}}
    points = serve("json_inputs.py:Points")
    assert schemas(points)["Output"] == {"title": "Output", "type": "object"}
    assert points.predict(x=2)["output"] == {"x": 2, "y": 4}


def test_opaque_shapes_in_a_signature() -> None:
    def predict(self, a: Annotated[List[Any], cog.Opaque], b: Optional[Annotated[Any, cog.Opaque]] = None,
                c: Annotated[int, "a note"] = 1) -> List[Annotated[Any, cog.Opaque]]: ...

    sig = signature_of(predict.__get__(object()))
    a, b, c = sig.inputs
    assert (a.kind, a.array, b.kind, b.nullable, c.kind) == ("dict", True, "dict", True, "int")
    assert sig.output.kind == "dict" and sig.output.array
    with pytest.raises(InputError):
        sig.validate({"a": ["not an object"]})


def test_a_models_own_coder_decodes_its_inputs_and_encodes_its_outputs(tmp_path: Path, serve) -> None:
    (tmp_path / "predict.py").write_text(
        "from typing import Any, Dict, Optional\n"
        "from cog import BasePredictor\n"
        "from cog.coder import Coder\n\n"
        "class Money:\n"
        "    def __init__(self, cents): self.cents = cents\n\n"
        "class MoneyCoder(Coder):\n"
        "    @staticmethod\n"
        "    def factory(tpe) -> Optional[Coder]:\n"
        "        return MoneyCoder() if tpe is Money else None\n"
        "    def encode(self, x: Money) -> Dict[str, Any]:\n"
        "        return {'cents': x.cents}\n"
        "    def decode(self, x: Dict[str, Any]) -> Money:\n"
        "        return Money(x['cents'])\n\n"
        "class Predictor(BasePredictor):\n"
        "    def predict(self, price: Money) -> Money:\n"
        "        assert isinstance(price, Money)\n"
        "        return Money(price.cents * 2)\n")
    server = serve("predict.py:Predictor", project_dir=str(tmp_path))
    assert schemas(server)["Input"]["properties"]["price"]["type"] == "object"
    assert server.predict(price={"cents": 21})["output"] == {"cents": 42}


# -- URLPath, URLFile, Weights ---------------------------------------------------------------------------------


def test_url_outputs_are_their_urls(serve) -> None:
    server = serve("url_types.py:Runner")
    assert schemas(server)["Output"] == {"title": "Output", "type": "string", "format": "uri"}
    url = "https://example.com/images/cat.png"
    assert server.predict(url=url)["output"] == url  # nothing was fetched: example.com is not reachable here
    assert server.predict(url=url, as_file=True)["output"] == url


def test_a_model_reads_url_types_lazily(serve, receiver: Receiver) -> None:
    receiver.files["/notes/a.txt"] = b"from http"
    server = serve("url_types.py:Reader")
    assert server.predict(url=receiver.url + "/notes/a.txt")["output"] == \
        f"from http|from http|{receiver.url}/notes/a.txt"
    uri = data_uri("inline")
    assert server.predict(url=uri)["output"] == f"inline|inline|{uri}"


def test_an_input_typed_urlpath_is_a_file_input(serve) -> None:
    server = serve("url_types.py:FileInput")
    assert schemas(server)["Input"]["properties"]["image"]["format"] == "uri"
    assert server.predict(image=data_uri("pixels"))["output"] == "Path:pixels"


def test_url_types_in_the_model_alone() -> None:
    uri = data_uri("lazy")
    path = cog.URLPath(source=uri, filename="notes.txt", fileobj=cog.URLFile(uri))
    assert str(path) == uri and path.name == "notes.txt" and isinstance(path, cog.Path)
    local = path.convert()
    assert local.read_text() == "lazy" and local.name == "notes.txt" and path.convert() == local
    path.unlink()
    assert not local.exists()
    with pytest.raises(ValueError):
        cog.URLFile("ftp://example.com/x")


def test_setup_weights_by_annotation(serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_text("w")
    monkeypatch.setenv("COG_WEIGHTS", str(weights))
    assert serve("url_types.py:WeightsAlias").predict()["output"] == f"Path:{weights}"
    assert serve("url_types.py:WeightsPath").predict()["output"] == f"Path:{weights}:w"
    uri = data_uri("remote weights")
    monkeypatch.setenv("COG_WEIGHTS", uri)
    assert serve("url_types.py:WeightsAlias").predict()["output"] == f"str:{uri}"
    assert serve("url_types.py:WeightsPath").predict()["output"] == f"URLPath:{uri}:remote weights"


def test_the_new_sdk_files_import_only_the_standard_library() -> None:
    code = ("import sys, json; import cog.coder.json_coder, cog.coder.dataclass_coder, cog.coder.pydantic_coder, "
            "cog.coder.set_coder, cog.sdk.scope;"
            "print(json.dumps(sorted(m for m in ('pydantic', 'yaml', 'httpx', 'fastapi') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

