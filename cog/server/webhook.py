"""Webhook delivery for one prediction: start/completed at once, output/logs throttled, completed retried."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, FrozenSet, Optional

from cog.server import tracing

if TYPE_CHECKING:  # imported once a webhook is sent: a server whose requests name none never loads it
    import httpx

log = logging.getLogger("cog.server")

EVENTS = ("start", "output", "logs", "completed")
THROTTLE_SECONDS = 0.5
# Delays before each retry of the terminal event: about 30 s in all, then the event is dropped.
RETRY_DELAYS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0)


class WebhookSender:
    def __init__(
        self,
        url: str,
        events: FrozenSet[str],
        snapshot: Callable[[], Dict[str, Any]],
        client: httpx.AsyncClient,
        auth_token: Optional[str],
        retry_delays: "tuple[float, ...]" = RETRY_DELAYS,
        span: Optional[tracing.Span] = None,
    ) -> None:
        self._url = url
        self._events = events
        self._snapshot = snapshot
        self._client = client
        self._headers = {"Authorization": f"Bearer {auth_token}"} if auth_token else {}
        self._retry_delays = retry_delays
        self._span = span or tracing.Span({})  # the job's: each delivery is a child, and says so in its headers
        self._lock = asyncio.Lock()  # one request at a time, so the receiver sees states in order
        self._last_sent = 0.0
        self._scheduled: Optional[asyncio.TimerHandle] = None
        self._tasks: "set[asyncio.Task[None]]" = set()

    def start(self) -> None:
        if "start" in self._events:
            self._spawn(self._send_once(self._snapshot()))  # the state as it starts, not as it is when sent

    def progress(self, event: str) -> None:
        """An output item or a log line arrived: send now, or once the throttle interval has passed."""
        if event not in self._events or self._scheduled is not None:
            return
        wait = self._last_sent + THROTTLE_SECONDS - time.monotonic()
        if wait <= 0:
            self._last_sent = time.monotonic()
            self._spawn(self._send_once())
        else:
            self._scheduled = asyncio.get_running_loop().call_later(wait, self._send_scheduled)

    def _send_scheduled(self) -> None:
        self._scheduled = None
        self._last_sent = time.monotonic()
        self._spawn(self._send_once())

    async def completed(self) -> None:
        """Send the terminal state (retrying with backoff) after any request already under way."""
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if "completed" not in self._events:
            return
        import httpx  # for its errors; our client is one of its own

        async with self._lock:
            body = self._snapshot()
            for delay in self._retry_delays + (None,):
                try:
                    response = await self._post(body)
                    if response.status_code < 500:
                        return
                    reason = f"status {response.status_code}"
                except httpx.HTTPError as exc:
                    reason = str(exc) or type(exc).__name__
                if delay is None:
                    log.warning("webhook %s: giving up on the completed event: %s", self._url, reason)
                    return
                await asyncio.sleep(delay)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_once(self, body: Optional[Dict[str, Any]] = None) -> None:
        import httpx  # for its errors; our client is one of its own

        async with self._lock:
            try:
                await self._post(body or self._snapshot())
            except httpx.HTTPError as exc:
                log.warning("webhook %s: %s", self._url, exc)

    async def _post(self, body: Dict[str, Any]) -> httpx.Response:
        with self._span.child("webhook") as span:
            response = await self._client.post(self._url, json=body, headers={**self._headers, **span.headers()})
            if response.status_code >= 500:  # retried: this delivery failed
                span.fail(f"status {response.status_code}")
            return response
