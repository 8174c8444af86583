"""The prediction server's error answers and JSON bodies, shared by Cog's API (cog.server.app) and the
platforms' routes (cog.server.platforms): every error is a RequestError raised by a handler and rendered by
the app's one exception handler, `error_response`."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response


class RequestError(Exception):
    """A client mistake: answered with `status` and a one-line message naming the field."""

    def __init__(self, status: int, message: str, loc: Optional[List[str]] = None,
                 headers: Optional[Dict[str, str]] = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.loc = loc
        self.headers = headers


# Made once: json.dumps with options makes an encoder on every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def json_response(data: Any, status: int = 200, headers: Optional[Dict[str, str]] = None) -> Response:
    body = _ENCODER.encode(data).encode()
    return Response(body, status_code=status, headers=headers, media_type="application/json")


async def error_response(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException):  # Starlette's own (no route, wrong method): {"detail": ...}, as FastAPI's
        return json_response({"detail": exc.detail}, exc.status_code, exc.headers)
    assert isinstance(exc, RequestError)
    if exc.loc is not None:  # the shape FastAPI (and so Cog) gives validation errors
        detail: Any = [{"loc": exc.loc, "msg": exc.message, "type": "value_error"}]
    else:
        detail = exc.message
    return json_response({"detail": detail}, exc.status, exc.headers)


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise RequestError(413, f"the request body is larger than the limit of {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestError(413, f"the request body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(body: bytes) -> Any:
    """A request body as JSON (an empty one is {}); a body that is not JSON, or nests too deeply for the decoder,
    is a 422."""
    try:
        return json.loads(body) if body else {}
    except ValueError as exc:
        raise RequestError(422, f"the request body is not valid JSON: {exc}", ["body"]) from None
    except RecursionError:
        raise RequestError(422, "the request body nests arrays and objects too deeply to be read", ["body"]) from None
