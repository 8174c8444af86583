"""Read the modules a project's Python files import: the I/O half of cog.compiler.imports, at the image stage.

The files are those the build context holds (the ignore rules of cog/images/context.py apply), minus hidden
folders, virtual environments and site-packages trees (a vendored venv imports everything), and files as large
as weights. The project's own top-level modules (`utils.py`, `mypkg/`) are left out: importing them needs
nothing installed. The result is data for resolve, which decides what it implies.
"""

from __future__ import annotations

import posixpath
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Iterable

from cog.compiler.imports import ModuleImport, imports_in_source, merge_imports
from cog.images.context import WEIGHT_MIN_BYTES, project_files

if TYPE_CHECKING:  # pydantic comes with it: a rebuild's replay (cog.images.recipe) scans imports without it
    from cog.config.project import Project


def project_imports(project: Project, files: Iterable[str] | None = None) -> tuple[ModuleImport, ...]:
    """The top-level modules the project's Python files import, each at its first place (files in sorted order),
    located as the user sees the project: beside cog.yaml as its messages name it.

    `files` are the project's files as context.project_files lists them (relative POSIX paths); listed here when
    not given.
    """
    return read_imports(project.directory, files, display_dir=posixpath.dirname(project.config.file))


def read_imports(project_dir: Path, files: Iterable[str] | None = None, *, display_dir: str = "") -> tuple[ModuleImport, ...]:
    """project_imports for a directory; locations are `display_dir`/FILE."""
    listed = sorted(project_files(project_dir) if files is None else files)
    environments = {str(PurePosixPath(path).parent) for path in listed if PurePosixPath(path).name == "pyvenv.cfg"}
    sources = [path for path in listed if path.endswith(".py") and not _skipped(PurePosixPath(path), environments)]
    own = {_own_module(PurePosixPath(path)) for path in sources}
    found = []
    for relative in sources:
        path = project_dir / relative
        try:
            if not path.is_file() or path.stat().st_size >= WEIGHT_MIN_BYTES:
                continue
            source = path.read_bytes()
        except OSError:
            continue
        found.append(imports_in_source(source, posixpath.join(display_dir, relative) if display_dir else relative))
    return tuple(item for item in merge_imports(*found) if item.module not in own)


def _skipped(path: PurePosixPath, environments: set[str]) -> bool:
    folders = path.parts[:-1]
    if any(part.startswith(".") or part in ("site-packages", "dist-packages", "node_modules") for part in folders):
        return True
    return any(str(PurePosixPath(*folders[:depth])) in environments for depth in range(1, len(folders) + 1))


def _own_module(path: PurePosixPath) -> str:
    """The top-level module a project file makes importable from the project's root: `pkg/a.py` → pkg."""
    return path.parts[0] if len(path.parts) > 1 else path.stem
