"""The HTTP runtime, end to end over loopback HTTP, with a real webhook and file receiver.

What the API answers runs in process (`serve`: the model in this process, started in milliseconds). What only a
worker process can show (crashes, cancels by signal, SIGTERM, a setup that hangs, the `serve()` entry point)
runs with real processes (`start_server`), at the end of this file.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any, Iterator

import httpx
import pytest

from cog.server.runner import Settings

from .conftest import FIXTURES, REPO, InProcessServer, ProcessServer, Receiver, Server, free_port, wait_until

ASYNC = {"Prefer": "respond-async"}


def detail(response: httpx.Response) -> str:
    """The message of an error answer: FastAPI's shape for a field, a string otherwise."""
    body = response.json()["detail"]
    return body[0]["msg"] if isinstance(body, list) else body


# -- the shape of an answer ------------------------------------------------------------------------------------


@pytest.fixture(params=["in-process", "process"])
def hello(request: Any, serve: Any, start_server: Any, monkeypatch: pytest.MonkeyPatch) -> Server:
    """The same model behind both workers: what the API answers does not depend on where the model runs."""
    if request.param == "process":
        return start_server("hello.py:Predictor", COG_WEIGHTS="/nowhere/weights")
    monkeypatch.setenv("COG_WEIGHTS", "/nowhere/weights")
    return serve("hello.py:Predictor")


def test_a_prediction_answers_with_cog_fields_and_health_shows_the_setup(hello: Server) -> None:
    health = hello.health()
    assert health["status"] == "READY"
    assert health["setup"]["status"] == "succeeded" and "loading weights: /nowhere/weights" in health["setup"]["logs"]
    assert health["setup"]["started_at"] <= health["setup"]["completed_at"]
    result = hello.predict(text="world")
    assert list(result) == ["id", "created_at", "started_at", "completed_at", "status", "input", "output", "logs",
                            "error", "metrics"]
    assert result["status"] == "succeeded" and result["output"] == "hello world"
    assert result["logs"] == "greeting world\n" and result["error"] is None
    assert result["input"] == {"text": "world"} and result["metrics"]["predict_time"] > 0
    assert result["created_at"] <= result["started_at"] <= result["completed_at"]
    index = hello.client.get("/").json()
    assert index["predictions_url"] == "/predictions" and "trainings_url" not in index
    schema = hello.client.get("/openapi.json").json()
    assert schema["components"]["schemas"]["Input"]["required"] == ["text"]


# -- requests the server refuses ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def types_server() -> Iterator[Server]:
    """One server for the table below: the cases only read."""
    server = InProcessServer(Settings(predict_ref="types_predictor.py:Predictor", project_dir=str(FIXTURES),
                                      max_body_bytes=2000))
    server.wait_for("READY")
    yield server
    server.stop()


@pytest.mark.parametrize("inputs, field, fragment", [
    pytest.param({"text": 5}, "text", "must be a string", id="a wrong type"),
    pytest.param({"text": "ab", "count": 11}, "count", "less than or equal to 10", id="a number above le"),
    pytest.param({"text": "ab", "colour": "red"}, "colour", "unknown input", id="an unknown input"),
    pytest.param({}, "text", "is required", id="a missing required input"),
    pytest.param({"text": "ab", "size": "huge"}, "size", "must be one of", id="a value outside a Literal"),
    pytest.param({"text": "AB"}, "text", "must match the pattern", id="a string that misses the regex"),
    pytest.param({"text": "ab", "file": "/etc/passwd"}, "file", "http(s) URL or a data URI", id="a local path"),
    pytest.param({"text": "ab", "file": "http://127.0.0.1:99999/x"}, "file", "is not a URL that can be fetched",
                 id="a URL whose port is out of range"),
    pytest.param({"text": "ab", "file": "http://127.0.0.1:abc/x"}, "file", "is not a URL that can be fetched",
                 id="a URL whose port is no number"),
    pytest.param({"text": "ab", "numbers": 4}, "numbers", "must be a list, got", id="one item for a list"),
    pytest.param({"text": "ab", "count": None}, "count", "must not be null", id="null where the default is not"),
])
def test_a_bad_input_is_a_422_that_names_the_field(types_server: Server, inputs: dict, field: str,
                                                   fragment: str) -> None:
    response = types_server.client.post("/predictions", json={"input": inputs})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "input", field] and fragment in error["msg"] and error["type"] == "value_error"


@pytest.mark.parametrize("method, path, body, status, fragment", [
    pytest.param("POST", "/predictions", b'{"input": {', 422, "not valid JSON", id="malformed JSON"),
    pytest.param("POST", "/predictions", b"[1]", 422, "must be a JSON object", id="a body that is no object"),
    pytest.param("POST", "/predictions", b"[" * 999 + b"]" * 999, 422, "nests arrays and objects too deeply",
                 id="JSON nested deeper than the decoder goes"),
    pytest.param("POST", "/predictions", b'{"webhook": "ftp://x"}', 422, "http(s) URL", id="a webhook not http"),
    pytest.param("POST", "/predictions", '{"webhook": "https://\u00cf/"}'.encode(), 422, "http(s) URL",
                 id="a webhook that is no URI"),
    pytest.param("POST", "/predictions", b'{"webhook_events_filter": [{}]}', 422, "webhook_events_filter must be",
                 id="webhook events that are not names"),
    pytest.param("POST", "/predictions", b'{"created_at": "yesterday"}', 422, "RFC 3339 date-time",
                 id="a created_at that is no timestamp"),
    pytest.param("POST", "/predictions", b'{"created_at": "2026-02-30T00:00:00Z"}', 422, "RFC 3339 date-time",
                 id="a created_at on a day that does not exist"),
    pytest.param("POST", "/predictions", b'{"id": "a/b"}', 422, "must not contain '/'", id="an id with a slash"),
    pytest.param("POST", "/predictions", b'{"id": "a\\nb"}', 422, "must not contain control characters",
                 id="an id across lines"),
    pytest.param("POST", "/predictions", json.dumps({"input": {"text": "a" * 5000}}).encode(), 413,
                 "larger than the limit of 2000 bytes", id="a body over the size limit"),
    pytest.param("PUT", "/predictions/x", b'{"id": "y", "input": {}}', 422, "differs from the id in the URL",
                 id="a PUT whose body names another id"),
    pytest.param("PUT", "/predictions/x", b"", 422, "input 'text' is required", id="a PUT without its body"),
    pytest.param("POST", "/predictions/nothing/cancel", b"", 404, "no prediction 'nothing' is in flight",
                 id="a cancel of an unknown prediction"),
    pytest.param("POST", "/trainings", b"{}", 404, "Not Found", id="trainings of a model without train"),
])
def test_a_bad_request_is_answered_with_its_status_and_one_line(types_server: Server, method: str, path: str,
                                                                body: bytes, status: int, fragment: str) -> None:
    response = types_server.client.request(method, path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == status and fragment in detail(response)


def test_valid_inputs_of_every_type_arrive_converted(types_server: Server) -> None:
    ok = types_server.predict(text="abc", token="s3cret", numbers=[4], note="n", flag=True, ratio=1)
    assert ok["output"] == {"text": "abc", "count": 3, "ratio": 1.0, "flag": True, "file_text": None,
                            "secret_length": 6, "numbers": [4], "note": "n", "size": "small", "color": "red"}


def test_a_secret_reaches_the_model_but_its_answers_show_it_redacted(types_server: Server) -> None:
    answer = types_server.client.post("/predictions", json={"id": "with-a-secret", "input": {"text": "abc", "token": "s3cret"}})
    body = answer.json()
    assert body["output"]["secret_length"] == 6
    assert body["input"] == {"text": "abc", "token": "**********"}
    polled = types_server.client.get("/predictions/with-a-secret").json()
    assert polled["input"] == {"text": "abc", "token": "**********"} and "s3cret" not in answer.text + str(polled)


def test_a_model_error_fails_that_prediction_only(serve: Any) -> None:
    server = serve("failures.py:Predictor")
    failed = server.predict(mode="raise")
    assert failed["status"] == "failed" and failed["error"] == "the model refuses"
    assert "Traceback" in failed["logs"] and "ValueError: the model refuses" in failed["logs"]
    assert server.predict(mode="ok")["output"] == "done ok"


@pytest.mark.parametrize("ref, log", [
    pytest.param("broken_setup.py:Predictor", "RuntimeError: weights not found", id="setup raises"),
    pytest.param("bad_declarations.py:DefaultOutOfRange", "input 'steps': default 100 is invalid",
                 id="a declaration the signature refuses"),
    pytest.param("broken_setup.py:AsksForADevice", "AsksForADevice.setup() takes device, which nothing gives it",
                 id="a setup() argument cog cannot give"),
    pytest.param("unknown_keyword.py:Predictor",
                 "unknown_keyword.py:7: Input() got an unexpected keyword argument 'title'",
                 id="the model's code fails as it loads: where, in one line"),
])
def test_a_failed_setup_shows_in_health_and_predictions_answer_503(serve: Any, ref: str, log: str) -> None:
    server = serve(ref, wait="SETUP_FAILED")
    setup = server.health()["setup"]
    assert setup["status"] == "failed" and log in setup["logs"]
    refused = server.client.post("/predictions", json={"input": {"text": "x"}})
    assert refused.status_code == 503 and detail(refused) == "the model cannot run predictions (SETUP_FAILED)"
    schema = server.client.get("/openapi.json")
    assert schema.status_code == 503 and "(SETUP_FAILED)" in detail(schema)


def test_setup_logs_keep_what_setup_printed_before_it_failed(serve: Any) -> None:
    logs = serve("broken_setup.py:Predictor", wait="SETUP_FAILED").health()["setup"]["logs"]
    assert logs.startswith("about to fail\n") and "Traceback" in logs


# -- webhooks -------------------------------------------------------------------------------------------


def test_webhooks_arrive_in_order_with_the_auth_token(serve: Any, receiver: Receiver) -> None:
    server = serve("iterators.py:Predictor", webhook_auth_token="tok")
    response = server.client.post("/predictions", headers=ASYNC, json={
        "input": {"n": 3, "delay": 0.05}, "webhook": f"{receiver.url}/webhook"})
    assert response.status_code == 202 and response.json()["status"] == "starting"
    final = receiver.wait_for_completed()
    assert final["output"] == ["t0", "t1", "t2"] and final["logs"] == "token 0\ntoken 1\ntoken 2\n"
    hooks = receiver.webhooks()
    assert hooks[0]["status"] == "starting" and len(hooks) >= 3  # start, some progress, completed
    assert all(r["headers"]["Authorization"] == "Bearer tok" for r in receiver.requests)
    outputs = [len(h["output"] or []) for h in hooks]
    assert outputs == sorted(outputs)  # delivered in order, output only grows


def test_a_webhook_events_filter_sends_only_those_events(serve: Any, receiver: Receiver) -> None:
    server = serve("iterators.py:Predictor")
    server.client.post("/predictions", headers=ASYNC, json={
        "input": {"n": 5}, "webhook": f"{receiver.url}/filtered", "webhook_events_filter": ["completed"]})
    assert receiver.wait_for_completed("/filtered")["status"] == "succeeded"
    time.sleep(0.1)
    assert len(receiver.webhooks("/filtered")) == 1


def test_the_completed_webhook_is_retried(serve: Any, receiver: Receiver) -> None:
    server = serve("hello.py:Predictor")
    receiver.failures_left = 2
    server.client.post("/predictions", headers=ASYNC, json={
        "input": {"text": "x"}, "webhook": f"{receiver.url}/webhook", "webhook_events_filter": ["completed"]})
    assert receiver.wait_for_completed()["output"] == "hello x"
    assert [r["failed"] for r in receiver.requests] == [True, True, False]


def test_a_sync_answer_does_not_wait_for_webhook_retries(serve: Any, receiver: Receiver) -> None:
    server = serve("hello.py:Predictor")
    receiver.failures_left = 3  # retries after 0.25 + 0.5 + 1 s
    started = time.monotonic()
    response = server.client.post("/predictions", json={
        "input": {"text": "x"}, "webhook": f"{receiver.url}/webhook", "webhook_events_filter": ["completed"]})
    assert response.json()["output"] == "hello x" and time.monotonic() - started < 1
    assert receiver.wait_for_completed()["output"] == "hello x"


# -- waiting, queueing, joining ------------------------------------------------------------------------


def test_an_idempotent_put_joins_the_running_prediction(serve: Any) -> None:
    server = serve("failures.py:Predictor")
    body = {"input": {"mode": "sleep", "seconds": 0.5}}
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(server.client.put, "/predictions/same", json=body)
        time.sleep(0.2)
        second = pool.submit(server.client.put, "/predictions/same", json=body)
        a, b = first.result().json(), second.result().json()
    assert a["id"] == b["id"] == "same" and a["started_at"] == b["started_at"]
    assert a["status"] == b["status"] == "succeeded"


def test_a_retry_is_checked_like_a_request_and_rejoins_until_the_end_not_the_webhooks(receiver: Receiver,
                                                                                     serve: Any) -> None:
    server = serve("failures.py:Predictor")
    receiver.failures_left = 2  # the completed webhook is retried after 0.25 and 0.5 s
    body = {"input": {"mode": "sleep", "seconds": 0.3}, "webhook": f"{receiver.url}/webhook",
            "webhook_events_filter": ["completed"], "created_at": "2026-01-31T12:00:00.5+01:00"}
    server.client.put("/predictions/retried", headers=ASYNC, json=body)
    bad = server.client.put("/predictions/retried", json={"input": {"mode": "nope"}})
    assert bad.status_code == 422 and "must be one of" in detail(bad)
    rejoined = server.client.put("/predictions/retried", json=body).json()
    assert rejoined["status"] == "succeeded" and rejoined["created_at"] == body["created_at"]
    assert not receiver.webhooks()  # answered at the end of the prediction, while its webhook still retries
    assert receiver.wait_for_completed()["id"] == "retried"


def test_a_post_with_the_id_of_a_running_prediction_is_a_409(serve: Any) -> None:
    server = serve("failures.py:Predictor")
    server.client.put("/predictions/taken", headers=ASYNC, json={"input": {"mode": "sleep", "seconds": 0.3}})
    again = server.client.post("/predictions", json={"id": "taken", "input": {}})
    assert again.status_code == 409 and "use PUT to rejoin it" in detail(again)


def test_requests_beyond_the_slots_queue_and_a_full_queue_answers_409(serve: Any) -> None:
    server = serve("failures.py:Predictor", queue_size=2)
    body = {"input": {"mode": "sleep", "seconds": 0.4}}
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(httpx.post, f"{server.url}/predictions", json=body, timeout=30) for _ in range(3)]
        wait_until(lambda: "cog_queue_depth 2" in server.client.get("/metrics").text, what="two waiting")
        assert server.health()["status"] == "BUSY"
        refused = server.client.post("/predictions", json=body)
        assert refused.status_code == 409 and refused.headers["retry-after"] == "1"
        assert [f.result().json()["status"] for f in futures] == ["succeeded"] * 3
    metrics = server.client.get("/metrics").text
    assert 'cog_predictions_total{status="succeeded"} 3' in metrics
    assert "cog_prediction_duration_seconds_count 3" in metrics


def test_cancel_a_prediction_still_waiting_for_a_slot(serve: Any) -> None:
    server = serve("failures.py:Predictor")
    server.client.put("/predictions/busy", headers=ASYNC, json={"input": {"mode": "sleep", "seconds": 0.5}})
    server.client.put("/predictions/queued", headers=ASYNC, json={"input": {"mode": "ok"}})
    assert server.client.post("/predictions/queued/cancel").status_code == 200
    rejoined = server.client.put("/predictions/queued", json={"input": {"mode": "ok"}}).json()
    assert rejoined["status"] == "canceled" and rejoined["started_at"] is None


def test_cancel_interrupts_a_running_async_prediction(serve: Any) -> None:
    server = serve("async_predictor.py:Predictor")
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        answer = pool.submit(server.client.put, "/predictions/slow", json={"input": {"text": "x", "delay": 20}})
        time.sleep(0.2)
        assert server.client.post("/predictions/slow/cancel").status_code == 200
        final = answer.result().json()
    assert final["status"] == "canceled" and final["started_at"] is not None and final["logs"] == "start x\n"
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("inputs, status, output", [
    pytest.param({"text": "early"}, 200, "ready for early", id="a valid input gets its answer"),
    pytest.param({"txt": "early"}, 422, None, id="an invalid input gets its 422"),
])
def test_a_prediction_sent_during_setup_waits_for_it(serve: Any, inputs: dict, status: int, output: Any) -> None:
    server = serve("slow_setup.py:Predictor", wait=None)
    assert server.health()["status"] == "STARTING"  # the server listens before setup() is done
    response = server.client.post("/predictions", json={"input": inputs})
    assert response.status_code == status, response.text
    assert output is None or response.json()["output"] == output


def test_async_predictor_runs_predictions_concurrently(serve: Any) -> None:
    server = serve("async_predictor.py:Predictor", max_concurrency=4)
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda t: server.predict(text=t, delay=0.5), ["a", "b", "c", "d"]))
    assert time.monotonic() - started < 1.5
    assert [r["output"] for r in results] == ["A", "B", "C", "D"]
    assert all(r["logs"] == f"start {t}\nend {t}\n" for r, t in zip(results, "abcd"))


def test_an_async_iterator_streams_as_server_sent_events(serve: Any) -> None:
    server = serve("async_predictor.py:Streamer")
    assert server.predict(n=4)["output"] == [0, 1, 4, 9]
    events = []
    with server.client.stream("POST", "/predictions", json={"input": {"n": 3}},
                              headers={"Accept": "text/event-stream"}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                events.append(line[7:])
            elif line.startswith("data: ") and events[-1] == "completed":
                final = json.loads(line[6:])
    assert events == ["start", "output", "output", "output", "completed"]
    assert final["status"] == "succeeded" and final["output"] == [0, 1, 4]


def test_the_shutdown_endpoint_stops_the_server(serve: Any) -> None:
    server = serve("hello.py:Predictor")
    assert server.client.post("/shutdown").status_code == 200
    server.thread.join(10)
    assert not server.running()


# -- files ----------------------------------------------------------------------------------------------


def test_file_inputs_from_urls_and_data_uris_and_file_outputs_as_data_uris(serve: Any, receiver: Receiver) -> None:
    receiver.files["/in/note.txt"] = b"abc"
    server = serve("files.py:Predictor")
    data_uri = "data:text/plain;base64," + base64.b64encode(b"xyz").decode()
    result = server.predict(image=f"{receiver.url}/in/note.txt", extra=[data_uri])
    assert result["status"] == "succeeded", result
    reversed_uri, extra_uri = result["output"]
    assert base64.b64decode(reversed_uri.split(",", 1)[1]) == b"cba"
    assert extra_uri.startswith("data:text/plain;base64,")


@pytest.mark.parametrize("path, fragment", [
    pytest.param("/in/missing.txt", "404", id="a URL that answers 404"),
    pytest.param("/in/big.bin", "larger than the limit", id="a file over the size limit"),
])
def test_a_file_input_that_cannot_be_fetched_fails_the_prediction(serve: Any, receiver: Receiver, path: str,
                                                                  fragment: str) -> None:
    receiver.files["/in/big.bin"] = b"x" * 2000
    server = serve("files.py:Predictor", max_input_file_bytes=1000)
    failed = server.predict(image=f"{receiver.url}{path}")
    assert failed["status"] == "failed" and "input 'image'" in failed["error"] and fragment in failed["error"]


def test_output_files_upload_to_the_upload_url(serve: Any, receiver: Receiver) -> None:
    server = serve("files.py:Predictor", upload_url=f"{receiver.url}/uploads/")
    result = server.predict(image="data:text/plain,hello")
    assert result["output"] == [f"{receiver.url}/uploads/reversed.txt"]
    upload = [r for r in receiver.requests if r["method"] == "PUT"][0]
    assert upload["path"] == "/uploads/reversed.txt" and b"olleh" in upload["body"]


def test_output_files_of_the_same_name_do_not_overwrite_each_other(serve: Any, receiver: Receiver) -> None:
    server = serve("files.py:Predictor", upload_url=f"{receiver.url}/uploads/")
    result = server.predict(image="data:text/plain,hello", extra=["data:text/plain,same", "data:text/plain,same"])
    assert len(set(result["output"])) == 3, result
    uploaded = sorted(r["path"] for r in receiver.requests if r["method"] == "PUT")
    assert len(set(uploaded)) == 3 and "/uploads/reversed.txt" in uploaded, uploaded


# -- the ways to declare a model -------------------------------------------------------------------------


@pytest.mark.parametrize("ref, inputs, output", [
    pytest.param("original.py:JazzSoloComposerModel", {"tempo": 120, "score": "data:,intro "},
                 "intro saxophone swing x4 @120", id="the original dialect's cog.Model with @cog.input"),
    pytest.param("runner_style.py:Runner", {"a": 21}, 42, id="a BaseRunner's run()"),
    pytest.param("function_predictor.py:predict", {"text": "ab"}, "abab", id="a plain function"),
    pytest.param("either_entry_name.py:PredictorWithRun", {"text": "x"}, "hello x", id="a BasePredictor's run()"),
    pytest.param("either_entry_name.py:RunnerWithPredict", {"n": 4}, 8, id="a BaseRunner's predict()"),
    pytest.param("either_entry_name.py:FirstCogPredictor", {"text": "hi"}, "hi!", id="the first Cog's cog.Predictor"),
    pytest.param("either_entry_name.py:ModelWithPredict", {}, 6, id="a cog.Model's predict()"),
    pytest.param("either_entry_name.py:AsyncStreamer", {"text": "a b"}, ["a", "b"], id="cog.AsyncIterator"),
    pytest.param("default_factory.py:Predictor", {}, "none", id="Input(default_factory=...)"),
])
def test_every_style_of_model_runs(serve: Any, ref: str, inputs: dict, output: Any) -> None:
    assert serve(ref).predict(**inputs)["output"] == output


def test_a_pydantic_model_output_with_a_file_field(serve: Any) -> None:
    server = serve("pydantic_output.py:Predictor")
    output = server.predict(text="a quick fox")["output"]
    assert output["words"] == ["a", "quick", "fox"] and output["longest"] == "quick"
    assert output["report"] == "data:text/plain;base64," + base64.b64encode(b"3 words").decode()
    schema = server.client.get("/openapi.json").json()["components"]["schemas"]["Output"]
    assert schema["properties"]["report"]["format"] == "uri" and schema["required"] == ["words", "longest", "report"]


def test_an_optional_output_field_left_out_is_null(serve: Any) -> None:
    server = serve("optional_output.py:Predictor")
    assert server.predict()["output"] == {"score": 1.5, "file": None}
    assert server.predict(with_file=True)["output"]["file"].startswith("data:")
    # In the schema both stay required, as pydantic 2 writes Optional fields: the key is always there, maybe null.
    schema = server.client.get("/openapi.json").json()["components"]["schemas"]["Output"]
    assert schema["required"] == ["score", "file"]


def test_training_endpoints(serve: Any) -> None:
    server = serve("hello.py:Predictor", train_ref="train.py:train")
    response = server.client.post("/trainings", json={"input": {"dataset": "cats", "epochs": 2}})
    assert response.json()["output"] == {"weights": "cats-weights", "epochs": 2}
    assert response.json()["logs"] == "training on cats\n"
    assert server.client.post("/trainings", json={"input": {"epochs": 0}}).status_code == 422
    assert server.client.get("/").json()["trainings_url"] == "/trainings"


# -- what needs the worker's own process ---------------------------------------------------------------------


def test_a_worker_crash_fails_the_prediction_and_restarts_the_worker(start_server: Any) -> None:
    server = start_server("failures.py:Predictor")
    for mode, reason in [("exit", "exit status 3"), ("segfault", "SIGSEGV")]:
        crashed = server.predict(mode=mode)
        assert crashed["status"] == "failed" and reason in crashed["error"]
        server.wait_for("READY")
        assert server.predict(mode="ok")["status"] == "succeeded"
    segfault_logs = crashed["logs"]
    assert "Segmentation fault" in segfault_logs
    assert "cog_worker_restarts_total 2.0" in server.client.get("/metrics").text


def test_repeated_crashes_turn_health_defunct_without_hanging(start_server: Any) -> None:
    server = start_server("failures.py:Predictor")
    for _ in range(4):  # the default allows three restarts in a row
        server.wait_for("READY", "DEFUNCT")
        assert server.predict(mode="exit")["status"] == "failed"
    health = server.wait_for("DEFUNCT")
    assert health["status"] == "DEFUNCT"
    assert server.client.post("/predictions", json={"input": {}}).status_code == 503


def test_cancel_interrupts_a_running_sync_prediction(start_server: Any, receiver: Receiver) -> None:
    server = start_server("failures.py:Predictor")
    for mode in ("sleep", "spin"):
        started = time.monotonic()
        response = server.client.put(f"/predictions/cancel-{mode}", headers=ASYNC,
                                     json={"input": {"mode": mode, "seconds": 20},
                                           "webhook": f"{receiver.url}/{mode}"})
        assert response.status_code == 202 and response.json()["id"] == f"cancel-{mode}"
        time.sleep(0.3)
        assert server.client.post(f"/predictions/cancel-{mode}/cancel").status_code == 200
        final = receiver.wait_for_completed(f"/{mode}")
        assert final["status"] == "canceled" and time.monotonic() - started < 5
    assert server.predict(mode="ok")["output"] == "done ok"


def test_a_setup_that_outlives_the_setup_timeout_fails(start_server: Any) -> None:
    slow = start_server("broken_setup.py:Slow", wait="SETUP_FAILED", COG_SETUP_TIMEOUT="0.5")
    assert "did not finish within 0.5 seconds" in slow.health()["setup"]["logs"]


def test_sigterm_finishes_in_flight_predictions_first(start_server: Any, receiver: Receiver) -> None:
    server = start_server("failures.py:Predictor")
    server.client.post("/predictions", headers=ASYNC, json={
        "input": {"mode": "sleep", "seconds": 0.5}, "webhook": f"{receiver.url}/webhook"})
    time.sleep(0.1)
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(10) == 0
    assert receiver.wait_for_completed(timeout=0)["status"] == "succeeded"


def test_serve_python_api_for_cog_serve(tmp_path: Any) -> None:
    port = free_port()
    code = f"from cog.server.http import serve; serve('hello.py:Predictor', project_dir={str(FIXTURES)!r}, port={port})"
    process = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(REPO)))
    server = ProcessServer(process, f"http://127.0.0.1:{port}")
    try:
        server.wait_for("READY")
        assert server.predict(text="api")["output"] == "hello api"
    finally:
        server.stop()
