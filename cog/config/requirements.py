"""Python requirements, parsed with pip's own grammar (comments, -r includes, index options, markers, URLs)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pip_requirements_parser as pip_parser
from packaging.utils import canonicalize_name
from pydantic import BaseModel, ConfigDict

from cog.config.errors import ConfigError, Location


class Requirement(BaseModel):
    """One requirement line, as written, plus what pip understands of it."""

    model_config = ConfigDict(frozen=True)

    text: str  # the line as the user wrote it, without comments or line continuations
    name: str | None  # canonical project name (None for a bare URL or path)
    specifier: str = ""  # e.g. "==2.1.0+cu118" or ">=1.0,<2"
    extras: tuple[str, ...] = ()
    marker: str | None = None
    url: str | None = None  # a direct URL or path requirement
    editable: bool = False
    location: Location


class Requirements(BaseModel):
    model_config = ConfigDict(frozen=True)

    requirements: tuple[Requirement, ...] = ()
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    pre: bool = False


def parse_requirements_file(path: Path, display_path: str) -> Requirements:
    """Parse a requirements file and the files it includes with -r/-c; errors name FILE:LINE."""
    if not path.is_file():
        raise FileNotFoundError(path)
    parsed = pip_parser.RequirementsFile.from_file(str(path), include_nested=True)
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
    return _collect(parsed, where)


def parse_requirement_lines(lines: list[str], locations: list[Location]) -> Requirements:
    """Parse requirement strings from cog.yaml (python_packages), each located at its YAML node."""
    for line, location in zip(lines, locations):
        if "\n" in line or line.strip().startswith("-"):
            raise ConfigError(f"`{line.strip()}` must be one package requirement such as numpy==1.26.4", location)
    with tempfile.TemporaryDirectory() as scratch:
        file = Path(scratch) / "requirements.txt"
        file.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        parsed = pip_parser.RequirementsFile.from_file(str(file), include_nested=False)
    by_line = dict(enumerate(locations, start=1))
    for invalid in parsed.invalid_lines:
        raise ConfigError(
            f"pip cannot read `{invalid.line.strip()}`: {_first_line(invalid.error_message)}",
            by_line[invalid.line_number],
        )
    return _collect(parsed, lambda _file, line: by_line[line])


def _collect(parsed: pip_parser.RequirementsFile, where) -> Requirements:
    requirements = []
    for item in parsed.requirements:
        location = where(item.filename, item.line_number)
        if item.name is None and item.link is None:
            raise ConfigError(f"pip cannot read `{item.line}`", location)
        requirements.append(
            Requirement(
                text=item.line.strip(),
                name=canonicalize_name(item.name) if item.name else None,
                specifier=str(item.specifier) if item.specifier else "",
                extras=tuple(sorted(item.extras or ())),
                marker=str(item.marker) if item.marker else None,
                url=item.link.url if item.link else None,
                editable=bool(item.is_editable),
                location=location,
            )
        )
    options: dict[str, list] = {}
    for option_line in parsed.options:
        for key, value in option_line.options.items():
            options.setdefault(key, []).extend(value if isinstance(value, list) else [value])
    index_urls = options.get("index_url", [])
    return Requirements(
        requirements=tuple(requirements),
        index_url=index_urls[-1] if index_urls else None,
        extra_index_urls=tuple(dict.fromkeys(options.get("extra_index_urls", []))),
        find_links=tuple(dict.fromkeys(options.get("find_links", []))),
        pre=bool(options.get("pre")),
    )


def _first_line(text: str) -> str:
    return (text or "invalid requirement").strip().splitlines()[0]
