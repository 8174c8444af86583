"""TOML files that cog.yaml names (pyproject.toml, uv.lock, pylock.toml), read with the standard library's tomllib,
and where things are in them: tomllib gives values without positions, so lines are found in the text."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cog.errors import ConfigError, Location

_TOMLLIB_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOMLLIB_END = re.compile(r"\s*\(at end of document\)\s*$")


def _tomllib():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise ConfigError("reading TOML files on Python 3.10 needs tomli: pip install tomli") from None
    return tomllib


@dataclass(frozen=True)
class TomlFile:
    """A parsed TOML file: its data, its text (for locating values) and the name it is shown by."""

    display: str
    text: str
    data: dict[str, Any]

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    def at(self, line: int | None = None, column: int | None = None) -> Location:
        return Location(self.display, line, column)

    def table_line(self, *names: str, array: bool = False) -> int | None:
        """The line of a `[a.b]` header (or `[[a.b]]` with array=True), 1-based; None when written otherwise."""
        key = r"\s*\.\s*".join(_key_pattern(name) for name in names)
        pattern = re.compile(rf"^\s*\[\[\s*{key}\s*\]\]" if array else rf"^\s*\[\s*{key}\s*\]")
        for number, line in enumerate(self.lines, start=1):
            if pattern.match(line):
                return number
        return None

    def key_line(self, key: str, start: int | None, *, within_table: bool = True) -> int | None:
        """The line of `key = ...` at or after line `start` (a table's header), before the next table header."""
        pattern = re.compile(rf"^\s*{_key_pattern(key)}\s*=")
        lines = self.lines
        first = start or 1
        for number in range(first, len(lines) + 1):
            line = lines[number - 1]
            if number > first and within_table and line.lstrip().startswith("["):
                return None
            if pattern.match(line):
                return number
        return None

    def string_positions(self, values: list[str], start: int | None) -> list[Location]:
        """Where each string of an array is written, in order, searching from line `start`; the array's own line
        when a value cannot be found as written (an escape tomllib decoded, say)."""
        lines = self.lines
        found: list[Location] = []
        line_number, column = (start or 1), 0
        for value in values:
            spellings = [json.dumps(value), f"'{value}'"]
            position = None
            for number in range(line_number, len(lines) + 1):
                text = lines[number - 1]
                offset = column if number == line_number else 0
                hits = [text.find(spelling, offset) for spelling in spellings]
                hits = [hit for hit in hits if hit >= 0]
                if hits:
                    position = (number, min(hits))
                    break
            if position is None:
                found.append(self.at(start))
                continue
            line_number, column = position[0], position[1] + 1
            found.append(self.at(position[0], position[1] + 1))
        return found


def _key_pattern(name: str) -> str:
    """A TOML key as written bare or quoted."""
    escaped = re.escape(name)
    return rf"(?:{escaped}|\"{escaped}\"|'{escaped}')"


def load_toml(path: Path, display: str) -> TomlFile:
    """A TOML file, or a one-line ConfigError naming FILE:LINE:COL of what tomllib could not read."""
    tomllib = _tomllib()
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise ConfigError("is a directory, not a file", Location(display)) from None
    except OSError as exc:
        raise ConfigError(f"cannot be read: {exc.strerror}", Location(display)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"is not UTF-8 text (byte {exc.start})", Location(display)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc.msg if hasattr(exc, "msg") else exc)
        line = getattr(exc, "lineno", None)
        column = getattr(exc, "colno", None)
        match = _TOMLLIB_POSITION.search(message)
        if match:
            line, column = int(match.group(1)), int(match.group(2))
            message = message[: match.start()]
        elif _TOMLLIB_END.search(message):
            message = _TOMLLIB_END.sub("", message)
            line = text.count("\n") + (0 if text.endswith("\n") else 1)
        message = message.strip().rstrip(".")
        raise ConfigError(f"is not valid TOML: {message[:1].lower()}{message[1:]}", Location(display, line, column)) from None
    return TomlFile(display=display, text=text, data=data)
