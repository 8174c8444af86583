"""A project directory as a package: its manifest (files hashed as streams) and its reproducible zip.

`scan` hashes what the hash cache does not already know, several files at once; `write_package` makes the zip
and the manifest in one read of each file: a second thread hashes each chunk while this one takes the zip's CRC
(ISA-L's) and writes it.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import stat
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, ContextManager, Iterable, Iterator, Sequence

try:  # zlib's CRC-32, by ISA-L's folding instructions: about 9 GB/s here, zlib's 1.4
    from isal.isal_zlib import crc32
except ImportError:  # no isal wheel for this machine (pyproject.toml)
    from zlib import crc32

from cog.errors import CogError
from cog.images.context import project_files
from cog.packages.hashes import HashCache
from cog.packages.manifest import MODE_SYMLINK, Entry, Manifest, UnsafePath, check_link, check_path, file_mode
from cog.packages.zips import ZipLayout, ZipMember

CHUNK = 1024 * 1024
# Files hashed at once by scan: hashlib lets go of the GIL, so threads use every core and overlap the reads.
HASHING_THREADS = min(4, os.cpu_count() or 1)
# Chunks cog package -o reads ahead of its hashing thread.
HASHING_AHEAD = 8


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
    layout = ZipLayout()
    digests: dict[str, str] = {}
    with _replacing(destination) as out, ThreadPoolExecutor(1) as hasher:
        for file in files:
            out.write(layout.header(file))
            if file.is_link:
                content = file.link.encode("utf-8")
                out.write(content)
                crc, digests[file.path] = crc32(content), hashlib.sha256(content).hexdigest()
            else:
                crc, digests[file.path] = _copy_file(directory, file, cache, hasher, out)
            out.write(layout.descriptor(crc, file.size))
        out.write(layout.end())
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


def _copy_file(directory: Path, file: ProjectFile, cache: HashCache, hasher: ThreadPoolExecutor,
               out: BinaryIO) -> tuple[int, str]:
    """Copy a file into the zip: its CRC, and its sha256 (the cache's, if it knows the file unchanged)."""
    known = cache.lookup(file.path, file.info)
    digest = None if known else hashlib.sha256()
    # a file of one chunk is hashed here: handing it to the thread would cost more than it saves
    threaded = digest is not None and file.size > CHUNK
    with (directory / file.path).open("rb", buffering=0) as stream:
        size, crc = _copy(stream, out, digest, hasher if threaded else None)
    if size != file.size:
        raise _changed(directory, file)
    sha256 = known or digest.hexdigest()
    if not known:
        cache.remember(file.path, file.info, sha256)
    return crc, sha256


def _copy(stream: BinaryIO, out: BinaryIO, digest: hashlib._Hash | None,
          hasher: ThreadPoolExecutor | None) -> tuple[int, int]:
    """Copy `stream` to `out`, giving its size and CRC-32 and updating `digest` (if any) with it. Given a thread too,
    the digest takes each chunk there while this thread takes the CRC, writes and reads the next (hashlib and ISA-L
    both let go of the GIL). The buffers take turns, a buffer read into again only once its hashing is done: the
    thread has chunks waiting while this one reads ahead, so that it never sleeps between two (on a busy machine,
    each wake-up waits for a core)."""
    buffers = [bytearray(CHUNK) for _ in range(HASHING_AHEAD if hasher else 1)]
    size = crc = 0
    hashing: deque[Future] = deque()
    for turn in itertools.count():
        if len(hashing) == len(buffers):
            hashing.popleft().result()
        buffer = buffers[turn % len(buffers)]
        if not (read := stream.readinto(buffer)):
            break
        chunk = memoryview(buffer)[:read]
        if hasher is not None:
            hashing.append(hasher.submit(digest.update, chunk))
        elif digest is not None:
            digest.update(chunk)
        crc = crc32(chunk, crc)
        out.write(chunk)
        size += read
    for pending in hashing:
        pending.result()
    return size, crc


@contextmanager
def _bytes(content: bytes) -> Iterator[BinaryIO]:
    yield io.BytesIO(content)


def zip_chunks(members: Sequence[ZipMember],
               open_member: Callable[..., ContextManager[BinaryIO]]) -> Iterator[bytes]:
    """The package as a zip, produced as a stream of chunks. Entries are stored (weights do not compress, and
    zlib's output may vary between versions), in manifest order, with one fixed time and the manifest's modes,
    always laid out as for an unseekable stream: the same manifest gives the same bytes wherever they go."""
    layout = ZipLayout()
    for member in members:
        yield layout.header(member)
        size = crc = 0
        with open_member(member) as source:
            while chunk := source.read(CHUNK):
                crc = crc32(chunk, crc)
                size += len(chunk)
                yield chunk
        yield layout.descriptor(crc, size)
    yield layout.end()


def write_zip(chunks: Iterable[bytes], destination: Path) -> None:
    with _replacing(destination) as out:
        for chunk in chunks:
            out.write(chunk)


@contextmanager
def _replacing(destination: Path) -> Iterator[BinaryIO]:
    """A file written beside its destination first, so that an interrupted write leaves no partial file behind."""
    partial = destination.with_name(f".{destination.name}.partial")
    try:
        with partial.open("wb") as out:
            yield out
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)
