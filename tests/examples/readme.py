"""The commands an example's README shows in its ```console blocks, with the output it promises for each.

    ```console
    $ cog predict -i text=world        <- a command, run in a shell in the example's directory
    hello world                        <- what it prints on standard output
    $ cog run abc2midi solo.abc        <- no output shown: not checked
    $ cog predict -i image=@in.png -o out.png
    Written output to: out.png         <- a line of what cog reports (`✓ ...`, `Written output to: ...`, `Image
                                          built as ...`): found on standard error, where cog reports
    $ cog predict -i text=             <- an `error: ...` line: the command fails with that as its last line
    error: the prediction failed: ...
    ```

A command may continue on the next line after a trailing backslash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# Lines cog prints on standard error as reports, in its own words or Cog's.
STDERR_PREFIXES = ("✓ ", "Written output to: ", "Image built as ")
_CONSOLE_BLOCK = re.compile(r"^```console\n(.*?)^```", re.MULTILINE | re.DOTALL)


@dataclass
class ShownCommand:
    command: str
    output: list[str]

    @property
    def error(self) -> str | None:
        return self.output[-1] if self.output and self.output[-1].startswith("error: ") else None

    @property
    def stderr(self) -> list[str]:
        return [line for line in self.output if line.startswith(STDERR_PREFIXES)]

    @property
    def stdout(self) -> list[str]:
        return [line for line in self.output if not line.startswith(STDERR_PREFIXES)]


def shown_commands(readme: Path) -> list[ShownCommand]:
    commands: list[ShownCommand] = []
    for block in _CONSOLE_BLOCK.findall(readme.read_text(encoding="utf-8")):
        continued = False
        for line in block.splitlines():
            if continued:
                commands[-1].command += "\n" + line
            elif line.startswith("$ "):
                commands.append(ShownCommand(line[2:], []))
            elif commands:
                commands[-1].output.append(line)
            continued = line.endswith("\\")
    return commands
