"""The playground: a page built in the browser from the model's /openapi.json, served by the runtime of every
image (and `cog serve`) at GET /playground, its scripts and styles under /playground/static/ (cog/web/, shipped in
the wheel; nothing is fetched from elsewhere). `proxy_app(upstream)` serves the same page for a model served
somewhere else and forwards everything else there (`cog playground URL`), so the browser talks to one origin.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from cog.web import page_route, static_route

PLAYGROUND_PATH = "/playground"
ROUTES = [page_route(PLAYGROUND_PATH, "playground.html"), static_route(f"{PLAYGROUND_PATH}/static")]


# Headers that belong to one hop, never forwarded (RFC 9110, 7.6.1).
HOP_HEADERS = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
               "transfer-encoding", "upgrade", "host", "content-length"}


def proxy_app(upstream: str) -> Starlette:
    """The playground for the model served at `upstream` (http://HOST:PORT): the page from here, the API there,
    streamed both ways (server-sent events arrive as they are sent)."""
    import httpx  # only here: the runtime serves the page without it

    client = httpx.AsyncClient(base_url=upstream.rstrip("/"), timeout=httpx.Timeout(None, connect=10))

    async def forward(request: Request) -> Response:
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_HEADERS]
        outgoing = client.build_request(request.method, request.url.path, params=request.query_params,
                                        headers=headers, content=request.stream())
        try:
            answer = await client.send(outgoing, stream=True)
        except httpx.TransportError as exc:
            return Response(f'{{"detail":"the model at {upstream} does not answer: {type(exc).__name__}"}}', 502,
                            media_type="application/json")
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
        return StreamingResponse(answer.aiter_raw(), status_code=answer.status_code, headers=kept,
                                 background=BackgroundTask(answer.aclose))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
    return Starlette(routes=[*ROUTES, Route("/{path:path}", forward, methods=methods)], lifespan=lifespan)
