"""Each project file's sha256, remembered between runs so that packaging an unchanged project reads no file.

A file's remembered digest is used only while its (path, size, mtime_ns, inode) are what they were when it was
hashed: an edit changes the mtime (and usually the size), an editor that saves by renaming changes the inode.
One JSON file per project directory in the user's cache directory; losing it only costs a re-hash:

    {"version": 1, "files": {"weights/model.bin": [1073741824, 1733050000123456789, 1310722, "9f86d0..."]}}
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import platformdirs

CACHE_VERSION = 1
# A file modified within this long of its hashing is not remembered: a second write in the same tick of the file
# system's clock would leave its mtime as it was (git calls these entries "racily clean").
RACY_NANOSECONDS = 2_000_000_000


def _key(info: os.stat_result) -> list[int]:
    return [info.st_size, info.st_mtime_ns, info.st_ino]


class HashCache:
    """Digests by relative path for one project; `save` keeps those looked up or remembered since it was loaded."""

    def __init__(self, location: Path | None) -> None:
        self.location = location
        self._known: dict[str, list] = self._load() if location else {}
        self._kept: dict[str, list] = {}
        self._started_ns = time.time_ns()

    @classmethod
    def for_project(cls, directory: Path) -> HashCache:
        name = hashlib.sha256(os.fsencode(directory.resolve())).hexdigest()[:32]
        return cls(Path(platformdirs.user_cache_dir("cog")) / "hashes" / f"{name}.json")

    def lookup(self, relative: str, info: os.stat_result) -> str | None:
        """The sha256 hashed before for this file, if it has not changed since."""
        known = self._known.get(relative)
        if known is None or known[:3] != _key(info):
            return None
        self._kept[relative] = known
        return known[3]

    def remember(self, relative: str, info: os.stat_result, sha256: str) -> None:
        """`info` is the file's lstat taken before it was read, so that a write during the read changes the key."""
        if info.st_mtime_ns < self._started_ns - RACY_NANOSECONDS:
            self._kept[relative] = [*_key(info), sha256]

    def save(self) -> None:
        """Write what this run saw, atomically; a cache that cannot be written is skipped (it is only a cache)."""
        if self.location is None or self._kept == self._known:
            return
        partial = self.location.with_name(f".{self.location.name}.{os.getpid()}.partial")
        try:
            self.location.parent.mkdir(parents=True, exist_ok=True)
            partial.write_text(json.dumps({"version": CACHE_VERSION, "files": self._kept}, separators=(",", ":")))
            partial.replace(self.location)
        except OSError:
            partial.unlink(missing_ok=True)

    def _load(self) -> dict[str, list]:
        try:
            document = json.loads(self.location.read_text())
        except (OSError, ValueError):
            return {}
        files = document.get("files") if isinstance(document, dict) and document.get("version") == CACHE_VERSION else None
        if not isinstance(files, dict):
            return {}
        return {path: value for path, value in files.items()
                if isinstance(value, list) and len(value) == 4 and all(isinstance(v, int) for v in value[:3])
                and isinstance(value[3], str)}
