"""The HTTP runtime, end to end: real uvicorn on loopback, a real worker process, a real webhook receiver."""

from __future__ import annotations

import base64
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import time

import httpx

from .conftest import FIXTURES, REPO, Receiver, Server, free_port


def test_sync_prediction_has_cog_fields(start_server) -> None:
    server = start_server("hello.py:Predictor", COG_WEIGHTS="/nowhere/weights")
    health = server.health()
    assert health["status"] == "READY"
    assert health["setup"]["status"] == "succeeded" and "loading weights: /nowhere/weights" in health["setup"]["logs"]
    assert health["setup"]["started_at"] <= health["setup"]["completed_at"]
    result = server.predict(text="world")
    assert result["status"] == "succeeded" and result["output"] == "hello world"
    assert result["logs"] == "greeting world\n" and result["error"] is None
    assert result["input"] == {"text": "world"} and result["metrics"]["predict_time"] > 0
    assert result["created_at"] <= result["started_at"] <= result["completed_at"]
    index = server.client.get("/").json()
    assert index["predictions_url"] == "/predictions" and "trainings_url" not in index
    schema = server.client.get("/openapi.json").json()
    assert schema["components"]["schemas"]["Input"]["required"] == ["text"]


def test_bad_requests_name_the_field_and_the_server_keeps_serving(start_server) -> None:
    server = start_server("types_predictor.py:Predictor", COG_MAX_REQUEST_BYTES="2000")
    post = server.client.post
    cases = [
        ({"input": {"text": 5}}, "text", "must be a string"),
        ({"input": {"text": "ab", "count": 11}}, "count", "less than or equal to 10"),
        ({"input": {"text": "ab", "colour": "red"}}, "colour", "unknown input"),
        ({"input": {}}, "text", "is required"),
        ({"input": {"text": "ab", "size": "huge"}}, "size", "must be one of"),
        ({"input": {"text": "AB"}}, "text", "must match the pattern"),
        ({"input": {"text": "ab", "file": "/etc/passwd"}}, "file", "http(s) URL or a data URI"),
    ]
    for body, field, fragment in cases:
        response = post("/predictions", json=body)
        assert response.status_code == 422, body
        detail = response.json()["detail"][0]
        assert detail["loc"] == ["body", "input", field] and fragment in detail["msg"]
    malformed = post("/predictions", content=b'{"input": {', headers={"content-type": "application/json"})
    assert malformed.status_code == 422 and "not valid JSON" in malformed.json()["detail"][0]["msg"]
    oversized = post("/predictions", json={"input": {"text": "a" * 5000}})
    assert oversized.status_code == 413
    ok = server.predict(text="abc", token="s3cret", numbers=[4], note="n", flag=True, ratio=1)
    assert ok["output"] == {"text": "abc", "count": 3, "ratio": 1.0, "flag": True, "file_text": None,
                            "secret_length": 6, "numbers": [4], "note": "n", "size": "small", "color": "red"}


def test_model_errors_fail_the_prediction_only(start_server) -> None:
    server = start_server("failures.py:Predictor")
    failed = server.predict(mode="raise")
    assert failed["status"] == "failed" and failed["error"] == "the model refuses"
    assert "Traceback" in failed["logs"] and "ValueError: the model refuses" in failed["logs"]
    assert server.predict(mode="ok")["output"] == "done ok"


def test_worker_crash_fails_the_prediction_and_restarts_the_worker(start_server) -> None:
    server = start_server("failures.py:Predictor")
    for mode, reason in [("exit", "exit status 3"), ("segfault", "SIGSEGV")]:
        crashed = server.predict(mode=mode)
        assert crashed["status"] == "failed" and reason in crashed["error"]
        server.wait_for("READY")
        assert server.predict(mode="ok")["status"] == "succeeded"
    segfault_logs = crashed["logs"]
    assert "Segmentation fault" in segfault_logs


def test_cancel_interrupts_a_running_prediction(start_server, receiver: Receiver) -> None:
    server = start_server("failures.py:Predictor")
    for mode in ("sleep", "spin"):
        started = time.monotonic()
        response = server.client.put(f"/predictions/cancel-{mode}", headers={"Prefer": "respond-async"},
                                     json={"input": {"mode": mode, "seconds": 20},
                                           "webhook": f"{receiver.url}/{mode}"})
        assert response.status_code == 202 and response.json()["id"] == f"cancel-{mode}"
        time.sleep(0.3)
        assert server.client.post(f"/predictions/cancel-{mode}/cancel").status_code == 200
        final = receiver.wait_for_completed(f"/{mode}")
        assert final["status"] == "canceled" and time.monotonic() - started < 5
    assert server.client.post("/predictions/unknown/cancel").status_code == 404
    assert server.predict(mode="ok")["output"] == "done ok"


def test_async_prediction_sends_filtered_webhooks_with_auth(start_server, receiver: Receiver) -> None:
    server = start_server("iterators.py:Predictor", WEBHOOK_AUTH_TOKEN="tok")
    response = server.client.post("/predictions", headers={"Prefer": "respond-async"}, json={
        "input": {"n": 3, "delay": 0.05}, "webhook": f"{receiver.url}/webhook"})
    assert response.status_code == 202 and response.json()["status"] == "starting"
    final = receiver.wait_for_completed()
    assert final["output"] == ["t0", "t1", "t2"] and final["logs"] == "token 0\ntoken 1\ntoken 2\n"
    hooks = receiver.webhooks()
    assert hooks[0]["status"] == "starting" and len(hooks) >= 3  # start, some progress, completed
    assert all(r["headers"]["Authorization"] == "Bearer tok" for r in receiver.requests)
    outputs = [len(h["output"] or []) for h in hooks]
    assert outputs == sorted(outputs)  # delivered in order, output only grows

    receiver.requests.clear()
    server.client.post("/predictions", headers={"Prefer": "respond-async"}, json={
        "input": {"n": 5}, "webhook": f"{receiver.url}/filtered", "webhook_events_filter": ["completed"]})
    assert receiver.wait_for_completed("/filtered")["status"] == "succeeded"
    time.sleep(0.1)
    assert len(receiver.webhooks("/filtered")) == 1


def test_completed_webhook_is_retried(start_server, receiver: Receiver) -> None:
    server = start_server("hello.py:Predictor")
    receiver.failures_left = 2
    server.client.post("/predictions", headers={"Prefer": "respond-async"}, json={
        "input": {"text": "x"}, "webhook": f"{receiver.url}/webhook", "webhook_events_filter": ["completed"]})
    assert receiver.wait_for_completed()["output"] == "hello x"
    assert [r["failed"] for r in receiver.requests] == [True, True, False]


def test_idempotent_put_joins_the_running_prediction(start_server) -> None:
    server = start_server("failures.py:Predictor")
    body = {"input": {"mode": "sleep", "seconds": 0.5}}
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first = pool.submit(server.client.put, "/predictions/same", json=body)
        time.sleep(0.2)
        second = pool.submit(server.client.put, "/predictions/same", json=body)
        a, b = first.result().json(), second.result().json()
    assert a["id"] == b["id"] == "same" and a["started_at"] == b["started_at"]
    assert a["status"] == b["status"] == "succeeded"
    mismatch = server.client.put("/predictions/x", json={"id": "y", "input": {}})
    assert mismatch.status_code == 422


def test_requests_beyond_the_slots_queue_and_a_full_queue_answers_409(start_server) -> None:
    server = start_server("failures.py:Predictor", COG_QUEUE_SIZE="2")
    body = {"input": {"mode": "sleep", "seconds": 0.4}}
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(httpx.post, f"{server.url}/predictions", json=body, timeout=30) for _ in range(3)]
        time.sleep(0.2)
        assert server.health()["status"] == "BUSY"
        metrics = server.client.get("/metrics").text
        assert "cog_queue_depth 2" in metrics
        refused = server.client.post("/predictions", json=body)
        assert refused.status_code == 409 and refused.headers["retry-after"] == "1"
        assert [f.result().json()["status"] for f in futures] == ["succeeded"] * 3
    metrics = server.client.get("/metrics").text
    assert 'cog_predictions_total{status="succeeded"} 3' in metrics
    assert "cog_prediction_duration_seconds_count 3" in metrics


def test_async_predictor_runs_predictions_concurrently(start_server) -> None:
    server = start_server("async_predictor.py:Predictor", COG_MAX_CONCURRENCY="4")
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda t: server.predict(text=t, delay=0.5), ["a", "b", "c", "d"]))
    assert time.monotonic() - started < 1.5
    assert [r["output"] for r in results] == ["A", "B", "C", "D"]
    assert all(r["logs"] == f"start {t}\nend {t}\n" for r, t in zip(results, "abcd"))


def test_async_iterator_and_server_sent_events(start_server) -> None:
    server = start_server("async_predictor.py:Streamer")
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


def test_file_inputs_from_urls_and_data_uris_and_file_outputs(start_server, receiver: Receiver, tmp_path) -> None:
    receiver.files["/in/note.txt"] = b"abc"
    server = start_server("files.py:Predictor", COG_MAX_INPUT_FILE_BYTES="1000")
    data_uri = "data:text/plain;base64," + base64.b64encode(b"xyz").decode()
    result = server.predict(image=f"{receiver.url}/in/note.txt", extra=[data_uri])
    assert result["status"] == "succeeded", result
    reversed_uri, extra_uri = result["output"]
    assert base64.b64decode(reversed_uri.split(",", 1)[1]) == b"cba"
    assert extra_uri.startswith("data:text/plain;base64,")
    missing = server.predict(image=f"{receiver.url}/in/missing.txt")
    assert missing["status"] == "failed" and "input 'image'" in missing["error"] and "404" in missing["error"]
    receiver.files["/in/big.bin"] = b"x" * 2000
    too_big = server.predict(image=f"{receiver.url}/in/big.bin")
    assert too_big["status"] == "failed" and "larger than the limit" in too_big["error"]


def test_output_files_upload_to_the_upload_url(start_server, receiver: Receiver) -> None:
    server = start_server("files.py:Predictor", args=["--upload-url", f"{receiver.url}/uploads/"])
    result = server.predict(image="data:text/plain,hello")
    assert result["output"] == [f"{receiver.url}/uploads/reversed.txt"]
    upload = [r for r in receiver.requests if r["method"] == "PUT"][0]
    assert upload["path"] == "/uploads/reversed.txt" and b"olleh" in upload["body"]


def test_original_dialect_runner_and_function_predictors(start_server) -> None:
    jazz = start_server("original.py:JazzSoloComposerModel")
    out = jazz.predict(tempo=120, score="data:,intro ")["output"]
    assert out == "intro saxophone swing x4 @120"
    assert start_server("runner_style.py:Runner").predict(a=21)["output"] == 42
    assert start_server("function_predictor.py:predict").predict(text="ab")["output"] == "abab"


def test_pydantic_model_output_with_a_file_field(start_server) -> None:
    server = start_server("pydantic_output.py:Predictor")
    output = server.predict(text="a quick fox")["output"]
    assert output["words"] == ["a", "quick", "fox"] and output["longest"] == "quick"
    assert output["report"] == "data:text/plain;base64," + base64.b64encode(b"3 words").decode()
    schema = server.client.get("/openapi.json").json()["components"]["schemas"]["Output"]
    assert schema["properties"]["report"]["format"] == "uri" and schema["required"] == ["words", "longest", "report"]


def test_training_endpoints(start_server) -> None:
    server = start_server("hello.py:Predictor", COG_TRAIN="train.py:train")
    response = server.client.post("/trainings", json={"input": {"dataset": "cats", "epochs": 2}})
    assert response.json()["output"] == {"weights": "cats-weights", "epochs": 2}
    assert response.json()["logs"] == "training on cats\n"
    assert server.client.post("/trainings", json={"input": {"epochs": 0}}).status_code == 422
    assert server.client.get("/").json()["trainings_url"] == "/trainings"


def test_setup_failure_and_setup_timeout(start_server) -> None:
    broken = start_server("broken_setup.py:Predictor", wait="SETUP_FAILED")
    health = broken.health()
    assert health["setup"]["status"] == "failed"
    assert "about to fail" in health["setup"]["logs"] and "RuntimeError: weights not found" in health["setup"]["logs"]
    assert broken.client.post("/predictions", json={"input": {"text": "x"}}).status_code == 503
    slow = start_server("broken_setup.py:Slow", wait="SETUP_FAILED", COG_SETUP_TIMEOUT="0.5")
    assert "did not finish within 0.5 seconds" in slow.health()["setup"]["logs"]
    declared = start_server("bad_declarations.py:DefaultOutOfRange", wait="SETUP_FAILED")
    assert "input 'steps': default 100 is invalid" in declared.health()["setup"]["logs"]


def test_sigterm_finishes_in_flight_predictions_first(start_server, receiver: Receiver) -> None:
    server = start_server("failures.py:Predictor")
    server.client.post("/predictions", headers={"Prefer": "respond-async"}, json={
        "input": {"mode": "sleep", "seconds": 0.5}, "webhook": f"{receiver.url}/webhook"})
    time.sleep(0.1)
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(10) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal once it is done
    assert receiver.wait_for_completed(timeout=0)["status"] == "succeeded"


def test_shutdown_endpoint_stops_the_server(start_server) -> None:
    server = start_server("hello.py:Predictor")
    assert server.client.post("/shutdown").status_code == 200
    assert server.process.wait(10) == 0


def test_repeated_crashes_turn_health_defunct_without_hanging(start_server) -> None:
    server = start_server("failures.py:Predictor")
    for _ in range(4):  # the default allows three restarts in a row
        server.wait_for("READY", "DEFUNCT")
        assert server.predict(mode="exit")["status"] == "failed"
    health = server.wait_for("DEFUNCT")
    assert health["status"] == "DEFUNCT"
    assert server.client.post("/predictions", json={"input": {}}).status_code == 503


def test_cancel_a_prediction_still_waiting_for_a_slot(start_server) -> None:
    server = start_server("failures.py:Predictor")
    async_headers = {"Prefer": "respond-async"}
    server.client.put("/predictions/busy", headers=async_headers, json={"input": {"mode": "sleep", "seconds": 0.5}})
    server.client.put("/predictions/queued", headers=async_headers, json={"input": {"mode": "ok"}})
    assert server.client.post("/predictions/queued/cancel").status_code == 200
    rejoined = server.client.put("/predictions/queued", json={"input": {"mode": "ok"}}).json()
    assert rejoined["status"] == "canceled" and rejoined["started_at"] is None


def test_serve_python_api_for_cog_serve(tmp_path) -> None:
    port = free_port()
    code = f"from cog.server.http import serve; serve('hello.py:Predictor', project_dir={str(FIXTURES)!r}, port={port})"
    process = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(REPO)))
    server = Server(process, f"http://127.0.0.1:{port}")
    try:
        server.wait_for("READY")
        assert server.predict(text="api")["output"] == "hello api"
    finally:
        server.stop()


def test_a_sync_answer_does_not_wait_for_webhook_retries(start_server, receiver: Receiver) -> None:
    server = start_server("hello.py:Predictor")
    receiver.failures_left = 3  # retries after 0.25 + 0.5 + 1 s
    started = time.monotonic()
    response = server.client.post("/predictions", json={
        "input": {"text": "x"}, "webhook": f"{receiver.url}/webhook", "webhook_events_filter": ["completed"]})
    assert response.json()["output"] == "hello x" and time.monotonic() - started < 1
    assert receiver.wait_for_completed()["output"] == "hello x"


def test_a_prediction_sent_during_setup_waits_for_it(start_server) -> None:
    server = start_server("slow_setup.py:Predictor", wait=None)
    deadline = time.monotonic() + 10
    while True:  # the server listens before setup() is done
        try:
            assert server.health()["status"] == "STARTING"
            break
        except httpx.HTTPError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    response = server.client.post("/predictions", json={"input": {"text": "early"}})
    assert response.status_code == 200, response.text
    assert response.json()["output"] == "ready for early"
    bad = start_server("slow_setup.py:Predictor", wait=None)
    while True:
        try:
            bad.health()
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    assert bad.client.post("/predictions", json={"input": {"txt": "early"}}).status_code == 422


def test_output_files_of_the_same_name_do_not_overwrite_each_other(start_server, receiver: Receiver) -> None:
    server = start_server("files.py:Predictor", args=["--upload-url", f"{receiver.url}/uploads/"])
    result = server.predict(image="data:text/plain,hello", extra=["data:text/plain,same", "data:text/plain,same"])
    assert len(set(result["output"])) == 3, result
    uploaded = sorted(r["path"] for r in receiver.requests if r["method"] == "PUT")
    assert len(set(uploaded)) == 3 and "/uploads/reversed.txt" in uploaded, uploaded
