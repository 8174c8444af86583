"""cog server's web UI: the page at / and its scripts under /ui/static/ (cog/web/store.*), which read and write
through the same /v1/ API the CLI uses, nothing private. Reads are open; retry and delete ask for a token on
the page, kept in the tab's session storage only."""

from __future__ import annotations

from cog.web import page_route, static_route

ROUTES = [page_route("/", "store.html"), static_route("/ui/static")]
