"""Load YAML into plain Python values while remembering where every value came from.

pydantic reports errors by path (`("build", "python_version")`); this module maps such a path back to the
line and column of the YAML node, so that every message can say `cog.yaml:LINE:COL`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from cog.errors import ConfigError, Location



@dataclass
class SourceMap:
    file: str
    positions: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[tuple, tuple[int, int]] = field(default_factory=dict)
    # The text of each number as written: YAML reads `3.10` as 3.1, but a version means what was typed.
    number_texts: dict[tuple, str] = field(default_factory=dict)

    def locate(self, path: tuple, *, key: bool = False) -> Location:
        """Where the value at `path` is (or its key, with key=True); falls back to the nearest parent."""
        table = self.key_positions if key else self.positions
        probe = tuple(path)
        while probe:
            if probe in table:
                return Location(self.file, *table[probe])
            if probe in self.positions:
                return Location(self.file, *self.positions[probe])
            probe = probe[:-1]
        return Location(self.file, *self.positions.get((), (1, 1)))


class _Loader(yaml.SafeLoader):
    """SafeLoader whose mappings refuse duplicate keys instead of silently keeping the last one."""


def load_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    source = SourceMap(file)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc, text, file) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, other controls): by its offset
        before = text[: exc.position]
        location = Location(file, before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1)
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)  # pyyaml gives the code
        raise ConfigError(f"is not valid YAML: it holds the character U+{code:04X}, which YAML does not allow",
                          location) from None
    except yaml.YAMLError as exc:  # errors without a position (rare: encoding)
        raise ConfigError(f"is not valid YAML: {exc}", Location(file)) from None
    except RecursionError:
        raise ConfigError("is nested too deeply to be a cog.yaml", Location(file)) from None
    if node is None:
        return None, source
    try:
        return _to_python(node, (), source), source
    except RecursionError:
        raise ConfigError("is nested too deeply to be a cog.yaml", Location(file)) from None


# Far beyond any real cog.yaml; aliases that expand past it (a "billion laughs" file) would exhaust memory.
MAX_VALUES = 100_000


def _to_python(node: yaml.Node, path: tuple, source: SourceMap) -> Any:
    source.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if len(source.positions) > MAX_VALUES:
        raise ConfigError(
            f"expands to more than {MAX_VALUES:,} values (through YAML aliases?); write the settings out",
            Location(source.file, *source.positions[path]),
        )
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise ConfigError(
                    "YAML merge keys (<<) are not supported in cog.yaml; write the keys out",
                    Location(file=source.file, line=key_node.start_mark.line + 1, column=key_node.start_mark.column + 1),
                )
            key = _scalar(key_node, source)
            key_location = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise ConfigError("mapping keys must be plain names", Location(source.file, *key_location))
            key = str(key)
            if key in result:
                first = source.key_positions[path + (key,)]
                raise ConfigError(
                    f"`{key}` is set twice (first on line {first[0]}); keep one",
                    Location(source.file, *key_location),
                )
            source.key_positions[path + (key,)] = key_location
            result[key] = _to_python(value_node, path + (key,), source)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item, path + (index,), source) for index, item in enumerate(node.value)]
    value = _scalar(node, source)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        source.number_texts[path] = node.value
    return value


def _scalar(node: yaml.Node, source: SourceMap) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise ConfigError(
            "a mapping key must be a plain name, not a list or mapping",
            Location(source.file, node.start_mark.line + 1, node.start_mark.column + 1),
        )
    loader = _Loader("")
    try:
        return loader.construct_object(node, deep=True)
    except yaml.constructor.ConstructorError as exc:
        raise ConfigError(
            f"cannot read this value: {exc.problem}",
            Location(source.file, node.start_mark.line + 1, node.start_mark.column + 1),
        ) from None
    finally:
        loader.dispose()


def _syntax_error(exc: yaml.MarkedYAMLError, text: str, file: str) -> ConfigError:
    unclosed = _unclosed_quote(exc, text)
    if unclosed is not None:
        quote, opened = unclosed
        return ConfigError(f"is not valid YAML: the {_QUOTES[quote]} quote that begins this value is not closed on "
                           f"its line, so the value runs on into the lines after it",
                           Location(file, opened.line + 1, opened.column + 1))
    mark = exc.problem_mark or exc.context_mark
    location = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file)
    problem = (exc.problem or exc.context or "syntax error").strip()
    line_text = text.splitlines()[mark.line] if mark and mark.line < len(text.splitlines()) else ""
    if "\t" in line_text[: (mark.column + 1) if mark else 0] or "'\\t'" in problem:
        return ConfigError("YAML does not allow tabs for indentation; indent with spaces", location)
    return ConfigError(f"is not valid YAML: {problem}", location)


_QUOTES = {'"': "double", "'": "single"}


def _unclosed_quote(exc: yaml.MarkedYAMLError, text: str) -> tuple[str, Any] | None:
    """The quote character and the mark where it opened, when a syntax error comes from a quote left open that
    swallowed the lines after it: a quoted value that spans lines and ends at the error, or after it (YAML lets
    quoted values span lines, so this is asked only of a file that does not parse). None for any other cause."""
    problem = exc.problem_mark
    if problem is None:
        return None
    last = None
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if token.start_mark.index > problem.index:
                break
            if isinstance(token, yaml.ScalarToken) and token.style in _QUOTES:
                last = token
    except yaml.MarkedYAMLError as scanning:  # a quote open until the end of the file: where it began
        if scanning.context and "quoted scalar" in scanning.context and scanning.context_mark is not None:
            opened = scanning.context_mark
            quote = text[opened.index] if opened.index < len(text) else '"'
            return (quote if quote in _QUOTES else '"'), opened
    if last is not None and last.end_mark.line > last.start_mark.line and \
            problem.line <= last.end_mark.line + 1:
        return last.style, last.start_mark
    return None
