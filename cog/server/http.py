"""The HTTP prediction server: Cog's HTTP API over a model that runs in a worker subprocess.

Starting it (what the image's entry point and `cog serve` rely on)::

    python -m cog.server.http [--host 0.0.0.0] [--port N] [--upload-url URL]

run in the project directory (the directory that holds cog.yaml and the model code), configured by:

    PORT                  port to listen on when --port is not given (default 5000)
    COG_PREDICT           the predictor, "predict.py:Predictor" (path relative to the working directory; the
                          syntax of cog.yaml's `predict:`, and of the original dialect's `model:`); also read
                          as Cog's COG_PREDICT_TYPE_STUB. Without either, cog.yaml in the working directory
                          names it (`predict:`, `run:` or the original `model:`), and its `train:` and
                          `concurrency.max` fill in what the variables below leave unset (cog.server.project)
    COG_TRAIN             optional trainer, same syntax ("train.py:train"); adds the /trainings endpoints; also
                          read as Cog's COG_TRAIN_TYPE_STUB
    COG_MAX_CONCURRENCY   predictions run at once (default 1, or predict()'s @cog.concurrent(max=N)); more wait
                          in a queue
    COG_LOG_LEVEL         the server's own log lines: debug, info (default), warning or error. What the model
                          prints always goes to stderr as it arrives, besides its job's logs
    COG_QUEUE_SIZE        predictions that may wait for a slot (default 64); beyond it: 409 with Retry-After
    COG_WORKER_PYTHON     interpreter of the model's environment, which runs the worker (default: this one)
    COG_SETUP_TIMEOUT     seconds setup() may take before health turns SETUP_FAILED (default: no limit)
    COG_WEIGHTS           passed to setup(weights=...) when setup() takes it
    COG_MAX_REQUEST_BYTES     largest request body (default 64 MiB); larger: 413
    COG_MAX_INPUT_FILE_BYTES  largest file input fetched from a URL (default 1 GiB); larger fails the prediction
    WEBHOOK_AUTH_TOKEN    sent as `Authorization: Bearer ...` with every webhook request

From Python (e.g. the CLI's `cog serve`, without Docker): `serve(predict_ref, project_dir=..., host=..., port=...)`;
the app alone: `create_app(settings)`, whose model runs in a worker process, or in this process with
`create_app(settings, worker=InProcessWorker)` (cog.server.inprocess, for tests and embedding).
The OpenAPI schema without starting anything: `cog.server.process.openapi_schema_for(predict_ref, ...)`, or
`python -m cog.sdk.worker --openapi predict.py:Predictor` on the model's interpreter.

Endpoints: GET / (index), GET /health-check, GET /openapi.json, GET /metrics (Prometheus), POST /predictions
(sync; `Prefer: respond-async` -> 202; `Accept: text/event-stream` -> server-sent events),
PUT /predictions/{id} (idempotent), POST /predictions/{id}/cancel, POST /shutdown, and /trainings twins.
Every error answer is a RequestError raised by a handler and rendered by the app's one exception handler.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import re
import sys
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, AsyncIterator, Callable, Dict, List, Optional

# An image's server environment; `python` there is the model's, which has cog's SDK but not the server's packages.
SERVER_ENVIRONMENT = "/opt/cog/server"

try:
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import Response, StreamingResponse
except ImportError:
    # `cog run python -m cog.server.http` (as Cog's users start the server): go on in the server's environment.
    _server_python = os.path.join(SERVER_ENVIRONMENT, "bin", "python")
    if __name__ == "__main__" and os.path.exists(_server_python) and \
            os.path.abspath(sys.prefix) != SERVER_ENVIRONMENT:
        os.execv(_server_python, [_server_python, "-m", "cog.server.http", *sys.argv[1:]])
    raise

from cog._version import __version__
from cog.sdk.protocol import Health, Kind, Status
from cog.sdk.signature import InputError
from cog.server import tracing
from cog.server.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE, Metrics, instrument
from cog.server.process import WorkerProcess
from cog.server.project import ProjectError
from cog.server.runner import Job, Runtime, Settings, WorkerFactory
from cog.server.webhook import EVENTS

log = logging.getLogger("cog.server")

JOB_KINDS = {"predictions": Kind.PREDICT, "trainings": Kind.TRAIN}


class RequestError(Exception):
    """A client mistake: answered with `status` and a one-line message naming the field."""

    def __init__(self, status: int, message: str, loc: Optional[List[str]] = None,
                 headers: Optional[Dict[str, str]] = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.loc = loc
        self.headers = headers


def _json(data: Any, status: int = 200, headers: Optional[Dict[str, str]] = None) -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status_code=status, headers=headers, media_type="application/json")


async def _error_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestError)
    if exc.loc is not None:  # the shape FastAPI (and so Cog) gives validation errors
        detail: Any = [{"loc": exc.loc, "msg": exc.message, "type": "value_error"}]
    else:
        detail = exc.message
    return _json({"detail": detail}, exc.status, exc.headers)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"the request body is larger than the limit of {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"the request body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_request(body: bytes) -> Dict[str, Any]:
    try:
        payload = json.loads(body) if body else {}
    except ValueError as exc:
        raise RequestError(422, f"the request body is not valid JSON: {exc}", ["body"]) from None
    if not isinstance(payload, dict):
        raise RequestError(422, "the request body must be a JSON object", ["body"])
    for name in ("id", "webhook", "output_file_prefix", "created_at"):
        if payload.get(name) is not None and not isinstance(payload[name], str):
            raise RequestError(422, f"{name} must be a string", ["body", name])
    if "/" in (payload.get("id") or ""):
        raise RequestError(422, "id must not contain '/': it is a segment of the job's URLs", ["body", "id"])
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
               worker: WorkerFactory = WorkerProcess) -> FastAPI:
    """The app; `worker` makes the runtime's worker (see cog.server.runner.WorkerTransport)."""
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime(settings, worker, runtime_metrics)
        app.state.runtime = runtime
        runtime.start()
        yield
        await runtime.shutdown()

    app = FastAPI(title="Cog", version=__version__, lifespan=lifespan,
                  exception_handlers={RequestError: _error_response},
                  openapi_url=None, docs_url=None, redoc_url=None)  # /openapi.json is the model's, below
    runtime_metrics = Metrics()  # made before the runtime, which the lifespan starts, so that every request is counted
    app.add_middleware(instrument, metrics=runtime_metrics)

    def runtime_of(request: Request) -> Runtime:
        return request.app.state.runtime  # type: ignore[no-any-return]

    # Plain Starlette routes: the handlers read the body themselves, so FastAPI's per-request dependency
    # resolution would only add latency.
    async def index(request: Request) -> Response:
        urls = {
            "cog_version": __version__,
            "openapi_url": "/openapi.json",
            "shutdown_url": "/shutdown",
            "healthcheck_url": "/health-check",
            "metrics_url": "/metrics",
        }
        for collection in ("predictions",) + (("trainings",) if settings.train_ref else ()):
            urls[f"{collection}_url"] = f"/{collection}"
            urls[f"{collection}_idempotent_url"] = f"/{collection}/{{{collection[:-1]}_id}}"
            urls[f"{collection}_cancel_url"] = f"/{collection}/{{{collection[:-1]}_id}}/cancel"
        return _json(urls)

    async def health_check(request: Request) -> Response:
        runtime = runtime_of(request)
        return _json({
            "status": runtime.health,
            "setup": runtime.setup or None,
            "version": {"cog": __version__, "python": platform.python_version()},
        })

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
        _admit(runtime, job_id)
        job = runtime.new_job(kind, job_id, payload, tracing.incoming(request.headers))
        return await _respond(request, runtime, job, arguments)

    async def _until_set_up(runtime: Runtime) -> None:
        if runtime.status == Health.STARTING and runtime.signature is None:
            # Inputs can be checked only once setup has told us the signature: wait in the queue until then.
            if runtime.waiting >= settings.queue_size:
                raise RequestError(409, "the queue of waiting predictions is full; retry later",
                                   headers={"Retry-After": "1"})
            await runtime.until_set_up()
        if runtime.status in (Health.SETUP_FAILED, Health.DEFUNCT):
            raise RequestError(503, f"the model cannot run predictions ({runtime.status})")

    def _validate(runtime: Runtime, kind: Kind, payload: Dict[str, Any]) -> Dict[str, Any]:
        signature = runtime.signature if kind == Kind.PREDICT else runtime.train_signature
        if signature is None:
            raise RequestError(404, "this model has no train function")
        try:
            return signature.validate(payload.get("input", {}))
        except InputError as exc:
            raise RequestError(422, exc.message, ["body", "input", exc.field]) from None

    def _admit(runtime: Runtime, job_id: Optional[str]) -> None:
        if runtime.at_capacity():
            raise RequestError(409, "the queue of waiting predictions is full; retry later",
                               headers={"Retry-After": "1"})
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

    async def cancel(request: Request) -> Response:
        job_id = request.path_params["job_id"]
        if not runtime_of(request).cancel(job_id):
            raise RequestError(404, f"no prediction {job_id!r} is in flight")
        return _json({})

    app.add_route("/", index, methods=["GET"])
    app.add_route("/health-check", health_check, methods=["GET"])
    app.add_route("/openapi.json", openapi, methods=["GET"])
    app.add_route("/metrics", metrics, methods=["GET"])
    app.add_route("/shutdown", shutdown, methods=["POST"])
    for collection in ["predictions"] + (["trainings"] if settings.train_ref else []):

        async def create_new(request: Request, collection: str = collection) -> Response:
            return await create(request, collection, None)

        async def create_idempotent(request: Request, collection: str = collection) -> Response:
            return await create(request, collection, request.path_params["job_id"])

        app.add_route(f"/{collection}", create_new, methods=["POST"])
        app.add_route(f"/{collection}/{{job_id}}", create_idempotent, methods=["PUT"])
        app.add_route(f"/{collection}/{{job_id}}/cancel", cancel, methods=["POST"])
    return app


LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "warn": logging.WARNING,
              "error": logging.ERROR}


def log_level() -> int:
    """COG_LOG_LEVEL (debug, info, warning, error; default info): how much of its own the server logs."""
    name = os.environ.get("COG_LOG_LEVEL", "").strip().lower()
    return LOG_LEVELS.get(name, logging.INFO)


def run(settings: Settings, host: str, port: int) -> None:
    """Serve until SIGTERM/SIGINT or POST /shutdown; on the way out, in-flight jobs finish first."""
    level = log_level()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("cog").setLevel(level)
    logging.getLogger("httpx").setLevel(max(level, logging.WARNING))  # one line per webhook request is noise
    unknown = os.environ.get("COG_LOG_LEVEL", "").strip().lower()
    if unknown and unknown not in LOG_LEVELS:
        log.warning("COG_LOG_LEVEL=%s is not one of debug, info, warning, error; logging at info", unknown)
    server: Optional[uvicorn.Server] = None

    def request_shutdown() -> None:
        assert server is not None
        server.should_exit = True

    app = create_app(settings, request_shutdown)
    uvicorn_level = "error" if level >= logging.ERROR else "warning"
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, access_log=False, log_level=uvicorn_level,
                                           lifespan="on", proxy_headers=False, server_header=False))
    log.info("serving %s on http://%s:%d", settings.predict_ref, host, port)
    server.run()


def serve(
    predict_ref: str,
    *,
    project_dir: str = ".",
    host: str = "127.0.0.1",
    port: int = 5000,
    train_ref: Optional[str] = None,
    max_concurrency: int = 1,
    worker_python: Optional[str] = None,
    upload_url: Optional[str] = None,
    setup_timeout: Optional[float] = None,
) -> None:
    """Run the prediction server for a project directory in this process (`cog serve`, no Docker)."""
    settings = Settings.from_env(
        predict_ref=predict_ref, train_ref=train_ref, project_dir=os.path.abspath(project_dir),
        max_concurrency=max_concurrency, worker_python=worker_python, upload_url=upload_url,
        setup_timeout=setup_timeout,
    )
    run(settings, host, port)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cog.server.http", description="Serve a Cog model over HTTP.")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument("--upload-url", help="PUT output files under this URL instead of returning data URIs")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(upload_url=args.upload_url, project_dir=os.getcwd())
    except ProjectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    run(settings, args.host, args.port)


if __name__ == "__main__":
    main()
