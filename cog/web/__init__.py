"""The web pages cog serves: the playground (cog.server.playground) and cog server's UI (cog.packages.ui).

Plain HTML, CSS and JavaScript in this folder, shipped in the wheel and in every image: no build step, nothing
fetched from elsewhere. Served from memory, with a Content-Security-Policy under which no inline script runs, so
markup that a model or a package slipped into a page could not execute even if it were ever parsed.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Dict, Tuple

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

WEB_DIR = Path(__file__).resolve().parent
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self' data:; "
                               "img-src 'self' data: blob: http: https:; media-src 'self' data: blob: http: https:; "
                               "object-src 'none'; base-uri 'none'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".html": "text/html; charset=utf-8"}


@cache
def assets() -> Dict[str, Tuple[bytes, str]]:
    """This folder's files by name, with their content types: read once."""
    return {path.name: (path.read_bytes(), CONTENT_TYPES[path.suffix])
            for path in sorted(WEB_DIR.iterdir()) if path.suffix in CONTENT_TYPES}


def page(name: str) -> Response:
    body, content_type = assets()[name]
    return Response(body, media_type=content_type, headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})


def page_route(path: str, name: str) -> Route:
    async def endpoint(request: Request) -> Response:
        return page(name)

    return Route(path, endpoint, methods=["GET"])


def static_route(prefix: str) -> Route:
    """PREFIX/NAME: the scripts and styles of this folder (the pages themselves only at their own routes)."""
    async def endpoint(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in assets() or name.endswith(".html"):
            return Response(f'{{"detail":"no file {name!r} under {prefix}"}}', 404, media_type="application/json")
        return page(name)

    return Route(f"{prefix}/{{name}}", endpoint, methods=["GET"])
