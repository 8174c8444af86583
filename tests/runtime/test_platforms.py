"""SageMaker's and Vertex AI's contracts served by the same server (cog.server.platforms), in process; the
image's `serve` argument and the Vertex variables on a real image are in tests/images/test_platform_image.py."""

from __future__ import annotations

from typing import Any, Dict, Optional

import pytest

from cog.server.http import listen_port
from cog.server.settings import Settings, SettingsError

from .conftest import wait_until

VERTEX = {"vertex_health_route": "/v1/endpoints/1/deployedModels/2", "vertex_predict_route": "/v1/endpoints/1:predict"}


def test_sagemaker_ping_and_invocations(serve: Any) -> None:
    server = serve("hello.py:Predictor", sagemaker=True)
    assert server.client.get("/ping").status_code == 200
    answer = server.client.post("/invocations", json={"text": "sagemaker"})
    assert answer.status_code == 200 and answer.json() == "hello sagemaker"
    bad = server.client.post("/invocations", json={"txt": "x"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "txt"]
    assert server.client.post("/predictions", json={"input": {"text": "cog"}}).json()["output"] == "hello cog"


def test_sagemaker_routes_are_only_there_when_asked_for(serve: Any) -> None:
    server = serve("hello.py:Predictor")
    assert server.client.get("/ping").status_code == 404
    assert server.client.post("/invocations", json={"text": "x"}).status_code == 404


def test_a_failed_prediction_is_an_http_error_on_the_platform_routes(serve: Any) -> None:
    server = serve("failures.py:Predictor", sagemaker=True, **VERTEX)
    failed = server.client.post("/invocations", json={"mode": "raise"})
    assert failed.status_code == 500 and failed.json()["detail"].endswith("failed: the model refuses")
    failed = server.client.post(VERTEX["vertex_predict_route"], json={"instances": [{"mode": "ok"}, {"mode": "raise"}]})
    assert failed.status_code == 500 and "the model refuses" in failed.json()["detail"]


def test_vertex_predicts_each_instance_in_order_with_the_parameters(serve: Any) -> None:
    server = serve("async_predictor.py:Predictor", max_concurrency=4, **VERTEX)
    assert server.client.get(VERTEX["vertex_health_route"]).json() == {"status": "READY"}
    instances = [{"text": "first", "delay": 0.3}, {"text": "second"}, {"text": "third", "delay": 0.1}]
    answer = server.client.post(VERTEX["vertex_predict_route"], json={"instances": instances,
                                                                      "parameters": {"delay": 0.05}})
    assert answer.status_code == 200 and answer.json() == {"predictions": ["FIRST", "SECOND", "THIRD"]}


@pytest.mark.parametrize("body, loc, message", [
    pytest.param({"instance": []}, ["body", "instances"], 'the body must be {"instances": [...]}, a list of inputs',
                 id="no instances"),
    pytest.param({"instances": [{"text": "a"}, "b"]}, ["body", "instances", "1"],
                 "the input must be a JSON object of the model's inputs", id="an instance that is not an object"),
    pytest.param({"instances": [{"text": "a"}, {}]}, ["body", "instances", "1", "text"], "required",
                 id="an instance that lacks an input"),
    pytest.param({"instances": [], "parameters": 3}, ["body", "parameters"],
                 "parameters must be a JSON object of inputs", id="parameters that are not an object"),
])
def test_a_bad_vertex_request_is_a_422_and_runs_nothing(serve: Any, body: Dict[str, Any], loc: list,
                                                         message: str) -> None:
    server = serve("hello.py:Predictor", **VERTEX)
    answer = server.client.post(VERTEX["vertex_predict_route"], json=body)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == loc and message in answer.json()["detail"][0]["msg"]
    runtime = server.server.config.app.state.runtime
    assert len(runtime.recent) == 0 and not runtime.jobs


def test_vertex_instances_beyond_the_queue_are_refused_together(serve: Any) -> None:
    server = serve("async_predictor.py:Predictor", queue_size=1, **VERTEX)
    busy = server.client.put("/predictions/busy", headers={"Prefer": "respond-async"},
                             json={"input": {"text": "slot", "delay": 5}})
    assert busy.status_code == 202
    wait_until(lambda: server.client.get("/predictions/busy").json()["status"] == "processing", what="the slot taken")
    refused = server.client.post(VERTEX["vertex_predict_route"], json={"instances": [{"text": "a"}, {"text": "b"}]})
    assert refused.status_code == 409 and refused.headers["retry-after"] == "1"
    runtime = server.server.config.app.state.runtime
    assert list(runtime.jobs) == ["busy"]  # neither instance was left behind, admitted but never run
    assert server.client.post("/predictions/busy/cancel").status_code == 200


@pytest.mark.parametrize("flag, sagemaker, env, port", [
    pytest.param(None, False, {}, 5000, id="Cog's default"),
    pytest.param(None, False, {"PORT": "7000"}, 7000, id="PORT"),
    pytest.param(None, False, {"PORT": "7000", "AIP_HTTP_PORT": "8081"}, 8081, id="Vertex AI's port over PORT"),
    pytest.param(None, True, {"PORT": "7000"}, 8080, id="SageMaker's serve listens on 8080"),
    pytest.param("6000", True, {"AIP_HTTP_PORT": "8081"}, 6000, id="--port over all"),
])
def test_the_port_to_listen_on(flag: Optional[str], sagemaker: bool, env: Dict[str, str], port: int) -> None:
    assert listen_port(flag, sagemaker, env) == port


@pytest.mark.parametrize("flag, env, message", [
    pytest.param("http", {}, "--port=http is not a port number (0 to 65535)", id="a flag that is not a number"),
    pytest.param(None, {"AIP_HTTP_PORT": "70000"}, "AIP_HTTP_PORT=70000 is not a port number (0 to 65535)",
                 id="out of range"),
])
def test_a_port_that_is_not_one_is_named(flag: Optional[str], env: Dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=f"^{message}$".replace("(", r"\(").replace(")", r"\)")):
        listen_port(flag, False, env)


@pytest.mark.parametrize("name, value, message", [
    ("COG_SHUTDOWN_GRACE_SECONDS", "soon", "COG_SHUTDOWN_GRACE_SECONDS=soon is not a number of seconds (0 or more)"),
    ("COG_PREDICTION_RETENTION_COUNT", "1.5", "COG_PREDICTION_RETENTION_COUNT=1.5 is not a whole number (0 or more)"),
    ("COG_HEALTHCHECK_INTERVAL", "-1", "COG_HEALTHCHECK_INTERVAL=-1 is not a number of seconds (0 or more)"),
    ("AIP_PREDICT_ROUTE", "predict", "AIP_PREDICT_ROUTE=predict is not a path; it must start with /"),
])
def test_a_setting_the_server_cannot_use_is_named(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                                  message: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(predict_ref="hello.py:Predictor")
    assert str(raised.value) == message


def test_the_platform_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIP_HEALTH_ROUTE", "/health")
    monkeypatch.setenv("AIP_PREDICT_ROUTE", "/predict")
    monkeypatch.setenv("COG_SHUTDOWN_GRACE_SECONDS", "45")
    settings = Settings.from_env(predict_ref="hello.py:Predictor")
    assert (settings.vertex_health_route, settings.vertex_predict_route, settings.shutdown_grace) == \
        ("/health", "/predict", 45.0)
