"""A project's model read from its files, for what can be known without running it: its signatures and schema
(the static reader, cog.compiler.static_schema) and a digest of its code (the `run.cog.code_digest` label, which
says whether an image was built from the code that is here now).

The effects at the edge of the pure reader: reading the predictor's (and trainer's) files, listing the project's
top-level modules, hashing files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Iterable

from cog.compiler.static_schema import CannotDecide, StaticSignatures, Stubs, read_stubs, ref_file

LABEL_CODE_DIGEST = "run.cog.code_digest"


def project_signatures(directory: Path, predict: str | None, train: str | None, *, python_version: str | None,
                       files: Iterable[str] | None = None) -> StaticSignatures:
    """The signatures the runtime will compute for this project's model, read from source; raises CannotDecide.

    `files`: the project's files as the image holds them (relative POSIX paths); None: whatever is in `directory`
    (the project is mounted there, as `cog predict` runs it)."""
    return project_stubs(directory, predict, train, python_version=python_version, files=files).signatures()


def project_stubs(directory: Path, predict: str | None, train: str | None, *, python_version: str | None,
                  files: Iterable[str] | None = None) -> Stubs:
    """The static reader's stubs of the project's model files, read once (cog.compiler.static_schema.read_stubs:
    their digest, and the signatures they give); raises CannotDecide. `files` as for project_signatures."""
    present = None if files is None else set(files)
    return read_stubs(_sources(directory, predict, train, present), predict, train, python_version=python_version,
                      local_modules=_top_level_modules(directory, present))


def _sources(directory: Path, predict: str | None, train: str | None, present: set[str] | None) -> dict[str, str]:
    """The text of the predictor's file and the trainer's, by their paths in the project."""
    if not predict:
        raise CannotDecide("the project has no predictor")
    sources: dict[str, str] = {}
    for ref in (predict, train):
        if not ref:
            continue
        path = ref_file(ref)
        if path is None:
            raise CannotDecide(f"{ref} names a module, not a file; the static reader reads files only")
        if present is not None and Path(path).as_posix() not in present:
            raise CannotDecide(f"{path} is not among the files the image holds")
        try:
            sources[path] = (directory / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CannotDecide(f"{path} cannot be read: {exc}") from None
    return sources


def project_schema(directory: Path, predict: str | None, train: str | None, *, python_version: str | None,
                   files: Iterable[str] | None = None, known: tuple[dict, str | None] | None = None,
                   ) -> tuple[dict | None, str | None]:
    """The OpenAPI schema read from source ({} for a project with no predictor), or None when it cannot be, with
    the digest of the stubs it was read from (None without a predictor). `known`: a schema and the digest of its
    stubs, taken as it is when the stubs are the same (nothing of the SDK's signature code is run)."""
    if not predict:
        return {}, None
    try:
        stubs = project_stubs(directory, predict, train, python_version=python_version, files=files)
        digest = stubs.digest
        if known is not None and known[1] == digest:
            return known[0], digest
        return stubs.signatures().openapi_schema(), digest
    except CannotDecide:
        return None, None


def code_digest(directory: Path, files: Iterable[str], config: dict) -> str:
    """sha256 of the completed config and of each code file (path and content): equal digests, equal code."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode())
    for relative in sorted(files):
        path = directory / relative
        digest.update(b"\0" + relative.encode() + b"\0")
        try:
            if path.is_symlink():
                digest.update(b"link:" + str(path.readlink()).encode())
            elif path.is_file():
                with path.open("rb") as file:
                    for block in iter(lambda: file.read(1 << 20), b""):
                        digest.update(block)
        except OSError:
            digest.update(b"unreadable")
    return "sha256:" + digest.hexdigest()


def _top_level_modules(directory: Path, files: set[str] | None) -> set[str]:
    """The module names the project's top level provides (X.py, X/), which would shadow installed ones."""
    if files is not None:
        names = {relative.split("/", 1)[0] for relative in files}
    else:
        try:
            names = {entry.name for entry in directory.iterdir()}
        except OSError:
            names = set()
    return {name[:-3] if name.endswith(".py") else name for name in names
            if name.endswith(".py") or "." not in name}
