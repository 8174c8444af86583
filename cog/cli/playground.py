"""`cog playground URL` and `cog serve --playground`: the playground page of a model, opened in a browser.

For a model served elsewhere, the page is served here, on loopback, and everything else is forwarded to the model
(cog.server.playground.proxy_app), so the browser talks to one origin and the model needs no CORS."""

from __future__ import annotations

import threading
import time

import typer

from cog.errors import CogError

PLAYGROUND_PATH = "/playground"  # as cog.server.playground serves it; not imported: the CLI's --help stays light


def playground(
    url: str = typer.Argument(..., metavar="URL", help="http://HOST:PORT of a model's prediction server (an image, cog serve)."),
    port: int = typer.Option(8394, "-p", "--port", min=1, max=65535, help="Port on 127.0.0.1 to serve the page on."),
    open_browser: bool = typer.Option(True, "--open/--no-open", help="Open the page in a browser."),
) -> None:
    """Open the playground of a model served elsewhere, through a local reverse proxy."""
    import httpx
    import uvicorn

    from cog.cli import output
    from cog.cli.packages import _listen
    from cog.server.playground import proxy_app

    upstream = url.rstrip("/")
    if not upstream.startswith(("http://", "https://")):
        raise CogError(f"URL {url!r}: expected the http(s)://HOST:PORT of a prediction server")
    try:
        health = httpx.get(f"{upstream}/health-check", timeout=10)
        status = health.json().get("status") if health.status_code == 200 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        status = None
    if not status:
        raise CogError(f"no Cog prediction server answers at {upstream} (GET /health-check); start one with cog serve, "
                       f"or docker run -p 5000:5000 IMAGE")
    listening = _listen("127.0.0.1", port)
    page = f"http://127.0.0.1:{port}{PLAYGROUND_PATH}"
    output.info(f"Playground for {upstream} on {page} (Ctrl-C to stop)")
    if open_browser:
        open_when_up(page)
    try:
        uvicorn.Server(uvicorn.Config(proxy_app(upstream), log_level="warning", lifespan="on")).run(sockets=[listening])
    finally:
        listening.close()


def open_when_up(page: str, timeout: float = 600) -> None:
    """Open `page` in a browser once its server answers (in a thread: the caller goes on to serve)."""
    def wait_and_open() -> None:
        import webbrowser

        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(page, timeout=2).status_code < 500:
                    webbrowser.open(page)
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)

    threading.Thread(target=wait_and_open, name="cog-open-playground", daemon=True).start()


def playground_url(url: str) -> str:
    return f"{url.rstrip('/')}{PLAYGROUND_PATH}"

