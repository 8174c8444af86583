"""What goes into the build contexts of a project: which files are weights, what the runtime needs."""

from __future__ import annotations

import os
import re
from importlib import metadata
from pathlib import Path

import pathspec

from cog._version import __version__
from cog.compiler.render import ContextLayout

# Never part of an image: version control, caches, and cog's own state (gitignore syntax, for our own scan)...
ALWAYS_IGNORED = (".git/", ".hg/", ".svn/", ".cog/", "__pycache__/", "*.pyc", ".venv/", ".mypy_cache/", ".pytest_cache/")
# ...and the same in .dockerignore syntax, for BuildKit, which anchors patterns at the context's root.
ALWAYS_IGNORED_DOCKER = (".git", ".hg", ".svn", ".cog", "**/__pycache__", "**/*.pyc", ".venv", ".mypy_cache", ".pytest_cache")
IGNORE_FILES = (".dockerignore", ".cogignore")
# Files that are model weights by their kind, whatever their size; any file this large is treated the same.
WEIGHT_SUFFIXES = frozenset({
    ".bin", ".ckpt", ".gguf", ".h5", ".joblib", ".keras", ".model", ".msgpack", ".npy", ".npz", ".onnx",
    ".pb", ".pkl", ".pt", ".pth", ".safetensors", ".tflite",
})
WEIGHT_MIN_BYTES = 10 * 1024 * 1024


def _user_ignore_lines(project_dir: Path) -> list[str]:
    lines: list[str] = []
    for name in IGNORE_FILES:
        ignore_file = project_dir / name
        if ignore_file.is_file():
            lines.extend(ignore_file.read_text(encoding="utf-8").splitlines())
    return lines


def ignore_spec(project_dir: Path) -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines([*ALWAYS_IGNORED, *_user_ignore_lines(project_dir)])


def docker_ignore_lines(project_dir: Path) -> list[str]:
    """The main build context's ignore rules: ours, then the project's .dockerignore and .cogignore."""
    return [*ALWAYS_IGNORED_DOCKER, *_user_ignore_lines(project_dir)]


def project_files(project_dir: Path, spec: pathspec.GitIgnoreSpec | None = None) -> list[str]:
    """Relative POSIX paths of the files (and symbolic links) that belong in the image, sorted."""
    spec = spec or ignore_spec(project_dir)
    found = []
    for root, directories, files in os.walk(project_dir):
        relative_root = Path(root).relative_to(project_dir)
        directories[:] = [d for d in directories if not spec.match_file(f"{(relative_root / d).as_posix()}/")]
        # os.walk does not enter a symbolic link to a directory; list the link itself, as BuildKit copies it.
        links = [d for d in directories if (Path(root) / d).is_symlink()]
        for name in [*files, *links]:
            relative = (relative_root / name).as_posix()
            if not spec.match_file(relative):
                found.append(relative)
    return sorted(found)


def weight_files(project_dir: Path, files: list[str]) -> list[str]:
    weights = []
    for relative in files:
        path = project_dir / relative
        if path.suffix.lower() in WEIGHT_SUFFIXES or (path.is_file() and path.stat().st_size >= WEIGHT_MIN_BYTES):
            weights.append(relative)
    return weights


def runtime_requirements(tracing: bool = False) -> tuple[str, ...]:
    """The prediction server's packages: cog's `server` extra as the installed cog declares it, and its `tracing`
    extra (the OpenTelemetry SDK) for a config with build.tracing."""
    extras = ("server", "tracing") if tracing else ("server",)
    requirements = []
    for requirement in metadata.requires("cog") or ():
        name, _, marker = requirement.partition(";")
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", marker)
        if extra and extra[1] in extras:
            requirements.append(name.strip())
    return tuple(dict.fromkeys(requirements))


def context_layout(project_dir: Path, config_file: str, tracing: bool = False) -> ContextLayout:
    files = project_files(project_dir)
    return ContextLayout(
        wheel_name=f"cog-{__version__}-py3-none-any.whl",
        runtime_requirements=runtime_requirements(tracing),
        has_weights=bool(weight_files(project_dir, files)),
        config_file=config_file,
    )
