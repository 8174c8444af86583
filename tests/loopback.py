"""Servers on loopback that are not what the CLI expects: nothing listening, garbage, an error page, another
program's JSON, a registry that fails now and then. For tests of what the CLI says when it meets them."""

from __future__ import annotations

import http.client
import socket
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


# Hop-by-hop headers, which a proxy does not pass on (RFC 9110 7.6.1); the body's length is set anew.
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection",
               "content-length"}


@contextmanager
def failing_docker_manifests(registry: str, failures: int | None) -> Iterator[str]:
    """HOST:PORT of a proxy to `registry` (HOST:PORT) that answers 500 to the docker engine's first `failures`
    requests for a manifest (all of them when None), as registry:2 does when docker's push races itself, and passes
    every other request on. BuildKit's own pusher, which tries a manifest again by itself, is let through."""
    state = {"left": failures}
    lock = threading.Lock()
    upstream_host, upstream_port = registry.rsplit(":", 1)

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as docker and BuildKit expect of a registry

        def handle(self) -> None:
            # BuildKit tries TLS first on a loopback registry and goes over to plain HTTP when the answer starts
            # "HTTP/", as a Go server's does; Python's would not.
            if self.connection.recv(1, socket.MSG_PEEK) == b"\x16":
                self.wfile.write(b"HTTP/1.0 400 Bad Request\r\n\r\n")
                return
            super().handle()

        def _body(self) -> bytes | None:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline().strip():  # trailers, up to the blank line
                    pass
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else None

        def _fails(self) -> bool:
            if "/manifests/" not in self.path or not self.headers.get("User-Agent", "").startswith("docker/"):
                return False
            with lock:
                if state["left"] is None:
                    return True
                if state["left"] > 0:
                    state["left"] -= 1
                    return True
            return False

        def _forward(self) -> None:
            body = self._body()
            if self._fails():
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            upstream = http.client.HTTPConnection(upstream_host, int(upstream_port), timeout=120)
            try:
                # Header by header: a registry client sends Accept once per media type. Host stays the proxy's,
                # so that the registry's upload URLs lead back here.
                upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for key, value in self.headers.items():
                    if key.lower() not in _HOP_BY_HOP:
                        upstream.putheader(key, value)
                if body is not None:
                    upstream.putheader("Content-Length", str(len(body)))
                upstream.endheaders(body)
                answer = upstream.getresponse()
                content = answer.read()
                self.send_response(answer.status, answer.reason)
                for key, value in answer.getheaders():
                    if key.lower() not in _HOP_BY_HOP:
                        self.send_header(key, value)
                # HEAD answers a GET's length without its body.
                self.send_header("Content-Length", answer.getheader("Content-Length", "0") if self.command == "HEAD" else str(len(content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(content)
            finally:
                upstream.close()

        do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _forward

        def log_message(self, format: str, *args) -> None:  # quiet: pytest shows the test's own output
            pass

    with running(ThreadingHTTPServer(("127.0.0.1", 0), Proxy)) as port:
        yield f"127.0.0.1:{port}"


@contextmanager
def running(server: ThreadingHTTPServer) -> Iterator[int]:
    """The port of `server`, serving in a thread of its own until the block ends."""
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
