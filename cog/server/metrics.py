"""The runtime's Prometheus metrics (GET /metrics), kept and exposed by prometheus_client.

One `Metrics` per runtime, each with a registry of its own (several apps may share a process, as in tests):

    cog_http_requests_total{endpoint,method,code}             requests answered, by route template and status code
    cog_http_request_duration_seconds{endpoint,method,code}   histogram: until the last byte (a stream's whole life)
    cog_predictions_total{status}                             predictions and trainings that reached a terminal state
    cog_prediction_duration_seconds                           histogram: the model's time on each (predict_time)
    cog_predictions_in_progress                               running in the model now
    cog_queue_depth                                           waiting for a free slot
    cog_prediction_slots, cog_prediction_slots_free           predictions the model may run at once; of those, idle
    cog_setup_duration_seconds                                how long the last setup took (succeeded or not)
    cog_last_request_timestamp_seconds                        Unix time of the last prediction or training request
    cog_worker_restarts_total                                 model processes started again after one stopped

`endpoint` is the route's template (`/predictions/{job_id}`), never the raw path: a series per prediction id
would grow without bound. A path no route matches counts as `endpoint="other"`.
"""

from __future__ import annotations

import time
from typing import Any, Awaitable, Callable, Dict, MutableMapping, Optional, Tuple

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.routing import Match

# The `_created` twin of every counter doubles the scrape and no dashboard of ours reads it.
prometheus_client.disable_created_metrics()

CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
TERMINAL_STATUSES = ("succeeded", "failed", "canceled")
# Any other token a client sends as a method counts as "other": a label value per invented method would grow.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


class RequestMetrics:
    """Counts and times every HTTP request by endpoint, method and status code; `cog server` shares it."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ("endpoint", "method", "code")
        self._count = Counter("cog_http_requests", "HTTP requests answered, by route template and status code.",
                              labels, registry=registry)
        self._duration = Histogram("cog_http_request_duration_seconds",
                                   "Time from a request's arrival to the last byte of its answer.",
                                   labels, buckets=DURATION_BUCKETS, registry=registry)
        # Each series' children, found once: labels() takes a lock and checks its values on every call. Bounded as
        # the series are (route templates, methods, codes).
        self._series: Dict[Tuple[str, str, int], Tuple[Any, Any]] = {}

    def observe(self, endpoint: str, method: str, code: int, seconds: float) -> None:
        key = (endpoint, method if method in METHODS else "other", code)
        series = self._series.get(key)
        if series is None:
            labels = (key[0], key[1], str(code))
            series = self._series[key] = (self._count.labels(*labels), self._duration.labels(*labels))
        count, duration = series
        count.inc()
        duration.observe(seconds)


class Metrics(RequestMetrics):
    """Everything the runtime exposes; the runtime calls the methods below as things happen."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        super().__init__(self.registry)
        registry = self.registry
        self._finished = Counter("cog_predictions", "Predictions that reached a terminal state, by status.",
                                 ("status",), registry=registry)
        # Zeros from the start, so that rate() sees the first one.
        self._finished_by_status = {status: self._finished.labels(status) for status in TERMINAL_STATUSES}
        self._prediction_duration = Histogram("cog_prediction_duration_seconds",
                                              "Time the model spent on each prediction.",
                                              buckets=DURATION_BUCKETS, registry=registry)
        self._in_progress = Gauge("cog_predictions_in_progress", "Predictions running in the model.",
                                  registry=registry)
        self._queue_depth = Gauge("cog_queue_depth", "Predictions waiting for a free slot.", registry=registry)
        self._slots = Gauge("cog_prediction_slots", "Predictions the model may run at once.", registry=registry)
        self._free_slots = Gauge("cog_prediction_slots_free", "Slots with no prediction running in them.",
                                 registry=registry)
        self._setup_duration = Gauge("cog_setup_duration_seconds",
                                     "How long the last setup took, whether it succeeded or failed.",
                                     registry=registry)
        self._last_request = Gauge("cog_last_request_timestamp_seconds",
                                   "Unix time of the last prediction or training request (probes and scrapes "
                                   "do not count); 0 before the first.", registry=registry)
        self._restarts = Counter("cog_worker_restarts", "Times the model's process was started again after it "
                                 "stopped.", registry=registry)

    def job_requested(self) -> None:
        self._last_request.set(time.time())

    def started(self) -> None:
        self._in_progress.inc()

    def finished(self, status: str, seconds: Optional[float], *, was_started: bool) -> None:
        self._finished_by_status[str(status)].inc()
        if was_started:
            self._in_progress.dec()
        if seconds is not None:
            self._prediction_duration.observe(seconds)

    def setup_finished(self, seconds: float) -> None:
        self._setup_duration.set(seconds)

    def worker_restarted(self) -> None:
        """The model's process is being started again (after a crash, or by a supervisor's decision)."""
        self._restarts.inc()

    def render(self, queue_depth: int, slots: int, busy: int) -> bytes:
        """The exposition text, with the gauges that are read rather than kept (queue, slots) set first."""
        self._queue_depth.set(queue_depth)
        self._slots.set(slots)
        self._free_slots.set(max(slots - busy, 0))
        return prometheus_client.generate_latest(self.registry)


def instrument(app: ASGIApp, metrics: RequestMetrics) -> ASGIApp:
    """`app` with every HTTP request observed by `metrics` (a pure ASGI wrapper: no per-request task or copy)."""

    async def observed(scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        code = 500  # what the client gets when the app fails before it answers

        async def send_noting_status(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
            await send(message)

        try:
            await app(scope, receive, send_noting_status)
        finally:
            metrics.observe(route_template(scope), scope["method"], code, time.perf_counter() - started)

    return observed


def route_template(scope: Scope) -> str:
    """The path of the route that answered (`/predictions/{job_id}`; `{digest:sha256}` is `{digest}`): the first
    full match, else the first partial one (right path, wrong method: 405), else "other". Starlette's router
    (1.0 and later) leaves that route in the scope; else (FastAPI's router, an older Starlette, no route) it is
    matched again here."""
    route = scope.get("route")
    if route is not None:
        return getattr(route, "path_format", "other")
    partial = "other"
    for route in scope["app"].router.routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return getattr(route, "path_format", partial)
        if match == Match.PARTIAL and partial == "other":
            partial = getattr(route, "path_format", partial)
    return partial

