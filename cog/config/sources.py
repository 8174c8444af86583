"""Where a model's Python requirements come from: the file `python_requirements` names, by its name.

    requirements.txt (any other name)  pip's format                        cog.config.requirements
    pyproject.toml                     [project].dependencies, extras, PEP 735 groups   cog.config.pyproject
    uv.lock                            uv's lock, installed as locked       cog.config.locks
    pylock.toml, pylock.NAME.toml      PEP 751's lock, installed as locked  cog.config.locks

Each gives the same `Requirements`, its lines located FILE:LINE where they are written. A lock's lines are pinned
(`name==version`, with the distributions' hashes) for the image's Python and for each platform cog builds, with a
`platform_machine` marker on a line that only one platform installs. Pure: reads the files, nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from cog.config.requirements import Requirements, SourceKind, parse_requirements_file
from cog.errors import ConfigError, Location

_PYLOCK_NAME = re.compile(r"^pylock\.([^.]+\.)?toml$")
# A python_version without a patch release stands for the newest one, which is what the images have.
NEWEST_PATCH = 99


@dataclass(frozen=True)
class Selection:
    """What cog.yaml says about the requirements beyond the file: the image's Python, the extras and the
    dependency groups to install (`groups` None: not written), each with where it is written."""

    python_version: str
    python_where: Location | None = None
    python_explicit: bool = False
    extras: tuple[tuple[str, Location], ...] = ()
    groups: tuple[tuple[str, Location], ...] | None = None
    section: str = "build"  # build, or the original dialect's environment

    @property
    def python_minor(self) -> str:
        release = Version(self.python_version).release
        return f"{release[0]}.{release[1]}" if len(release) > 1 else self.python_version

    @property
    def python_full(self) -> str:
        """The version markers compare against: as written, or the newest patch release of the minor."""
        release = Version(self.python_version).release
        return self.python_version if len(release) > 2 else f"{self.python_minor}.{NEWEST_PATCH}"

    def python_words(self) -> str:
        """How the image's Python is named in messages: `Python 3.11 (build.python_version, cog.yaml:2:19)`."""
        if self.python_explicit and self.python_where is not None:
            return f"Python {self.python_version} ({self.section}.python_version, {self.python_where})"
        return f"Python {self.python_version} (cog's default; set {self.section}.python_version)"

    def allows_python(self, specifier: str) -> bool:
        """Whether a requires-python includes the image's Python (any patch release of a minor written alone)."""
        spec = SpecifierSet(specifier)
        if len(Version(self.python_version).release) > 2:
            return spec.contains(self.python_version, prereleases=True)
        return any(spec.contains(f"{self.python_minor}.{patch}", prereleases=True) for patch in range(NEWEST_PATCH + 1))


def source_kind(file_name: str) -> SourceKind:
    name = PurePosixPath(file_name.replace("\\", "/")).name
    if name == "pyproject.toml":
        return "pyproject"
    if name == "uv.lock":
        return "uv.lock"
    if _PYLOCK_NAME.match(name):
        return "pylock"
    return "requirements"


def check_requires_python(specifier, where: Location, selection: Selection, what: str) -> None:
    """A file's requires-python must include the image's Python: else one line naming both."""
    if specifier is None:
        return
    if not isinstance(specifier, str):
        raise ConfigError("requires-python must be a string such as \">=3.11\"", where)
    try:
        allowed = selection.allows_python(specifier)
    except InvalidSpecifier:
        raise ConfigError(f"requires-python `{specifier}` is not a version specifier", where) from None
    if not allowed:
        raise ConfigError(
            f"{what} is for Python {specifier}, which leaves out the image's {selection.python_words()}; "
            f"change python_version or {what}'s requires-python",
            where,
        )


def read_requirements(path: Path, display: str, project_dir: Path, selection: Selection) -> Requirements:
    """The requirements in the file `python_requirements` names. FileNotFoundError when it does not exist."""
    kind = source_kind(display)
    if not path.exists():
        raise FileNotFoundError(path)
    if kind == "requirements":
        if selection.extras or selection.groups:
            key = "python_extras" if selection.extras else "python_groups"
            where = (selection.extras or selection.groups)[0][1]
            raise ConfigError(
                f"{selection.section}.{key} selects from a pyproject.toml, uv.lock or pylock.toml; "
                f"python_requirements names `{display}`, a requirements file",
                where,
            )
        requirements = parse_requirements_file(path, display, project_dir)
    else:
        from cog.config.tomlsource import load_toml

        toml = load_toml(path, display)
        if kind == "pyproject":
            from cog.config.pyproject import read_pyproject

            requirements = read_pyproject(toml, project_dir, path.parent, selection)
        else:
            from cog.config.locks import read_pylock, read_uv_lock

            reader = read_uv_lock if kind == "uv.lock" else read_pylock
            requirements = reader(toml, project_dir, path.parent, selection)
    return requirements.model_copy(update={"kind": kind, "file": display})
