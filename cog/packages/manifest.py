"""A package's manifest: every file's path, mode, size and sha256, in one canonical form whose sha256 is the package id.

Pure: no file system, no clock. The same files give the same bytes on any machine and Python version, so the
same id; any change of a byte, a mode or a path gives a new one.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
from typing import Iterable

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Git's three kinds of entry: a file, an executable file, a symbolic link (whose content is its target).
MODE_FILE = 0o100644
MODE_EXECUTABLE = 0o100755
MODE_SYMLINK = 0o120000
MODES = (MODE_FILE, MODE_EXECUTABLE, MODE_SYMLINK)
MANIFEST_VERSION = 1
MAX_PATH_BYTES = 4096
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class UnsafePath(ValueError):
    """A path that could land outside the package when unpacked."""


def check_path(path: str) -> str:
    """A relative POSIX path inside the package, or UnsafePath saying what is wrong with it."""
    if not path:
        raise UnsafePath("a path is empty")
    if path.startswith("/"):
        raise UnsafePath(f"{path!r} is an absolute path")
    if "\\" in path or "\0" in path:
        raise UnsafePath(f"{path!r} contains a backslash or a NUL byte")
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise UnsafePath(f"{path[:40]!r}... is longer than {MAX_PATH_BYTES} bytes")
    for part in path.split("/"):
        if part in ("", ".", ".."):
            raise UnsafePath(f"{path!r} has a {part or 'empty'!r} component; paths must be plain and relative")
    return path


def check_link(path: str, target: str) -> str:
    """A symbolic link's target must stay inside the package: relative, and never above its root."""
    if not target or target.startswith("/"):
        raise UnsafePath(f"{path!r} links to {target!r}, outside the project")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if resolved == ".." or resolved.startswith("../"):
        raise UnsafePath(f"{path!r} links to {target!r}, outside the project")
    return target


def file_mode(st_mode: int) -> int:
    """What a file's permission bits mean for a package: executable or not (as git records it), so that the same
    checkout gives the same id whatever the umask of the machine."""
    return MODE_EXECUTABLE if st_mode & 0o111 else MODE_FILE


class Entry(BaseModel):
    """One file of a package. For a symbolic link, the content (size, sha256) is the link's target."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    mode: int
    size: int = Field(ge=0)
    sha256: str

    @field_validator("path")
    @classmethod
    def _safe_path(cls, path: str) -> str:
        try:
            return check_path(path)
        except UnsafePath as exc:
            raise ValueError(str(exc)) from None

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, mode: int) -> int:
        if mode not in MODES:
            raise ValueError(f"mode {mode:o} is not one of {', '.join(f'{m:o}' for m in MODES)} (file, executable, symlink)")
        return mode

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, digest: str) -> str:
        if not SHA256.match(digest):
            raise ValueError(f"{digest[:70]!r} is not a sha256 hex digest (64 lowercase hex characters)")
        return digest

    @property
    def is_link(self) -> bool:
        return self.mode == MODE_SYMLINK


class Manifest(BaseModel):
    """The files of a package, sorted by path. Its id is the sha256 of `canonical()`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = MANIFEST_VERSION
    files: tuple[Entry, ...]

    @field_validator("version")
    @classmethod
    def _known_version(cls, version: int) -> int:
        if version != MANIFEST_VERSION:
            raise ValueError(f"manifest version {version} is not supported (this cog reads version {MANIFEST_VERSION})")
        return version

    @model_validator(mode="after")
    def _one_tree(self) -> Manifest:
        paths = [entry.path for entry in self.files]
        if paths != sorted(paths):
            raise ValueError("files must be sorted by path")
        known = set()
        for path in paths:
            if path in known:
                raise ValueError(f"{path!r} is listed twice")
            known.add(path)
        for path in paths:
            parent = posixpath.dirname(path)
            while parent:
                if parent in known:
                    raise ValueError(f"{parent!r} is a file but also the directory of {path!r}")
                parent = posixpath.dirname(parent)
        return self

    @classmethod
    def of(cls, entries: Iterable[Entry]) -> Manifest:
        return cls(files=tuple(sorted(entries, key=lambda entry: entry.path)))

    def canonical(self) -> bytes:
        """Sorted keys, no spaces, ASCII only: one byte string per manifest, whatever produced it."""
        document = {"version": self.version, "files": [entry.model_dump() for entry in self.files]}
        return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")

    @property
    def id(self) -> str:
        return hashlib.sha256(self.canonical()).hexdigest()

    @property
    def size(self) -> int:
        return sum(entry.size for entry in self.files)

    def digests(self) -> list[str]:
        """Each distinct content once, in manifest order."""
        return list(dict.fromkeys(entry.sha256 for entry in self.files))

    def entry(self, path: str) -> Entry | None:
        return next((entry for entry in self.files if entry.path == path), None)
