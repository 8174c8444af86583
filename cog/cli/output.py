"""How the CLI talks to people: one red line for errors, yellow for warnings, on stderr."""

from __future__ import annotations

import collections
import os
import re
import sys
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:
    from rich.console import Console

_options = {"debug": False, "color": True}


def configure(*, debug: bool = False, color: bool = True) -> None:
    """Set once, from the command line's --debug and --no-color, before anything is printed."""
    _options.update(debug=debug, color=color)
    stderr.cache_clear()
    _plain.cache_clear()


def debugging() -> bool:
    return bool(_options["debug"])


@cache
def stderr() -> Console:
    from rich.console import Console  # only once something is printed: a command that prints nothing never needs rich

    return Console(stderr=True, highlight=False, soft_wrap=True, no_color=not _options["color"] or None)


@cache
def _plain() -> bool:
    """Whether rich would write text as it is (stderr is no terminal, and no colour is forced): then it is written
    directly. Importing rich and making its console is a twentieth of a second, a fifth of a rebuild's replay."""
    return not sys.stderr.isatty() and not os.environ.get("FORCE_COLOR") and not os.environ.get("TTY_COMPATIBLE")


def _line(text: str, style: str | None = None) -> None:
    if _plain():
        sys.stderr.write(text + "\n")
    else:
        stderr().print(text, markup=False, style=style, emoji=False, highlight=False)


def error(message: str) -> None:
    _labelled("bold red", "error:", message)


def warning(message: str) -> None:
    _labelled("yellow", "warning:", message)


def success(message: str) -> None:
    _labelled("bold green", "✓", message)


def _labelled(style: str, label: str, message: str) -> None:
    """The label styled; the message as it is, whatever brackets it holds (`[/PREFIX]`, a user's `[bold]`)."""
    if _plain():
        sys.stderr.write(f"{label} {message}\n")
        return
    from rich.markup import escape

    stderr().print(f"[{style}]{label}[/] {escape(message)}", markup=True, emoji=False)


def build_log(line: str) -> None:
    _line(line, style="dim")


_STEP = re.compile(r"^#\d+ \[(?P<stage>[^\]]+)\] (?P<step>.+)$")


@contextmanager
def build_display(live: bool) -> Iterator[Callable[[str], None]]:
    """Where build output goes: a one-line live status of the current step in a terminal, every line otherwise."""
    if not live:
        yield build_log
        return
    from rich.markup import escape

    recent: collections.deque[str] = collections.deque(maxlen=30)
    try:
        with stderr().status("Building", spinner="dots") as status:

            def show(line: str) -> None:
                recent.append(line)
                step = _STEP.match(line)
                if step:
                    status.update(f"[dim]{escape(step.group('stage'))}[/] {escape(step.group('step')[:120])}")
                elif not line.startswith("#"):
                    stderr().print(line, markup=False, emoji=False, highlight=False)

            yield show
    except BaseException:
        for line in recent:  # what the failing step printed
            build_log(line)
        raise


def built(tag: str, variant: str, platforms) -> None:
    """What `cog build` says of each image it made."""
    info(f"Image built as {tag}")  # Cog's words: scripts read them
    success(f"Built {tag} ({variant.upper()}, {', '.join(platforms)})")


def info(message: str) -> None:
    _line(message)


def debug(message: str) -> None:
    """Only with --debug: what cog is doing and how long it took."""
    if debugging():
        _line(f"debug: {message}", style="dim")


def container_log(line: str) -> None:
    """A line the model's container printed (setup(), predict()), passed through as it was."""
    _line(line)
