"""docs/cli.md, generated from the command line itself, so that the reference cannot drift from the commands.

    python -m cog.cli.docs docs/cli.md     # write it (without a path: print it)

It walks the command tree that typer builds from cog.cli.main.app (groups such as `cog remote` recurse) and
records each command's own `--help`: usage, arguments, options, defaults, environment variables, exactly as
the command prints them. tests/test_cli_docs.py fails when the committed file differs from what this prints.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any, Iterator

import typer
from typer.testing import CliRunner

REGENERATE = "python -m cog.cli.docs docs/cli.md"
HELP_WIDTH = "100"  # the terminal width the help texts are rendered for, so that the file is the same everywhere


def cli_reference(app: typer.Typer) -> str:
    commands = list(_commands(typer.main.get_command(app), ()))
    lines = [
        "# Command line reference",
        "",
        f"<!-- Generated from the command line by `{REGENERATE}`: edit the help texts in cog/cli/, then run it. -->",
        "",
        "| command | what it does |",
        "|---|---|",
        *(f"| [`cog {' '.join(path)}`](#{_anchor(path)}) | {_first_paragraph(command)} |" for path, command in commands),
        "",
        "```",
        _help(app, ()),
        "```",
    ]
    for path, _ in commands:
        lines += ["", f"## cog {' '.join(path)}", "", "```", _help(app, path), "```"]
    return "\n".join(lines) + "\n"


def _commands(group: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, command) for every visible command below `group`, in the order --help lists them."""
    context = group.make_context("cog", list(path), resilient_parsing=True)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if command is None or command.hidden:
            continue
        yield (*path, name), command
        if hasattr(command, "list_commands"):
            yield from _commands(command, (*path, name))


def _help(app: typer.Typer, path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="cog", env={"COLUMNS": HELP_WIDTH})
    if result.exit_code != 0:
        raise RuntimeError(f"cog {' '.join(path)} --help failed: {result.output}")
    return result.output.rstrip()


def _first_paragraph(command: Any) -> str:
    text = inspect.cleandoc(command.help or command.short_help or "")
    return " ".join(text.split("\n\n")[0].split()).replace("|", "\\|")


def _anchor(path: tuple[str, ...]) -> str:
    """GitHub's anchor for the heading `cog PATH`: lowercase, spaces to dashes, other punctuation dropped."""
    return "".join(c for c in "-".join(("cog", *path)).lower() if c.isalnum() or c in "-_")


def main(argv: list[str] | None = None) -> None:
    from cog.cli.main import app

    argv = sys.argv[1:] if argv is None else argv
    text = cli_reference(app)
    if argv:
        Path(argv[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
