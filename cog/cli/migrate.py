"""`cog migrate`: show the diff that brings a project to today's Cog dialect, ask, and write it.

What changes is decided in cog/config/migrate.py (pure); this module reads the project, prints the unified diff on
standard output and the notices on standard error, asks, and writes each file atomically (a temporary file renamed
over it), cog.yaml last.
"""

from __future__ import annotations

import difflib
import os
import sys
import tempfile
from pathlib import Path
from typing import Optional

import typer

from cog.errors import CogError


def migrate(
    yes: bool = typer.Option(False, "-y", "--yes", help="Apply the changes without asking."),
    file: Optional[Path] = typer.Option(
        None, "-f", "--file", dir_okay=False,
        help="The cog.yaml to use (default: the one in this directory or the nearest parent).",
    ),
) -> None:
    """Upgrade a project written for the original Cog (environment:, model:, @cog.input) to today's format."""
    from cog.cli import output
    from cog.config.migrate import migrate_project
    from cog.config.project import load_project

    project = load_project(file)  # a malformed cog.yaml stops here, with its located one-line error
    directory = project.directory
    config_text = _read_text(project.config_path)
    migration = migrate_project(
        config_text,
        read=lambda relative: _read_bytes(directory / relative),
        config_path=project.config_path.name,
        display=project.config.file,
    )
    if not migration.changes:
        for notice in migration.notices:
            output.warning(notice)
        output.info(f"nothing to migrate: {project.config.file} is already in today's format")
        return
    for change in migration.changes:
        sys.stdout.write(unified_diff(change.path, change.old, change.new))
    sys.stdout.flush()
    for notice in migration.notices:
        output.warning(notice)
    if not yes:
        if not _confirm("Apply these changes?"):
            output.info("Not applied: nothing was changed")
            return
    # The files cog.yaml names first, cog.yaml last: stopped halfway, cog.yaml still describes what is there.
    ordered = sorted(migration.changes, key=lambda change: change.path == project.config_path.name)
    for change in ordered:
        target = project.config_path if change.path == project.config_path.name else directory / change.path
        write_atomically(target, change.new.encode("utf-8"))
    output.success(f"Wrote {_listing([change.path for change in ordered])}")


def _confirm(question: str) -> bool:
    """Ask on standard error, so that standard output is only the diff (click's confirm writes a space there).
    Anything but y or yes, and the end of the input, is no."""
    sys.stderr.write(f"{question} [y/N]: ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    if not sys.stdin.isatty():  # the answer was not echoed: end the prompt's line
        sys.stderr.write("\n")
    return answer.strip().lower() in ("y", "yes")


def unified_diff(path: str, old: Optional[str], new: str) -> str:
    """A file's change as `diff -u` shows it, with git's a/ and b/ names (/dev/null for a new file)."""
    lines = difflib.unified_diff(
        _keep_ends(old or ""), _keep_ends(new), fromfile="/dev/null" if old is None else f"a/{path}",
        tofile=f"b/{path}",
    )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def _keep_ends(text: str) -> list[str]:
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path` and rename it over `path`: never half a file."""
    path = path.resolve()
    try:
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    temporary = None
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as exc:
        if temporary is not None and os.path.exists(temporary):
            os.unlink(temporary)
        raise CogError(f"cannot write {path}: {exc.strerror or exc}") from None


def _read_text(path: Path) -> str:
    data = _read_bytes(path)
    if data is None:
        raise CogError(f"{path}: file not found")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:  # pragma: no cover - load_project has read it as UTF-8 already
        raise CogError(f"{path} is not UTF-8 text (byte {exc.start})") from None


def _read_bytes(path: Path) -> Optional[bytes]:
    try:
        return path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    except OSError as exc:
        raise CogError(f"cannot read {path}: {exc.strerror or exc}") from None


def _listing(names: list[str]) -> str:
    """["a", "b", "c"] -> "a, b and c"."""
    return " and ".join(filter(None, [", ".join(names[:-1]), names[-1]]))
