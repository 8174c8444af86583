"""Shutting down without dropping work, as orchestrators stop a container: SIGTERM, a grace period, SIGKILL.

On SIGTERM (or SIGINT, or POST /shutdown) the server drains: new predictions are refused (503 with
Retry-After, so a load balancer or client sends them elsewhere) and /readyz answers 503, while the predictions
in flight (running or queued) finish, for up to COG_SHUTDOWN_GRACE_SECONDS (default 30). Those still unfinished
then are canceled and reported canceled (their webhooks sent), for which they get CANCEL_WAIT seconds more;
then the server stops and exits 0. A second signal stops it at once.

With --await-explicit-shutdown (Cog's flag) SIGTERM is ignored and only POST /shutdown (or SIGINT) drains:
for platforms that send SIGTERM to containers they still expect to answer.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from types import FrameType
from typing import Any, List, Optional

import uvicorn

from cog.server.runner import Job, Runtime

log = logging.getLogger("cog.server")

CANCEL_WAIT = 5.0  # after the grace: seconds the canceled predictions get to report and send their webhooks


async def _wait_done(jobs: List[Job], timeout: float) -> None:
    waiters = [asyncio.ensure_future(job.done.wait()) for job in jobs]
    if not waiters:
        return
    _, late = await asyncio.wait(waiters, timeout=timeout)
    for waiter in late:
        waiter.cancel()


async def drain(runtime: Runtime, grace: float) -> None:
    """Refuse new jobs, give those in flight `grace` seconds, cancel what is left and wait for it to report."""
    runtime.draining = True
    in_flight = runtime.in_flight()
    log.info("shutting down: %d prediction(s) in flight, %g seconds to finish", len(in_flight), grace)
    await _wait_done(list(runtime.jobs.values()), grace)
    unfinished = runtime.in_flight()
    if unfinished:
        log.warning("canceling %d prediction(s) still running after %g seconds", len(unfinished), grace)
        for job in unfinished:
            runtime.cancel(job.id)
    await _wait_done(list(runtime.jobs.values()), CANCEL_WAIT)


class DrainingServer(uvicorn.Server):
    """uvicorn's server, with SIGTERM and SIGINT draining first (see the module's docstring)."""

    def __init__(self, config: uvicorn.Config, app: Any, grace: float, await_explicit_shutdown: bool) -> None:
        super().__init__(config)
        self.app = app
        self.grace = grace
        self.await_explicit_shutdown = await_explicit_shutdown
        self._drain: Optional["asyncio.Task[None]"] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    async def serve(self, sockets: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: Optional[FrameType]) -> None:
        if sig == signal.SIGTERM and self.await_explicit_shutdown:
            log.info("SIGTERM ignored (--await-explicit-shutdown): POST /shutdown stops the server")
            return
        if self._drain is None and self._loop is not None and not self.should_exit:
            self._loop.call_soon_threadsafe(self.begin_drain)
            return
        super().handle_exit(sig, frame)  # a second signal: uvicorn's own way out, at once

    def begin_drain(self) -> None:
        """Drain, then stop; in the server's loop (POST /shutdown calls this too). Once only."""
        if self._drain is None:
            self._drain = asyncio.ensure_future(self._drain_then_stop())

    async def _drain_then_stop(self) -> None:
        runtime: Optional[Runtime] = getattr(self.app.state, "runtime", None)
        try:
            if runtime is not None:
                await drain(runtime, self.grace)
        finally:
            self.should_exit = True
