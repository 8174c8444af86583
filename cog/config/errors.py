"""Errors and warnings that point at a place in a user's file."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A 1-based line and column in a file, as editors show them."""

    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


_ONE_LINE = str.maketrans({"\n": "\\n", "\r": "\\r", "\t": "\\t"})


class CogError(Exception):
    """A mistake the user can fix. The CLI prints it as one line, never as a traceback."""


class ConfigError(CogError):
    """A mistake in cog.yaml (or a file it names), with where it is."""

    def __init__(self, message: str, location: Location | None = None):
        # Messages quote the user's values; control characters in them must not break the one-line promise.
        self.message = message.translate(_ONE_LINE)
        self.location = location
        super().__init__(f"{location}: {self.message}" if location else self.message)


@dataclass(frozen=True)
class ConfigWarning:
    """Something we chose or guessed on the user's behalf; shown, never fatal."""

    message: str
    location: Location | None = None

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message
