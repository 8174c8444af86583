"""httpx's errors in our words: what went wrong talking to a server, said without the library's text.

`http_failure(exc)` → "connection refused: nothing listens on that port", "no such host", "no answer within 5 s", ...
for any error httpx raises (its HTTPError family, and InvalidURL, which is not one of them). The caller says
which server and what to do; this says only what happened.
"""

from __future__ import annotations

import errno
import socket
import ssl
from typing import Iterator

import httpx

# Every error an httpx request can raise: InvalidURL and CookieConflict are not HTTPErrors, and a host name that
# IDNA cannot encode (a label over 63 characters) is a bare UnicodeError.
HTTPX_ERRORS = (httpx.HTTPError, httpx.InvalidURL, httpx.CookieConflict, UnicodeError)

_BY_ERRNO = {
    errno.ECONNREFUSED: "connection refused: nothing listens on that port",
    errno.ECONNRESET: "the connection was reset",
    errno.EHOSTUNREACH: "the host is unreachable",
    errno.ENETUNREACH: "the network is unreachable",
    errno.ETIMEDOUT: "no answer (timed out)",
    errno.EADDRNOTAVAIL: "the address is not available",
    errno.EPIPE: "the connection was closed",
}


def http_failure(exc: BaseException) -> str:
    """What went wrong, in a few words, for an httpx error (or anything it wraps)."""
    if isinstance(exc, httpx.InvalidURL):
        return "not a valid URL"
    if isinstance(exc, UnicodeError):
        return "not a valid host name"
    if isinstance(exc, httpx.UnsupportedProtocol):
        return "not an http:// or https:// URL"
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects"
    if isinstance(exc, httpx.DecodingError):
        return "its answer could not be decoded"
    for cause in _causes(exc):
        if isinstance(cause, socket.gaierror):
            return "no such host"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return "its TLS certificate is not trusted here"
        if isinstance(cause, ssl.SSLError):
            return "the TLS handshake failed (does it speak https?)" if "WRONG_VERSION" in str(cause) else "a TLS error"
        if isinstance(cause, OSError) and cause.errno in _BY_ERRNO:
            return _BY_ERRNO[cause.errno]
    text = " ".join(str(cause) for cause in _causes(exc)).lower()
    if "name or service not known" in text or "nodename nor servname" in text or "name resolution" in text:
        return "no such host"
    if "connection refused" in text:
        return _BY_ERRNO[errno.ECONNREFUSED]
    if isinstance(exc, httpx.ConnectTimeout):
        return "no answer (timed out connecting)"
    if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout)):
        return "it stopped answering (timed out)"
    if isinstance(exc, httpx.RemoteProtocolError):
        if "without sending" in text or "disconnected" in text:
            return "it closed the connection without an HTTP answer"
        return "its answer is not HTTP"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect"
    if isinstance(exc, (httpx.ReadError, httpx.WriteError, httpx.NetworkError)):
        return "the connection broke"
    if isinstance(exc, httpx.ProxyError):
        return "the proxy refused the request"
    return "the request failed"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def describe_answer(answer: httpx.Response) -> str:
    """What a server we did not expect answered, without its text: "HTTP 404 with text/html, from nginx"."""
    kind = answer.headers.get("content-type", "").split(";")[0].strip()
    said = f"HTTP {answer.status_code} with {kind}" if kind and answer.content else f"HTTP {answer.status_code}"
    server = answer.headers.get("server", "").strip()
    return f"{said}, from {server[:60]}" if server else said
