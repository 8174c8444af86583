"""A project directory as a package: its manifest (files hashed as streams) and its reproducible zip.

`scan` hashes what the hash cache does not already know, several files at once; `write_package` makes the zip
and the manifest in one read of each file, hashing in a second thread while the zip takes its CRC and writes.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, ContextManager, Iterable, Iterator, Protocol, Sequence

from cog.errors import CogError
from cog.images.context import project_files
from cog.packages.hashes import HashCache
from cog.packages.manifest import MODE_SYMLINK, Entry, Manifest, UnsafePath, check_link, check_path, file_mode

CHUNK = 1024 * 1024
# Every zip entry carries this time, so that the same tree gives the same bytes (zip cannot say 1970).
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# Files hashed at once by scan: hashlib lets go of the GIL, so threads use every core and overlap the reads.
HASHING_THREADS = min(4, os.cpu_count() or 1)


def hash_stream(stream: BinaryIO) -> tuple[str, int]:
    """sha256 and size of a stream read in fixed chunks: memory stays the same whatever its size."""
    digest, size = hashlib.sha256(), 0
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    while read := stream.readinto(buffer):
        digest.update(view[:read])
        size += read
    return digest.hexdigest(), size


class ZipMember(Protocol):
    """What the zip needs to know of a file before reading it; an `Entry` is one."""

    path: str
    mode: int
    size: int

    @property
    def is_link(self) -> bool: ...


@dataclass(frozen=True)
class ProjectFile:
    """A file of the project as found (its lstat before any read), not yet hashed."""

    path: str
    info: os.stat_result
    link: str | None  # a symbolic link's target

    @property
    def is_link(self) -> bool:
        return self.link is not None

    @property
    def mode(self) -> int:
        return MODE_SYMLINK if self.is_link else file_mode(self.info.st_mode)

    @property
    def size(self) -> int:
        return len(self.link.encode("utf-8")) if self.is_link else self.info.st_size


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


def find_files(directory: Path) -> list[ProjectFile]:
    """The project's files in manifest order, honouring .dockerignore/.cogignore; refuses links that leave it."""
    found = []
    for relative in project_files(directory):
        try:
            check_path(relative)
            found.append(_found(directory, relative))
        except UnsafePath as exc:
            raise CogError(f"cannot package {directory}: {exc}") from None
    return found


def scan(directory: Path, cache: HashCache | None = None) -> LocalPackage:
    """The project as a package: each file hashed, unless `cache` knows it unchanged."""
    cache = cache or HashCache(None)
    files = find_files(directory)
    with ThreadPoolExecutor(HASHING_THREADS) as pool:
        entries = list(pool.map(lambda file: _hashed(directory, file, cache), files))
    cache.save()
    return LocalPackage(directory=directory, manifest=Manifest.of(entries))


def write_package(directory: Path, destination: Path, cache: HashCache | None = None) -> LocalPackage:
    """The project as a package and its zip at `destination`, reading each file once."""
    cache = cache or HashCache(None)
    files = find_files(directory)
    digests: dict[str, str] = {}
    with ThreadPoolExecutor(1) as hasher:
        @contextmanager
        def open_hashing(file: ProjectFile) -> Iterator[BinaryIO]:
            if file.is_link:
                content = file.link.encode("utf-8")
                digests[file.path] = hashlib.sha256(content).hexdigest()
                yield io.BytesIO(content)
                return
            with (directory / file.path).open("rb") as stream:
                known = cache.lookup(file.path, file.info)
                reader = _HashingReader(stream, None if known else hasher)
                yield reader
                size, sha256 = reader.finish()
            if size != file.size:
                raise _changed(directory, file)
            digests[file.path] = known or sha256
            if not known:
                cache.remember(file.path, file.info, sha256)

        write_zip(zip_chunks(files, open_hashing), destination)
    cache.save()
    entries = [Entry(path=file.path, mode=file.mode, size=file.size, sha256=digests[file.path]) for file in files]
    return LocalPackage(directory=directory, manifest=Manifest.of(entries))


def _found(directory: Path, relative: str) -> ProjectFile:
    path = directory / relative
    info = path.lstat()
    if not stat.S_ISLNK(info.st_mode):
        return ProjectFile(relative, info, None)
    target = os.readlink(path)
    check_link(relative, target)
    if not (directory.resolve() / relative).resolve().is_relative_to(directory.resolve()):
        raise UnsafePath(f"{relative!r} links to {target!r}, outside the project")
    return ProjectFile(relative, info, target)


def _hashed(directory: Path, file: ProjectFile, cache: HashCache) -> Entry:
    if file.is_link:
        sha256 = hashlib.sha256(file.link.encode("utf-8")).hexdigest()
    elif not (sha256 := cache.lookup(file.path, file.info)):
        with (directory / file.path).open("rb") as stream:
            sha256, size = hash_stream(stream)
        if size != file.size:
            raise _changed(directory, file)
        cache.remember(file.path, file.info, sha256)
    return Entry(path=file.path, mode=file.mode, size=file.size, sha256=sha256)


def _changed(directory: Path, file: ProjectFile) -> CogError:
    return CogError(f"cannot package {directory}: {file.path!r} changed while it was read; run it again once "
                    f"nothing writes to it")


class _HashingReader(io.RawIOBase):
    """Reads a stream and, given a thread, hashes each chunk there while the caller uses it (hashlib and zlib both let
    go of the GIL, so the sha256 and the zip's CRC run at once). `finish()` gives the size and the sha256."""

    def __init__(self, stream: BinaryIO, hasher: ThreadPoolExecutor | None) -> None:
        self._stream, self._hasher = stream, hasher
        self._digest = hashlib.sha256()
        self._pending: Future | None = None
        self._size = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self._size += len(chunk)
        if self._hasher is not None and chunk:
            self._wait()
            self._pending = self._hasher.submit(self._digest.update, chunk)
        return chunk

    def finish(self) -> tuple[int, str]:
        self._wait()
        return self._size, self._digest.hexdigest()

    def _wait(self) -> None:
        if self._pending is not None:
            self._pending.result()
            self._pending = None


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
        self._pending.append(bytes(data))  # no copy: zipfile writes the bytes objects it was given
        return len(data)

    def take(self) -> Iterator[bytes]:
        """What was written since the last take, as one chunk (none when nothing was)."""
        if self._pending:
            taken, self._pending = b"".join(self._pending), []
            yield taken


def zip_chunks(members: Sequence[ZipMember], open_member: Callable[..., ContextManager[BinaryIO]]) -> Iterator[bytes]:
    """The package as a zip, produced as a stream of chunks. Entries are stored (weights do not compress, and
    zlib's output may vary between versions), in manifest order, with one fixed time and the manifest's modes,
    always written as to an unseekable stream: the same manifest gives the same bytes wherever they go."""
    sink = _Chunks()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        for member in members:
            info = zipfile.ZipInfo(member.path, date_time=ZIP_TIME)
            info.create_system = 3  # Unix, so that the mode below is read
            info.external_attr = (member.mode | (0o777 if member.is_link else 0)) << 16
            info.file_size = member.size
            with open_member(member) as source, archive.open(info, "w", force_zip64=member.size > zipfile.ZIP64_LIMIT) as target:
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
