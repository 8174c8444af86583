"""How the CLI talks to people: one red line for errors, yellow for warnings, on stderr."""

from __future__ import annotations

import collections
import re
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


def debugging() -> bool:
    return bool(_options["debug"])


@cache
def stderr() -> Console:
    from rich.console import Console  # only once something is printed: a command that prints nothing never needs rich

    return Console(stderr=True, highlight=False, soft_wrap=True, no_color=not _options["color"] or None)


def error(message: str) -> None:
    _labelled("[bold red]error:[/]", message)


def warning(message: str) -> None:
    _labelled("[yellow]warning:[/]", message)


def success(message: str) -> None:
    _labelled("[bold green]✓[/]", message)


def _labelled(label: str, message: str) -> None:
    """The label styled; the message as it is, whatever brackets it holds (`[/PREFIX]`, a user's `[bold]`)."""
    from rich.markup import escape

    stderr().print(f"{label} {escape(message)}", markup=True, emoji=False)


def build_log(line: str) -> None:
    stderr().print(line, markup=False, style="dim", emoji=False, highlight=False)


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


def info(message: str) -> None:
    stderr().print(message, markup=False, emoji=False, highlight=False)


def debug(message: str) -> None:
    """Only with --debug: what cog is doing and how long it took."""
    if debugging():
        stderr().print(f"debug: {message}", markup=False, style="dim", emoji=False, highlight=False)


def container_log(line: str) -> None:
    """A line the model's container printed (setup(), predict()), passed through as it was."""
    stderr().print(line, markup=False, emoji=False, highlight=False)
