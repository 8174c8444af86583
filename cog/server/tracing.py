"""Trace context for jobs (W3C Trace Context), and OpenTelemetry spans when an image asks for them.

Always, with nothing installed: a request's valid `traceparent` (and its `tracestate`) stays with its job and goes
out again on each of the job's webhooks, so the receiver's work joins the caller's trace.

With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set and the OpenTelemetry SDK in the
server's environment (an image whose cog.yaml has `build: {tracing: true}`; see docs/http.md#tracing), spans go to that
collector over OTLP/HTTP, configured by the SDK's own OTEL_* variables (service name, headers, sampling):

    setup                                one per start of the model's process
    prediction (or training)             child of the request's traceparent, or a new trace without one
      ├ download inputs                  fetching the file inputs
      ├ upload output                    putting file outputs at the upload URL
      └ webhook                          each delivery; its request carries this span as the parent

Callers see one interface, `Tracer.start(...) -> Span`, whichever is in force; without the SDK a span is only
the request's headers, passed on.
"""

from __future__ import annotations

import logging
import os
import re
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Mapping, Optional

log = logging.getLogger("cog.server")

# version-trace_id-parent_id-flags, lowercase hex (https://www.w3.org/TR/trace-context/#traceparent-header).
TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def incoming(headers: Mapping[str, str]) -> Dict[str, str]:
    """The trace context of a request: {"traceparent": ..., "tracestate": ...} when its traceparent is valid
    (version ff and all-zero ids are not; a later version may carry more fields after the first four), else {}."""
    traceparent = (headers.get("traceparent") or "").strip()
    match = TRACEPARENT.match(traceparent)
    if match is None or match[1] == "ff" or set(match[2]) == {"0"} or set(match[3]) == {"0"}:
        return {}
    if len(traceparent) > 55 and (match[1] == "00" or traceparent[55] != "-"):
        return {}
    context = {"traceparent": traceparent}
    tracestate = headers.get("tracestate")
    if tracestate:
        context["tracestate"] = tracestate
    return context


class Span:
    """A unit of work. This base is the span of a server without the SDK: the caller's context, passed on."""

    def __init__(self, context: Dict[str, str]) -> None:
        self._context = context

    def headers(self) -> Dict[str, str]:
        """The headers that make a request of ours a child of this span (empty when there is no trace)."""
        return self._context

    @contextmanager
    def child(self, name: str, client: bool = True) -> Iterator["Span"]:
        """A span for a step inside this one (an outgoing request when `client`), ended when the block ends."""
        yield self

    def end(self, error: Optional[str] = None, **attributes: Any) -> None:
        pass

    def fail(self, error: str) -> None:
        """Mark the span failed (it still ends where it would): for a step that returns rather than raises."""


class Tracer:
    """Starts spans; this base exports none (see `from_env`)."""

    def start(self, name: str, context: Dict[str, str], server: bool = False, **attributes: Any) -> Span:
        """A span for `name` under the request `context` (`incoming(...)`; {} starts a new trace)."""
        return Span(context)

    def shutdown(self) -> None:
        """Send what is still buffered; called once, as the server stops."""


def from_env() -> Tracer:
    """An exporting tracer when an OTLP endpoint is configured and the SDK is installed, else a passing-on one."""
    endpoint = next((os.environ[name] for name in ENDPOINT_VARIABLES if os.environ.get(name)), None)
    if endpoint is None or os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return Tracer()
    try:
        from cog.server.otel import OpenTelemetryTracer
    except ImportError as exc:
        log.warning("%s is set, but this server has no OpenTelemetry SDK (%s): no spans are exported, traceparent "
                    "is still passed on to webhooks; add `tracing: true` under `build:` in cog.yaml and build again",
                    ENDPOINT_VARIABLES[1], exc.name)
        return Tracer()
    log.info("exporting traces to %s", endpoint)
    return OpenTelemetryTracer()
