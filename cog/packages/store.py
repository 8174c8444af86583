"""The central store on any fsspec file system (file://, memory://, s3://, gs://, ...).

    blobs/sha256/ab/abcd...                      file contents, by sha256, shared by every package of every model
    uploads/<random>                             blobs and records being written; published by a move
    models/OWNER/NAME/packages/ID.json           a committed package (written only once all its blobs are in)
    models/OWNER/NAME/builds/ID/VARIANT.json     its builds, and .log beside each
    tokens/SHA256-OF-TOKEN.json                  API tokens (only their hashes)

A reader never sees a partial blob or record: everything is written under uploads/ first, checked, then moved
to its name (a rename on local disks, a single object on object stores).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import secrets
import shutil
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, TypeVar

import fsspec
from pydantic import BaseModel

from cog.errors import CogError
from cog.packages.manifest import Manifest
from cog.packages.records import Build, Package, now

CHUNK = 1024 * 1024
T = TypeVar("T", bound=BaseModel)


class StorageUnavailable(CogError):
    """The store did not answer, or answered with an error: nothing was changed by this request."""


class BlobMismatch(CogError):
    pass


class BlobTooLarge(CogError):
    pass


class UploadDiscarded(CogError):
    """An upload stalled for longer than the grace, and its partial file was collected as abandoned."""


class Store:
    def __init__(self, url: str, **options) -> None:
        self.url = url
        if fsspec.utils.get_protocol(url) in ("file", "local"):
            options.setdefault("auto_mkdir", True)  # object stores have no directories to make
        else:
            # Another server may write to the same bucket at any time: a cached listing would hide its packages.
            options.setdefault("use_listings_cache", False)
        with self._guard():
            self.fs, root = fsspec.core.url_to_fs(url, **options)
        self.root = root.rstrip("/")

    # --- blobs ---------------------------------------------------------------------------------------------

    def blob_path(self, sha256: str) -> str:
        return self._path("blobs", "sha256", sha256[:2], sha256)

    def has_blob(self, sha256: str) -> bool:
        with self._guard():
            return self.fs.exists(self.blob_path(sha256))

    def missing_blobs(self, digests: Iterable[str]) -> list[str]:
        return [digest for digest in digests if not self.has_blob(digest)]

    def put_blob(self, sha256: str, chunks: Iterable[bytes], *, max_size: int) -> bool:
        """Store a blob from a stream, checking its hash before it becomes visible. False when it was already there."""
        if self.has_blob(sha256):
            for _ in chunks:  # drain what the client sends, so that it gets its answer
                pass
            return False
        temporary = self._path("uploads", uuid.uuid4().hex)
        digest, size = hashlib.sha256(), 0
        try:
            with self._guard(), self.fs.open(temporary, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if size > max_size:
                        raise BlobTooLarge(f"the blob is larger than this server's limit of {max_size} bytes")
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() != sha256:
                raise BlobMismatch(f"the content's sha256 is {digest.hexdigest()}, not {sha256} as named")
            try:
                with self._guard():
                    self.fs.mv(temporary, self.blob_path(sha256))
            except FileNotFoundError:  # collect_abandoned_uploads took it: no byte came for longer than the grace
                raise UploadDiscarded("the upload stalled for longer than unfinished uploads are kept, and was "
                                      "discarded; send it again") from None
        finally:
            self._remove(temporary)
        return True

    @contextmanager
    def open_blob(self, sha256: str) -> Iterator[BinaryIO]:
        with self._guard(), self.fs.open(self.blob_path(sha256), "rb", block_size=CHUNK) as stream:
            yield stream

    def read_blob(self, sha256: str) -> bytes:
        with self._guard():
            return self.fs.cat_file(self.blob_path(sha256))

    def unpack(self, manifest: Manifest, directory: Path) -> None:
        """Lay a package's files out in a directory, as they were in the project."""
        for entry in manifest.files:
            target = directory / entry.path
            target.parent.mkdir(parents=True, exist_ok=True)
            if entry.is_link:
                target.symlink_to(self.read_blob(entry.sha256).decode("utf-8"))
                continue
            with self.open_blob(entry.sha256) as source, target.open("wb") as out:
                shutil.copyfileobj(source, out, CHUNK)
            target.chmod(entry.mode & 0o777)

    # --- packages ------------------------------------------------------------------------------------------

    def package_path(self, model: str, package_id: str) -> str:
        return self._path("models", model, "packages", f"{package_id}.json")

    def save_package(self, package: Package) -> None:
        self._write(self.package_path(package.model, package.id), package.model_dump_json().encode())

    def load_package(self, model: str, package_id: str) -> Package | None:
        return self._read(self.package_path(model, package_id), Package)

    def find_packages(self, prefix: str = "", model: str | None = None) -> list[tuple[str, str]]:
        """(model, id) of the packages whose id starts with `prefix`, in one model or in all."""
        pattern = self._path("models", model or "*/*", "packages", f"{prefix}*.json")
        with self._guard():
            paths = self.fs.glob(pattern)
        found = []
        for path in paths:
            parts = path.rstrip("/").split("/")
            found.append((f"{parts[-4]}/{parts[-3]}", parts[-1].removesuffix(".json")))
        return sorted(found)

    def list_packages(self, model: str | None = None) -> list[Package]:
        """Newest first."""
        paths = [self.package_path(found_model, package_id) for found_model, package_id in self.find_packages(model=model)]
        with self._guard():
            contents = self.fs.cat(paths) if paths else {}
        packages = [Package.model_validate_json(content) for content in contents.values()]
        return sorted(packages, key=lambda package: (package.created_at, package.id), reverse=True)

    def delete_package(self, model: str, package_id: str) -> None:
        with self._guard():
            self.fs.rm(self.package_path(model, package_id))
            builds = self._path("models", model, "builds", package_id)
            if self.fs.exists(builds):
                self.fs.rm(builds, recursive=True)

    def collect_garbage(self, grace: timedelta) -> list[str]:
        """Delete the blobs no package references, and abandoned uploads. Only those older than `grace`: a client
        may be uploading blobs for a package it has not committed yet. Returns the digests deleted."""
        referenced = {digest for package in self.list_packages() for digest in package.manifest.digests()}
        cutoff = datetime.now(timezone.utc) - grace
        deleted = []
        with self._guard():
            for path in self.fs.find(self._path("blobs")):
                digest = posixpath.basename(path)
                if digest not in referenced and self._modified(path) < cutoff:
                    self._remove(path)
                    deleted.append(digest)
        self.collect_abandoned_uploads(grace)
        return deleted

    def collect_abandoned_uploads(self, grace: timedelta) -> int:
        """Delete what is under uploads/ and was last written more than `grace` ago: the partial files of uploads
        whose server was killed, or whose client went away. A live upload is younger (each write touches it).
        Returns how many were deleted."""
        cutoff = datetime.now(timezone.utc) - grace
        deleted = 0
        with self._guard():
            for path in self.fs.find(self._path("uploads")):
                try:
                    old = self._modified(path) < cutoff
                except FileNotFoundError:  # published or deleted by its writer meanwhile
                    continue
                if old:
                    self._remove(path)
                    deleted += 1
        return deleted

    # --- builds --------------------------------------------------------------------------------------------

    def build_path(self, model: str, package_id: str, variant: str, suffix: str = ".json") -> str:
        return self._path("models", model, "builds", package_id, f"{variant}{suffix}")

    def save_build(self, model: str, package_id: str, build: Build) -> None:
        self._write(self.build_path(model, package_id, build.variant), build.model_dump_json().encode())

    def load_builds(self, model: str, package_id: str) -> list[Build]:
        builds = [self._read(self.build_path(model, package_id, variant), Build) for variant in ("cpu", "gpu")]
        return [build for build in builds if build is not None]

    def unfinished_builds(self) -> list[tuple[str, str, Build]]:
        """(model, package id, build) of every build queued or under way, in any model."""
        with self._guard():
            paths = self.fs.glob(self._path("models", "*", "*", "builds", "*", "*.json"))
        found = []
        for path in paths:
            build = self._read(path, Build)
            if build is not None and build.status in ("queued", "building"):
                parts = path.split("/")
                found.append((f"{parts[-5]}/{parts[-4]}", parts[-2], build))
        return found

    def save_log(self, model: str, package_id: str, variant: str, text: str) -> None:
        self._write(self.build_path(model, package_id, variant, ".log"), text.encode("utf-8"))

    def read_log(self, model: str, package_id: str, variant: str) -> str | None:
        try:
            with self._guard():
                return self.fs.cat_file(self.build_path(model, package_id, variant, ".log")).decode("utf-8", "replace")
        except FileNotFoundError:
            return None

    # --- tokens --------------------------------------------------------------------------------------------

    def create_token(self, name: str) -> str:
        token = f"cog_{secrets.token_urlsafe(32)}"
        record = {"name": name, "created_at": now().isoformat()}
        self._write(self._token_path(token), json.dumps(record, sort_keys=True).encode())
        return token

    def has_tokens(self) -> bool:
        with self._guard():
            return bool(self.fs.glob(self._path("tokens", "*.json")))

    def token_valid(self, token: str) -> bool:
        with self._guard():
            return self.fs.exists(self._token_path(token))

    def _token_path(self, token: str) -> str:
        return self._path("tokens", f"{hashlib.sha256(token.encode()).hexdigest()}.json")

    # --- plumbing ------------------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise StorageUnavailable unless the store answers."""
        with self._guard():
            self.fs.exists(self._path("tokens"))

    def check_writable(self) -> None:
        """Raise StorageUnavailable unless a file can be written (and deleted) in the store."""
        probe = self._path("uploads", f"probe-{uuid.uuid4().hex}")
        try:
            with self._guard():
                self.fs.pipe_file(probe, b"")
        except FileNotFoundError as exc:  # a folder on the way is missing and cannot be made
            raise StorageUnavailable(f"the storage {self.url} is unavailable: {exc.strerror or 'no such folder'}") from exc
        self._remove(probe)

    def _path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def _write(self, path: str, content: bytes) -> None:
        temporary = self._path("uploads", uuid.uuid4().hex)
        try:
            with self._guard():
                self.fs.pipe_file(temporary, content)
                self.fs.mv(temporary, path)
        finally:
            self._remove(temporary)

    def _read(self, path: str, kind: type[T]) -> T | None:
        try:
            with self._guard():
                return kind.model_validate_json(self.fs.cat_file(path))
        except FileNotFoundError:
            return None

    def _remove(self, path: str) -> None:
        try:
            with self._guard():
                self.fs.rm_file(path)
        except FileNotFoundError:
            pass

    def _modified(self, path: str) -> datetime:
        modified = self.fs.modified(path)
        return modified if modified.tzinfo else modified.replace(tzinfo=timezone.utc)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Any failure of the file system (not a missing file, nor our own errors) means the storage is down."""
        try:
            yield
        except (FileNotFoundError, CogError):
            raise
        except Exception as exc:  # backends raise anything from OSError to botocore's and gcsfs's own errors
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StorageUnavailable(f"the storage {self.url} is unavailable: {reason}") from exc
