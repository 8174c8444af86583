"""uvicorn's HTTP protocol with a response's head and body sent in one write.

uvicorn writes a response's status line and headers when the app sends `http.response.start`, and its body when
the app sends `http.response.body`: two sends, two TCP segments, and a client that wakes for each. A prediction's
answer is small, so that second send is a good part of what the server itself spends on it
(benchmarks/serving.py). Here the head of a response that declares its length (its body follows at once: Starlette's
Response sends both back to back) waits for the next write and goes out with it. A streamed response (chunked, no
length) is written as uvicorn writes it, so its head reaches the client before its first event does; so is the
answer to a HEAD request, which has no body to wait for.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Optional

_REQUEST_LINE = re.compile(rb"[A-Z]+ ")  # what a request's first bytes are: its method


class HeadWithBody:
    """A transport that holds a response head with a content-length until the next write, and sends both at once;
    all else is the wrapped transport's. Closing sends what it holds first; aborting drops it, as it drops the
    transport's own buffer. `holding`: whether the response being made has a body to come (not one to HEAD)."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: Optional[bytes] = None
        self.holding = True

    def write(self, data: bytes) -> None:
        if self._head is not None:
            data, self._head = self._head + data, None
        elif self.holding and data[:5] == b"HTTP/" and b"\r\ncontent-length:" in data.lower():
            self._head = bytes(data)
            return
        self._transport.write(data)

    def close(self) -> None:
        self._send_held()
        self._transport.close()

    def write_eof(self) -> None:
        self._send_held()
        self._transport.write_eof()

    def abort(self) -> None:
        self._head = None
        self._transport.abort()

    def _send_held(self) -> None:
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

        def data_received(self, data: bytes) -> None:
            if _REQUEST_LINE.match(data):  # a request begins (the rest of one, or its body, is not looked at)
                self.head_with_body.holding = data[:5] != b"HEAD "
            super().data_received(data)

    return OneWriteProtocol
