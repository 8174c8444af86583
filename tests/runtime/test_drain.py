"""Shutting down as an orchestrator stops a container: SIGTERM, the grace period, then exit 0. Real server and
worker processes, real signals; a loopback receiver for the webhooks."""

from __future__ import annotations

import concurrent.futures
import json
import signal
from pathlib import Path
from typing import Any

import httpx

from .conftest import ProcessServer, Receiver, wait_until

GRACE = 10  # seconds: well beyond the 3-second prediction below; the canceled case sets its own


def status_of(server: ProcessServer, prediction_id: str) -> str:
    response = server.client.get(f"/predictions/{prediction_id}")
    return response.json()["status"] if response.status_code == 200 else ""


def test_sigterm_lets_a_running_prediction_finish_refuses_new_ones_and_exits_0(start_server: Any,
                                                                              receiver: Receiver) -> None:
    server = start_server("failures.py:Predictor", COG_SHUTDOWN_GRACE_SECONDS=str(GRACE))
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        answer = pool.submit(server.client.put, "/predictions/three-seconds", json={
            "input": {"mode": "sleep", "seconds": 3}, "webhook": f"{receiver.url}/webhook"})
        wait_until(lambda: status_of(server, "three-seconds") == "processing", what="the prediction's start")
        server.process.send_signal(signal.SIGTERM)
        wait_until(lambda: server.client.get("/readyz").status_code == 503, what="readiness to fail")
        assert server.client.get("/readyz").json() == {"status": "DRAINING", "detail": "the server is shutting down"}
        assert server.client.get("/livez").status_code == 200
        refused = server.client.post("/predictions", json={"input": {"mode": "ok"}})
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert refused.json()["detail"] == "the server is shutting down; send the prediction to another instance"
        assert status_of(server, "three-seconds") == "processing"  # polling still answers while draining
        finished = answer.result(timeout=GRACE)
    assert finished.status_code == 200 and finished.json()["status"] == "succeeded"
    assert server.process.wait(GRACE) == 0
    assert receiver.wait_for_completed(timeout=0)["status"] == "succeeded"


def test_a_prediction_still_running_at_the_deadline_is_canceled_and_its_webhook_sent(start_server: Any,
                                                                                     receiver: Receiver) -> None:
    server = start_server("failures.py:Predictor", COG_SHUTDOWN_GRACE_SECONDS="0.5")
    for prediction_id, mode in (("sleeping", "sleep"), ("queued", "ok")):  # one slot: the second waits for it
        accepted = server.client.put(f"/predictions/{prediction_id}", headers={"Prefer": "respond-async"}, json={
            "input": {"mode": mode, "seconds": 60}, "webhook": f"{receiver.url}/{prediction_id}"})
        assert accepted.status_code == 202
    wait_until(lambda: status_of(server, "sleeping") == "processing", what="the prediction's start")
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(GRACE) == 0
    assert receiver.wait_for_completed("/sleeping", timeout=0)["status"] == "canceled"
    assert receiver.wait_for_completed("/queued", timeout=0)["status"] == "canceled"


def test_await_explicit_shutdown_ignores_sigterm_until_post_shutdown(start_server: Any, tmp_path: Path) -> None:
    server = start_server("failures.py:Predictor", args=["--await-explicit-shutdown"], log=tmp_path / "log")
    server.process.send_signal(signal.SIGTERM)
    wait_until(lambda: "SIGTERM ignored (--await-explicit-shutdown)" in server.output(), what="the signal's arrival")
    assert server.predict(mode="ok")["output"] == "done ok"
    assert server.client.get("/readyz").status_code == 200
    assert server.client.post("/shutdown").status_code == 200
    assert server.process.wait(GRACE) == 0
    try:
        server.client.get("/readyz")
    except httpx.TransportError:
        pass
    else:
        raise AssertionError("the server still answers after POST /shutdown")


def test_a_webhook_still_retrying_does_not_hold_the_exit_past_the_grace(start_server: Any, receiver: Receiver) -> None:
    receiver.failures_left = 1000  # every webhook request fails: the completed one is retried for about 30 s
    server = start_server("failures.py:Predictor", COG_SHUTDOWN_GRACE_SECONDS="0.5")
    accepted = server.client.post("/predictions", headers={"Prefer": "respond-async"}, json={
        "input": {"mode": "ok"}, "webhook": f"{receiver.url}/webhook"})
    assert accepted.status_code == 202
    wait_until(lambda: any(r["path"] == "/webhook" and json.loads(r["body"])["status"] == "succeeded"
                           for r in receiver.requests), what="the first completed webhook")
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(GRACE) == 0  # 0.5 s of grace and 5 s for the canceled, not the 30 s of retries
