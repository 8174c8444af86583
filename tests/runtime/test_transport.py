"""cog.server.transport: uvicorn's protocol sends a response's head and body in one write, and a streamed response's
head at once. A real uvicorn server on loopback serves a Starlette app to a real client; what reaches the socket's
transport is recorded under HeadWithBody."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import List

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from cog.server.transport import HeadWithBody, http_protocol
from tests.runtime.conftest import wait_until


class Recorder:
    """The socket's transport, with each write recorded."""

    def __init__(self, transport: asyncio.Transport, writes: List[bytes]) -> None:
        self._transport, self.writes = transport, writes

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str):
        return getattr(self._transport, name)


async def _plain(request):
    return PlainTextResponse("hello " + request.query_params.get("text", ""))


async def _empty(request):
    return Response(status_code=204)


async def _stream(request):
    async def events():
        yield "event: start\n\n"
        await asyncio.sleep(0.3)
        yield "event: completed\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


@pytest.fixture
def served():
    """(url, writes): the app served by uvicorn through http_protocol(), each connection's writes recorded."""
    writes: List[bytes] = []

    class Recorded(http_protocol()):  # http_protocol()'s own connection_made puts HeadWithBody over the recorder
        def connection_made(self, transport):
            super().connection_made(Recorder(transport, writes))

    app = Starlette(routes=[Route("/plain", _plain, methods=["GET", "HEAD"]), Route("/empty", _empty),
                            Route("/stream", _stream)])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, http=Recorded, log_level="error",
                            lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), what="uvicorn's start")
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", writes
    server.should_exit = True
    thread.join(10)


def test_a_response_with_a_length_goes_out_in_one_write(served):
    url, writes = served
    with httpx.Client() as client:  # one keep-alive connection, three requests
        for text in ("a", "b", "c"):
            response = client.get(f"{url}/plain", params={"text": text})
            assert response.status_code == 200 and response.text == f"hello {text}"
        started = time.monotonic()
        assert client.head(f"{url}/plain").headers["content-length"] == "6"
        assert time.monotonic() - started < 2  # not held until the connection closes
        assert client.get(f"{url}/empty").status_code == 204
    sent = [write for write in writes if write]  # an empty write sends nothing
    assert len(sent) == 5  # a HEAD's answer has no body: its head went at its end (else the client would wait)
    assert all(write.startswith(b"HTTP/1.1 200 OK\r\n") for write in sent[:4])
    assert [write.rpartition(b"\r\n\r\n")[2] for write in sent[:4]] == [b"hello a", b"hello b", b"hello c", b""]
    assert sent[4].startswith(b"HTTP/1.1 204 No Content\r\n")


def test_pipelined_requests_with_a_head_among_them_are_answered_at_once(served):
    url, _ = served
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        started = time.monotonic()
        # One packet: a GET, then (after an empty line, which a client may send between requests) a HEAD, which no
        # write follows.
        connection.sendall(b"GET /plain?text=a HTTP/1.1\r\nHost: x\r\n\r\n\r\nHEAD /plain HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while received.count(b"HTTP/1.1 200 OK") < 2:
            chunk = connection.recv(65536)
            assert chunk, received
            received += chunk
        assert time.monotonic() - started < 2, "a held head waited for the connection to close"
    assert received.count(b"hello a") == 1


def test_a_streamed_response_sends_its_head_before_its_first_event(served):
    url, writes = served
    with httpx.stream("GET", f"{url}/stream") as response:
        arrived = time.monotonic()
        assert response.headers["content-type"].startswith("text/event-stream")
        body = b"".join(response.iter_bytes())
        assert time.monotonic() - arrived >= 0.25  # the head came before the last event was made
    assert body == b"event: start\n\nevent: completed\n\n"
    assert writes[0].startswith(b"HTTP/1.1 200 OK\r\n") and writes[0].endswith(b"\r\n\r\n")
    assert len(writes) >= 3


class _Transport:
    def __init__(self) -> None:
        self.writes: List[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True


def test_a_held_head_is_sent_on_close_and_dropped_on_abort():
    transport = _Transport()
    held = HeadWithBody(transport)  # type: ignore[arg-type]
    held.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
    assert transport.writes == []
    held.close()
    assert transport.writes == [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"] and transport.closed
    transport = _Transport()
    held = HeadWithBody(transport)  # type: ignore[arg-type]
    held.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    held.abort()
    assert transport.writes == [] and transport.aborted
