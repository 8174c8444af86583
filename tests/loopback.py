"""Servers on loopback that are not what the CLI expects: nothing listening, garbage, an error page, another
program's JSON. For tests of what the CLI says when it meets them."""

from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from typing import Iterator

def _http(status: str, content_type: str, body: bytes, *headers: str) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Type: {content_type}", f"Content-Length: {len(body)}", "Connection: close", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


# What each kind of server sends back to any request, then it closes the connection.
ANSWERS = {
    "garbage": b"SSH-2.0-OpenSSH_9.2\r\n",  # another protocol on the port
    "500": _http("500 Internal Server Error", "text/plain", b"Traceback (most recent call last):\nKeyError: 'x'\n"),
    "html": _http("200 OK", "text/html", b"<html><body>Welcome to nginx!</body></html>", "Server: nginx/1.25.3"),
    "json": _http("200 OK", "application/json", b'{"hello": "world"}'),
}


def free_port() -> int:
    """A port nothing listens on (as long as nothing takes it meanwhile)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def answering(kind: str) -> Iterator[str]:
    """http://127.0.0.1:PORT of a server that answers every request with ANSWERS[kind]."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)  # so that the loop sees `stopping` soon
    stopping = threading.Event()

    def serve() -> None:
        while not stopping.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with connection:
                connection.settimeout(5)
                try:
                    request = b""
                    while b"\r\n\r\n" not in request:
                        chunk = connection.recv(65536)
                        if not chunk:
                            break
                        request += chunk
                    connection.sendall(ANSWERS[kind])
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stopping.set()
        thread.join(5)
        listener.close()
