"""Python requirements, parsed with pip's own grammar (comments, -r includes, index options, markers, URLs)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from packaging.utils import canonicalize_name
from pydantic import BaseModel, ConfigDict

from cog.errors import ConfigError, ConfigWarning, Location

if TYPE_CHECKING:
    from pip_requirements_parser import RequirementsFile

# Options passed through to the installer as written; the index options are collected into fields instead.
PASS_THROUGH_OPTIONS = {"no_binary": "--no-binary", "only_binary": "--only-binary", "no_index": "--no-index",
                        "prefer_binary": "--prefer-binary"}
COLLECTED_OPTIONS = {"index_url", "extra_index_urls", "find_links", "pre", "requirements", "constraints"}


class Requirement(BaseModel):
    """One requirement line, as written, plus what pip understands of it."""

    model_config = ConfigDict(frozen=True)

    text: str  # the line as the user wrote it, without comments or line continuations
    name: str | None  # canonical project name (None for a bare URL or path)
    specifier: str = ""  # e.g. "==2.1.0+cu118" or ">=1.0,<2"
    extras: tuple[str, ...] = ()
    marker: str | None = None
    url: str | None = None  # a direct URL or path requirement
    local_path: str | None = None  # for a path inside the project: that path, relative to the project, POSIX
    editable: bool = False
    location: Location
    # From a lock (uv.lock, pylock.toml): the distributions' hashes ("sha256:..."), and the platforms the lock
    # installs it on (None: all of them; else the text carries a platform_machine marker).
    hashes: tuple[str, ...] = ()
    platforms: tuple[str, ...] | None = None

    def line(self) -> str:
        """The requirement as an installer reads it: the text, then each hash on a continuation line."""
        return self.text + "".join(f" \\\n    --hash={digest}" for digest in self.hashes)


# Where the requirements came from: build.python_requirements names one of these (by its file name).
SourceKind = Literal["requirements", "pyproject", "uv.lock", "pylock"]
LOCK_KINDS = ("uv.lock", "pylock")


class PlatformGap(BaseModel):
    """A platform a lock does not cover, with what to say when an image for it is resolved."""

    model_config = ConfigDict(frozen=True)

    platform: str
    message: str
    location: Location


class Requirements(BaseModel):
    model_config = ConfigDict(frozen=True)

    requirements: tuple[Requirement, ...] = ()
    constraints: tuple[Requirement, ...] = ()  # from -c files: limit versions, install nothing
    options: tuple[str, ...] = ()  # installer options passed through, e.g. "--no-binary :all:"
    warnings: tuple[ConfigWarning, ...] = ()
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    pre: bool = False
    kind: SourceKind | None = None  # None: no file (no requirements, or python_packages)
    file: str | None = None  # the file build.python_requirements names, as written
    gaps: tuple[PlatformGap, ...] = ()  # a lock's: the platforms it cannot install on, and why

    @property
    def locked(self) -> bool:
        """Installed exactly as a lock says: every version and hash decided, no resolution in the build."""
        return self.kind in LOCK_KINDS

    def gap(self, platform: str) -> PlatformGap | None:
        return next((gap for gap in self.gaps if gap.platform == platform), None)


def parse_requirements_file(path: Path, display_path: str, project_dir: Path) -> Requirements:
    """Parse a requirements file and the files it includes with -r/-c; errors name FILE:LINE."""
    if not path.is_file():
        raise FileNotFoundError(path)
    parsed = _pip_reading(path, include_nested=True, display_path=display_path)
    base_dir = path.parent

    def where(filename: str, line: int | None) -> Location:
        relative = os.path.relpath(filename, base_dir)
        shown = display_path if relative == path.name else str(Path(display_path).parent / relative)
        return Location(shown, line)

    for invalid in parsed.invalid_lines:
        raise ConfigError(
            f"pip cannot read `{invalid.line.strip()}`: {_first_line(invalid.error_message)}",
            where(invalid.filename, invalid.line_number),
        )
    return _collect(parsed, where, project_dir)


# An index option written after a package in python_packages: "torch==1.13.1 --extra-index-url=URL", "x -f URL".
_PACKAGE_OPTION = re.compile(r"\s+(--extra-index-url|--find-links|-f)(?:=|\s+)(\S+)")


def parse_requirement_lines(lines: list[str], locations: list[Location], project_dir: Path) -> Requirements:
    """Parse requirement strings from cog.yaml (python_packages), each located at its YAML node."""
    option_lines: list[tuple[str, Location]] = []
    package_lines: list[tuple[str, Location]] = []
    for line, location in zip(lines, locations):
        if "\n" in line or line.strip().startswith("-"):
            raise ConfigError(f"`{line.strip()}` must be one package requirement such as numpy==1.26.4", location)
        # As Cog does, an index option after a package goes to the top of the file (pip takes none on a package).
        option_lines += [(f"{found[1]} {found[2]}", location) for found in _PACKAGE_OPTION.finditer(line)]
        package_lines.append((_PACKAGE_OPTION.sub("", line), location))
    written = option_lines + package_lines
    with tempfile.TemporaryDirectory() as scratch:
        file = Path(scratch) / "requirements.txt"
        file.write_text("".join(line + "\n" for line, _ in written), encoding="utf-8")
        parsed = _pip_reading(file, include_nested=False, display_path="cog.yaml")
    by_line = {number: location for number, (_, location) in enumerate(written, start=1)}
    for invalid in parsed.invalid_lines:
        raise ConfigError(
            f"pip cannot read `{invalid.line.strip()}`: {_first_line(invalid.error_message)}",
            by_line[invalid.line_number],
        )
    # python_packages are relative to cog.yaml, i.e. to the project directory.
    return _collect(parsed, lambda _file, line: by_line[line], project_dir, base_dir=project_dir)


def _pip_reading(path: Path, include_nested: bool, display_path: str) -> RequirementsFile:
    """pip's reading of a requirements file and the files it includes; what pip cannot open is a ConfigError."""
    import pip_requirements_parser  # a twentieth of a second: only for a project with requirements

    where = Location(display_path)
    try:
        path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"is not UTF-8 text (byte {exc.start})", where) from None
    try:
        return pip_requirements_parser.RequirementsFile.from_file(str(path), include_nested=include_nested)
    except UnicodeDecodeError as exc:
        raise ConfigError(f"a file it includes (-r/-c) is not UTF-8 text (byte {exc.start})", where) from None
    except RecursionError:
        raise ConfigError("its -r/-c includes lead back to a file already included", where) from None
    except pip_requirements_parser.InstallationError as exc:
        # "Could not open requirements file: PATH|n[Errno 2] No such file or directory: 'PATH'"
        found = re.match(r"Could not open requirements file: (?P<file>.*?)\|n(?:\[Errno \d+\] )?(?P<why>[^:]*)", str(exc))
        if found is None:
            raise ConfigError(f"pip cannot read it: {_first_line(str(exc))}", where) from None
        included = os.path.relpath(found["file"], path.parent)
        raise ConfigError(f"includes {included} (-r/-c), which cannot be opened: {found['why'].lower()}", where) from None


def _collect(parsed: RequirementsFile, where, project_dir: Path, base_dir: Path | None = None) -> Requirements:
    requirements, constraints = [], []
    for item in parsed.requirements:
        location = where(item.filename, item.line_number)
        if item.name is None and item.link is None:
            raise ConfigError(f"pip cannot read `{item.line}`", location)
        url = item.link.url if item.link else None
        requirement = Requirement(
            text=item.line.strip(),
            name=canonicalize_name(item.name) if item.name else None,
            specifier=str(item.specifier) if item.specifier else "",
            extras=tuple(sorted(item.extras or ())),
            marker=str(item.marker) if item.marker else None,
            url=url,
            local_path=_local_path(url, base_dir or Path(item.filename).parent, project_dir, location) if url else None,
            editable=bool(item.is_editable),
            location=location,
        )
        (constraints if getattr(item, "is_constraint", False) else requirements).append(requirement)
    options: dict[str, list] = {}
    passed_through, warnings = [], []
    for option_line in parsed.options:
        for key, value in option_line.options.items():
            values = value if isinstance(value, list) else [value]
            options.setdefault(key, []).extend(values)
            if key in PASS_THROUGH_OPTIONS:
                flag = PASS_THROUGH_OPTIONS[key]
                passed_through.extend(f"{flag} {v}" if isinstance(v, str) else flag for v in values)
            elif key not in COLLECTED_OPTIONS:
                warnings.append(ConfigWarning(
                    f"`{option_line.line.strip()}` is ignored: cog's installer (uv) has no such option",
                    where(option_line.filename, option_line.line_number),
                ))
    index_urls = options.get("index_url", [])
    return Requirements(
        requirements=tuple(requirements),
        constraints=tuple(constraints),
        options=tuple(dict.fromkeys(passed_through)),
        warnings=tuple(warnings),
        index_url=index_urls[-1] if index_urls else None,
        extra_index_urls=tuple(dict.fromkeys(options.get("extra_index_urls", []))),
        find_links=tuple(dict.fromkeys(options.get("find_links", []))),
        pre=bool(options.get("pre")),
    )


def _local_path(url: str, base_dir: Path, project_dir: Path, location: Location) -> str | None:
    """A path requirement as a path inside the project (which is all the image build can see); None for URLs."""
    if "://" in url and not url.startswith("file:"):
        return None
    raw = url[len("file://"):] if url.startswith("file://") else url[len("file:"):] if url.startswith("file:") else url
    target = (base_dir / raw).resolve()
    try:
        relative = target.relative_to(project_dir.resolve())
    except ValueError:
        raise ConfigError(
            f"`{url}` is outside the project directory, which is all an image build can see; move it into the project",
            location,
        ) from None
    return relative.as_posix()


def _first_line(text: str) -> str:
    return (text or "invalid requirement").strip().splitlines()[0]
