"""Which top-level modules Python source imports, read with `ast`. Pure: source text in, typed values out.

`import yaml.constructor` and `from yaml import safe_load` both import `yaml`. Relative imports (`from . import
x`) are the project's own and are left out, and so are imports under `if TYPE_CHECKING:`, which never run.
Source that does not parse (Python 2, a syntax error, stray bytes) yields nothing rather than an error: a file
the model never imports must not break its build. Reading the files is the image stage's (cog/images/imports.py).
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass

from cog.errors import Location


@dataclass(frozen=True)
class ModuleImport:
    """A top-level module that the project imports, and the first place it does."""

    module: str  # "yaml" for `import yaml.constructor`
    location: Location  # FILE:LINE of the import statement, FILE relative to the project


def imports_in_source(source: str | bytes, file: str) -> tuple[ModuleImport, ...]:
    """Each top-level module `source` imports once, at its first line, in order of appearance."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. SyntaxWarning for invalid escapes: not ours to report
            tree = ast.parse(source, filename=file)
    except (SyntaxError, ValueError, UnicodeDecodeError, RecursionError, MemoryError):
        return ()
    first: dict[str, int] = {}
    for module, line in _imports(tree):
        if module not in first or line < first[module]:
            first[module] = line
    ordered = sorted(first.items(), key=lambda item: (item[1], item[0]))
    return tuple(ModuleImport(module, Location(file, line)) for module, line in ordered)


def merge_imports(*groups: tuple[ModuleImport, ...]) -> tuple[ModuleImport, ...]:
    """One ModuleImport per module across files: the first group (file) that imports it wins."""
    seen: dict[str, ModuleImport] = {}
    for group in groups:
        for found in group:
            seen.setdefault(found.module, found)
    return tuple(seen.values())


def _imports(tree: ast.AST):
    """(top-level module, line) for each absolute import, not descending into `if TYPE_CHECKING:` bodies."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".", 1)[0], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                yield node.module.split(".", 1)[0], node.lineno
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _is_type_checking(test: ast.expr) -> bool:
    """`TYPE_CHECKING` or `typing.TYPE_CHECKING` (any module's attribute of that name)."""
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
