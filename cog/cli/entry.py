"""`cog`: a `cog build` that the recipe of its last full build can replay is replayed here, before the command line
is read (cog.images.recipe: a rebuild after a code edit pays for BuildKit, not for cog's start); every other command
goes to the command line (cog.cli.main)."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["build"]:
        from cog.images.recipe import replay

        try:
            if replay(sys.argv[1:]):
                return
        except KeyboardInterrupt:
            raise SystemExit(130) from None
    from cog.cli.main import main as command_line

    command_line()
