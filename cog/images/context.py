"""What goes into the build contexts of a project: which files are weights, what the runtime needs."""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cog._version import __version__
from cog.errors import CogError

if TYPE_CHECKING:  # jinja2 comes with it: a rebuild's replay (cog.images.recipe) reads the project without it
    from cog.compiler.render import ContextLayout

# Never part of an image: version control, caches, and cog's own state (.dockerignore syntax, as every rule here).
ALWAYS_IGNORED = (".git", ".hg", ".svn", ".cog", "**/__pycache__", "**/*.pyc", ".venv", ".mypy_cache", ".pytest_cache")
IGNORE_FILES = (".dockerignore", ".cogignore")
# Files that are model weights by their kind, whatever their size; any file this large is treated the same.
WEIGHT_SUFFIXES = frozenset({
    ".bin", ".ckpt", ".gguf", ".h5", ".joblib", ".keras", ".model", ".msgpack", ".npy", ".npz", ".onnx",
    ".pb", ".pkl", ".pt", ".pth", ".safetensors", ".tflite",
})
WEIGHT_MIN_BYTES = 10 * 1024 * 1024


def _user_ignore_lines(project_dir: Path) -> list[tuple[str, int, str]]:
    """(file name, line number, line) of the project's .dockerignore and .cogignore."""
    lines = []
    for name in IGNORE_FILES:
        ignore_file = project_dir / name
        if ignore_file.is_file():
            text = ignore_file.read_text(encoding="utf-8").removeprefix("\ufeff")
            lines.extend((name, number, line) for number, line in enumerate(text.splitlines(), 1))
    return lines


def docker_ignore_lines(project_dir: Path) -> list[str]:
    """The main build context's ignore rules: ours, then the project's .dockerignore and .cogignore."""
    return [*ALWAYS_IGNORED, *(line for _, _, line in _user_ignore_lines(project_dir))]


@dataclass(frozen=True)
class IgnoreRule:
    """One pattern of a .dockerignore, read as Docker reads it (moby's patternmatcher): anchored at the context's
    root, `*` and `?` within a path segment, `**` across segments, and a match on a folder leaves out all it holds."""

    regex: re.Pattern
    exclusion: bool  # a `!` line: takes back what earlier lines left out


def ignore_rule(line: str) -> IgnoreRule | None:
    """The rule of one line; None for a blank line or a comment. ValueError names what is wrong with a bad one."""
    if line.startswith("#"):
        return None
    pattern = line.strip()
    exclusion = pattern.startswith("!")
    if exclusion:
        pattern = pattern[1:].strip()
        if not pattern:
            raise ValueError('"!" takes back nothing: a pattern must follow it')
    elif not pattern:
        return None
    pattern = posixpath.normpath(re.sub("^/+", "/", pattern))  # as Go's filepath.Clean: "//a/" is "/a"
    if len(pattern) > 1:
        pattern = pattern.removeprefix("/")
    try:
        return IgnoreRule(regex=re.compile(_pattern_regex(pattern)), exclusion=exclusion)
    except re.error as exc:
        raise ValueError(f"{pattern!r} is not a pattern ({exc})") from None


def _pattern_regex(pattern: str) -> str:
    regex, i = [], 0
    while i < len(pattern):
        character = pattern[i]
        if pattern.startswith("**", i):
            i += 2 + pattern.startswith("/", i + 2)  # "**/" is "**"
            regex.append(".*" if i >= len(pattern) else "(.*/)?")
            continue
        if character == "*":
            regex.append("[^/]*")
        elif character == "?":
            regex.append("[^/]")
        elif character == "\\":
            i += 1
            regex.append(re.escape(pattern[i]) if i < len(pattern) else "\\\\")
        elif character in ".+()|{}$":
            regex.append("\\" + character)
        else:  # [classes] as they are
            regex.append(character)
        i += 1
    return "".join(regex)


def ignore_rules(project_dir: Path) -> tuple[IgnoreRule, ...]:
    rules = [ignore_rule(line) for line in ALWAYS_IGNORED]
    for name, number, line in _user_ignore_lines(project_dir):
        try:
            rules.append(ignore_rule(line))
        except ValueError as exc:
            raise CogError(f"{name}:{number}: {exc}") from None
    return tuple(rule for rule in rules if rule is not None)


def is_ignored(path: str, rules: tuple[IgnoreRule, ...]) -> bool:
    """Whether BuildKit leaves this relative POSIX path out of the context: the last rule that matches it, or
    matches a folder above it, decides."""
    parents = path.split("/")[:-1]
    ignored = False
    for rule in rules:
        if rule.exclusion != ignored:
            continue  # it could not change the answer
        if rule.regex.fullmatch(path) or any(rule.regex.fullmatch("/".join(parents[:depth]))
                                             for depth in range(1, len(parents) + 1)):
            ignored = not rule.exclusion
    return ignored


def project_files(project_dir: Path) -> list[str]:
    """Relative POSIX paths of the files (and symbolic links) that belong in the image, sorted: what BuildKit
    copies of the project with its ignore rules."""
    return project_entries(project_dir)[0]


def project_entries(project_dir: Path) -> tuple[list[str], list[str]]:
    """(files, folders) of the project that belong in the image, each sorted: the files and symbolic links as
    project_files lists them, and the folders BuildKit copies too, an empty one as well."""
    rules = ignore_rules(project_dir)
    # A folder left out is not entered, unless a `!` rule could take back something in it.
    prune = not any(rule.exclusion for rule in rules)
    found, folders = [], []
    for root, directories, files in os.walk(project_dir):
        relative_root = Path(root).relative_to(project_dir)
        if prune:
            directories[:] = [d for d in directories if not is_ignored((relative_root / d).as_posix(), rules)]
        # os.walk does not enter a symbolic link to a directory; list the link itself, as BuildKit copies it.
        links = [d for d in directories if (Path(root) / d).is_symlink()]
        for name in [*files, *links]:
            relative = (relative_root / name).as_posix()
            if not is_ignored(relative, rules):
                found.append(relative)
        folders.extend(relative for d in directories if d not in links
                       and not is_ignored(relative := (relative_root / d).as_posix(), rules))
    return sorted(found), sorted(folders)


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
    from importlib import metadata  # a tenth of a rebuild's replay, which does not need it

    extras = ("server", "tracing") if tracing else ("server",)
    requirements = []
    for requirement in metadata.requires("cog") or ():
        name, _, marker = requirement.partition(";")
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", marker)
        if extra and extra[1] in extras:
            requirements.append(name.strip())
    return tuple(dict.fromkeys(requirements))


def context_layout(project_dir: Path, config_file: str, tracing: bool = False) -> ContextLayout:
    from cog.compiler.render import ContextLayout

    files = project_files(project_dir)
    return ContextLayout(
        wheel_name=f"cog-{__version__}-py3-none-any.whl",
        runtime_requirements=runtime_requirements(tracing),
        has_weights=bool(weight_files(project_dir, files)),
        config_file=config_file,
    )
