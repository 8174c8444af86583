"""docs/cli.md is generated from the command line (cog.cli.docs); these tests keep the committed file current."""

from __future__ import annotations

from pathlib import Path

import typer

from cog.cli.docs import REGENERATE, cli_reference
from cog.cli.main import app

CLI_MD = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def test_docs_cli_md_is_current():
    assert CLI_MD.read_text(encoding="utf-8") == cli_reference(app), f"docs/cli.md is stale: run `{REGENERATE}`"


def test_every_command_has_a_section():
    text = CLI_MD.read_text(encoding="utf-8")
    for name in typer.main.get_command(app).list_commands(None):
        assert f"\n## cog {name}\n" in text and f"Usage: cog {name} " in text


def test_groups_of_commands_are_walked():
    toy = typer.Typer(add_completion=False, rich_markup_mode=None)
    remote = typer.Typer(help="Manage remotes.")
    toy.add_typer(remote, name="remote")

    @toy.command()
    def build(tag: str = typer.Option("latest", "--tag", help="The tag.")) -> None:
        """Build it."""

    @remote.command("set")
    def set_remote(url: str = typer.Argument(..., help="The server's URL.")) -> None:
        """Point at a server."""

    text = cli_reference(toy)
    assert "| [`cog remote set`](#cog-remote-set) | Point at a server. |" in text
    assert "\n## cog remote\n" in text and "\n## cog remote set\n" in text
    assert "Usage: cog remote set [OPTIONS]" in text and "The server's URL." in text
    assert "[default: latest]" in text
