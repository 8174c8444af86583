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
    COG_BUSY_POLL_SECONDS     how long the model's process stays awake for the next prediction after one that
                          nothing queued behind (default 0.002; 0: it sleeps at once). Spares a fast model the
                          wake-ups of the hop to its process; costs at most that much CPU per prediction
    COG_QUEUE_SIZE        predictions that may wait for a slot (default 64); beyond it: 409 with Retry-After
    COG_WORKER_PYTHON     interpreter of the model's environment, which runs the worker (default: this one)
    COG_SETUP_TIMEOUT     seconds setup() may take before health turns SETUP_FAILED (default: no limit)
    COG_WEIGHTS           passed to setup(weights=...) when setup() takes it
    COG_MAX_REQUEST_BYTES     largest request body (default 64 MiB); larger: 413
    COG_MAX_INPUT_FILE_BYTES  largest file input fetched from a URL (default 1 GiB); larger fails the prediction
    WEBHOOK_AUTH_TOKEN    sent as `Authorization: Bearer ...` with every webhook request

From Python (e.g. the CLI's `cog serve`, without Docker): `serve(predict_ref, project_dir=..., host=..., port=...)`;
the app alone: `create_app(settings)` (cog.server.app), whose model runs in a worker process, or in this process
with `create_app(settings, worker=InProcessWorker)` (cog.server.inprocess, for tests and embedding).
Both start the model's process first, then import the server's packages (Starlette, uvicorn, prometheus_client)
while the model loads: this module imports only the standard library and cog's settings until then.
The OpenAPI schema without starting anything: `cog.server.process.openapi_schema_for(predict_ref, ...)`, or
`python -m cog.sdk.worker --openapi predict.py:Predictor` on the model's interpreter.

Endpoints: GET / (index), GET /playground (a page to try the model: cog.server.playground), GET /health-check,
GET /livez, GET /readyz (cog.server.probes), GET /openapi.json, GET /metrics (Prometheus), POST /predictions
(sync; `Prefer: respond-async` -> 202; `Accept: text/event-stream` -> server-sent events), PUT /predictions/{id}
(idempotent), GET /predictions/{id} (poll), POST /predictions/{id}/cancel, POST /shutdown, /trainings twins, and
the platforms' routes (cog.server.platforms).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from typing import Any, Dict, List, Optional

# `python -m cog.server.http` puts its working directory, the model's project, first on sys.path: a file there
# named like a package the server imports (h2.py, anyio.py, starlette.py) would be imported in its place. The
# server runs none of the model's code (the model's own process does, from that directory).
if __name__ == "__main__" and sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from cog.server.process import prestarted_workers  # noqa: E402 - after the path is made safe
from cog.server.project import ProjectError
from cog.server.settings import Settings, SettingsError

# An image's server environment; `python` there is the model's, which has cog's SDK but not the server's packages.
SERVER_ENVIRONMENT = "/opt/cog/server"


def __getattr__(name: str) -> Any:
    """create_app and run, as this module has always offered them: from cog.server.app, imported on first use."""
    if name in ("create_app", "run"):
        from cog.server import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    _run(settings, host, port)


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


def _continue_in_the_server_environment() -> None:
    """`cog run python -m cog.server.http` (as Cog's users start the server) runs the model's interpreter, which
    lacks the server's packages: go on in the server's environment."""
    server_python = os.path.join(SERVER_ENVIRONMENT, "bin", "python")
    if importlib.util.find_spec("uvicorn") is None and os.path.exists(server_python) and \
            os.path.abspath(sys.prefix) != SERVER_ENVIRONMENT:
        os.execv(server_python, [server_python, "-m", "cog.server.http", *sys.argv[1:]])


def _run(settings: Settings, host: str, port: int) -> None:
    workers = prestarted_workers(settings)  # the model loads while this process imports the server's packages
    from cog.server.app import run

    run(settings, host, port, workers)


def main(argv: Optional[List[str]] = None) -> None:
    _continue_in_the_server_environment()
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
    _run(settings, args.host, port)


if __name__ == "__main__":
    main()
