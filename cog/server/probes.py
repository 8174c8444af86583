"""What the probes answer: GET /livez and GET /readyz (Kubernetes' names), besides Cog's /health-check.

    /livez   200 while the server and its supervisor live, whatever the model does; 503 once the worker is
             DEFUNCT (it crashed more times in a row than COG_MAX_WORKER_RESTARTS allows): restart the container.
    /readyz  200 when a prediction sent now would run (READY, or BUSY: it queues); 503 while setup runs
             (STARTING, also while a crashed worker is set up again), after SETUP_FAILED or DEFUNCT, while the
             predictor's own healthcheck() fails (UNHEALTHY), and while the server drains for shutdown.

Both answer `{"status": HEALTH}` (the /health-check status, or DRAINING) and, when not OK, `detail`: why. They
read the runtime's state and nothing else, so a probe costs no more than a dictionary lookup.
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

from cog.sdk.protocol import Health
from cog.server.runner import Runtime

Answer = Tuple[int, Dict[str, Any]]

_NOT_READY = {
    Health.STARTING: "setup is running",
    Health.SETUP_FAILED: "setup failed; GET /health-check shows its logs",
    Health.DEFUNCT: "the model's process crashed repeatedly and is not restarted again",
}


def liveness(runtime: Runtime) -> Answer:
    if runtime.status == Health.DEFUNCT:
        return 503, {"status": str(Health.DEFUNCT), "detail": _NOT_READY[Health.DEFUNCT]}
    return 200, {"status": str(runtime.health)}


def readiness(runtime: Runtime) -> Answer:
    if runtime.draining:
        return 503, {"status": "DRAINING", "detail": "the server is shutting down"}
    health = runtime.health
    if health in (Health.READY, Health.BUSY):
        return 200, {"status": str(health)}
    if health == Health.UNHEALTHY:
        return 503, {"status": str(health), "detail": runtime.healthcheck_error}
    return 503, {"status": str(health), "detail": _NOT_READY[health]}
