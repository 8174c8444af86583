"""A project written for the original Cog, in today's dialect: cog.yaml and the model's code, text in, text out.

`migrate_project(config_text, read=...)` returns the files to change and a one-line notice for everything it
drops or leaves as it is. It reads the project's files only through `read` and writes nothing; `cog migrate`
(cog/cli/migrate.py) shows the diff and writes. The caller has validated cog.yaml (cog.config.parse.load_config),
so the shapes here are those of cog.config.dialects.

cog.yaml: `environment:` becomes `build:` (`architectures` → `gpu`), `model:` becomes `predict:`;
`python_packages` (in either dialect) and the original's `python_extra_index_urls`/`python_find_links` move into
a requirements file that `build.python_requirements` names. `examples:` and `workdir:` have no equivalent and are
dropped, each with a notice. The original dialect's file is written anew in a conventional order; comments move
with the key or list item they sit above or after. Today's dialect is edited in place.

Model code (`migrate_model`): a `cog.Model` whose `run()` declares its inputs with stacked `@cog.input(...)` becomes
a `BasePredictor` whose `predict()` declares the same inputs with `Input(...)`, in the same order: the same
signature and schema. The edits are spliced into the source text, the rest stays byte for byte. A file it cannot
rewrite exactly (computed decorator arguments, `**kwargs`, other callers of `run()`, ...) is left as it is, with
the reason.
"""

from __future__ import annotations

import ast
import builtins
import io
import json
import keyword
import posixpath
import re
import tokenize
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import yaml

from cog.errors import Location
from cog.config.parse import model_form

Reader = Callable[[str], Optional[bytes]]
"""A project file's bytes by its path relative to the project directory (POSIX), or None when there is none."""


@dataclass(frozen=True)
class FileChange:
    path: str  # relative to the project directory, POSIX
    old: str | None  # None: the file is new
    new: str


@dataclass(frozen=True)
class Migration:
    changes: tuple[FileChange, ...] = ()
    notices: tuple[str, ...] = ()  # one line each: what was dropped or left as it is, and why


def migrate_project(config_text: str, *, read: Reader, config_path: str = "cog.yaml",
                    display: str | None = None) -> Migration:
    """The changes that bring a project to today's dialect. `config_path` is cog.yaml's path in the project,
    `display` how notices name it (default: config_path); other files are named relative to it."""
    display = display or config_path
    document = _Document(config_text)
    data = document.data if isinstance(document.data, dict) else {}
    # Today's Cog has a `model:` too (a registry repository): only FILE.py:NAME is the original dialect's.
    original = (isinstance(data.get("environment"), dict) or any(key in data for key in ("examples", "workdir"))
                or ("model" in data and model_form(data["model"]) != "repository"))
    session = _Session(document, read, display)
    if original:
        new_config = session.original(data)
    else:
        new_config = session.today(data)
    changes = list(session.changes)
    if new_config != config_text:
        changes.append(FileChange(config_path, config_text, new_config))
    reference = data.get("model") if original else (data.get("predict") or data.get("run"))
    if isinstance(reference, str):
        changes.extend(session.model_code(reference.strip()))
    lost = document.lost_comments()
    if lost and original:
        session.notice(None, f"{_plural(len(lost), 'the comment on line', 'the comments on lines')} "
                             f"{_listing([str(line) for line in lost])} {'has' if len(lost) == 1 else 'have'} no "
                             f"place in today's format and {'is' if len(lost) == 1 else 'are'} left out")
    return Migration(tuple(changes), tuple(session.notices))


# --------------------------------------------------------------------------------------------------------
# cog.yaml


def _lines(text: str) -> list[str]:
    """The lines of `text` with their line endings, split on \\n only (as Python and YAML count lines)."""
    lines = text.split("\n")
    result = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        result.append(lines[-1])
    return result


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


_TRAILING_COMMENT = re.compile(r"\s+(#.*?)\s*$")


@dataclass
class _Entry:
    """One key of a mapping (key set) or item of a list (key None), with the comments around it."""

    key: Optional[yaml.Node]
    value: yaml.Node
    leading: list[tuple[int, str]] = field(default_factory=list)  # (0-based line, "# text") above it
    trailing: Optional[tuple[int, str]] = None  # the comment after it on its line


class _Document:
    """cog.yaml as PyYAML composes it, with the comments it throws away, and which of them were carried over."""

    def __init__(self, text: str):
        self.text = text
        self.lines = [line.rstrip("\r\n") for line in _lines(text)]
        self.root = yaml.compose(text, Loader=yaml.SafeLoader)
        self.data: Any = yaml.safe_load(text)
        self.entries: dict[tuple, _Entry] = {}
        inside_scalars: set[int] = set()
        if self.root is not None:
            self._walk(self.root, (), inside_scalars)
        self.comment_lines = {index for index, line in enumerate(self.lines)
                              if line.strip().startswith("#") and index not in inside_scalars}
        first = min((entry.key.start_mark.line for entry in self.entries.values() if entry.key is not None),
                    default=len(self.lines))
        self.header = self.lines[:first]  # comments (and blank lines) above the first key
        for entry in self.entries.values():
            start = (entry.key or entry.value).start_mark.line
            line = start - 1
            while line >= first and line in self.comment_lines:
                entry.leading.insert(0, (line, self.lines[line].strip()))
                line -= 1
            entry.trailing = self._trailing(entry)
        self.used_lines: set[int] = set(range(first))  # 0-based lines of own-line comments carried over
        self.used_trailing: set[int] = set()  # 0-based lines whose trailing comment was carried over

    def _walk(self, node: yaml.Node, path: tuple, inside_scalars: set[int]) -> None:
        if isinstance(node, yaml.ScalarNode):
            inside_scalars.update(range(node.start_mark.line + 1, node.end_mark.line + 1))
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                self.entries[path + (str(key.value),)] = _Entry(key, value)
                self._walk(value, path + (str(key.value),), inside_scalars)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                self.entries[path + (index,)] = _Entry(None, item)
                self._walk(item, path + (index,), inside_scalars)

    def _trailing(self, entry: _Entry) -> Optional[tuple[int, str]]:
        value = entry.value
        if isinstance(value, yaml.ScalarNode) or value.flow_style:
            if isinstance(value, yaml.ScalarNode) and value.style in ("|", ">"):
                return None
            end = value.end_mark
            if entry.key is not None and value.start_mark.line != entry.key.start_mark.line:
                return None
            rest = self.lines[end.line][end.column:] if end.line < len(self.lines) else ""
        elif entry.key is not None:
            end = entry.key.end_mark
            rest = self.lines[end.line][end.column:]
            rest = rest.lstrip()[1:] if rest.lstrip().startswith(":") else ""
            rest = " " + rest
        else:
            return None
        match = _TRAILING_COMMENT.match(rest) if rest.strip().startswith("#") else None
        return (end.line, match.group(1)) if match else None

    def entry(self, *path: Any) -> Optional[_Entry]:
        return self.entries.get(tuple(path))

    def comments(self, *path: Any) -> tuple[list[str], Optional[str]]:
        """The comments above and after the entry at `path`, marked as carried over."""
        entry = self.entries.get(tuple(path))
        if entry is None:
            return [], None
        self.used_lines.update(line for line, _ in entry.leading)
        if entry.trailing:
            self.used_trailing.add(entry.trailing[0])
        return [text for _, text in entry.leading], entry.trailing[1] if entry.trailing else None

    def lost_comments(self) -> list[int]:
        """1-based lines of comments that were not carried over."""
        trailing = {entry.trailing[0] for entry in self.entries.values() if entry.trailing}
        lost = {line for line in self.comment_lines if line not in self.used_lines}
        lost |= {line for line in trailing if line not in self.used_trailing}
        return sorted(line + 1 for line in lost)

    def version_text(self, *path: Any) -> Optional[str]:
        """A version as typed: `3.10` unquoted is "3.10", not 3.1."""
        entry = self.entries.get(tuple(path))
        if entry is None or not isinstance(entry.value, yaml.ScalarNode):
            return None
        if entry.value.value == "" and entry.value.style is None:
            return None  # `python_version:` with nothing: unset
        return str(entry.value.value).strip()


def _quote(value: Any) -> str:
    """A YAML scalar: strings double-quoted (JSON's escapes are YAML's), the rest as YAML writes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)


class _Writer:
    """A cog.yaml in block style, two spaces an indent, with comments where the old file had them."""

    def __init__(self, newline: str):
        self.newline = newline
        self.lines: list[str] = []

    def comments(self, indent: int, comments: list[str]) -> None:
        self.lines += [" " * indent + comment for comment in comments]

    def key(self, indent: int, name: str, value: Optional[str], comments: tuple[list[str], Optional[str]]) -> None:
        leading, trailing = comments
        self.comments(indent, leading)
        line = " " * indent + f"{name}:" + (f" {value}" if value is not None else "")
        self.lines.append(line + (f"  {trailing}" if trailing else ""))

    def items(self, indent: int, values: list[Any], comments: list[tuple[list[str], Optional[str]]]) -> None:
        for value, (leading, trailing) in zip(values, comments):
            self.comments(indent, leading)
            self.lines.append(" " * indent + f"- {_quote(value)}" + (f"  {trailing}" if trailing else ""))

    def text(self) -> str:
        return "".join(line + self.newline for line in self.lines)


def _dump(value: Any, indent: int = 0) -> list[str]:
    """Plain data as block-style YAML lines (the fallback for a today's-dialect file that cannot be edited in place)."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:")
                lines += _dump(item, indent + 2)
            else:
                lines.append(f"{pad}{key}: {_flow(item)}")
    else:
        for item in value:
            if isinstance(item, (dict, list)) and item:
                nested = _dump(item, indent + 2)
                lines.append(f"{pad}- {nested[0].lstrip()}")
                lines += nested[1:]
            else:
                lines.append(f"{pad}- {_flow(item)}")
    return lines


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _quote(value)


class _Session:
    """One migration: the notices and extra file changes gathered while cog.yaml is rewritten."""

    def __init__(self, document: _Document, read: Reader, display: str):
        self.document = document
        self.read = read
        self.display = display
        self.base = posixpath.dirname(display)
        self.notices: list[str] = []
        self.changes: list[FileChange] = []
        self.newline = _newline(document.text)

    def notice(self, path: Optional[tuple], message: str) -> None:
        where = self.display
        entry = self.document.entry(*path) if path else None
        if entry is not None:
            mark = (entry.key or entry.value).start_mark
            where = str(Location(self.display, mark.line + 1, mark.column + 1))
        self.notices.append(f"{where}: {message}")

    def text_of(self, path: str) -> Optional[str]:
        data = self.read(path)
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return None

    # --- the original dialect ------------------------------------------------------------------------

    def architectures_notice(self, architectures, build) -> None:
        """What migrating `environment.architectures` to today's `gpu:` changes, said as a notice."""
        if architectures is None or sorted(set(architectures)) == ["cpu", "gpu"]:
            written = "is not set (cpu and gpu)" if architectures is None else "lists cpu and gpu"
            self.notice(("environment", "architectures") if architectures is not None else ("environment",) if build
                        else None,
                        f"environment.architectures {written}: today's format says gpu: true, so cog build builds "
                        "the GPU image only; cog build --variant all builds both, as before")
        elif architectures == ["gpu"] or set(architectures) == {"gpu"}:
            self.notice(("environment", "architectures"),
                        "environment.architectures lists only gpu: today's format says gpu: true, with which a cog "
                        "server also builds a CPU image")

    def original(self, data: dict) -> str:
        doc = self.document
        env = data.get("environment") or {}
        out = _Writer(self.newline)
        build = ("environment",) if "environment" in data else None
        out.key(0, "build", None, doc.comments(*build) if build else ([], None))

        version = doc.version_text("environment", "python_version")
        if version is not None:
            out.key(2, "python_version", _quote(version), doc.comments("environment", "python_version"))
        architectures = env.get("architectures")
        if isinstance(env.get("gpu"), bool):  # the later original dialect already says gpu:, as today's does
            out.key(2, "gpu", _quote(env["gpu"]), doc.comments("environment", "gpu"))
        else:
            out.key(2, "gpu", _quote(architectures is None or "gpu" in architectures),
                    doc.comments("environment", "architectures"))
            self.architectures_notice(architectures, build)
        for name in ("cuda", "cudnn"):
            text = doc.version_text("environment", name)
            if text is not None:
                out.key(2, name, _quote(text), doc.comments("environment", name))

        requirements = self.requirements(env, prefix="environment")
        if requirements is not None:
            name, comments = requirements
            out.key(2, "python_requirements", _quote(name), comments)
        for name in ("python_extras", "python_groups", "system_packages", "pre_install"):
            values = env.get(name)
            if values is None:
                continue
            out.key(2, name, None if values else "[]", doc.comments("environment", name))
            out.items(4, values, [doc.comments("environment", name, index) for index in range(len(values))])

        model = data.get("model")
        if isinstance(model, str):
            out.key(0, "predict", _quote(model.strip()), doc.comments("model"))
        workdir = data.get("workdir")
        if "workdir" in data and workdir is not None:
            where = ("the code is at /src in the image, as before" if workdir.rstrip("/") == "/src" else
                     f"the code is at /src in the image, not {workdir}: check paths in the model that assume it")
            self.notice(("workdir",), f"workdir ({workdir}) is dropped: today's format has no workdir; {where}")
        examples = data.get("examples")
        if "examples" in data and examples is not None:
            what = (f"{examples}, a file of example inputs" if isinstance(examples, str)
                    else _plural(len(examples), "one example input", f"{len(examples)} example inputs"))
            self.notice(("examples",), f"examples ({what}) is dropped: today's format has no examples, and cog "
                                       "never used them")
        header = doc.header
        return "".join(line + self.newline for line in header) + out.text()

    def requirements(self, env: dict, *, prefix: str) -> Optional[tuple[str, tuple[list[str], Optional[str]]]]:
        """The requirements file build.python_requirements names, with the comments for its line in cog.yaml;
        writes python_packages and the index options into it. None: no requirements."""
        doc = self.document
        options = [(option, url, (prefix, key, index)) for key, option in
                   (("python_extra_index_urls", "--extra-index-url"), ("python_find_links", "--find-links"))
                   for index, url in enumerate(env.get(key) or ())]
        option_keys = [key for key in ("python_extra_index_urls", "python_find_links") if env.get(key)]
        packages = env.get("python_packages")
        named = env.get("python_requirements")
        if named is not None:
            if options:
                self.add_options(named.strip(), options, option_keys, prefix)
            return named, doc.comments(prefix, "python_requirements")
        if packages:
            name = self.new_requirements_file(packages, options, option_keys, prefix)
            return name, doc.comments(prefix, "python_packages")
        for key in option_keys:
            self.notice((prefix, key), f"{prefix}.{key} is dropped: there are no Python requirements to install "
                                       "from it")
        return None

    def option_lines(self, options, option_keys, prefix: str) -> list[str]:
        lines: list[str] = []
        for key in option_keys:
            leading, trailing = self.document.comments(prefix, key)
            lines += leading + ([trailing] if trailing else [])
            for option, url, path in options:
                if path[1] != key:
                    continue
                leading, trailing = self.document.comments(*path)
                lines += leading + [f"{option} {url}" + (f"  {trailing}" if trailing else "")]
        return lines

    def new_requirements_file(self, packages, options, option_keys, prefix: str) -> str:
        candidates = iter(["requirements.txt", "cog_requirements.txt"] +
                          [f"cog_requirements_{number}.txt" for number in range(2, 1000)])
        name = next(candidate for candidate in candidates if self.read(candidate) is None)
        lines = self.option_lines(options, option_keys, prefix)
        for index, package in enumerate(packages):
            leading, trailing = self.document.comments(prefix, "python_packages", index)
            lines += leading + [str(package) + (f"  {trailing}" if trailing else "")]
        self.changes.append(FileChange(name, None, "".join(line + "\n" for line in lines)))
        return name

    def add_options(self, name: str, options, option_keys, prefix: str) -> None:
        old = self.text_of(name) or ""
        present = set()
        for line in old.splitlines():
            words = line.replace("=", " ", 1).split()
            if len(words) >= 2 and words[0] in ("--extra-index-url", "--find-links", "-f"):
                present.add(("--find-links" if words[0] == "-f" else words[0], words[1]))
        options = [option for option in options if option[:2] not in present]
        if not options:
            return
        newline = _newline(old)
        lines = self.option_lines(options, [key for key in option_keys if any(o[2][1] == key for o in options)],
                                  prefix)
        new = old + (newline if old and not old.endswith("\n") else "") + "".join(line + newline for line in lines)
        self.changes.append(FileChange(name, old if self.read(name) is not None else None, new))

    # --- today's dialect -----------------------------------------------------------------------------

    def today(self, data: dict) -> str:
        build = data.get("build")
        if not isinstance(build, dict) or build.get("python_packages") is None:
            return self.document.text
        spliced = self.splice_packages(build)
        if spliced is not None:
            return spliced
        # A layout that cannot be edited in place (flow style): written anew, without its comments.
        new_build: dict = {}
        for key, value in build.items():
            if key == "python_packages":
                result = self.requirements(build, prefix="build")
                if result is not None:
                    new_build["python_requirements"] = result[0]
            else:
                new_build[key] = self.document.version_text("build", key) if key in ("python_version", "cuda", "cudnn") else value
        new_data = {key: (new_build if key == "build" else value) for key, value in data.items()}
        if self.document.comment_lines:
            self.notice(None, "its layout cannot be edited in place, so it is written anew without its comments")
        return "".join(line + self.newline for line in _dump(new_data))

    def splice_packages(self, build: dict) -> Optional[str]:
        """cog.yaml with build.python_packages replaced by a python_requirements line, the rest as it was;
        None when the layout is not one this can edit in place."""
        doc = self.document
        build_entry, entry = doc.entry("build"), doc.entry("build", "python_packages")
        if build_entry is None or entry is None or entry.key is None or build_entry.value.flow_style:
            return None
        key_mark = entry.key.start_mark
        if doc.lines[key_mark.line][:key_mark.column].strip():
            return None
        value = entry.value
        if not isinstance(value, yaml.SequenceNode):
            return None
        last = value.end_mark.line if value.flow_style else max(
            (item.end_mark.line - (1 if item.end_mark.column == 0 else 0) for item in value.value),
            default=key_mark.line)
        if value.flow_style:
            rest = doc.lines[last][value.end_mark.column:]
            if rest.strip() and not rest.strip().startswith("#"):
                return None
        lines = _lines(doc.text)
        leading_key, trailing_key = doc.comments("build", "python_packages")
        doc.used_lines.update(line for line in range(key_mark.line, last + 1) if line in doc.comment_lines)
        result = self.requirements(build, prefix="build")
        replacement = ""
        if result is not None:
            replacement = " " * key_mark.column + f"python_requirements: {_quote(result[0])}"
            replacement += (f"  {trailing_key}" if trailing_key else "") + self.newline
        del leading_key  # they stay where they are, above the new line
        return "".join(lines[:key_mark.line]) + replacement + "".join(lines[last + 1:])

    # --- the model's code ----------------------------------------------------------------------------

    def model_code(self, reference: str) -> list[FileChange]:
        path, _, class_name = reference.rpartition(":")
        shown = posixpath.join(self.base, path) if self.base else path
        normalized = posixpath.normpath(path)
        if posixpath.isabs(normalized) or normalized.startswith(".."):
            self.notices.append(f"{shown}: left as it is: it is outside the project")
            return []
        data = self.read(normalized)
        if data is None:
            self.notices.append(f"{shown}: left as it is: there is no such file")
            return []
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError:
            self.notices.append(f"{shown}: left as it is: it is not UTF-8 text")
            return []
        rewrite = migrate_model(source, class_name)
        if rewrite.reason is not None:
            where = str(Location(shown, rewrite.line, rewrite.column))
            self.notices.append(f"{where}: left as it is: {rewrite.reason}")
            return []
        if rewrite.new is None or rewrite.new == source:
            return []
        return [FileChange(normalized, source, rewrite.new)]


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


def _listing(items: list[str]) -> str:
    """["3", "7", "9"] → "3, 7 and 9"."""
    return " and ".join(filter(None, [", ".join(items[:-1]), items[-1]])) if items else ""


# --------------------------------------------------------------------------------------------------------
# Model code


@dataclass(frozen=True)
class ModelRewrite:
    """The rewritten source (None: nothing to rewrite, or it cannot be), or why not, and where."""

    new: str | None = None
    reason: str | None = None
    line: int | None = None
    column: int | None = None


class _CannotRewrite(Exception):
    def __init__(self, reason: str, node: Any = None):
        super().__init__(reason)
        self.reason = reason
        self.line = getattr(node, "lineno", None)
        self.column = getattr(node, "col_offset", -1) + 1 if self.line is not None else None


_INPUT_PARAMETERS = ("name", "type", "help", "default", "min", "max", "options")
# @cog.input's keyword → Input()'s, in the order they are written.
_INPUT_KEYWORDS = (("help", "description"), ("default", "default"), ("min", "ge"), ("max", "le"), ("options", "choices"))
_COMPUTED = {
    ast.Call: "a call", ast.Lambda: "a lambda", ast.NamedExpr: "an assignment", ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension", ast.DictComp: "a comprehension", ast.GeneratorExp: "a generator",
    ast.Await: "an await", ast.Yield: "a yield", ast.YieldFrom: "a yield", ast.Starred: "an unpacking",
}
_HAND = "rewrite run() as predict() by hand (see docs/python.md)"


def migrate_model(source: str, class_name: str) -> ModelRewrite:
    """`source` with the cog.Model `class_name` rewritten as a BasePredictor; see the module's docstring."""
    try:
        return ModelRewrite(new=_Rewriter(source, class_name).rewrite())
    except _CannotRewrite as exc:
        return ModelRewrite(reason=exc.reason, line=exc.line, column=exc.column)


class _Source:
    """Source text with ast's positions (1-based lines, UTF-8 byte columns) turned into string offsets."""

    def __init__(self, text: str):
        self.text = text
        self.lines = _lines(text)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))

    def offset(self, line: int, byte_column: int) -> int:
        text = self.lines[line - 1] if line - 1 < len(self.lines) else ""
        return self.starts[line - 1] + len(text.encode("utf-8")[:byte_column].decode("utf-8", "replace"))

    def char_offset(self, line: int, column: int) -> int:
        """tokenize's positions: columns in characters."""
        return self.starts[line - 1] + column

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (self.offset(node.lineno, node.col_offset), self.offset(node.end_lineno, node.end_col_offset))

    def segment(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.text[start:end]


class _CogNames:
    """How a module refers to cog: the names bound to the module, and to what it imported from it."""

    def __init__(self, tree: ast.Module):
        self.modules: set[str] = set()
        self.imported: dict[str, str] = {}  # local name → cog's name
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "cog":
                        self.modules.add(alias.asname or "cog")
            elif isinstance(node, ast.ImportFrom) and node.module == "cog" and node.level == 0:
                for alias in node.names:
                    self.imported[alias.asname or alias.name] = alias.name

    def refers_to(self, node: ast.AST, name: str) -> bool:
        """Whether `node` is cog.NAME, through `import cog` or `from cog import NAME`."""
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            return node.value.id in self.modules and node.attr == name
        return isinstance(node, ast.Name) and self.imported.get(node.id) == name


def _module_bindings(tree: ast.Module) -> dict[str, list[ast.AST]]:
    """The names bound at a module's top level (not inside functions or classes), with what binds them."""
    bound: dict[str, list[ast.AST]] = {}
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.setdefault(node.name, []).append(node)
            pending.extend(node.decorator_list)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                bound.setdefault(alias.asname or alias.name.split(".")[0], []).append(node)
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.setdefault(node.id, []).append(node)
        if isinstance(node, ast.Lambda):
            continue
        pending.extend(ast.iter_child_nodes(node))
    return bound


def _class_bindings(cls: ast.ClassDef) -> set[str]:
    names: set[str] = set()
    for statement in cls.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(statement.name)
            continue
        for node in ast.walk(statement):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
    return names


def _names_loaded(tree: ast.AST) -> set[str]:
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}


@dataclass
class _DeclaredInput:
    name: str
    decorator: ast.expr
    arguments: dict[str, ast.expr]
    leading: list[str] = field(default_factory=list)
    trailing: Optional[str] = None


class _Rewriter:
    def __init__(self, source: str, class_name: str):
        self.source = _Source(source)
        self.class_name = class_name
        if "\r" in source.replace("\r\n", ""):
            raise _CannotRewrite("it has lone carriage returns for line endings")
        try:
            self.tree = ast.parse(source)
        except SyntaxError as exc:
            raise _CannotRewrite(f"it is not valid Python ({exc.msg}, line {exc.lineno})") from None
        self.cog = _CogNames(self.tree)
        self.bindings = _module_bindings(self.tree)
        self.future_annotations = any(
            isinstance(node, ast.ImportFrom) and node.module == "__future__"
            and any(alias.name == "annotations" for alias in node.names) for node in self.tree.body)
        self.edits: list[tuple[int, int, str]] = []
        self.needed: set[str] = set()

    # --- checks --------------------------------------------------------------------------------------

    def free(self, name: str, cls: ast.ClassDef) -> bool:
        """Whether `from cog import NAME` can be added without changing what NAME means here."""
        if name in _class_bindings(cls):
            return False
        binders = self.bindings.get(name, [])
        return all(isinstance(b, ast.ImportFrom) and b.module == "cog" and b.level == 0
                   and any(a.name == name and (a.asname in (None, name)) for a in b.names) for b in binders)

    def static(self, node: ast.expr, what: str) -> None:
        for inner in ast.walk(node):
            kind = next((label for klass, label in _COMPUTED.items() if isinstance(inner, klass)), None)
            if kind is not None:
                raise _CannotRewrite(f"{what} is computed ({kind}); {_HAND}", inner)

    def check_callers(self, cls: ast.ClassDef, run: ast.AST) -> None:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ClassDef) and node is not cls and any(
                    isinstance(base, ast.Name) and base.id == cls.name for base in node.bases):
                raise _CannotRewrite(f"{node.name} derives from {cls.name} and may rely on its run(); {_HAND}", node)
            if isinstance(node, ast.Attribute) and node.attr == "run":
                owner = node.value
                if (isinstance(owner, ast.Name) and owner.id in ("self", "cls", cls.name)) or (
                        isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name)
                        and owner.func.id in ("super", cls.name)):
                    raise _CannotRewrite(f"run() is also called here ({self.source.segment(node)}); {_HAND}", node)
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
                    and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and node.args[1].value == "run"):
                raise _CannotRewrite(f"run() is also looked up by name here; {_HAND}", node)
        for statement in cls.body:
            if statement is run:
                continue
            for node in ast.walk(statement):
                if isinstance(node, ast.Name) and node.id == "run":
                    raise _CannotRewrite(f"the class body refers to run; {_HAND}", node)

    # --- the rewrite ---------------------------------------------------------------------------------

    def rewrite(self) -> Optional[str]:
        classes = [node for node in self.tree.body if isinstance(node, ast.ClassDef) and node.name == self.class_name]
        if not classes:
            raise _CannotRewrite(f"it has no class {self.class_name} at its top level")
        cls = classes[-1]
        runs = [node for node in cls.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                and node.name == "run"]
        bases = [base for base in cls.bases if self.cog.refers_to(base, "Model")]
        decorated = any(self.is_cog_input(d) for run in runs for d in run.decorator_list)
        if not bases:
            if decorated:
                raise _CannotRewrite(f"{cls.name} declares @cog.input but does not derive from cog.Model itself; "
                                     f"{_HAND}", cls)
            return None
        if len(runs) != 1:
            raise _CannotRewrite(f"{cls.name} has {'no run() method' if not runs else 'more than one run()'}", cls)
        run = runs[0]
        for statement in cls.body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = {statement.name}
            else:
                names = {n.id for n in ast.walk(statement) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            if "predict" in names:
                raise _CannotRewrite(f"{cls.name} already has a predict", statement)
        self.check_callers(cls, run)
        for name in ("BasePredictor", "Input") if decorated else ("BasePredictor",):
            if not self.free(name, cls):
                raise _CannotRewrite(f"the name {name} is already taken in it; {_HAND}", self.bindings.get(name, [cls])[0])
        self.needed.add("BasePredictor")
        for base in bases:
            self.edits.append((*self.source.span(base), "BasePredictor"))
        tokens = list(tokenize.generate_tokens(io.StringIO(self.source.text).readline))
        if decorated:
            self.rewrite_decorated(cls, run, tokens)
        else:
            self.rename(run, tokens)
        body = self.apply(self.source.text, self.edits)
        return self.fix_imports(body)

    def is_cog_input(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Call) and self.cog.refers_to(node.func, "input")

    def rename(self, run: ast.AST, tokens: list[tokenize.TokenInfo]) -> None:
        start = self.source.offset(run.lineno, run.col_offset)
        for token in tokens:
            position = self.source.char_offset(*token.start)
            if position >= start and token.type == tokenize.NAME and token.string == "run":
                self.edits.append((position, self.source.char_offset(*token.end), "predict"))
                return
        raise _CannotRewrite("cannot find run's name in the source", run)  # pragma: no cover - ast found it

    def header_end(self, run: ast.AST, tokens: list[tokenize.TokenInfo]) -> tuple[int, int]:
        """The end of `def run(...) -> X:` (after the colon), as (offset, tokens index)."""
        start = self.source.offset(run.lineno, run.col_offset)
        depth = 0
        for index, token in enumerate(tokens):
            if self.source.char_offset(*token.start) < start or token.type != tokenize.OP:
                continue
            if token.string in "([{":
                depth += 1
            elif token.string in ")]}":
                depth -= 1
            elif token.string == ":" and depth == 0:
                return self.source.char_offset(*token.end), index
        raise _CannotRewrite("cannot find the end of run()'s header", run)  # pragma: no cover

    def declared_input(self, decorator: ast.expr) -> _DeclaredInput:
        if not self.is_cog_input(decorator):
            raise _CannotRewrite(f"run() has a decorator other than @cog.input; {_HAND}", decorator)
        assert isinstance(decorator, ast.Call)
        if any(isinstance(arg, ast.Starred) for arg in decorator.args) or any(k.arg is None for k in decorator.keywords):
            raise _CannotRewrite(f"an @cog.input's arguments are unpacked (* or **); {_HAND}", decorator)
        if len(decorator.args) > len(_INPUT_PARAMETERS):
            raise _CannotRewrite("an @cog.input has more arguments than it takes", decorator)
        arguments = dict(zip(_INPUT_PARAMETERS, decorator.args))
        for keyword_argument in decorator.keywords:
            if keyword_argument.arg not in _INPUT_PARAMETERS or keyword_argument.arg in arguments:
                raise _CannotRewrite(f"an @cog.input has an unexpected argument {keyword_argument.arg}", keyword_argument.value)
            arguments[keyword_argument.arg] = keyword_argument.value
        name = arguments.get("name")
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str) and name.value.isidentifier()
                and not keyword.iskeyword(name.value)):
            raise _CannotRewrite(f"an @cog.input's name is not written as a string naming a parameter; {_HAND}",
                                 name or decorator)
        for argument, node in arguments.items():
            if argument != "name":
                self.static(node, f"the {argument} of input {name.value!r}")
        return _DeclaredInput(name.value, decorator, arguments)

    def annotation(self, declared: _DeclaredInput, cls: ast.ClassDef) -> str:
        node = declared.arguments.get("type")
        if node is None:
            return "str"
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in self.cog.modules
                and self.free(node.attr, cls)):
            self.needed.add(node.attr)
            return node.attr
        if self.future_annotations:  # annotations are then evaluated in the module's namespace, not the class's
            for name in _names_loaded(node):
                if name not in self.bindings and not hasattr(builtins, name):
                    raise _CannotRewrite(f"the type of input {declared.name!r} names {name}, which the module does "
                                         f"not define; {_HAND}", node)
        return self.source.segment(node)

    def rewrite_decorated(self, cls: ast.ClassDef, run: ast.FunctionDef | ast.AsyncFunctionDef,
                          tokens: list[tokenize.TokenInfo]) -> None:
        declared = [self.declared_input(decorator) for decorator in run.decorator_list]
        arguments = run.args
        if arguments.vararg or arguments.kwarg:
            raise _CannotRewrite(f"run() takes {'*' + arguments.vararg.arg if arguments.vararg else '**' + arguments.kwarg.arg}; "
                                 "name each input as a parameter by hand", run)
        if arguments.posonlyargs or arguments.kwonlyargs or arguments.defaults or not arguments.args:
            raise _CannotRewrite(f"run()'s parameters are not just self and the inputs; {_HAND}", run)
        parameters = arguments.args[1:]
        if arguments.args[0].annotation is not None or any(p.annotation is not None for p in parameters):
            raise _CannotRewrite(f"run()'s parameters are annotated as well as declared with @cog.input; {_HAND}", run)
        names = [d.name for d in declared]
        if len(set(names)) != len(names):
            duplicate = next(name for name in names if names.count(name) > 1)
            raise _CannotRewrite(f"input {duplicate!r} is declared twice", run)
        if set(names) != {p.arg for p in parameters}:
            raise _CannotRewrite(f"run()'s parameters ({', '.join(p.arg for p in parameters)}) are not the inputs "
                                 f"@cog.input declares ({', '.join(names)}); {_HAND}", run)
        start = self.source.starts[run.decorator_list[0].lineno - 1]
        line = self.source.lines[run.decorator_list[0].lineno - 1]
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        end, colon = self.header_end(run, tokens)
        first_body = self.source.lines[run.body[0].lineno - 1]
        body_indent = first_body[: len(first_body) - len(first_body.lstrip(" \t"))]
        unit = body_indent[len(indent):] if body_indent.startswith(indent) and len(body_indent) > len(indent) \
            and run.body[0].lineno > tokens[colon].start[0] else "    "
        header_comments = self.place_comments(declared, run, tokens, start, end)
        newline = _newline(self.source.text)
        inner = indent + unit
        out = [f"{indent}{comment}{newline}" for comment in header_comments]
        out.append(f"{indent}{'async ' if isinstance(run, ast.AsyncFunctionDef) else ''}def predict({newline}")
        out.append(f"{inner}{arguments.args[0].arg},{newline}")
        for item in declared:
            out += [f"{inner}{comment}{newline}" for comment in item.leading]
            keywords = []
            for old, new in _INPUT_KEYWORDS:
                node = item.arguments.get(old)
                if node is None or (old != "default" and isinstance(node, ast.Constant) and node.value is None):
                    continue
                keywords.append(f"{new}={self.source.segment(node)}")
            trailing = f"  {item.trailing}" if item.trailing else ""
            out.append(f"{inner}{item.name}: {self.annotation(item, cls)} = Input({', '.join(keywords)}),{trailing}{newline}")
        returns = f" -> {self.source.segment(run.returns)}" if run.returns is not None else ""
        out.append(f"{indent}){returns}:")
        self.needed.add("Input")
        self.edits.append((start, end, "".join(out)))

    def place_comments(self, declared: list[_DeclaredInput], run: ast.AST, tokens, start: int, end: int) -> list[str]:
        """Give each comment among the decorators and in the header to the input it is on or above; returns the
        header's own, which go above the new def."""
        header: list[str] = []
        pending: list[str] = []
        for token in tokens:
            if token.type != tokenize.COMMENT or not start <= self.source.char_offset(*token.start) < end:
                continue
            row = token.start[0]
            owner = next((d for d in declared if d.decorator.lineno <= row <= d.decorator.end_lineno), None)
            if owner is None:
                if row < run.lineno:
                    pending.append(token.string)
                else:
                    header.append(token.string)
                continue
            owner.leading += pending
            pending = []
            own_line = not self.source.lines[row - 1][:token.start[1]].strip()
            if row == owner.decorator.end_lineno and owner.trailing is None and not own_line:
                owner.trailing = token.string
            else:
                owner.leading.append(token.string)
        return pending + header

    @staticmethod
    def apply(text: str, edits: list[tuple[int, int, str]]) -> str:
        result, position = [], 0
        for start, end, replacement in sorted(edits):
            if start < position:
                raise _CannotRewrite("its edits overlap")  # pragma: no cover - a bug, not the user's
            result += [text[position:start], replacement]
            position = end
        return "".join(result + [text[position:]])

    def fix_imports(self, text: str) -> str:
        """Import what the rewrite uses from cog, and drop the cog imports that only the old code used."""
        try:
            tree = ast.parse(text)
        except SyntaxError:  # pragma: no cover - a bug, not the user's
            raise _CannotRewrite("the rewrite would not be valid Python") from None
        source = _Source(text)
        before, after = _names_loaded(self.tree), _names_loaded(tree)
        made_unused = before - after
        from_import = next((node for node in tree.body if isinstance(node, ast.ImportFrom) and node.module == "cog"
                            and node.level == 0 and node.names[0].name != "*" and node.col_offset == 0), None)
        module_import = next((node for node in tree.body if isinstance(node, ast.Import) and node.col_offset == 0
                              and any(alias.name == "cog" for alias in node.names)), None)
        edits: list[tuple[int, int, str]] = []
        newline = _newline(text)
        if from_import is not None:
            kept = [alias for alias in from_import.names if (alias.asname or alias.name) not in made_unused]
            present = {alias.asname or alias.name for alias in kept}
            names = sorted([_alias(alias) for alias in kept] + [name for name in self.needed if name not in present],
                           key=lambda text: text.split(" ")[0])
            edits.append((*source.span(from_import), f"from cog import {', '.join(names)}"))
            if (module_import is not None and len(module_import.names) == 1 and module_import.names[0].asname is None
                    and "cog" in made_unused):
                edits.append(_removal(source, module_import))
        elif module_import is not None:
            statement = f"from cog import {', '.join(sorted(self.needed))}"
            if len(module_import.names) == 1 and module_import.names[0].asname is None and "cog" in made_unused:
                edits.append((*source.span(module_import), statement))
            else:
                line_end = source.starts[module_import.end_lineno]
                edits.append((line_end, line_end, statement + newline))
        else:
            raise _CannotRewrite(f"it imports cog only inside a block; {_HAND}")
        result = self.apply(text, [edit for edit in edits if edit is not None])
        try:
            ast.parse(result)
        except SyntaxError:  # pragma: no cover - a bug, not the user's
            raise _CannotRewrite("the rewrite would not be valid Python") from None
        return result


def _alias(alias: ast.alias) -> str:
    return f"{alias.name} as {alias.asname}" if alias.asname else alias.name


def _removal(source: _Source, node: ast.stmt) -> Optional[tuple[int, int, str]]:
    """Removing a statement that is alone on its lines, with those lines; None when it shares them."""
    start, end = source.span(node)
    line_start, line_end = source.starts[node.lineno - 1], source.starts[node.end_lineno]
    if source.text[line_start:start].strip() or source.text[end:line_end].strip():
        return None
    return (line_start, line_end, "")
