"""uvicorn's HTTP protocol with a response's head and body sent in one write.

uvicorn writes a response's status line and headers when the app sends `http.response.start`, and its body when
the app sends `http.response.body`: two sends, two TCP segments, and a client that wakes for each. A prediction's
answer is small, so that second send is a good part of what the server itself spends on it
(benchmarks/serving.py). Here the head of a response that declares its length (its body follows at once: Starlette's
Response sends both back to back) waits for the next write and goes out with it. A streamed response (chunked, no
length) is written as uvicorn writes it, so its head reaches the client before its first event does. A head still
held when its response is complete (the answer to a HEAD request has no body) goes out then.
"""

from __future__ import annotations

import asyncio
from typing import Any, Iterable, Optional


class HeadWithBody:
    """A transport that holds a response head with a content-length until the next write, and sends both at once;
    all else is the wrapped transport's. `send_held()` (at the end of each response), closing and EOF send what it
    holds first; aborting drops it, as it drops the transport's own buffer."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: Optional[bytes] = None

    def write(self, data: bytes) -> None:
        if self._head is not None:
            data, self._head = self._head + data, None
        elif data[:5] == b"HTTP/" and b"\r\ncontent-length:" in data.lower():
            self._head = bytes(data)
            return
        self._transport.write(data)

    def writelines(self, lines: Iterable[bytes]) -> None:
        self.write(b"".join(lines))

    def close(self) -> None:
        self.send_held()
        self._transport.close()

    def write_eof(self) -> None:
        self.send_held()
        self._transport.write_eof()

    def abort(self) -> None:
        self._head = None
        self._transport.abort()

    def send_held(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            self._transport.write(head)

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, pause_reading, ...
        return getattr(self._transport, name)


def http_protocol() -> type:
    """The HTTP protocol uvicorn would pick (httptools' parser when installed, else h11's), writing through
    HeadWithBody."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as Protocol
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol as Protocol

    class OneWriteProtocol(Protocol):  # type: ignore[misc, valid-type]
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            self.head_with_body = HeadWithBody(transport)
            super().connection_made(self.head_with_body)

        def on_response_complete(self) -> None:  # uvicorn's cycle calls it as the response's last step
            self.head_with_body.send_held()
            super().on_response_complete()

    return OneWriteProtocol
