"""The runtime's settings: the environment's variables (documented in cog.server.http), then the caller's
overrides, then the project's cog.yaml for what neither says. Standard library only (and cog.server.project), so
that `python -m cog.server.http` knows which model to start before it imports the server's packages."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

from cog.errors import CogError
from cog.server.project import read_project


@dataclass
class Settings:
    predict_ref: str
    train_ref: Optional[str] = None
    project_dir: str = "."
    max_concurrency: int = 1
    worker_python: str = sys.executable
    setup_timeout: Optional[float] = None
    upload_url: Optional[str] = None
    webhook_auth_token: Optional[str] = None
    queue_size: int = 64  # jobs that may wait for a slot before the server answers 409
    max_body_bytes: int = 64 << 20
    max_input_file_bytes: int = 1 << 30
    # Restarts after crashes in a row (each without a job succeeding in between) before DEFUNCT.
    max_restarts: int = 3
    # SIGTERM: seconds in-flight jobs may take to finish before they are canceled (Kubernetes' default grace).
    shutdown_grace: float = 30.0
    await_explicit_shutdown: bool = False  # ignore SIGTERM; only POST /shutdown stops the server (Cog's flag)
    # Finished jobs GET /predictions/{id} still answers for: the last `retention_count`, for `retention_seconds`.
    retention_seconds: float = 600.0
    retention_count: int = 100
    healthcheck_interval: float = 10.0  # seconds between calls of the predictor's healthcheck(), when it has one
    healthcheck_timeout: float = 5.0
    # Busy-polling, for fast models (0: never). After a job that ran alone with none queued, the worker waits
    # this many seconds awake for its next command (cog.sdk.worker); and when the model's last answer came
    # within it, the server waits awake for the answer (WorkerProcess.busy_wait). Waking a sleeping process costs
    # its CPU's wake-up, in a VM an interrupt and a hypervisor exit each: most of a trivial prediction's hop.
    busy_poll: float = 0.002
    # Platform routes: SageMaker's /ping and /invocations (`serve`), Vertex AI's health and predict routes.
    sagemaker: bool = False
    vertex_health_route: Optional[str] = None
    vertex_predict_route: Optional[str] = None

    @classmethod
    def from_env(cls, **overrides: Any) -> "Settings":
        """The environment's settings, then `overrides` (those not None). Without a predictor from either
        (COG_PREDICT, or Cog's COG_PREDICT_TYPE_STUB), the project's cog.yaml names it, and its `train:` and
        `concurrency.max` fill what the environment leaves out; without a cog.yaml, predict.py:Predictor.
        Raises ProjectError (one line) for a cog.yaml that names no predictor."""
        env = os.environ
        predict_ref = overrides.get("predict_ref") or env.get("COG_PREDICT") or env.get("COG_PREDICT_TYPE_STUB")
        train_ref = env.get("COG_TRAIN") or env.get("COG_TRAIN_TYPE_STUB") or None
        max_concurrency = _env_number("COG_MAX_CONCURRENCY", None, int, minimum=1)
        if not predict_ref:
            project = read_project(overrides.get("project_dir") or os.getcwd())  # PyYAML's import only here
            if project is not None:
                predict_ref = project.predict_ref
                train_ref = train_ref or project.train_ref
                if max_concurrency is None:
                    max_concurrency = project.max_concurrency
        values: Dict[str, Any] = {
            "predict_ref": predict_ref or "predict.py:Predictor",
            "train_ref": train_ref,
            "max_concurrency": max_concurrency or 1,
            "worker_python": env.get("COG_WORKER_PYTHON") or sys.executable,
            "setup_timeout": _env_number("COG_SETUP_TIMEOUT", None),
            "webhook_auth_token": env.get("WEBHOOK_AUTH_TOKEN") or None,
            "queue_size": _env_number("COG_QUEUE_SIZE", cls.queue_size, int),
            "max_body_bytes": _env_number("COG_MAX_REQUEST_BYTES", cls.max_body_bytes, int),
            "max_input_file_bytes": _env_number("COG_MAX_INPUT_FILE_BYTES", cls.max_input_file_bytes, int),
            "max_restarts": _env_number("COG_MAX_WORKER_RESTARTS", cls.max_restarts, int),
            "shutdown_grace": _env_number("COG_SHUTDOWN_GRACE_SECONDS", cls.shutdown_grace),
            "retention_seconds": _env_number("COG_PREDICTION_RETENTION_SECONDS", cls.retention_seconds),
            "retention_count": _env_number("COG_PREDICTION_RETENTION_COUNT", cls.retention_count, int),
            "healthcheck_interval": _env_number("COG_HEALTHCHECK_INTERVAL", cls.healthcheck_interval),
            "healthcheck_timeout": _env_number("COG_HEALTHCHECK_TIMEOUT", cls.healthcheck_timeout),
            "busy_poll": _env_number("COG_BUSY_POLL_SECONDS", cls.busy_poll),
            "vertex_health_route": _env_route("AIP_HEALTH_ROUTE"),
            "vertex_predict_route": _env_route("AIP_PREDICT_ROUTE"),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


class SettingsError(CogError):
    """A variable of the server's environment has a value it cannot use; the message names it."""


def _env_number(name: str, default: Any, kind: Callable[[str], Any] = float, minimum: int = 0) -> Any:
    """The environment's value of `name`, a number ≥ `minimum`: COG_SHUTDOWN_GRACE_SECONDS=10 → 10.0; unset:
    `default`."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = minimum - 1
    if not value >= minimum:  # NaN too
        noun = "a whole number" if kind is int else "a number of seconds"
        raise SettingsError(f"{name}={text} is not {noun} ({minimum} or more)")
    return value


def _env_route(name: str) -> Optional[str]:
    """A path the platform asks for (Vertex AI's AIP_PREDICT_ROUTE=/v1/endpoints/1/deployedModels/2:predict)."""
    route = os.environ.get(name, "").strip()
    if route and not route.startswith("/"):
        raise SettingsError(f"{name}={route} is not a path; it must start with /")
    return route or None
