"""How the CLI talks to people: one red line for errors, yellow for warnings, on stderr."""

from __future__ import annotations

from functools import cache

from rich.console import Console


@cache
def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def error(message: str) -> None:
    stderr().print(f"[bold red]error:[/] {message}", markup=True, emoji=False)


def warning(message: str) -> None:
    stderr().print(f"[yellow]warning:[/] {message}", markup=True, emoji=False)


def success(message: str) -> None:
    stderr().print(f"[bold green]✓[/] {message}", markup=True, emoji=False)


def build_log(line: str) -> None:
    stderr().print(line, markup=False, style="dim", emoji=False, highlight=False)


def info(message: str) -> None:
    stderr().print(message, markup=False, emoji=False, highlight=False)
