"""The OpenTelemetry side of cog.server.tracing: spans exported over OTLP/HTTP by the SDK.

Imported only when an endpoint is configured; an ImportError here means the SDK is not installed (the server
environment's `tracing` extra). The tracer provider is this runtime's own, not the process-wide one, so that
nothing else in the server (or a library's automatic instrumentation) starts exporting through it.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from cog._version import __version__
from cog.server import tracing

PROPAGATOR = TraceContextTextMapPropagator()


class OpenTelemetrySpan(tracing.Span):
    def __init__(self, tracer: trace.Tracer, span: trace.Span) -> None:
        self._tracer = tracer
        self._span = span
        self._context = trace.set_span_in_context(span)

    def headers(self) -> Dict[str, str]:
        carrier: Dict[str, str] = {}
        PROPAGATOR.inject(carrier, context=self._context)
        return carrier

    @contextmanager
    def child(self, name: str, client: bool = True) -> Iterator[tracing.Span]:
        kind = SpanKind.CLIENT if client else SpanKind.INTERNAL
        span = OpenTelemetrySpan(self._tracer, self._tracer.start_span(name, context=self._context, kind=kind))
        try:
            yield span
        except BaseException as exc:
            span.end(error=str(exc) or type(exc).__name__)
            raise
        span.end()

    def end(self, error: Optional[str] = None, **attributes: Any) -> None:
        for key, value in attributes.items():
            self._span.set_attribute(f"cog.{key}", str(value))
        if error is not None:
            self.fail(error)
        self._span.end()

    def fail(self, error: str) -> None:
        self._span.set_status(StatusCode.ERROR, error)


class OpenTelemetryTracer(tracing.Tracer):
    def __init__(self) -> None:
        resource = Resource.create()  # from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):  # neither names one
            resource = resource.merge(Resource({SERVICE_NAME: "cog"}))
        self._provider = TracerProvider(resource=resource)
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # OTEL_EXPORTER_OTLP_* configure it
        self._tracer = self._provider.get_tracer("cog.server", __version__)

    def start(self, name: str, context: Dict[str, str], server: bool = False, **attributes: Any) -> tracing.Span:
        span = self._tracer.start_span(
            name, context=PROPAGATOR.extract(context), kind=SpanKind.SERVER if server else SpanKind.INTERNAL,
            attributes={f"cog.{key}": str(value) for key, value in attributes.items()},
        )
        return OpenTelemetrySpan(self._tracer, span)

    def shutdown(self) -> None:
        self._provider.shutdown()
