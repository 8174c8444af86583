"""Reading generated Dockerfiles in tests: the text a step writes through a heredoc (`cat > FILE <<'NAME'`)."""

from __future__ import annotations

import re


def heredoc(dockerfile: str, name: str) -> str:
    """The body of heredoc NAME: its step's bodies follow the step's last line, in the order the step opens them.

    heredoc("RUN cat > a <<'A' \\\\\\n    && cat > b <<'B'\\nx\\nA\\ny\\nB\\n", "B") → "y\\n"."""
    lines = dockerfile.splitlines(keepends=True)
    opening = next(index for index, line in enumerate(lines) if f"<<'{name}'" in line)
    start = max(index for index in range(opening + 1) if lines[index].startswith("RUN "))
    end = next(index for index in range(opening, len(lines)) if not lines[index].rstrip("\n").endswith("\\"))
    cursor = end + 1
    for marker in re.findall(r"<<'(\w+)'", "".join(lines[start:end + 1])):
        closing = next(index for index in range(cursor, len(lines)) if lines[index].rstrip("\n") == marker)
        if marker == name:
            return "".join(lines[cursor:closing])
        cursor = closing + 1
    raise AssertionError(f"no heredoc {name} in the step that opens it")
