"""The errors a user sees, and where a mistake is.

Every mistake the user can fix is a `CogError`; the CLI prints it as one line (`error: ...`, exit 1) and never
as a traceback. Foreign errors (Docker's, httpx's, the file system's) are translated into one at the edge that
meets them; `last_line` takes the line that says what went wrong from a child process's output.

    CogError                   a mistake the user can fix, said in one line
    ├── ConfigError            in cog.yaml or a file it names, with its Location (FILE:LINE:COL)
    ├── StorageUnavailable     the store's file system cannot be reached    (cog.packages.store)
    ├── BlobMismatch           an uploaded blob is not what its name says   (cog.packages.store)
    ├── BlobTooLarge           an upload is larger than it was announced    (cog.packages.store)
    ├── UploadDiscarded        an upload stalled past the grace; collected  (cog.packages.store)
    ├── SettingsError          a server variable (COG_...) it cannot use    (cog.server.runner)
    └── MissingBlobs           the server lacks blobs a package names       (cog.packages.client)

    ConfigWarning              a choice or guess made for the user; shown, never fatal

The model-side SDK (cog.sdk) keeps its own errors, standard library only: `SignatureError` (a model declares
something unsupported), `InputError` (a request's input breaks the signature; the runtime answers 422),
`LoadError` (the model cannot be loaded; `SchemaError` in cog.server.process on the host's side). The HTTP servers answer their own request errors
(`RequestError` in cog.server.http, `ApiError` in cog.packages.api) with a 4xx and a one-line `detail`.
"""

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


def last_line(text: str | None, default: str = "") -> str:
    """The last line of a child's output, which is where its error is: "Traceback ...\\nValueError: bad\\n" →
    "ValueError: bad"; `default` when the output is blank."""
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else default
