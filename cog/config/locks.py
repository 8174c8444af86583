"""Lock files as requirements sources, read without uv: uv.lock and PEP 751's pylock.toml → pinned lines.

For the image's Python and each platform cog builds (linux/amd64, linux/arm64) a lock says which distributions to
install: uv.lock is a graph, walked from the project through the extras and dependency groups that cog.yaml
selects, following the dependencies whose markers hold there; pylock.toml is a list, each package with the marker
that says where it is installed. Each chosen package becomes `name==version` (or `name @ URL`, a git commit, a
project path) with the hashes of its sdist and of the wheels that fit the platform and Python, and a
`platform_machine` marker when only one platform installs it. The build installs those lines with --no-deps
(and --require-hashes when every line has hashes), so nothing is resolved in the build: the image gets the
lock's versions.

What a lock cannot install is an error before any build: a Python outside its requires-python (here), a platform
outside its environments (supported-markers, resolution-markers, environments) or a package with no wheel for the
platform and no sdist (recorded as a PlatformGap, raised when that platform is resolved).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

from packaging.markers import InvalidMarker, Marker
from packaging.specifiers import InvalidSpecifier
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from cog.config.pyproject import unknown_name
from cog.config.requirements import PlatformGap, Requirement, Requirements, _local_path
from cog.config.sources import Selection, check_requires_python
from cog.config.tomlsource import TomlFile
from cog.errors import ConfigError, Location

PLATFORM_MACHINES = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
PYPI_INDEXES = ("https://pypi.org/simple", "https://pypi.python.org/simple")
# uv writes conflicting extras and groups into markers as `extra == 'extra-7-project-cuda'`.
_ENCODED_EXTRA = re.compile(r"""\bextra\s*(==|!=)\s*(['"])((?:extra|group)-\d+-[^'"]+)\2""")


@dataclass(frozen=True)
class Target:
    """One image's environment, as markers and wheel tags see it."""

    platform: str
    selection: Selection
    extras: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()

    @property
    def machine(self) -> str:
        return PLATFORM_MACHINES[self.platform]

    def environment(self) -> dict[str, Any]:
        full = self.selection.python_full
        return {
            "implementation_name": "cpython", "implementation_version": full, "os_name": "posix",
            "platform_machine": self.machine, "platform_python_implementation": "CPython", "platform_release": "",
            "platform_system": "Linux", "platform_version": "", "python_full_version": full,
            "python_version": self.selection.python_minor, "sys_platform": "linux",
            "extra": "", "extras": set(self.extras), "dependency_groups": set(self.groups),
        }

    def holds(self, marker: str | None, where: Location) -> bool:
        if not marker:
            return True
        if not isinstance(marker, str):
            raise ConfigError("a marker must be a string", where)
        text = _ENCODED_EXTRA.sub(lambda m: f"'{m.group(3)}' {'in' if m.group(1) == '==' else 'not in'} extras", marker)
        try:
            parsed = Marker(text)
        except InvalidMarker as exc:
            raise ConfigError(f"`{marker}` is not a marker cog can read: {str(exc).splitlines()[0]}", where) from None
        try:
            return parsed.evaluate(self.environment(), context="lock_file")
        except TypeError:  # packaging older than 25 knows no lock-file markers
            return parsed.evaluate({key: value for key, value in self.environment().items()
                                    if isinstance(value, str)})

    def fits_wheel(self, filename: str) -> bool:
        """Whether a wheel installs here: a CPython of the image's minor (or abi3 for an older one, or pure
        Python), on glibc Linux of this machine (manylinux or linux tags) or any platform."""
        try:
            _, _, _, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            return True  # not ours to judge: keep its hash
        minor = int(self.selection.python_minor.split(".")[1])
        for tag in tags:
            platform = tag.platform
            if not (platform == "any" or (platform.startswith(("linux_", "manylinux")) and
                                          platform.endswith("_" + self.machine))):
                continue
            interpreter, abi = tag.interpreter, tag.abi
            if interpreter.startswith("py3") and (interpreter == "py3" or _int(interpreter[3:]) <= minor):
                return True
            if interpreter.startswith("cp3"):
                version = _int(interpreter[3:])
                if abi == "abi3" and version <= minor:
                    return True
                if abi in ("none", f"cp3{minor}") and version == minor:
                    return True
        return False


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 10_000


def _platform_marker(platforms: tuple[str, ...]) -> str:
    return " or ".join(f"platform_machine == '{PLATFORM_MACHINES[platform]}'" for platform in platforms)


@dataclass
class _Pinned:
    """A package a lock installs somewhere: how it is written as a requirement, and where."""

    name: str
    version: str | None
    text: str  # without a platform marker
    location: Location
    url: str | None = None
    local_path: str | None = None
    sdist_hash: str | None = None
    wheels: list[tuple[str, str | None]] = field(default_factory=list)  # (file name, hash)
    index: str | None = None
    platforms: list[str] = field(default_factory=list)

    def hashes(self, targets: list[Target]) -> tuple[str, ...]:
        chosen = [digest for name, digest in self.wheels if digest and any(t.fits_wheel(name) for t in targets)]
        if self.sdist_hash:
            chosen.append(self.sdist_hash)
        return tuple(sorted(set(chosen)))

    def installable(self, target: Target) -> bool:
        if self.url is not None or self.local_path is not None or self.sdist_hash or not self.wheels:
            return True
        return any(target.fits_wheel(name) for name, _ in self.wheels)


def _requirements(pinned: list[_Pinned], targets: dict[str, Target], gaps: list[PlatformGap]) -> Requirements:
    """The pinned packages as Requirements, in name order, each with the platforms that install it (a marker
    when that is not every platform the lock covers)."""
    requirements: list[Requirement] = []
    indexes: list[str] = []
    covered = [platform for platform in targets if platform not in {gap.platform for gap in gaps}]
    for package in sorted(pinned, key=lambda p: (canonicalize_name(p.name), p.version or "", p.text)):
        if not package.platforms:
            continue
        platforms = tuple(platform for platform in targets if platform in package.platforms)
        every = list(platforms) == covered
        marker = None if every else _platform_marker(platforms)
        text = package.text + (f"; {marker}" if marker else "")
        specifier = f"=={package.version}" if package.url is None and package.local_path is None and package.version else ""
        requirements.append(Requirement(
            text=text, name=canonicalize_name(package.name), specifier=specifier, marker=marker, url=package.url,
            local_path=package.local_path, location=package.location,
            hashes=package.hashes([targets[platform] for platform in platforms]),
            platforms=None if every else platforms,
        ))
        if package.index and package.index.rstrip("/") not in PYPI_INDEXES and package.index not in indexes:
            indexes.append(package.index)
    return Requirements(requirements=tuple(requirements), extra_index_urls=tuple(indexes), gaps=tuple(gaps))


def _names(values, what: str, where: Location) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise ConfigError(f"{what} must be a list of strings", where)
    return values


def _header_lines(toml: TomlFile, table: str) -> list[int]:
    """The line of each `[[table]]` header, in order: the i-th is the i-th entry of the array."""
    pattern = re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]")
    return [number for number, line in enumerate(toml.lines, start=1) if pattern.match(line)]


def _targets(selection: Selection, extras=frozenset(), groups=frozenset()) -> dict[str, Target]:
    return {platform: Target(platform, selection, frozenset(extras), frozenset(groups)) for platform in PLATFORM_MACHINES}


def _check_hash(value, where: Location) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or ":" not in value:
        raise ConfigError(f"`{value}` is not a hash such as sha256:HEX", where)
    return value


def _git_requirement(name: str, url: str, commit: str | None, subdirectory: str | None) -> str:
    reference = f"@{commit}" if commit else ""
    return f"{name} @ git+{url}{reference}" + (f"#subdirectory={subdirectory}" if subdirectory else "")


def _wheel_gap(package: _Pinned, target: Target, file: str) -> PlatformGap:
    version = f" {package.version}" if package.version else ""
    return PlatformGap(
        platform=target.platform,
        message=(f"{file} locks {package.name}{version}, which has no wheel for {target.platform} and Python "
                 f"{target.selection.python_minor} and no sdist; lock it for that platform, or build for another"),
        location=package.location,
    )


# --- uv.lock ----------------------------------------------------------------------------------------------


def read_uv_lock(toml: TomlFile, project_dir: Path, base_dir: Path, selection: Selection) -> Requirements:
    data, file = toml.data, toml.display
    version = data.get("version")
    if version != 1:
        what = "has no `version`, so it is not a uv.lock" if version is None else f"is a uv.lock of version {version!r}"
        raise ConfigError(f"{what}; cog reads version 1 (uv 0.4 and newer)",
                          toml.at(toml.key_line("version", None, within_table=False)))
    check_requires_python(data.get("requires-python"), toml.at(toml.key_line("requires-python", 1)), selection, file)
    packages = data.get("package") or []
    if not isinstance(packages, list) or not all(isinstance(package, dict) for package in packages):
        raise ConfigError("[[package]] must be an array of tables", toml.at())
    lines = _header_lines(toml, "package")

    def where(index: int) -> Location:
        return toml.at(lines[index] if index < len(lines) else None)

    by_name: dict[str, list[int]] = {}
    for index, package in enumerate(packages):
        if not isinstance(package.get("name"), str):
            raise ConfigError("a [[package]] has no name", where(index))
        by_name.setdefault(canonicalize_name(package["name"]), []).append(index)

    roots = [index for index, package in enumerate(packages)
             if any((package.get("source") or {}).get(kind) == "." for kind in ("virtual", "editable"))]
    if not roots:
        members = (data.get("manifest") or {}).get("members") or []
        roots = [index for member in members for index in by_name.get(canonicalize_name(member), [])]
    if not roots:
        raise ConfigError("has no project at its own directory (a package with source virtual or editable \".\"), "
                          "so cog cannot tell what to install; lock the model's project with uv lock", toml.at())
    root_names = [canonicalize_name(packages[index]["name"]) for index in roots]

    # What cog.yaml selects, against what the project offers.
    offered_extras: dict[str, str] = {}
    offered_groups: dict[str, str] = {}
    for index in roots:
        package = packages[index]
        metadata = package.get("metadata") or {}
        for name in (*(package.get("optional-dependencies") or {}), *(metadata.get("provides-extras") or [])):
            offered_extras.setdefault(canonicalize_name(name), name)
        for name in (*(package.get("dev-dependencies") or {}), *(metadata.get("requires-dev") or {})):
            offered_groups.setdefault(canonicalize_name(name), name)
    extras = _selected(selection.extras, offered_extras, "extra", file)
    groups = _selected(selection.groups or (), offered_groups, "dependency group", file)
    _check_conflicts(data.get("conflicts"), extras, groups, selection, file, toml)
    encoded = {f"extra-{len(root)}-{root}-{name}" for root in root_names for name in extras} | \
              {f"group-{len(root)}-{root}-{name}" for root in root_names for name in groups}
    targets = _targets(selection, encoded)

    pinned: dict[int, _Pinned | None] = {}
    gaps: list[PlatformGap] = []
    for platform, target in targets.items():
        gap = _uv_coverage(data, toml, target, file)
        if gap is None:
            entries: list[_Pinned] = []
            for index in sorted(_walk(packages, by_name, roots, extras, groups, target, where, file)):
                if index not in pinned:
                    pinned[index] = _uv_pinned(packages[index], where(index), project_dir, base_dir)
                package = pinned[index]
                if package is None:
                    continue
                if not package.installable(target):
                    gap = _wheel_gap(package, target, file)
                    break
                entries.append(package)
        if gap is not None:
            gaps.append(gap)
            continue
        for package in entries:
            package.platforms.append(platform)
    return _requirements([p for p in pinned.values() if p is not None], targets, gaps)


def _selected(chosen, offered: dict[str, str], what: str, file: str) -> list[str]:
    names = []
    for name, where in chosen:
        normalized = canonicalize_name(name)
        if normalized not in offered:
            raise unknown_name(what, name, offered.values(), file, where)
        if normalized not in names:
            names.append(normalized)
    return names


def _check_conflicts(conflicts, extras: list[str], groups: list[str], selection: Selection, file: str,
                     toml: TomlFile) -> None:
    """uv's [tool.uv] conflicts: two extras (or groups) the project says cannot be installed together."""
    locations = {("extra", canonicalize_name(n)): w for n, w in selection.extras}
    locations.update({("group", canonicalize_name(n)): w for n, w in selection.groups or ()})
    for conflict in conflicts or ():
        chosen = []
        for item in conflict if isinstance(conflict, list) else ():
            if not isinstance(item, dict):
                continue
            for kind, names in (("extra", extras), ("group", groups)):
                if isinstance(item.get(kind), str) and canonicalize_name(item[kind]) in names:
                    chosen.append((kind, canonicalize_name(item[kind])))
        if len(chosen) > 1:
            (first_kind, first), (kind, second) = chosen[0], chosen[1]
            raise ConfigError(
                f"{file} says {first_kind} `{first}` and {kind} `{second}` conflict (uv's conflicts); select one",
                locations.get((kind, second), toml.at()),
            )


def _uv_coverage(data: dict, toml: TomlFile, target: Target, file: str) -> PlatformGap | None:
    """A platform the lock's environments leave out: supported-markers (uv's [tool.uv] environments), or
    resolution-markers (its forks) of which none holds."""
    for key, why in (("supported-markers", "[tool.uv] environments"), ("resolution-markers", "resolution")):
        markers = data.get(key)
        if not markers:
            continue
        line = toml.key_line(key, 1)
        where = toml.at(line)
        if not any(target.holds(marker, where) for marker in _names(markers, key, where)):
            return PlatformGap(
                platform=target.platform,
                message=(f"is locked for {' or '.join(markers)} ({why}), which leaves out {target.platform} with "
                         f"Python {target.selection.python_minor}; add it to [tool.uv] environments and lock again"),
                location=where,
            )
    return None


def _walk(packages: list[dict], by_name: dict[str, list[int]], roots: list[int], extras: list[str],
          groups: list[str], target: Target, where, file: str) -> set[int]:
    """The packages the lock installs for this target: the roots' dependencies, their selected extras and groups,
    and everything those depend on where their markers hold."""
    chosen: set[int] = set()
    done: set[tuple[int, str | None]] = set()
    work: list[tuple[int, str | None, str]] = []  # (package, None or an extra or "group:NAME", edge kind)

    for root in roots:
        work.append((root, None, "dependencies"))
        for extra in extras:
            work.append((root, extra, "optional-dependencies"))
        for group in groups:
            work.append((root, group, "dev-dependencies"))
    while work:
        index, part, kind = work.pop()
        if (index, f"{kind}:{part}") in done:
            continue
        done.add((index, f"{kind}:{part}"))
        package = packages[index]
        chosen.add(index)
        edges = package.get(kind)
        if part is not None:
            table = edges if isinstance(edges, dict) else {}
            edges = {canonicalize_name(key): value for key, value in table.items()}.get(part)
        edges = edges or []
        if not isinstance(edges, list):
            raise ConfigError(f"{package['name']}'s {kind} must be a list", where(index))
        for edge in edges:
            if not isinstance(edge, dict) or not isinstance(edge.get("name"), str):
                raise ConfigError(f"{package['name']} has a dependency without a name", where(index))
            if not target.holds(edge.get("marker"), where(index)):
                continue
            dependency = _edge_target(packages, by_name, edge, package, index, target, where, file)
            work.append((dependency, None, "dependencies"))
            for extra in edge.get("extra") or ():
                work.append((dependency, canonicalize_name(extra), "optional-dependencies"))
    return chosen


def _edge_target(packages, by_name, edge: dict, package: dict, index: int, target: Target, where, file) -> int:
    name = canonicalize_name(edge["name"])
    candidates = by_name.get(name, [])
    if "version" in edge:
        candidates = [i for i in candidates if packages[i].get("version") == edge["version"]]
    if "source" in edge:
        candidates = [i for i in candidates if packages[i].get("source") == edge["source"]]
    if len(candidates) > 1:  # forks: the one whose resolution-markers hold here
        candidates = [i for i in candidates if not packages[i].get("resolution-markers")
                      or any(target.holds(m, where(i)) for m in packages[i]["resolution-markers"])]
    if len(candidates) != 1:
        what = "does not have" if not candidates else "has more than one of, for this platform,"
        raise ConfigError(f"{package['name']} depends on {edge['name']}, which {file} {what}; lock again with uv lock",
                          where(index))
    return candidates[0]


def _uv_pinned(package: dict, location: Location, project_dir: Path, base_dir: Path) -> _Pinned | None:
    """How a uv.lock package is installed; None for the project itself and members without a build."""
    name, version = package["name"], package.get("version")
    source = package.get("source") or {}
    if not isinstance(source, dict) or len(source) != 1:
        raise ConfigError(f"{name} has no source cog can read", location)
    (kind, value), = source.items()
    sdist = package.get("sdist") or {}
    pinned = _Pinned(name=name, version=version, text=f"{name}=={version}", location=location,
                     sdist_hash=_check_hash(sdist.get("hash"), location) if isinstance(sdist, dict) else None)
    for wheel in package.get("wheels") or ():
        url = wheel.get("url") or wheel.get("path") or wheel.get("filename") or ""
        pinned.wheels.append((unquote(PurePosixPath(urlsplit(url).path).name), _check_hash(wheel.get("hash"), location)))
    if kind == "registry":
        if not str(value).startswith(("http://", "https://")):
            raise ConfigError(f"{name} comes from a local index ({value}); cog installs from package indexes and "
                              "project paths only", location)
        pinned.index = value
    elif kind == "git":
        parts = urlsplit(value)
        query = parse_qs(parts.query)
        url = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        subdirectory = (query.get("subdirectory") or [None])[0]
        pinned.text = _git_requirement(name, url, parts.fragment or None, subdirectory)
        pinned.url = f"git+{url}"
    elif kind == "url":
        subdirectory = source.get("subdirectory")
        pinned.text = f"{name} @ {value}" + (f"#subdirectory={subdirectory}" if subdirectory else "")
        pinned.url = value
    elif kind in ("path", "directory", "editable"):
        if value == ".":
            return None
        pinned.local_path = _local_path(value, base_dir, project_dir, location)
        pinned.url = value
        pinned.text = value if value.startswith((".", "/")) else f"./{value}"
        pinned.url = pinned.text
    elif kind == "virtual":
        return None  # a workspace member without a build: its dependencies are installed, not it
    else:
        raise ConfigError(f"{name} comes from a {kind} source, which cog cannot install", location)
    return pinned


# --- pylock.toml (PEP 751) --------------------------------------------------------------------------------


def read_pylock(toml: TomlFile, project_dir: Path, base_dir: Path, selection: Selection) -> Requirements:
    data, file = toml.data, toml.display
    lock_version = data.get("lock-version")
    version_where = toml.at(toml.key_line("lock-version", 1))
    if not isinstance(lock_version, str) or lock_version.split(".")[0] != "1":
        said = "no lock-version" if lock_version is None else f"lock-version {lock_version!r}"
        raise ConfigError(f"has {said}; cog reads PEP 751's 1.x", version_where)
    check_requires_python(data.get("requires-python"), toml.at(toml.key_line("requires-python", 1)), selection, file)
    offered_extras = {canonicalize_name(n): n for n in _names(data.get("extras"), "extras", toml.at(toml.key_line("extras", 1)))}
    offered_groups = {canonicalize_name(n): n for n in
                      _names(data.get("dependency-groups"), "dependency-groups", toml.at(toml.key_line("dependency-groups", 1)))}
    extras = _selected(selection.extras, offered_extras, "extra", file)
    if selection.groups is None:
        default = _names(data.get("default-groups"), "default-groups", toml.at(toml.key_line("default-groups", 1)))
        groups = [canonicalize_name(name) for name in default]
    else:
        groups = _selected(selection.groups, offered_groups, "dependency group", file)
    targets = _targets(selection, extras, groups)
    packages = data.get("packages") or []
    if not isinstance(packages, list) or not all(isinstance(package, dict) for package in packages):
        raise ConfigError("[[packages]] must be an array of tables", toml.at())
    lines = _header_lines(toml, "packages")
    environments = data.get("environments")
    environments_where = toml.at(toml.key_line("environments", 1))

    pinned: dict[int, _Pinned] = {}
    gaps: list[PlatformGap] = []
    for platform, target in targets.items():
        gap = None
        if environments and not any(target.holds(m, environments_where)
                                    for m in _names(environments, "environments", environments_where)):
            gap = PlatformGap(platform=platform, location=environments_where, message=(
                f"is locked for {' or '.join(environments)} (its environments), which leaves out {platform} with "
                f"Python {selection.python_minor}; lock it for that platform too"))
        entries: list[_Pinned] = []
        names: dict[str, int] = {}
        for index, package in enumerate(packages if gap is None else ()):
            where = toml.at(lines[index] if index < len(lines) else None)
            if not isinstance(package.get("name"), str):
                raise ConfigError("a [[packages]] entry has no name", where)
            if not target.holds(package.get("marker"), where):
                continue
            name = canonicalize_name(package["name"])
            if name in names:
                raise ConfigError(f"two entries of {package['name']} apply to {platform} with Python "
                                  f"{selection.python_minor}; a lock installs one", where)
            names[name] = index
            _check_package_python(package, selection, where)
            if index not in pinned:
                pinned[index] = _pylock_pinned(package, where, project_dir, base_dir)
            if not pinned[index].installable(target):
                gap = _wheel_gap(pinned[index], target, file)
                break
            entries.append(pinned[index])
        if gap is not None:
            gaps.append(gap)
            continue
        for package in entries:
            package.platforms.append(platform)
    return _requirements(list(pinned.values()), targets, gaps)


def _check_package_python(package: dict, selection: Selection, where: Location) -> None:
    requires = package.get("requires-python")
    if requires is None:
        return
    try:
        fits = selection.allows_python(requires)
    except InvalidSpecifier:
        raise ConfigError(f"requires-python `{requires}` is not a version specifier", where) from None
    if not fits:
        raise ConfigError(f"{package['name']} is for Python {requires}, which leaves out the image's "
                          f"{selection.python_words()}", where)


def _pylock_hash(entry: dict, where: Location) -> str | None:
    hashes = entry.get("hashes") or {}
    if not isinstance(hashes, dict):
        raise ConfigError("hashes must be a table such as {sha256 = \"HEX\"}", where)
    if "sha256" in hashes:
        return f"sha256:{hashes['sha256']}"
    for algorithm, digest in sorted(hashes.items()):
        return f"{algorithm}:{digest}"
    return None


def _pylock_pinned(package: dict, where: Location, project_dir: Path, base_dir: Path) -> _Pinned:
    name, version = package["name"], package.get("version")
    pinned = _Pinned(name=name, version=version, text=f"{name}=={version}", location=where,
                     index=package.get("index"))
    vcs, directory, archive = package.get("vcs"), package.get("directory"), package.get("archive")
    if vcs is not None:
        if vcs.get("type") != "git":
            raise ConfigError(f"{name} comes from {vcs.get('type')}; cog installs version control sources from git only",
                              where)
        if vcs.get("url") is None:
            raise ConfigError(f"{name} comes from a local git repository; cog installs git sources by URL", where)
        pinned.text = _git_requirement(name, vcs["url"], vcs.get("commit-id"), vcs.get("subdirectory"))
        pinned.url = f"git+{vcs['url']}"
        pinned.index = None
        return pinned
    if directory is not None or (archive is not None and archive.get("path")):
        path = (directory or archive)["path"]
        pinned.local_path = _local_path(path, base_dir, project_dir, where)
        pinned.text = path if path.startswith((".", "/")) else f"./{path}"
        pinned.url = pinned.text
        pinned.sdist_hash = _pylock_hash(archive, where) if archive is not None else None
        pinned.index = None
        return pinned
    if archive is not None:
        subdirectory = archive.get("subdirectory")
        pinned.text = f"{name} @ {archive['url']}" + (f"#subdirectory={subdirectory}" if subdirectory else "")
        pinned.url = archive["url"]
        pinned.sdist_hash = _pylock_hash(archive, where)
        pinned.index = None
        return pinned
    if version is None:
        raise ConfigError(f"{name} has no version and no source (vcs, directory, archive) to install it from", where)
    sdist = package.get("sdist")
    if sdist is not None:
        pinned.sdist_hash = _pylock_hash(sdist, where)
    for wheel in package.get("wheels") or ():
        filename = wheel.get("name") or unquote(PurePosixPath(urlsplit(wheel.get("url") or wheel.get("path") or "").path).name)
        pinned.wheels.append((filename, _pylock_hash(wheel, where)))
    return pinned
