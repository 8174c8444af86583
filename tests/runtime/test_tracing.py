"""Trace context: W3C traceparent/tracestate passed from a request to its webhooks (no SDK needed), and spans
exported over OTLP/HTTP to a receiver on loopback, decoded with opentelemetry-proto, with the right parents."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from cog.server import tracing

from .conftest import Receiver, wait_until

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN}-01"
TRACESTATE = "vendor=opaque,other=1"


@pytest.mark.parametrize("headers, expected", [
    pytest.param({"traceparent": TRACEPARENT, "tracestate": TRACESTATE},
                 {"traceparent": TRACEPARENT, "tracestate": TRACESTATE}, id="both headers are kept"),
    pytest.param({"traceparent": TRACEPARENT}, {"traceparent": TRACEPARENT}, id="tracestate is optional"),
    pytest.param({"tracestate": TRACESTATE}, {}, id="tracestate alone means nothing"),
    pytest.param({"traceparent": f"00-{TRACE_ID.upper()}-{CALLER_SPAN}-01"}, {}, id="uppercase hex is invalid"),
    pytest.param({"traceparent": f"00-{'0' * 32}-{CALLER_SPAN}-01"}, {}, id="an all-zero trace id is invalid"),
    pytest.param({"traceparent": f"00-{TRACE_ID}-{'0' * 16}-01"}, {}, id="an all-zero parent id is invalid"),
    pytest.param({"traceparent": f"ff-{TRACE_ID}-{CALLER_SPAN}-01"}, {}, id="version ff is invalid"),
    pytest.param({"traceparent": TRACEPARENT + "-more"}, {}, id="version 00 has exactly four fields"),
    pytest.param({"traceparent": f"01-{TRACE_ID}-{CALLER_SPAN}-01-more"},
                 {"traceparent": f"01-{TRACE_ID}-{CALLER_SPAN}-01-more"}, id="a later version may have more"),
    pytest.param({"traceparent": "garbage"}, {}, id="garbage is ignored"),
])
def test_incoming_trace_context(headers: Dict[str, str], expected: Dict[str, str]) -> None:
    assert tracing.incoming(headers) == expected


@pytest.mark.parametrize("environment, exports", [
    pytest.param({}, False, id="no endpoint: trace context is only passed on"),
    pytest.param({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}, True, id="an endpoint"),
    pytest.param({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1/v1/traces"}, True,
                 id="an endpoint for traces alone"),
    pytest.param({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SDK_DISABLED": "true"}, False,
                 id="the SDK turned off"),
])
def test_spans_are_exported_only_when_an_endpoint_asks(monkeypatch: pytest.MonkeyPatch, environment: Dict[str, str],
                                                       exports: bool) -> None:
    for name in (*tracing.ENDPOINT_VARIABLES, "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    tracer = tracing.from_env()
    try:
        assert (type(tracer) is not tracing.Tracer) == exports
    finally:
        tracer.shutdown()


def post_with_webhook(server: Any, receiver: Receiver, headers: Dict[str, str], **inputs: Any) -> Dict[str, Any]:
    response = server.client.post("/predictions", headers=headers,
                                  json={"input": inputs, "webhook": f"{receiver.url}/webhook"})
    assert response.status_code == 200, response.text
    receiver.wait_for_completed()
    return response.json()


def webhook_headers(receiver: Receiver) -> List[Dict[str, str]]:
    with receiver.lock:
        return [{k.lower(): v for k, v in r["headers"].items()} for r in receiver.requests if r["path"] == "/webhook"]


# The receiver comes first among the fixtures so that it outlives the server, which waits for its webhooks.


def test_webhooks_carry_the_request_trace_context_without_an_sdk(receiver: Receiver, serve: Any) -> None:
    server = serve("hello.py:Predictor")
    post_with_webhook(server, receiver, {"traceparent": TRACEPARENT, "tracestate": TRACESTATE}, text="a")
    sent = webhook_headers(receiver)
    assert len(sent) >= 2  # start and completed
    assert all(h["traceparent"] == TRACEPARENT and h["tracestate"] == TRACESTATE for h in sent), sent


def test_webhooks_of_an_untraced_request_carry_no_trace_context(receiver: Receiver, serve: Any) -> None:
    server = serve("hello.py:Predictor")
    post_with_webhook(server, receiver, {"traceparent": "00-not-a-trace"}, text="a")
    assert not [h for h in webhook_headers(receiver) if "traceparent" in h or "tracestate" in h]


def exported_spans(receiver: Receiver) -> Dict[str, List[Any]]:
    """The spans the receiver got at /v1/traces, by name."""
    spans: Dict[str, List[Any]] = {}
    with receiver.lock:
        bodies = [r["body"] for r in receiver.requests if r["path"] == "/v1/traces" and r["method"] == "POST"]
    for body in bodies:
        for resource_spans in ExportTraceServiceRequest.FromString(body).resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans.setdefault(span.name, []).append(span)
    return spans


def test_spans_arrive_over_otlp_http_with_the_callers_trace_as_parent(receiver: Receiver, serve: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "20")  # milliseconds: export soon rather than every 5 s
    monkeypatch.setenv("OTEL_SERVICE_NAME", "tracing-test")
    receiver.files["/in/note.txt"] = b"abc"
    receiver.failing_path, receiver.failures_left = "/webhook", 1  # the first delivery is answered 503, and retried
    server = serve("files.py:Predictor", upload_url=f"{receiver.url}/uploads/")
    result = post_with_webhook(server, receiver, {"traceparent": TRACEPARENT, "tracestate": TRACESTATE},
                               image=f"{receiver.url}/in/note.txt")
    assert result["status"] == "succeeded", result
    names = {"setup", "prediction", "download inputs", "upload output", "webhook"}

    def every_span() -> Dict[str, List[Any]]:
        spans = exported_spans(receiver)
        complete = names <= set(spans) and len(spans["webhook"]) == len(webhook_headers(receiver))
        return spans if complete else {}

    spans = wait_until(every_span, what="every span")

    setup, = spans["setup"]
    assert setup.parent_span_id == b"" and setup.trace_id.hex() != TRACE_ID  # a trace of its own
    prediction, = spans["prediction"]
    assert prediction.trace_id.hex() == TRACE_ID and prediction.parent_span_id.hex() == CALLER_SPAN
    assert prediction.trace_state == TRACESTATE
    attributes = {a.key: a.value.string_value for a in prediction.attributes}
    assert attributes == {"cog.job_id": result["id"], "cog.status": "succeeded"}
    children = spans["download inputs"] + spans["upload output"] + spans["webhook"]
    assert {(c.trace_id.hex(), c.parent_span_id) for c in children} == {(TRACE_ID, prediction.span_id)}

    # Each webhook request names its own delivery span as the parent, in the caller's trace.
    delivered = {h["traceparent"] for h in webhook_headers(receiver)}
    assert delivered == {f"00-{TRACE_ID}-{span.span_id.hex()}-01" for span in spans["webhook"]}
    assert all(h["tracestate"] == TRACESTATE for h in webhook_headers(receiver))
    failed = [(span.status.code, span.status.message) for span in spans["webhook"] if span.status.code]
    assert failed == [(Status.STATUS_CODE_ERROR, "status 503")]
    with receiver.lock:
        export = next(r for r in receiver.requests if r["path"] == "/v1/traces")
    assert {k.lower(): v for k, v in export["headers"].items()}["content-type"] == "application/x-protobuf"
    resource = ExportTraceServiceRequest.FromString(export["body"]).resource_spans[0].resource
    assert {a.key: a.value.string_value for a in resource.attributes}["service.name"] == "tracing-test"
