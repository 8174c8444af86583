"""The cog wheel that images carry, so the runtime in an image is exactly the version of the CLI that built it.

Written with the standard library, so `pip install -e .` followed by `cog build` needs nothing else:
- from a checkout (an editable install): the package's files (cog/, minus what .gitignore ignores), the data
  folders that pyproject.toml's [tool.hatch.build.targets.wheel.force-include] maps into the package
  (templates/, cuda_matrix/, ... as cog/_data/NAME), and a dist-info made from its [project] table;
- from an installed cog: repacked from the installed files (the wheel's RECORD).
Both are reproducible (fixed timestamps and modes, sorted entries: same files, same bytes) and need no network.
"""

from __future__ import annotations

import base64
import calendar
import csv
import hashlib
import io
import os
import shutil
import zipfile
from importlib import metadata
from pathlib import Path

import platformdirs

import cog
from cog._version import __version__
from cog.errors import CogError

WHEEL_NAME = f"cog-{__version__}-py3-none-any.whl"
DIST_INFO = f"cog-{__version__}.dist-info"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold: same files, same bytes
_PACKAGE = "cog"
_ALWAYS_SKIPPED = ("__pycache__", ".pyc", ".pyo")


def source_checkout() -> Path | None:
    root = Path(cog.__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    return root if pyproject.is_file() and 'name = "cog"' in pyproject.read_text(encoding="utf-8") else None


def build_runtime_wheel(directory: Path) -> Path:
    """Write the cog wheel into `directory` and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    for existing in directory.glob("cog-*.whl"):
        existing.unlink()
    checkout = source_checkout()
    target = directory / WHEEL_NAME
    if checkout is not None:
        return _build_from_checkout(checkout, target)
    return _repack_installed(target)


# --- from a checkout -------------------------------------------------------------------------------------


def _build_from_checkout(root: Path, target: Path) -> Path:
    pyproject = _read_pyproject(root / "pyproject.toml")
    ignored = _gitignore(root)
    files: dict[str, Path] = {}
    for path in _files_under(root / _PACKAGE, root, ignored):
        files[path.relative_to(root).as_posix()] = path
    for source, destination in _force_include(pyproject).items():
        where = root / source
        if where.is_file():
            files[destination] = where
            continue
        if not where.is_dir():
            raise CogError(f"pyproject.toml includes {source} in the wheel, but {where} does not exist")
        for path in _files_under(where, root, ignored):
            files[f"{destination}/{path.relative_to(where).as_posix()}"] = path
    entries = [(name, files[name].read_bytes()) for name in sorted(files)]
    project = pyproject.get("project", {})
    entries += [
        (f"{DIST_INFO}/METADATA", _metadata(project).encode()),
        (f"{DIST_INFO}/WHEEL", b"Wheel-Version: 1.0\nGenerator: cog\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
    ]
    entry_points = _entry_points(project)
    if entry_points:
        entries.append((f"{DIST_INFO}/entry_points.txt", entry_points.encode()))
    return _write_wheel(target, entries, f"{DIST_INFO}/RECORD")


def _read_pyproject(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise CogError("building images from a cog checkout on Python 3.10 needs tomli: pip install tomli") from None
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CogError(f"cannot read {path}: {error}") from None


def _force_include(pyproject: dict) -> dict[str, str]:
    """The folders (or files) outside the package that the wheel carries, and where in the wheel they go."""
    table = pyproject.get("tool", {}).get("hatch", {}).get("build", {}).get("targets", {}).get("wheel", {})
    return {str(source).strip("/"): str(destination).strip("/") for source, destination in table.get("force-include", {}).items()}


def _gitignore(root: Path):
    import pathspec

    ignore = root / ".gitignore"
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.is_file() else []
    return pathspec.GitIgnoreSpec.from_lines(lines)


def _files_under(directory: Path, root: Path, ignored) -> list[Path]:
    found = []
    for path in sorted(directory.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        relative = path.relative_to(root).as_posix()
        if any(part == "__pycache__" for part in path.parts) or relative.endswith(_ALWAYS_SKIPPED):
            continue
        if ignored.match_file(relative):
            continue
        found.append(path)
    return found


def _metadata(project: dict) -> str:
    """Core metadata (version 2.1) from pyproject.toml's [project] table."""
    from packaging.requirements import Requirement

    lines = ["Metadata-Version: 2.1", f"Name: {project.get('name', _PACKAGE)}", f"Version: {__version__}"]
    if project.get("description"):
        lines.append(f"Summary: {project['description']}")
    license = project.get("license")
    if isinstance(license, str):
        lines.append(f"License: {license}")
    elif isinstance(license, dict) and license.get("text"):
        lines.append(f"License: {license['text']}")
    if project.get("requires-python"):
        lines.append(f"Requires-Python: {project['requires-python']}")
    lines += [f"Requires-Dist: {dependency}" for dependency in project.get("dependencies", [])]
    for extra, dependencies in sorted(project.get("optional-dependencies", {}).items()):
        lines.append(f"Provides-Extra: {extra}")
        for dependency in dependencies:
            requirement = Requirement(dependency)
            marker = f'extra == "{extra}"'
            if requirement.marker is not None:
                marker = f"({requirement.marker}) and {marker}"
            requirement.marker = None
            lines.append(f"Requires-Dist: {requirement}; {marker}")
    return "\n".join(lines) + "\n"


def _entry_points(project: dict) -> str:
    groups = {"console_scripts": project.get("scripts", {}), "gui_scripts": project.get("gui-scripts", {})}
    groups.update(project.get("entry-points", {}))
    text = []
    for group, entries in groups.items():
        if entries:
            text.append(f"[{group}]")
            text += [f"{name} = {value}" for name, value in sorted(entries.items())]
            text.append("")
    return "\n".join(text)


# --- from an installed cog -------------------------------------------------------------------------------


def _repack_installed(target: Path) -> Path:
    distribution = metadata.distribution("cog")
    # What the installer added (INSTALLER, REQUESTED, direct_url.json) was never part of the wheel.
    added_by_installer = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json", ".pyc")
    files = sorted(str(path) for path in distribution.files or () if not str(path).endswith(added_by_installer))
    record_name = next(str(path) for path in distribution.files if str(path).endswith(".dist-info/RECORD"))
    entries = [
        (name, Path(distribution.locate_file(name)).read_bytes())
        for name in files
        if not name.startswith("..") and "/__pycache__/" not in name  # console scripts and caches live outside
    ]
    return _write_wheel(target, entries, record_name)


# --- the zip ---------------------------------------------------------------------------------------------


def _write_wheel(target: Path, entries: list[tuple[str, bytes]], record_name: str) -> Path:
    """A wheel of `entries` (in their order) and a RECORD of them with sha256 hashes, written last. The same
    entries give the same bytes, so a wheel made before is taken from the user's cache (compressing is most of
    the time it takes: 40 ms of every build)."""
    key = hashlib.sha256(record_name.encode())
    for name, data in entries:
        key.update(b"%d:%s\0%d:" % (len(name.encode()), name.encode(), len(data)))
        key.update(data)
    cached = _wheel_cache() / f"{key.hexdigest()}.whl"
    partial = target.with_name(target.name + ".partial")
    try:
        shutil.copyfile(cached, partial)
        os.utime(cached)  # the cache keeps the wheels used last
    except OSError:
        _zip(partial, entries, record_name)
        _keep(partial, cached)
    # uv records an installed file's modification time in its dist-info (uv_cache.json): the same for every build.
    fixed = calendar.timegm((*_FIXED_TIME, 0, 0, 0))
    os.utime(partial, (fixed, fixed))
    partial.replace(target)
    return target


def _wheel_cache() -> Path:
    return Path(platformdirs.user_cache_dir("cog")) / "runtime-wheels"


def _keep(wheel: Path, cached: Path, kept: int = 4) -> None:
    """Put a copy of `wheel` in the cache, which keeps the last `kept` (one per version of cog's files); where the
    cache cannot be written, nothing is kept."""
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        copy = cached.with_name(f"{cached.name}.{os.getpid()}.partial")
        shutil.copyfile(wheel, copy)
        copy.replace(cached)
        for old in sorted(cached.parent.glob("*.whl"), key=lambda path: path.stat().st_mtime)[:-kept]:
            old.unlink()
    except OSError:
        pass


def _zip(partial: Path, entries: list[tuple[str, bytes]], record_name: str) -> None:
    rows = []
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(_info(name), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            rows.append((name, f"sha256={digest}", str(len(data))))
        rows.append((record_name, "", ""))
        record = io.StringIO()
        csv.writer(record, lineterminator="\n").writerows(rows)
        archive.writestr(_info(record_name), record.getvalue())


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info
