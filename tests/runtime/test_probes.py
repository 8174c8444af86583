"""GET /livez and /readyz through a model's life, and the predictor's own healthcheck() (Cog's API) behind them
and /health-check. In process where the model's process does not matter; real processes for crashes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import Server, wait_until

QUICK_CHECKS = {"healthcheck_interval": 0.05, "healthcheck_timeout": 0.5}


def probes(server: Server) -> tuple:
    live, ready = server.client.get("/livez"), server.client.get("/readyz")
    return live.status_code, ready.status_code, ready.json()


def test_while_setup_runs_the_server_is_live_but_not_ready(serve: Any, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    gate = tmp_path / "gate"
    monkeypatch.setenv("COG_TEST_GATE", str(gate))
    server = serve("slow_setup.py:Gated", wait=None)
    assert probes(server) == (200, 503, {"status": "STARTING", "detail": "setup is running"})
    gate.touch()
    server.wait_for("READY")
    assert probes(server) == (200, 200, {"status": "READY"})


def test_a_failed_setup_is_live_but_never_ready(serve: Any) -> None:
    server = serve("broken_setup.py:Predictor", wait="SETUP_FAILED")
    live, ready, body = probes(server)
    assert (live, ready, body["status"]) == (200, 503, "SETUP_FAILED")
    assert "setup failed" in body["detail"]


@pytest.mark.parametrize("ref", ["healthcheck.py:Predictor", "healthcheck.py:AsyncPredictor"])
@pytest.mark.parametrize("state, error", [
    pytest.param("false", "healthcheck() returned False", id="returns False"),
    pytest.param("raise", "healthcheck() raised RuntimeError: the GPU is gone", id="raises"),
    pytest.param("hang", "healthcheck() did not return within 0.5 seconds", id="outlives its timeout"),
])
def test_a_failing_healthcheck_makes_the_model_unhealthy_until_it_passes_again(serve: Any, ref: str, state: str,
                                                                              error: str) -> None:
    server = serve(ref, **QUICK_CHECKS)
    assert server.predict(state=state)["output"] == state
    health = server.wait_for("UNHEALTHY")
    assert health["user_healthcheck_error"] == error
    assert probes(server) == (200, 503, {"status": "UNHEALTHY", "detail": error})
    assert server.predict(state="healthy")["status"] == "succeeded"  # an unhealthy model still runs predictions
    health = server.wait_for("READY", timeout=10)
    assert "user_healthcheck_error" not in health
    assert probes(server)[:2] == (200, 200)


def test_a_predictor_without_healthcheck_is_never_asked(serve: Any) -> None:
    server = serve("hello.py:Predictor", **QUICK_CHECKS)
    assert server.predict(text="x")["status"] == "succeeded"
    assert server.health()["status"] == "READY" and probes(server)[:2] == (200, 200)


def test_a_worker_that_keeps_crashing_fails_liveness_and_counts_its_restarts(start_server: Any) -> None:
    server = start_server("failures.py:Predictor", COG_MAX_WORKER_RESTARTS="1")
    assert server.predict(mode="exit")["status"] == "failed"
    server.wait_for("READY")  # restarted once, setup run again
    assert probes(server)[:2] == (200, 200)
    assert server.predict(mode="exit")["status"] == "failed"
    server.wait_for("DEFUNCT")
    live, ready, body = probes(server)
    assert (live, ready, body["status"]) == (503, 503, "DEFUNCT")
    assert server.client.get("/livez").json()["detail"].startswith("the model's process crashed repeatedly")


def test_the_worker_restarts_are_counted_for_metrics(serve: Any) -> None:
    server = serve("hello.py:Predictor")
    runtime = server.server.config.app.state.runtime

    def restarts() -> str:
        return next(line for line in server.client.get("/metrics").text.splitlines()
                    if line.startswith("cog_worker_restarts_total "))

    assert restarts() == "cog_worker_restarts_total 0.0"
    runtime.worker.kill()  # the in-process worker's end, as a crash
    wait_until(lambda: restarts() == "cog_worker_restarts_total 1.0", what="a restart")
    server.wait_for("READY")
    assert server.predict(text="again")["output"] == "hello again"
