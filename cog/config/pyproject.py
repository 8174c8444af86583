"""pyproject.toml as a requirements source: [project].dependencies, the extras cog.yaml selects from
[project.optional-dependencies], and the PEP 735 dependency groups it selects from [dependency-groups].

These are ranges, like requirements.txt's: the build resolves them (and rewrites torch/tensorflow the same way).
The project itself is not installed: its code is in the image at /src, as every model's is.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as Pep508
from packaging.utils import canonicalize_name

from cog.config.requirements import Requirement, Requirements, _local_path
from cog.config.sources import Selection, check_requires_python
from cog.config.tomlsource import TomlFile
from cog.errors import ConfigError, ConfigWarning, Location


def pep508_requirement(text: str, location: Location, project_dir: Path, base_dir: Path) -> Requirement:
    """One PEP 508 string (as pyproject.toml and dependency groups write them) as a Requirement."""
    try:
        parsed = Pep508(text)
    except InvalidRequirement as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid requirement"
        raise ConfigError(f"`{text}` is not a valid requirement: {reason}", location) from None
    url = parsed.url
    return Requirement(
        text=text.strip(),
        name=canonicalize_name(parsed.name),
        specifier=str(parsed.specifier),
        extras=tuple(sorted(parsed.extras)),
        marker=str(parsed.marker) if parsed.marker else None,
        url=url,
        local_path=_local_path(url, base_dir, project_dir, location) if url else None,
        location=location,
    )


def unknown_name(what: str, name: str, known, file: str, where: Location) -> ConfigError:
    """`pyproject.toml has no extra `gpux`; did you mean `gpu`?` (or the list of what it has)."""
    known = sorted(known)
    guess = difflib.get_close_matches(name, known, n=1)
    if guess:
        hint = f"; did you mean `{guess[0]}`?"
    elif known:
        hint = f"; it has {', '.join(f'`{k}`' for k in known)}"
    else:
        hint = f"; it has no {what}s"
    return ConfigError(f"{file} has no {what} `{name}`{hint}", where)


def read_pyproject(toml: TomlFile, project_dir: Path, base_dir: Path, selection: Selection) -> Requirements:
    data = toml.data
    file = toml.display
    project = data.get("project")
    project_line = toml.table_line("project")
    if project is not None and not isinstance(project, dict):
        raise ConfigError("[project] must be a table", toml.at(project_line))
    project = project or {}
    name = project.get("name")
    own_name = canonicalize_name(name) if isinstance(name, str) else None
    check_requires_python(project.get("requires-python"), toml.at(toml.key_line("requires-python", project_line)),
                          selection, file)
    dynamic = project.get("dynamic") or []

    def strings(value, key: str, line: int | None) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"{key} must be a list of requirement strings", toml.at(line))
        return value

    requirements: list[Requirement] = []
    warnings: list[ConfigWarning] = []
    seen: set[str] = set()

    def add(values: list[str], locations: list[Location]) -> None:
        for text, location in zip(values, locations):
            requirement = pep508_requirement(text, location, project_dir, base_dir)
            if requirement.name == own_name and own_name is not None:
                # The project naming itself (`model[cuda]` in an extra): its extras, not the project.
                for extra in requirement.extras:
                    add_extra(extra, location)
                continue
            if requirement.text not in seen:
                seen.add(requirement.text)
                requirements.append(requirement)

    # Extras: [project.optional-dependencies], by normalized name (PEP 685).
    optional = project.get("optional-dependencies") or {}
    if not isinstance(optional, dict):
        raise ConfigError("[project.optional-dependencies] must be a table of lists",
                          toml.at(toml.key_line("optional-dependencies", project_line)))
    optional_line = toml.table_line("project", "optional-dependencies")
    extras = {canonicalize_name(key): key for key in optional}
    added_extras: set[str] = set()

    def add_extra(extra: str, where: Location) -> None:
        normalized = canonicalize_name(extra)
        if normalized in added_extras:
            return
        if normalized not in extras:
            if "optional-dependencies" in dynamic:
                raise ConfigError(
                    f"{file}'s [project].optional-dependencies is dynamic (its build backend decides it), so cog "
                    f"cannot read extra `{extra}`", where)
            raise unknown_name("extra", extra, extras.values(), file, where)
        added_extras.add(normalized)
        key = extras[normalized]
        line = toml.key_line(key, optional_line) if optional_line else None
        values = strings(optional[key], f"[project.optional-dependencies].{key}", line)
        add(values, toml.string_positions(values, line) if line else [toml.at()] * len(values))

    # [project].dependencies
    dependencies = project.get("dependencies")
    dependencies_line = toml.key_line("dependencies", project_line)
    if dependencies is None:
        if "dependencies" in dynamic:
            raise ConfigError(
                "[project].dependencies is dynamic (its build backend decides it), so cog cannot read it; list the "
                "dependencies in pyproject.toml, or name a requirements file or a lock in python_requirements",
                toml.at(toml.key_line("dynamic", project_line) or project_line),
            )
        if not selection.extras and not selection.groups:
            where = "has no [project] table" if not data.get("project") and project_line is None else \
                "has no [project].dependencies"
            raise ConfigError(
                f"{where}, so it names no packages to install; add `dependencies = [...]` under [project], or "
                f"select a dependency group with {selection.section}.python_groups",
                toml.at(project_line),
            )
    else:
        values = strings(dependencies, "[project].dependencies", dependencies_line)
        add(values, toml.string_positions(values, dependencies_line))

    for extra, where in selection.extras:
        add_extra(extra, where)

    # PEP 735 dependency groups, with their include-group entries.
    groups = data.get("dependency-groups") or {}
    groups_line = toml.table_line("dependency-groups")
    if not isinstance(groups, dict):
        raise ConfigError("[dependency-groups] must be a table of lists", toml.at(groups_line))
    by_group: dict[str, str] = {}
    for key in groups:
        normalized = canonicalize_name(key)
        if normalized in by_group:
            raise ConfigError(f"dependency groups `{by_group[normalized]}` and `{key}` have the same normalized name",
                              toml.at(toml.key_line(key, groups_line) if groups_line else None))
        by_group[normalized] = key

    def add_group(group: str, where: Location, chain: tuple[str, ...]) -> None:
        normalized = canonicalize_name(group)
        if normalized not in by_group:
            if chain:
                raise ConfigError(f"dependency group `{chain[-1]}` includes `{group}`, which {file} does not have", where)
            raise unknown_name("dependency group", group, by_group.values(), file, where)
        if normalized in chain:
            cycle = " → ".join((*chain, normalized))
            raise ConfigError(f"dependency groups include each other in a cycle: {cycle}", where)
        key = by_group[normalized]
        line = toml.key_line(key, groups_line) if groups_line else None
        items = groups[key]
        if not isinstance(items, list):
            raise ConfigError(f"dependency group `{key}` must be a list", toml.at(line))
        texts = [item for item in items if isinstance(item, str)]
        positions = iter(toml.string_positions(texts, line) if line else [toml.at()] * len(texts))
        for item in items:
            if isinstance(item, str):
                add([item], [next(positions)])
            elif isinstance(item, dict) and set(item) == {"include-group"} and isinstance(item["include-group"], str):
                add_group(item["include-group"], toml.at(line), (*chain, normalized))
            else:
                raise ConfigError(
                    f"dependency group `{key}` has an entry that is neither a requirement string nor "
                    "{include-group = \"NAME\"}", toml.at(line))

    chosen: set[str] = set()
    for group, where in selection.groups or ():
        if canonicalize_name(group) not in chosen:
            chosen.add(canonicalize_name(group))
            add_group(group, where, ())

    tool_uv = ((data.get("tool") or {}).get("uv") or {}) if isinstance(data.get("tool"), dict) else {}
    for table in ("sources", "index"):
        if isinstance(tool_uv, dict) and tool_uv.get(table):
            line = toml.table_line("tool", "uv", table, array=table == "index") or toml.table_line("tool", "uv", table)
            warnings.append(ConfigWarning(
                f"[tool.uv.{table}] is not read: the packages come from PyPI and the indexes of the install; name "
                f"uv.lock in python_requirements to install what uv resolved",
                toml.at(line or toml.table_line("tool", "uv")),
            ))
    return Requirements(requirements=tuple(requirements), warnings=tuple(warnings))
