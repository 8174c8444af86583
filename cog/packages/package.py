"""A project directory as a package: its manifest (files hashed as streams) and its reproducible zip."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, ContextManager, Iterable, Iterator

from cog.images.context import project_files
from cog.errors import CogError
from cog.packages.manifest import MODE_SYMLINK, Entry, Manifest, UnsafePath, check_link, check_path, file_mode

CHUNK = 1024 * 1024
# Every zip entry carries this time, so that the same tree gives the same bytes (zip cannot say 1970).
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def hash_stream(stream: BinaryIO) -> tuple[str, int]:
    """sha256 and size of a stream read in fixed chunks: memory stays the same whatever its size."""
    digest, size = hashlib.sha256(), 0
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    while read := stream.readinto(buffer):
        digest.update(view[:read])
        size += read
    return digest.hexdigest(), size


@dataclass(frozen=True)
class LocalPackage:
    directory: Path
    manifest: Manifest

    @property
    def id(self) -> str:
        return self.manifest.id

    def open(self, entry: Entry) -> ContextManager[BinaryIO]:
        """The content of an entry: the file, or a symbolic link's target as bytes."""
        path = self.directory / entry.path
        if entry.is_link:
            return _bytes(os.readlink(path).encode("utf-8"))
        return path.open("rb")


def scan(directory: Path) -> LocalPackage:
    """The project as a package, honouring .dockerignore/.cogignore; refuses links that leave the project."""
    entries = []
    for relative in project_files(directory):
        try:
            check_path(relative)
            entries.append(_entry(directory, relative))
        except UnsafePath as exc:
            raise CogError(f"cannot package {directory}: {exc}") from None
    return LocalPackage(directory=directory, manifest=Manifest.of(entries))


def _entry(directory: Path, relative: str) -> Entry:
    path = directory / relative
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        target = os.readlink(path)
        check_link(relative, target)
        if not (directory.resolve() / relative).resolve().is_relative_to(directory.resolve()):
            raise UnsafePath(f"{relative!r} links to {target!r}, outside the project")
        content = target.encode("utf-8")
        return Entry(path=relative, mode=MODE_SYMLINK, size=len(content), sha256=hashlib.sha256(content).hexdigest())
    with path.open("rb") as stream:
        sha256, size = hash_stream(stream)
    return Entry(path=relative, mode=file_mode(info.st_mode), size=size, sha256=sha256)


@contextmanager
def _bytes(content: bytes) -> Iterator[BinaryIO]:
    yield io.BytesIO(content)


class _Chunks(io.RawIOBase):
    """A write-only, unseekable sink that hands back what was written since the last call."""

    def __init__(self) -> None:
        self._pending: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._pending.append(bytes(data))
        return len(data)

    def take(self) -> Iterator[bytes]:
        """What was written since the last take, as one chunk (none when nothing was)."""
        if self._pending:
            taken, self._pending = b"".join(self._pending), []
            yield taken


def zip_chunks(manifest: Manifest, open_entry: Callable[[Entry], ContextManager[BinaryIO]]) -> Iterator[bytes]:
    """The package as a zip, produced as a stream of chunks. Entries are stored (weights do not compress, and
    zlib's output may vary between versions), in manifest order, with one fixed time and the manifest's modes,
    always written as to an unseekable stream: the same manifest gives the same bytes wherever they go."""
    sink = _Chunks()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        for entry in manifest.files:
            info = zipfile.ZipInfo(entry.path, date_time=ZIP_TIME)
            info.create_system = 3  # Unix, so that the mode below is read
            info.external_attr = (entry.mode | (0o777 if entry.is_link else 0)) << 16
            info.file_size = entry.size
            with open_entry(entry) as source, archive.open(info, "w", force_zip64=entry.size > zipfile.ZIP64_LIMIT) as target:
                while chunk := source.read(CHUNK):
                    target.write(chunk)
                    yield from sink.take()
    yield from sink.take()


def write_zip(chunks: Iterable[bytes], destination: Path) -> None:
    """Write a zip beside its destination first, so that an interrupted write leaves no partial file behind."""
    partial = destination.with_name(f".{destination.name}.partial")
    try:
        with partial.open("wb") as out:
            for chunk in chunks:
                out.write(chunk)
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)
