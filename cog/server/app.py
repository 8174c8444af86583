"""Cog's HTTP API as an ASGI app (Starlette), over a model that runs in a worker subprocess, and the uvicorn server
that serves it (`run`). What it answers, and how the server is configured and started: cog.server.http.
Every error answer is a RequestError raised by a handler and rendered by the app's one exception handler.
"""

from __future__ import annotations

import asyncio
import json
import logging
import platform
import re
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Sequence, Tuple, Union

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from cog._version import __version__
from cog.sdk.protocol import Health, Kind, Status
from cog.sdk.signature import InputError
from cog.server import logs, platforms, probes, tracing
from cog.server.drain import CANCEL_WAIT, DrainingServer
from cog.server.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE, Metrics, instrument
from cog.server.playground import PLAYGROUND_PATH, ROUTES as PLAYGROUND_ROUTES
from cog.server.process import WorkerProcess
# The names this module has always used for them; the platforms' routes share them (cog.server.responses).
from cog.server.responses import RequestError
from cog.server.responses import error_response as _error_response
from cog.server.responses import json_response as _json
from cog.server.responses import parse_json
from cog.server.responses import read_body as _read_body
from cog.server.runner import Job, Runtime, WorkerFactory
from cog.server.settings import Settings
from cog.server.transport import http_protocol
from cog.server.webhook import EVENTS

log = logging.getLogger("cog.server")

JOB_KINDS = {"predictions": Kind.PREDICT, "trainings": Kind.TRAIN}


def _parse_request(body: bytes) -> Dict[str, Any]:
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise RequestError(422, "the request body must be a JSON object", ["body"])
    for name in ("id", "webhook", "output_file_prefix", "created_at"):
        if payload.get(name) is not None and not isinstance(payload[name], str):
            raise RequestError(422, f"{name} must be a string", ["body", name])
    job_id = payload.get("id") or ""
    if "/" in job_id:
        raise RequestError(422, "id must not contain '/': it is a segment of the job's URLs", ["body", "id"])
    if not job_id.isprintable():
        raise RequestError(422, "id must not contain control characters such as line breaks: it is a segment of the "
                                "job's URLs", ["body", "id"])
    if payload.get("created_at") is not None and not _is_timestamp(payload["created_at"]):
        raise RequestError(422, "created_at must be an RFC 3339 date-time, such as 2026-01-31T12:00:00Z",
                           ["body", "created_at"])
    webhook = payload.get("webhook")
    if webhook is not None and not HTTP_URL.fullmatch(webhook):
        raise RequestError(422, "webhook must be an http(s) URL", ["body", "webhook"])
    events = payload.get("webhook_events_filter")
    if events is not None and (not isinstance(events, list) or not all(event in EVENTS for event in events)):
        raise RequestError(422, f"webhook_events_filter must be a list of {', '.join(EVENTS)}",
                           ["body", "webhook_events_filter"])
    if payload.get("context") is not None:
        payload["context"] = _context(payload["context"])
    return payload


# An absolute http(s) URI (RFC 3986): a host, then only the characters a URI may hold, escapes well formed.
HTTP_URL = re.compile(r"https?://[A-Za-z0-9\-._~!$&'()*+,;=:@\[\]]+"
                      r"(?:[/?#](?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#\[\]]|%[0-9A-Fa-f]{2})*)?")
TIMESTAMP = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?"
                       r"(?:[Zz]|[+-]([0-9]{2}):([0-9]{2}))")


def _is_timestamp(text: str) -> bool:
    """An RFC 3339 date-time (what the schema's `format: date-time` means): 2026-01-31T12:00:00.5+01:00."""
    match = TIMESTAMP.fullmatch(text)
    if match is None:
        return False
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    try:
        datetime(year, month, day, hour, minute, min(second, 59))  # 60: a leap second
    except ValueError:
        return False
    return second <= 60 and (match[8] is None or (int(match[8]) < 24 and int(match[9]) < 60))


def _context(context: Any) -> Dict[str, str]:
    """The request's `context` (cog.current_scope().context in the model): an object of strings; numbers are
    taken as their text, as Cog's pydantic takes them."""
    if not isinstance(context, dict):
        raise RequestError(422, "context must be a JSON object of strings", ["body", "context"])
    strings = {}
    for key, value in context.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise RequestError(422, f"context values must be strings; {key!r} is not", ["body", "context", key])
        strings[key] = value
    return strings


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def create_app(settings: Settings, request_shutdown: Optional[Callable[[], None]] = None, *,
               worker: WorkerFactory = WorkerProcess) -> Starlette:
    """The app; `worker` makes the runtime's worker (see cog.server.runner.WorkerTransport)."""
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        runtime = Runtime(settings, worker, runtime_metrics)
        app.state.runtime = runtime
        runtime.start()
        yield
        await runtime.shutdown()

    # Starlette, not FastAPI: the handlers read their bodies themselves, and /openapi.json is the model's, so
    # FastAPI would add only its import (pydantic's, mostly: most of the server's start-up) and per-request work.
    # Starlette's own errors (no route: 404, wrong method: 405) are answered as FastAPI does, by error_response.
    app = Starlette(lifespan=lifespan,
                    exception_handlers={RequestError: _error_response, HTTPException: _error_response})
    runtime_metrics = Metrics()  # made before the runtime, which the lifespan starts, so that every request is counted
    direct: Dict[Tuple[str, str], Route] = {}  # the routes of new jobs, answered past the router (_answer_directly)
    app.add_middleware(_answer_directly, routes=direct)
    app.add_middleware(instrument, metrics=runtime_metrics)  # outside the other: it counts every request

    def runtime_of(request: Request) -> Runtime:
        return request.app.state.runtime  # type: ignore[no-any-return]

    async def index(request: Request) -> Response:
        urls = {
            "cog_version": __version__,
            "openapi_url": "/openapi.json",
            "shutdown_url": "/shutdown",
            "healthcheck_url": "/health-check",
            "metrics_url": "/metrics",
            "playground_url": PLAYGROUND_PATH,
        }
        for collection in ("predictions",) + (("trainings",) if settings.train_ref else ()):
            urls[f"{collection}_url"] = f"/{collection}"
            urls[f"{collection}_idempotent_url"] = f"/{collection}/{{{collection[:-1]}_id}}"
            urls[f"{collection}_cancel_url"] = f"/{collection}/{{{collection[:-1]}_id}}/cancel"
        return _json(urls)

    async def health_check(request: Request) -> Response:
        runtime = runtime_of(request)
        health = {
            "status": runtime.health,
            "setup": runtime.setup or None,
            "version": {"cog": __version__, "python": platform.python_version()},
        }
        if runtime.healthcheck_error is not None:  # Cog's field, there only when healthcheck() failed
            health["user_healthcheck_error"] = runtime.healthcheck_error
        return _json(health)

    async def livez(request: Request) -> Response:
        status, body = probes.liveness(runtime_of(request))
        return _json(body, status)

    async def readyz(request: Request) -> Response:
        status, body = probes.readiness(runtime_of(request))
        return _json(body, status)

    async def openapi(request: Request) -> Response:
        runtime = runtime_of(request)
        if not runtime.schema:
            raise RequestError(503, f"the schema is known once setup has succeeded ({runtime.status})")
        return _json(runtime.schema)

    async def metrics(request: Request) -> Response:
        runtime = runtime_of(request)
        text = runtime.metrics.render(runtime.waiting, settings.max_concurrency, runtime.busy)
        return Response(text, headers={"Content-Type": METRICS_CONTENT_TYPE})

    async def shutdown(request: Request) -> Response:
        if request_shutdown is not None:
            request_shutdown()
        return _json({})

    async def create(request: Request, collection: str, job_id: Optional[str]) -> Response:
        """Parse the request, wait for setup, validate its input, rejoin the job it retries or admit it, answer."""
        runtime = runtime_of(request)
        payload = _parse_request(await _read_body(request, settings.max_body_bytes))
        retry = job_id is not None
        if retry and payload.get("id") not in (None, job_id):
            raise RequestError(422, "the id in the body differs from the id in the URL", ["body", "id"])
        job_id = job_id or payload.get("id")
        await _until_set_up(runtime)
        kind = JOB_KINDS[collection]
        # A retry is a whole request too: checked like the first one, so that a bad one never looks accepted.
        arguments = _validate(runtime, kind, payload)
        existing = runtime.jobs.get(job_id) if retry else None
        if existing is not None:  # a retry of a job in flight: answer about that job
            return await _respond(request, runtime, existing, None)
        _refuse_while_draining(runtime)
        _admit(runtime, job_id)
        job = runtime.new_job(kind, job_id, payload, tracing.incoming(request.headers))
        return await _respond(request, runtime, job, arguments)

    async def predict_each(request: Request, inputs: Sequence[Any],
                           where: Sequence[List[Union[str, int]]]) -> List[Job]:
        """Run a prediction for each of `inputs` (in order, at once as the slots allow) to its end, for the
        platforms' routes; `where[i]` is where inputs[i] is in the request body, for the 422 of a bad one. All
        are checked before any runs."""
        runtime = runtime_of(request)
        _refuse_while_draining(runtime)
        await _until_set_up(runtime)
        checked = []
        for given, loc in zip(inputs, where):
            if not isinstance(given, dict):
                raise RequestError(422, "the input must be a JSON object of the model's inputs", list(map(str, loc)))
            try:
                checked.append((given, _validate(runtime, Kind.PREDICT, {"input": given})))
            except RequestError as exc:
                raise RequestError(422, exc.message, [*map(str, loc), exc.loc[-1] if exc.loc else ""]) from None
        if runtime.at_capacity(len(checked)):  # all or none: no instance runs when another is refused
            raise _queue_full()
        trace = tracing.incoming(request.headers)
        jobs = [(runtime.new_job(Kind.PREDICT, None, {"input": given}, trace), arguments) for given, arguments in checked]
        await asyncio.gather(*(runtime.run(job, arguments) for job, arguments in jobs))
        return [job for job, _ in jobs]

    def _queue_full() -> RequestError:
        return RequestError(409, "the queue of waiting predictions is full; retry later", headers={"Retry-After": "1"})

    def _refuse_while_draining(runtime: Runtime) -> None:
        if runtime.draining:
            raise RequestError(503, "the server is shutting down; send the prediction to another instance",
                               headers={"Retry-After": "1"})

    async def _until_set_up(runtime: Runtime) -> None:
        if runtime.status == Health.STARTING and runtime.signature is None:
            # Inputs can be checked only once setup has told us the signature: wait in the queue until then.
            if runtime.waiting >= settings.queue_size:
                raise _queue_full()
            await runtime.until_set_up()
        if runtime.status in (Health.SETUP_FAILED, Health.DEFUNCT):
            raise RequestError(503, f"the model cannot run predictions ({runtime.status})")

    def _validate(runtime: Runtime, kind: Kind, payload: Dict[str, Any]) -> Dict[str, Any]:
        signature = runtime.signature_of(kind)
        if signature is None:
            raise RequestError(404, "this model has no train function")
        try:
            return signature.validate(payload.get("input", {}))
        except InputError as exc:
            raise RequestError(422, exc.message, ["body", "input", exc.field]) from None

    def _admit(runtime: Runtime, job_id: Optional[str]) -> None:
        if runtime.at_capacity():
            raise _queue_full()
        if job_id is not None and job_id in runtime.jobs:
            raise RequestError(409, f"a prediction with id {job_id!r} is already running; use PUT to rejoin it")

    async def _respond(request: Request, runtime: Runtime, job: Job, arguments: Optional[Dict[str, Any]]) -> Response:
        """Start the job (unless `arguments` is None: it runs already) and answer as the client asked."""
        if "text/event-stream" in request.headers.get("accept", ""):
            events: "asyncio.Queue[Any]" = asyncio.Queue()
            job.listeners.append(events)
            if arguments is not None:
                runtime.spawn(runtime.run(job, arguments))
            elif job.status == Status.PROCESSING:
                events.put_nowait(("start", {"id": job.id, "status": job.status}))
            return StreamingResponse(_stream(job, events), media_type="text/event-stream")
        respond_async = "respond-async" in request.headers.get("prefer", "")
        if respond_async:
            if arguments is not None:
                runtime.spawn(runtime.run(job, arguments))
        elif arguments is not None:
            # In the request's own task, which nothing cancels (uvicorn lets a request finish even when its
            # client hangs up): one scheduling hop less on the hot path.
            await runtime.run(job, arguments)
        else:
            await job.finished.wait()
        return _json(job.to_json(), 202 if respond_async else 200)

    async def _stream(job: Job, events: "asyncio.Queue[Any]") -> AsyncIterator[str]:
        try:
            while True:
                event, data = await events.get()
                yield _sse(event, data)
                if event == "completed":
                    return
        finally:
            job.listeners.remove(events)

    async def poll(request: Request) -> Response:
        job_id = request.path_params["job_id"]
        found = runtime_of(request).find(job_id)
        if found is None:
            raise RequestError(404, f"no prediction {job_id!r} is in flight or among the last "
                                    f"{settings.retention_count} finished in {settings.retention_seconds:g} seconds "
                                    "(COG_PREDICTION_RETENTION_COUNT, COG_PREDICTION_RETENTION_SECONDS)")
        return _json(found)

    async def cancel(request: Request) -> Response:
        job_id = request.path_params["job_id"]
        if not runtime_of(request).cancel(job_id):
            raise RequestError(404, f"no prediction {job_id!r} is in flight")
        return _json({})

    app.add_route("/", index, methods=["GET"])
    app.add_route("/health-check", health_check, methods=["GET"])
    app.add_route("/livez", livez, methods=["GET"])
    app.add_route("/readyz", readyz, methods=["GET"])
    app.add_route("/openapi.json", openapi, methods=["GET"])
    app.add_route("/metrics", metrics, methods=["GET"])
    app.add_route("/shutdown", shutdown, methods=["POST"])
    app.router.routes.extend(PLAYGROUND_ROUTES)
    for collection in ["predictions"] + (["trainings"] if settings.train_ref else []):

        async def create_new(request: Request, collection: str = collection) -> Response:
            return await create(request, collection, None)

        async def one_job(request: Request, collection: str = collection) -> Response:
            # One route for the path's two methods, so that a 405 there names both in its Allow header.
            if request.method == "GET":
                return await poll(request)
            return await create(request, collection, request.path_params["job_id"])

        direct["POST", f"/{collection}"] = Route(f"/{collection}", create_new, methods=["POST"])
        app.router.routes.append(direct["POST", f"/{collection}"])  # for the router's 405 and redirect all the same
        app.add_route(f"/{collection}/{{job_id}}", one_job, methods=["GET", "PUT"])
        app.add_route(f"/{collection}/{{job_id}}/cancel", cancel, methods=["POST"])
    platforms.add_routes(app, settings, predict_each, lambda request: probes.readiness(runtime_of(request)))
    return app


def _answer_directly(app: ASGIApp, routes: Dict[Tuple[str, str], Route]) -> ASGIApp:
    """`app` with the requests of `routes` (by method and path) handed straight to their endpoints, past Starlette's
    exception layer and router: its route-by-route match is a good part of a fast prediction's time. Their
    RequestErrors are answered here, and the route is left in the scope, as Starlette's router leaves it."""

    async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
        route = routes.get((scope.get("method"), scope.get("path")))  # type: ignore[arg-type]
        if route is None:
            await app(scope, receive, send)
            return
        scope["route"] = route
        request = Request(scope, receive)
        try:
            response = await route.endpoint(request)
        except RequestError as exc:
            response = await _error_response(request, exc)
        await response(scope, receive, send)

    return dispatch


def run(settings: Settings, host: str, port: int, worker: WorkerFactory = WorkerProcess) -> None:
    """Serve until SIGTERM/SIGINT or POST /shutdown; on the way out, in-flight jobs finish first (cog.server.drain).
    `worker` as for create_app (cog.server.http gives one whose first process it has started already)."""
    logs.configure()
    server: Optional[DrainingServer] = None

    def request_shutdown() -> None:
        assert server is not None
        server.begin_drain()

    app = create_app(settings, request_shutdown, worker=worker)
    uvicorn_level = "error" if logs.log_level() >= logging.ERROR else "warning"
    config = uvicorn.Config(app, host=host, port=port, access_log=False, log_level=uvicorn_level, lifespan="on",
                            proxy_headers=False, server_header=False, timeout_graceful_shutdown=CANCEL_WAIT,
                            ws="none",  # no websocket routes: nor the import of a websocket library
                            http=http_protocol(),  # a response's head and body in one send (cog.server.transport)
                            log_config=None)  # uvicorn's few lines go through our logging (cog.server.logs)
    server = DrainingServer(config, app, settings.shutdown_grace, settings.await_explicit_shutdown)
    log.info("serving %s on http://%s:%d", settings.predict_ref, host, port)
    server.run()


