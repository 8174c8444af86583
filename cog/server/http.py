"""The HTTP prediction server: Cog's HTTP API over a model that runs in a worker subprocess.

Starting it (what the image's entry point and `cog serve` rely on)::

    python -m cog.server.http [serve] [--host 0.0.0.0] [--port N] [--upload-url URL] [--await-explicit-shutdown]

run in the project directory (the directory that holds cog.yaml and the model code), configured by:

    PORT                  port to listen on when --port is not given (default 5000; `serve`: 8080, SageMaker's)
    AIP_HTTP_PORT, AIP_HEALTH_ROUTE, AIP_PREDICT_ROUTE
                          Vertex AI's port (over PORT) and routes (cog.server.platforms)
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
    COG_LOG_FORMAT        text (default) or json: one JSON object per line on stdout (cog.server.logs)
    COG_SHUTDOWN_GRACE_SECONDS  seconds in-flight predictions get after SIGTERM (default 30; cog.server.drain)
    COG_PREDICTION_RETENTION_SECONDS, COG_PREDICTION_RETENTION_COUNT
                          how long (default 600 s) and how many (default 100) finished predictions
                          GET /predictions/{id} still answers for (cog.server.recent)
    COG_HEALTHCHECK_INTERVAL, COG_HEALTHCHECK_TIMEOUT
                          seconds between calls of the predictor's healthcheck() (default 10), and the most one
                          may take (default 5)
    COG_MAX_WORKER_RESTARTS   restarts of a crashed worker in a row before DEFUNCT (default 3)
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

Endpoints: GET / (index), GET /playground (a page to try the model: cog.server.playground), GET /health-check,
GET /livez, GET /readyz (cog.server.probes), GET /openapi.json, GET /metrics (Prometheus), POST /predictions
(sync; `Prefer: respond-async` -> 202; `Accept: text/event-stream` -> server-sent events), PUT /predictions/{id}
(idempotent), GET /predictions/{id} (poll), POST /predictions/{id}/cancel, POST /shutdown, /trainings twins, and
the platforms' routes (cog.server.platforms).
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
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Sequence, Union

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
from cog.server import logs, platforms, probes, tracing
from cog.server.drain import CANCEL_WAIT, DrainingServer
from cog.server.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE, Metrics, instrument
from cog.server.playground import PLAYGROUND_PATH, ROUTES as PLAYGROUND_ROUTES
from cog.server.process import WorkerProcess
from cog.server.project import ProjectError
# The names this module has always used for them; the platforms' routes share them (cog.server.responses).
from cog.server.responses import RequestError
from cog.server.responses import error_response as _error_response
from cog.server.responses import json_response as _json
from cog.server.responses import read_body as _read_body
from cog.server.runner import Job, Runtime, WorkerFactory
from cog.server.settings import Settings, SettingsError
from cog.server.webhook import EVENTS

log = logging.getLogger("cog.server")

JOB_KINDS = {"predictions": Kind.PREDICT, "trainings": Kind.TRAIN}


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
        signature = runtime.signature if kind == Kind.PREDICT else runtime.train_signature
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

        app.add_route(f"/{collection}", create_new, methods=["POST"])
        app.add_route(f"/{collection}/{{job_id}}", one_job, methods=["GET", "PUT"])
        app.add_route(f"/{collection}/{{job_id}}/cancel", cancel, methods=["POST"])
    platforms.add_routes(app, settings, predict_each, lambda request: probes.readiness(runtime_of(request)))
    return app


def run(settings: Settings, host: str, port: int) -> None:
    """Serve until SIGTERM/SIGINT or POST /shutdown; on the way out, in-flight jobs finish first (cog.server.drain)."""
    logs.configure()
    server: Optional[DrainingServer] = None

    def request_shutdown() -> None:
        assert server is not None
        server.begin_drain()

    app = create_app(settings, request_shutdown)
    uvicorn_level = "error" if logs.log_level() >= logging.ERROR else "warning"
    config = uvicorn.Config(app, host=host, port=port, access_log=False, log_level=uvicorn_level, lifespan="on",
                            proxy_headers=False, server_header=False, timeout_graceful_shutdown=CANCEL_WAIT,
                            log_config=None)  # uvicorn's few lines go through our logging (cog.server.logs)
    server = DrainingServer(config, app, settings.shutdown_grace, settings.await_explicit_shutdown)
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


def listen_port(flag: Optional[str], sagemaker: bool, env: Dict[str, str]) -> int:
    """The port to listen on: --port, else SageMaker's 8080 (`serve`), else Vertex AI's AIP_HTTP_PORT, else PORT,
    else 5000. listen_port(None, False, {"AIP_HTTP_PORT": "8080"}) → 8080."""
    if flag is not None:
        name, value = "--port", flag
    elif sagemaker:
        return 8080
    elif env.get("AIP_HTTP_PORT"):
        name, value = "AIP_HTTP_PORT", env["AIP_HTTP_PORT"]
    else:
        name, value = "PORT", env.get("PORT") or "5000"
    if not value.strip().isdigit() or int(value) > 65535:
        raise SettingsError(f"{name}={value} is not a port number (0 to 65535)")
    return int(value)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cog.server.http", description="Serve a Cog model over HTTP.")
    parser.add_argument("mode", nargs="?", choices=["serve"],
                        help="serve: as SageMaker runs an image (`docker run IMAGE serve`): /ping and /invocations, "
                             "on port 8080 unless --port says")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", help="port to listen on (default: AIP_HTTP_PORT, PORT, or 5000)")
    parser.add_argument("--upload-url", help="PUT output files under this URL instead of returning data URIs")
    parser.add_argument("--await-explicit-shutdown", action="store_true",
                        help="ignore SIGTERM; stop on POST /shutdown (or SIGINT)")
    args = parser.parse_args(argv)
    sagemaker = args.mode == "serve"
    try:
        port = listen_port(args.port, sagemaker, dict(os.environ))
        settings = Settings.from_env(upload_url=args.upload_url, project_dir=os.getcwd(), sagemaker=sagemaker,
                                     await_explicit_shutdown=args.await_explicit_shutdown or None)
    except (ProjectError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    run(settings, args.host, port)


if __name__ == "__main__":
    main()
