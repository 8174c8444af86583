"""A model's Signature and OpenAPI schema read from its source text, without running the model's environment.

`read_signatures(sources, "predict.py:Predictor", "train.py:train", python_version="3.11")` parses each file with
`ast` and builds a *stub* of it that keeps only what the signature needs: imports of cog and of the few standard
modules a signature is written with (KEPT_MODULES), module-level constants whose values are pure expressions,
classes built from those (output BaseModels, Enums, dataclasses), and the predictor class or function with its
predict()/run()/train() signature (annotations, defaults and cog decorators kept). Every function body in the stub
raises, so no code of the model runs: anything that would call into it (a user `__init__`, `__init_subclass__`, a
property, a metaclass) makes the stub fail, and a failing stub is "cannot decide". The stub is executed in a fresh
module in this interpreter (the SDK is standard library only) and read by the SAME code the runtime uses
(`cog.sdk.predictor.entry_point`, `cog.sdk.signature.signature_of`, `cog.sdk.schema.openapi_schema`), so when it
decides, its schema is the runtime's, byte for byte.

It refuses (raises CannotDecide, with the reason) rather than guess: a name that a statement it does not keep
binds or rebinds (`import torch`, a `try:` import, a `global`), a call to anything but cog's declaration helpers,
a few pure constructors and builtins (a default from `os.environ`, from a function of the model's), a decorator it
does not know (`@torch.inference_mode()` may change what predict() is), a kept object that other code mutates
(`CHOICES.append(...)`), a star import of a module it does not keep, a reference into a package module
(`pkg.mod:Name`), a project module that shadows one it imports, and a target Python whose typing rules differ from
this one's for what the source uses (PEP 585/604 generics, implicit Optional before 3.11).

Pure: text in, signatures out. No file is read here (the caller passes the sources); the stub runs only imports of
KEPT_MODULES. `read_stubs` gives the stubs themselves, whose `digest` says what the signatures depend on without
running them (nor importing the SDK's signature code): equal digests, equal signatures, whatever else changed in the
source (function bodies, comments, line numbers). `signature_from_schema` is the other way back: an image's
`run.cog.openapi_schema` label read into the Signature that validates inputs exactly as that image's runtime will.
"""

from __future__ import annotations

import ast
import builtins
import copy
import hashlib
import importlib
import itertools
import sys
import types
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Mapping, Optional, Set, Tuple

if TYPE_CHECKING:  # imported where they are used: read_stubs and a digest need none of them
    from cog.sdk.signature import InputField, Signature

# The modules a stub imports: cog's public API and the standard modules signatures are written with.
KEPT_MODULES = frozenset({
    "__future__", "cog", "cog.types", "typing", "typing_extensions", "pathlib", "enum", "dataclasses",
    "collections.abc",
})

# Calls a kept expression may make, by qualified name: each is pure (no I/O, no environment, no model code).
_COG_CALLS = ("Input", "input", "streaming", "concurrent", "Path", "Secret")
_PURE_CALLS = frozenset({
    *(f"cog.{name}" for name in _COG_CALLS), *(f"cog.types.{name}" for name in ("Path", "Secret")),
    "pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.PurePosixPath", "pathlib.PureWindowsPath",
    "typing.TypeVar", "typing.NewType", "typing_extensions.TypeVar", "typing_extensions.NewType",
    "dataclasses.field", "dataclasses.dataclass", "enum.auto", "enum.unique",
    *(f"builtins.{name}" for name in (
        "list", "tuple", "dict", "set", "frozenset", "range", "sorted", "reversed", "str", "int", "float", "bool",
        "len", "min", "max", "abs", "round", "enumerate", "zip",
    )),
})
# Decorators a kept function or class may have (their value, applied to it), by qualified name.
_PURE_DECORATORS = frozenset({
    "cog.streaming", "cog.concurrent", "builtins.staticmethod", "builtins.classmethod", "builtins.property",
    "dataclasses.dataclass", "enum.unique", "typing.final", "typing_extensions.final",
})
# Decorator factories: `@cog.input(...)`, `@dataclass(frozen=True)`; the call is checked like any kept call.
_DECORATOR_FACTORIES = frozenset({"cog.input", "cog.streaming", "cog.concurrent", "dataclasses.dataclass"})
_LITERALS = frozenset({"typing.Literal", "typing_extensions.Literal"})
_PEP585 = frozenset({"builtins.list", "builtins.dict", "builtins.tuple", "builtins.set", "builtins.frozenset",
                     "builtins.type"})
_ENTRY_NAMES = ("predict", "run", "train")
_STUB_ERROR = "__cog_static_stub_called__"  # the exception every stubbed body raises, put in the stub's globals


class CannotDecide(Exception):
    """The source does not say the signature for sure; `reason` says why. The runtime decides instead."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _StubCalled(Exception):
    """Raised by every stubbed function body: the runtime would have run the model's code here."""


@dataclass(frozen=True)
class StaticSignatures:
    """The predictor's Signature (and the trainer's), read from source; `openapi_schema()` is the runtime's."""

    predict: Signature
    train: Optional[Signature] = None

    def openapi_schema(self) -> Dict[str, Any]:
        from cog.sdk.schema import openapi_schema

        return openapi_schema(self.predict, self.train)


def read_signatures(sources: Mapping[str, str], predict_ref: str, train_ref: Optional[str] = None, *,
                    python_version: Optional[str] = None,
                    local_modules: Iterable[str] = ()) -> StaticSignatures:
    """The signatures `python -m cog.sdk.worker --openapi predict_ref [--train train_ref]` would compute.

    `sources` maps each reference's file (its part before ":", e.g. "predict.py") to its text; `python_version`
    is the model's Python ("3.11"; None: this one's); `local_modules` the top-level module names the project
    itself provides (they would shadow a kept import in the image). Raises CannotDecide."""
    return read_stubs(sources, predict_ref, train_ref, python_version=python_version,
                      local_modules=local_modules).signatures()


class Stubs:
    """The stubs read_signatures runs: the predictor file's, and the trainer's, each with its path, name and kind."""

    def __init__(self, stubs: List[Tuple[ast.Module, str, str, str]]) -> None:
        self._stubs = stubs

    @property
    def digest(self) -> str:
        """The stubs and what runs them, digested: stubs with equal digests give equal signatures. A stub keeps no
        function body and no position, and running one reads neither (positions are only in errors), so an edit to
        either keeps the digest."""
        digest = hashlib.sha256(sys.version.encode())
        for stub, path, attr, kind in self._stubs:
            digest.update("\0".join(["", path, attr, kind, ast.dump(stub)]).encode())
        return digest.hexdigest()

    def signatures(self) -> StaticSignatures:
        """Run the stubs and read their signatures as the runtime reads them; raises CannotDecide (_run_stub turns
        every failure of a stub into one)."""
        return StaticSignatures(*(_run_stub(*stub) for stub in self._stubs))


def read_stubs(sources: Mapping[str, str], predict_ref: str, train_ref: Optional[str] = None, *,
               python_version: Optional[str] = None, local_modules: Iterable[str] = ()) -> Stubs:
    """The stubs of read_signatures' sources (its arguments), not run yet; raises CannotDecide."""
    target = _version(python_version)
    shadowed = sorted(set(local_modules) & {m.split(".")[0] for m in KEPT_MODULES})
    if shadowed:
        raise CannotDecide(f"the project has its own {shadowed[0]} module, which the model would import instead")
    try:
        return Stubs([_stub(sources, ref, kind, target) for ref, kind in ((predict_ref, "predict"), (train_ref, "train"))
                      if ref or kind == "predict"])
    except CannotDecide:
        raise
    except Exception as exc:  # e.g. a RecursionError on absurdly nested code: the runtime decides instead
        raise CannotDecide(f"the static reader could not read it ({type(exc).__name__}: {exc})") from None


def static_schema(sources: Mapping[str, str], predict_ref: str, train_ref: Optional[str] = None, *,
                  python_version: Optional[str] = None, local_modules: Iterable[str] = ()) -> Optional[Dict[str, Any]]:
    """The OpenAPI schema read from source, or None when the source does not decide it."""
    try:
        return read_signatures(sources, predict_ref, train_ref, python_version=python_version,
                               local_modules=local_modules).openapi_schema()
    except CannotDecide:
        return None


def ref_file(ref: str) -> Optional[str]:
    """The file a reference names ("predict.py:Predictor" -> "predict.py"), or None for a module reference."""
    module_part, sep, attr = ref.rpartition(":")
    if not sep or not module_part or not attr:
        return None
    if module_part.endswith(".py") or "/" in module_part:
        return module_part
    return None


def _version(text: Optional[str]) -> Tuple[int, int]:
    if text is None:
        return sys.version_info[:2]
    parts = str(text).split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        raise CannotDecide(f"python_version {text!r} is not MAJOR.MINOR") from None


def _stub(sources: Mapping[str, str], ref: str, kind: str,
          target: Tuple[int, int]) -> Tuple[ast.Module, str, str, str]:
    path = ref_file(ref)
    if path is None:
        raise CannotDecide(f"{ref} names a module, not a file (FILE.py:NAME); the static reader reads files only")
    if path not in sources:
        raise CannotDecide(f"{path} is not among the sources")
    attr = ref.rpartition(":")[2]
    return _Reader(sources[path], path, attr, target).stub(), path, attr, kind


# ---------------------------------------------------------------------------------------------------------
# Running the stub


_counter = itertools.count()


def _run_stub(stub: ast.Module, path: str, attr: str, kind: str) -> Signature:
    from cog.sdk.predictor import entry_point
    from cog.sdk.protocol import Kind
    from cog.sdk.signature import signature_of

    # A module of its own in sys.modules while it runs: typing.get_type_hints and dataclasses find a class's
    # globals through sys.modules[cls.__module__], as they do for the runtime's module.
    name = f"_cog_static_{next(_counter)}"
    module = types.ModuleType(name)
    module.__dict__[_STUB_ERROR] = _StubCalled
    sys.modules[name] = module
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(stub, path, "exec", dont_inherit=True), module.__dict__)  # noqa: S102 - the stub only
            _, fn = entry_point(module.__dict__[attr], Kind.TRAIN if kind == "train" else Kind.PREDICT)
            return signature_of(fn)
    except _StubCalled as exc:
        raise CannotDecide(f"{path}: reading the signature runs {exc}, the model's own code") from None
    except Exception as exc:  # a NameError, an ImportError, a SignatureError: the runtime says what is wrong
        raise CannotDecide(f"{path}: the stub does not load here ({type(exc).__name__}: {exc})") from None
    finally:
        sys.modules.pop(name, None)


# ---------------------------------------------------------------------------------------------------------
# Reading the source


@dataclass
class _Binding:
    """One statement's binding of a name: what kind of statement it is, and whether the stub keeps it."""

    stmt: "_Stmt"
    qualified: Optional[str] = None  # for an import: the module or object it names


@dataclass(eq=False)
class _Stmt:
    node: ast.stmt
    kind: str  # import, assign, class, function, other
    scope: Optional["_Stmt"] = None  # the class it is in, or None at module level
    binds: Set[str] = field(default_factory=set)
    kept: bool = False
    reason: Optional[str] = None  # why it is not kept
    loads: List[Tuple[str, int]] = field(default_factory=list)  # names its kept parts read, with their line
    kept_nodes: Set[int] = field(default_factory=set)  # id() of every node in its kept parts
    mutable: bool = False  # an assignment whose value could be changed in place (a list, a dict, ...)
    body: List["_Stmt"] = field(default_factory=list)  # a class's statements
    entry: bool = False  # a class whose predict/run/train keep their signatures, or the target function
    features: Set[str] = field(default_factory=set)  # version-sensitive things its kept parts use

    def drop(self, reason: str) -> bool:
        if not self.kept:
            return False
        self.kept, self.reason = False, reason
        return True


class _Reader:
    def __init__(self, source: str, path: str, attr: str, target: Tuple[int, int]) -> None:
        self.path, self.attr, self.target = path, attr, target
        here = sys.version_info[:2]
        try:
            feature = target if target < here else None
            self.tree = ast.parse(source, filename=path, **({"feature_version": feature} if feature else {}))
            compile(self.tree, path, "exec", dont_inherit=True)  # what the runtime's import would refuse
        except (SyntaxError, ValueError) as exc:
            raise CannotDecide(f"{path} does not compile: {exc}") from None
        self.future_annotations = False
        self.module: Dict[str, List[_Binding]] = {}
        self.statements: List[_Stmt] = []
        self.skipped: List[ast.stmt] = []  # `if __name__ == "__main__":` blocks: they never run on import
        # First what each statement is and binds; then (all bindings known) what its kept parts read.
        for node in self.tree.body:
            stmt = self._module_stmt(node)
            if stmt is not None:
                self.statements.append(stmt)
                for name in stmt.binds:
                    self.module.setdefault(name, []).append(_Binding(stmt, self._qualified(stmt.node, name)))
        for stmt in self.statements:
            self._analyze(stmt)

    # -- what a statement is ----------------------------------------------------------------------------

    def _module_stmt(self, node: ast.stmt) -> Optional[_Stmt]:
        if _is_main_guard(node):
            self.skipped.append(node)
            return None
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return None  # a docstring
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            stmt = _Stmt(node, "import", binds=_import_names(node))
            if _kept_import(node):
                stmt.kept = True
                if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                    self.future_annotations |= any(a.name == "annotations" for a in node.names)
                if any(a.name == "*" for a in node.names):
                    stmt.binds = self._star_names(node)
            elif any(a.name == "*" for a in node.names):
                raise CannotDecide(f"{self._at(node)}: `from {'.' * node.level}{node.module or ''} import *` binds "
                                   "names the static reader cannot know")
            else:
                stmt.reason = f"{self._at(node)}: `{ast.unparse(node)}` is an import the static reader does not run"
            return stmt
        if isinstance(node, ast.ClassDef):
            return self._class(node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stmt = _Stmt(node, "function", binds={node.name})
            if node.name == self.attr:
                stmt.kept, stmt.entry = True, True
            else:
                stmt.reason = f"{self._at(node)}: {node.name}() is a function of the model's, which the stub leaves out"
            return stmt
        return self._assignment(node, None) or _Stmt(
            node, "other", binds=_bound_names(node),
            reason=f"{self._at(node)}: a `{type(node).__name__.lower()}` statement, which the stub leaves out")

    def _assignment(self, node: ast.stmt, scope: Optional[_Stmt]) -> Optional[_Stmt]:
        if isinstance(node, ast.Assign) and all(_name_targets(t) for t in node.targets):
            binds = set().union(*(_name_targets(t) for t in node.targets))
            value: Optional[ast.expr] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            binds = {node.target.id} if node.value is not None else set()
            value = node.value
        else:
            return None
        stmt = _Stmt(node, "assign", scope=scope, binds=binds, kept=True, mutable=value is not None and _mutable(value))
        if isinstance(node, ast.AnnAssign) and node.value is None and scope is None:
            stmt.kept, stmt.reason = False, f"{self._at(node)}: an annotation alone, which the stub leaves out"
        return stmt

    def _class(self, node: ast.ClassDef) -> _Stmt:
        stmt = _Stmt(node, "class", binds={node.name}, kept=True)
        for child in node.body:
            if isinstance(child, ast.Expr) and isinstance(child.value, ast.Constant):
                continue  # a docstring, or `...`
            if isinstance(child, ast.Pass):
                continue
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                member = _Stmt(child, "function", scope=stmt, binds={child.name}, kept=True)
            elif isinstance(child, ast.ClassDef):
                member = _Stmt(child, "other", scope=stmt, binds={child.name},
                               reason=f"{self._at(child)}: class {child.name} inside class {node.name}, which the "
                                      "stub leaves out")
            else:
                member = self._assignment(child, stmt) or _Stmt(
                    child, "other", scope=stmt, binds=_bound_names(child),
                    reason=f"{self._at(child)}: a `{type(child).__name__.lower()}` statement in class {node.name}")
            stmt.body.append(member)
        return stmt

    # -- what a kept statement reads ------------------------------------------------------------------------

    def _analyze(self, stmt: _Stmt) -> None:
        node = stmt.node
        if not stmt.kept:
            return
        if stmt.kind == "assign":
            assert isinstance(node, (ast.Assign, ast.AnnAssign))
            if isinstance(node, ast.AnnAssign):
                self._expr(stmt, node.annotation, annotation=True)
            if node.value is not None:
                self._expr(stmt, node.value)
        elif stmt.kind == "class":
            assert isinstance(node, ast.ClassDef)
            for expr in [*node.bases, *(k.value for k in node.keywords)]:
                self._expr(stmt, expr)
            self._decorators(stmt, node.decorator_list)
            for member in stmt.body:
                self._analyze(member)
        elif stmt.kind == "function":
            assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            self._decorators(stmt, node.decorator_list)

    def _decorators(self, stmt: _Stmt, decorators: List[ast.expr]) -> None:
        for decorator in decorators:
            factory = isinstance(decorator, ast.Call)
            callee = self._resolve(decorator.func if isinstance(decorator, ast.Call) else decorator, stmt)
            if callee is None or not callee <= (_DECORATOR_FACTORIES if factory else _PURE_DECORATORS):
                stmt.drop(f"{self._at(decorator)}: {_label(stmt)} has the decorator @{ast.unparse(decorator)}, which "
                          "the static reader does not know (what it makes of the function is the runtime's to say)")
                return
            self._expr(stmt, decorator)

    def _signature_parts(self, stmt: _Stmt) -> None:
        """An entry function's kept parts: its parameters' defaults and annotations, and its return annotation."""
        node = stmt.node
        assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        args = node.args
        for default in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            self._expr(stmt, default)
            if isinstance(default, ast.Constant) and default.value is None:
                stmt.features.add("none-default")
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None and arg.annotation is not None:
                self._expr(stmt, arg.annotation, annotation=True)
        if node.returns is not None:
            self._expr(stmt, node.returns, annotation=True)

    # -- names --------------------------------------------------------------------------------------------

    def _qualified(self, node: ast.stmt, name: str) -> Optional[str]:
        if isinstance(node, ast.Import) and _kept_import(node):
            for alias in node.names:
                if alias.asname == name:
                    return alias.name
                if alias.asname is None and alias.name.split(".")[0] == name:
                    return name
        if isinstance(node, ast.ImportFrom) and _kept_import(node):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return f"{node.module}.{alias.name}"
            if any(alias.name == "*" for alias in node.names):
                return f"{node.module}.{name}"
        return None

    def _star_names(self, node: ast.ImportFrom) -> Set[str]:
        try:
            module = importlib.import_module(node.module or "")
        except ImportError as exc:
            raise CannotDecide(f"{self._at(node)}: {exc}") from None
        names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
        return set(names)

    def _bindings(self, name: str, scope: Optional[_Stmt]) -> List[_Binding]:
        """Every binding that a read of `name` in `scope` might see: the class's own, then the module's."""
        found: List[_Binding] = []
        if scope is not None:
            found = [_Binding(member) for member in scope.body if name in member.binds]
        return found + self.module.get(name, [])

    def _resolve(self, expr: ast.expr, stmt: _Stmt) -> Optional[Set[str]]:
        """The qualified names a callee or decorator may be ("cog.Input"), or None when it is none the reader
        knows: a name bound by anything but a kept import (a constant, a function, a method) is not resolved."""
        parts: List[str] = []
        while isinstance(expr, ast.Attribute):
            parts.insert(0, expr.attr)
            expr = expr.value
        if not isinstance(expr, ast.Name):
            return None
        bindings = self._bindings(expr.id, stmt.scope)
        if not bindings:
            return {".".join(["builtins", expr.id, *parts])} if hasattr(builtins, expr.id) else None
        names = set()
        for binding in bindings:
            if binding.stmt.kind != "import" or binding.qualified is None:
                return None
            names.add(".".join([binding.qualified, *parts]))
        return names

    def _is_class(self, expr: ast.expr, stmt: _Stmt) -> bool:
        """A call of a class the model defines (its constructor): safe, as the stub's methods all raise."""
        bindings = self._bindings(expr.id, stmt.scope) if isinstance(expr, ast.Name) else []
        return bool(bindings) and all(b.stmt.kind == "class" for b in bindings)

    # -- kept expressions ---------------------------------------------------------------------------------

    def _expr(self, stmt: _Stmt, expr: ast.expr, *, annotation: bool = False) -> None:
        """Check that `expr` is pure and record what it reads; drop `stmt` when it is not."""
        problem = self._walk(stmt, expr, annotation, set())
        if problem is not None:
            stmt.drop(f"{self._at(expr)}: {_label(stmt)} {problem}")

    def _walk(self, stmt: _Stmt, node: ast.AST, annotation: bool, local: Set[str]) -> Optional[str]:
        stmt.kept_nodes.add(id(node))
        if isinstance(node, ast.Constant):
            if annotation and isinstance(node.value, str):  # a forward reference: get_type_hints evaluates it
                try:
                    parsed = ast.parse(node.value.strip(), mode="eval").body
                except SyntaxError:
                    return None  # not an expression: the runtime says so (or it is Annotated's metadata)
                return self._walk(stmt, parsed, annotation, local)
            return None
        if isinstance(node, ast.Name):
            if not isinstance(node.ctx, ast.Load):
                return f"assigns {node.id} inside an expression"
            if node.id not in local:
                if node.id.startswith("__") and node.id.endswith("__"):
                    return f"reads {node.id}, which differs between the runtime's module and the stub"
                stmt.loads.append((node.id, getattr(node, "lineno", 0)))
            return None
        if isinstance(node, ast.Call):
            callee = self._resolve(node.func, stmt)
            if not (callee is not None and callee <= _PURE_CALLS) and not self._is_class(node.func, stmt):
                return (f"calls {ast.unparse(node.func)}, which the static reader does not run (it runs only "
                        "cog's declarations and a few pure constructors)")
        elif isinstance(node, ast.Subscript):
            value = self._resolve(node.value, stmt)
            if value is not None:
                if value & _PEP585 or any(v.startswith("collections.abc.") for v in value):
                    stmt.features.add("pep585")
                if value & _LITERALS:  # Literal["a", "b"]: its strings are values, not forward references
                    stmt.kept_nodes.update(id(n) for n in ast.walk(node.slice))
                    if _duplicate_literals(node.slice):
                        stmt.features.add("literal-duplicates")
                    return self._walk(stmt, node.value, annotation, local) or self._walk(stmt, node.slice, False, local)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            stmt.features.add("pep604")
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return self._comprehension(stmt, node, annotation, local)
        elif not isinstance(node, _PURE_NODES):
            return f"has a {type(node).__name__} expression, which the static reader does not evaluate"
        for child in ast.iter_child_nodes(node):
            problem = self._walk(stmt, child, annotation, local)
            if problem:
                return problem
        return None

    def _comprehension(self, stmt: _Stmt, node: ast.expr, annotation: bool, local: Set[str]) -> Optional[str]:
        inner = set(local)
        for generator in node.generators:  # type: ignore[attr-defined]
            stmt.kept_nodes.add(id(generator))
            problem = self._walk(stmt, generator.iter, annotation, inner)
            if problem:
                return problem
            targets = _name_targets(generator.target)
            if generator.is_async or not targets:
                return "has a comprehension the static reader does not evaluate"
            stmt.kept_nodes.update(id(n) for n in ast.walk(generator.target))
            inner |= targets
            for condition in generator.ifs:
                problem = self._walk(stmt, condition, annotation, inner)
                if problem:
                    return problem
        elements = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]  # type: ignore
        for element in elements:
            problem = self._walk(stmt, element, annotation, inner)
            if problem:
                return problem
        return None

    # -- deciding what the stub keeps ---------------------------------------------------------------------

    def _target(self) -> _Stmt:
        bindings = self.module.get(self.attr, [])
        if not bindings:
            raise CannotDecide(f"{self.path} has no top-level {self.attr} that the static reader can see")
        for binding in bindings:
            if binding.stmt.kind not in ("class", "function"):
                raise CannotDecide(binding.stmt.reason or f"{self._at(binding.stmt.node)}: {self.attr} is not bound "
                                   "by a class or function definition")
        return bindings[-1].stmt

    def _mark_entries(self, target: _Stmt) -> None:
        """The target and the model's classes it derives from keep predict/run/train with their signatures."""
        todo, seen = [target], set()
        while todo:
            stmt = todo.pop()
            if id(stmt) in seen:
                continue
            seen.add(id(stmt))
            stmt.entry = True
            if stmt.kind == "function":
                if stmt.kept:
                    self._signature_parts(stmt)
                continue
            assert isinstance(stmt.node, ast.ClassDef)
            for member in stmt.body:
                if member.kind == "function" and member.kept and _name(member) in _ENTRY_NAMES:
                    member.entry = True
                    self._signature_parts(member)
            for base in stmt.node.bases:
                if isinstance(base, ast.Name):
                    todo += [b.stmt for b in self.module.get(base.id, []) if b.stmt.kind == "class"]

    def stub(self) -> ast.Module:
        target = self._target()
        self._mark_entries(target)
        events = _Events(self.tree, {id(n) for s in self.skipped for n in ast.walk(s)})
        changed = True
        while changed:
            changed = False
            kept_ids: Set[int] = set()
            for stmt in self._all():
                if stmt.kept:
                    kept_ids |= stmt.kept_nodes
            outside = events.outside(kept_ids)
            for stmt in self._all():
                if stmt.kept:
                    changed |= self._check(stmt, outside)
            for stmt in self.statements:
                if stmt.kind == "class" and stmt.kept:
                    changed |= self._check_class(stmt)
        for binding in self.module[self.attr]:
            if not binding.stmt.kept:
                raise CannotDecide(binding.stmt.reason or f"{self.path}: {self.attr} is not kept")
        self._check_versions()
        body = [self._stub_stmt(stmt) for stmt in self.statements if stmt.kept]
        return ast.fix_missing_locations(ast.Module(body=body, type_ignores=[]))

    def _all(self) -> Iterator[_Stmt]:
        for stmt in self.statements:
            yield stmt
            yield from stmt.body

    def _check(self, stmt: _Stmt, outside: "_Outside") -> bool:
        if stmt.scope is not None and not stmt.scope.kept:
            return stmt.drop(stmt.scope.reason or "its class is not kept")
        for name in stmt.binds:
            why = outside.changes(name, stmt)
            if why:
                return stmt.drop(f"{self._at(stmt.node)}: {name} is {why}")
        for name, line in stmt.loads:
            bindings = self._bindings(name, stmt.scope)
            if not bindings and not hasattr(builtins, name):
                return stmt.drop(f"{self.path}:{line}: {_label(stmt)} reads {name}, which is not defined where the "
                                 "static reader can see it")
            for binding in bindings:
                if not binding.stmt.kept:
                    return stmt.drop(f"{self.path}:{line}: {_label(stmt)} reads {name}; {binding.stmt.reason}")
        return False

    def _check_class(self, stmt: _Stmt) -> bool:
        """A class is kept whole; a predictor may be kept without statements that nothing kept needs."""
        assert isinstance(stmt.node, ast.ClassDef)
        needed = {name for member in stmt.body if member.kept for name, _ in member.loads}
        for member in stmt.body:
            if member.kept:
                continue
            if not stmt.entry:
                return stmt.drop(f"{member.reason} (and class {stmt.node.name} is not kept without it)")
            for name in member.binds:
                if name in _ENTRY_NAMES or (name.startswith("__") and name.endswith("__")) or name in needed:
                    return stmt.drop(member.reason or f"{self._at(member.node)}: {stmt.node.name}.{name} is not kept")
        return False

    def _check_versions(self) -> None:
        """Refuse where the model's Python would read what the stub keeps differently from this one."""
        here = sys.version_info[:2]
        features: Set[str] = set()
        for stmt in self._all():
            if stmt.kept:
                features |= stmt.features
        thresholds = {
            "pep585": ((3, 9), "list[...]-style generics"),
            "literal-duplicates": ((3, 9), "a Literal with a value twice"),
            "pep604": ((3, 10), "X | Y"),
            "none-default": ((3, 11), "a parameter defaulting to None (implicitly Optional before Python 3.11)"),
            "eager-annotations": ((3, 14), "annotations without `from __future__ import annotations` (evaluated "
                                           "lazily from Python 3.14)"),
        }
        if not self.future_annotations:
            features.add("eager-annotations")
        for feature in sorted(features):
            threshold, what = thresholds[feature]
            if (self.target < threshold) != (here < threshold):
                raise CannotDecide(f"{self.path} uses {what}, which Python {self.target[0]}.{self.target[1]} reads "
                                   f"differently from this Python, {here[0]}.{here[1]}")

    # -- the stub ------------------------------------------------------------------------------------------

    def _stub_stmt(self, stmt: _Stmt) -> ast.stmt:
        node = stmt.node
        if stmt.kind == "class":
            assert isinstance(node, ast.ClassDef)
            body = [self._stub_stmt(member) for member in stmt.body if member.kept] or [ast.Pass()]
            return ast.copy_location(ast.ClassDef(
                name=node.name, bases=copy.deepcopy(node.bases), keywords=copy.deepcopy(node.keywords),
                body=body, decorator_list=copy.deepcopy(node.decorator_list), **_type_params(node)), node)
        if stmt.kind == "function":
            assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            where = _label(stmt)
            body: List[ast.stmt] = [ast.Raise(exc=ast.Call(func=ast.Name(_STUB_ERROR, ast.Load()),
                                                           args=[ast.Constant(where)], keywords=[]), cause=None)]
            if _is_generator(node):  # still a generator: the runtime reads iterator outputs from that
                body.append(ast.Expr(ast.Yield(None)))
            if stmt.entry:
                args, returns = copy.deepcopy(node.args), copy.deepcopy(node.returns)
            else:  # what another method's parameters say matters to no signature: they are not evaluated
                args = ast.arguments(posonlyargs=[], args=[], vararg=ast.arg("args"), kwonlyargs=[], kw_defaults=[],
                                     kwarg=ast.arg("kwargs"), defaults=[])
                returns = None
            made = type(node)(name=node.name, args=args, body=body, decorator_list=copy.deepcopy(node.decorator_list),
                              returns=returns, **_type_params(node))
            return ast.copy_location(made, node)
        return copy.deepcopy(node)

    def _at(self, node: ast.AST) -> str:
        return f"{self.path}:{getattr(node, 'lineno', '?')}"


_PURE_NODES = (
    ast.Attribute, ast.Subscript, ast.Slice, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.BinOp, ast.UnaryOp,
    ast.BoolOp, ast.Compare, ast.IfExp, ast.JoinedStr, ast.FormattedValue, ast.Starred, ast.Call, ast.keyword,
    ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)


def _label(stmt: _Stmt) -> str:
    """What a statement is, for a reason: "Predictor.predict()", "class Output", "CHOICES = ...", "import x"."""
    node = stmt.node
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return f"{_name(stmt.scope)}.{node.name}()" if stmt.scope is not None else f"{node.name}()"
    if isinstance(node, ast.ClassDef):
        return f"class {node.name}"
    if stmt.kind == "assign":
        return f"{', '.join(sorted(stmt.binds)) or 'the annotation'} = ..."
    return f"`{ast.unparse(node).splitlines()[0]}`"


def _name(stmt: _Stmt) -> str:
    return getattr(stmt.node, "name", "")


def _type_params(node: ast.AST) -> Dict[str, Any]:
    return {"type_params": copy.deepcopy(getattr(node, "type_params", []))} if hasattr(node, "type_params") else {}


def _is_main_guard(node: ast.stmt) -> bool:
    """`if __name__ == "__main__":` (with no else)."""
    if not isinstance(node, ast.If) or node.orelse:
        return False
    test = node.test
    return (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
            and {ast.dump(test.left), ast.dump(test.comparators[0])}
            == {ast.dump(ast.Name("__name__", ast.Load())), ast.dump(ast.Constant("__main__"))})


def _kept_import(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import):
        return all(alias.name in KEPT_MODULES for alias in node.names)
    if isinstance(node, ast.ImportFrom):
        return node.level == 0 and node.module in KEPT_MODULES
    return False


def _import_names(node: ast.stmt) -> Set[str]:
    assert isinstance(node, (ast.Import, ast.ImportFrom))
    if isinstance(node, ast.Import):
        return {alias.asname or alias.name.split(".")[0] for alias in node.names}
    return {alias.asname or alias.name for alias in node.names if alias.name != "*"}


def _name_targets(target: ast.expr) -> Set[str]:
    """The names an assignment target binds when it is only names (`a`, `a, b`), else an empty set."""
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, (ast.Tuple, ast.List)):
        names = [_name_targets(e) for e in target.elts]
        return set().union(*names) if names and all(names) else set()
    return set()


def _bound_names(node: ast.stmt) -> Set[str]:
    """Every name a statement binds in its own scope (not inside the functions, lambdas or classes it defines)."""
    names: Set[str] = set()

    def visit(n: ast.AST, top: bool) -> None:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(n.name)
            for d in n.decorator_list:
                visit(d, False)
            return
        if isinstance(n, ast.Lambda):
            return
        if isinstance(n, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            for w in ast.walk(n):  # only := escapes a comprehension
                if isinstance(w, ast.NamedExpr) and isinstance(w.target, ast.Name):
                    names.add(w.target.id)
            return
        if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del)):
            names.add(n.id)
        elif isinstance(n, (ast.Import, ast.ImportFrom)):
            names.update(_import_names(n))
        elif isinstance(n, ast.ExceptHandler) and n.name:
            names.add(n.name)
        elif isinstance(n, (ast.MatchAs, ast.MatchStar)) and n.name:
            names.add(n.name)
        elif isinstance(n, ast.MatchMapping) and n.rest:
            names.add(n.rest)
        for child in ast.iter_child_nodes(n):
            visit(child, False)

    visit(node, True)
    return names


def _mutable(value: ast.expr) -> bool:
    """Whether the value could be changed in place later: anything but constants, tuples of them, and
    expressions of names and attributes (type expressions like Optional[str], aliases of imports)."""
    if isinstance(value, ast.Constant):
        return False
    if isinstance(value, ast.Tuple):
        return any(_mutable(e) for e in value.elts)
    if isinstance(value, (ast.UnaryOp,)):
        return _mutable(value.operand)
    if isinstance(value, ast.BinOp):
        return _mutable(value.left) or _mutable(value.right)
    if isinstance(value, (ast.Name, ast.Attribute, ast.Subscript, ast.JoinedStr)):
        return isinstance(value, ast.Name) or any(isinstance(n, (ast.List, ast.Dict, ast.Set, ast.Call))
                                                  for n in ast.walk(value))
    return True


def _duplicate_literals(slice_: ast.expr) -> bool:
    elements = slice_.elts if isinstance(slice_, ast.Tuple) else [slice_]
    values = [ast.dump(e) for e in elements]
    return len(values) != len(set(values))


def _is_generator(node: ast.AST) -> bool:
    """Whether a function's own body yields (not a nested function's)."""
    todo = list(ast.iter_child_nodes(node))
    while todo:
        n = todo.pop()
        if isinstance(n, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        todo.extend(ast.iter_child_nodes(n))
    return False


class _Events:
    """What the whole module does to names, found once: reads, stores into them (x.a = ..., x[k] = ..., del x.a,
    x.a += ..., setattr(x, ...)), method calls on them (x.append(...), X.configure()), `global` declarations.
    The code the stub keeps is pure; what it leaves out may run at import time (or in a function called then)
    and change what the stub keeps. (`if __name__ == "__main__":` blocks never run on import: not counted.)"""

    def __init__(self, tree: ast.Module, skip: Set[int]) -> None:
        self.reads: List[Tuple[str, int]] = []  # (name, node id): a Name read, or an attribute read by its name
        self.stores: List[Tuple[str, int]] = []  # (root name, node id)
        self.calls: List[Tuple[str, int]] = []  # (root name, node id) of x.m(...), x.a.m(...)
        self.globals: Set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, (ast.Global, ast.Nonlocal)):
                self.globals.update(node.names)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                self.reads.append((node.id, id(node)))
            elif isinstance(node, (ast.Attribute, ast.Subscript)):
                if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                    self.reads.append((node.attr, id(node)))
                root = _root(node)
                if root is not None and isinstance(node.ctx, (ast.Store, ast.Del)):
                    self.stores.append((root, id(node)))
            elif isinstance(node, ast.AugAssign):
                root = _root(node.target)
                if root is not None:
                    self.stores.append((root, id(node)))
            elif isinstance(node, ast.Call):
                if isinstance(node.func, ast.Name) and node.func.id in ("setattr", "delattr") and node.args:
                    root = _root(node.args[0])
                    if root is not None:
                        self.stores.append((root, id(node)))
                elif isinstance(node.func, ast.Attribute):
                    chain = node.func
                    while isinstance(chain, ast.Attribute):
                        chain = chain.value
                    if isinstance(chain, ast.Name):
                        self.calls.append((chain.id, id(node)))

    def outside(self, kept: Set[int]) -> "_Outside":
        return _Outside(
            reads={name for name, i in self.reads if i not in kept},
            stores={name for name, i in self.stores if i not in kept},
            calls={name for name, i in self.calls if i not in kept},
            globals=self.globals,
        )


@dataclass(frozen=True)
class _Outside:
    """What code the stub leaves out does to names."""

    reads: Set[str]
    stores: Set[str]
    calls: Set[str]
    globals: Set[str]

    def changes(self, name: str, stmt: _Stmt) -> Optional[str]:
        """How left-out code may change what `stmt` binds to `name`, if it may."""
        module_level = stmt.scope is None
        if module_level and name in self.globals:
            return "declared `global` in a function"
        if name in self.stores:
            return "changed by an assignment into it elsewhere"
        if stmt.kind == "import":
            return None
        if stmt.kind == "class" and name in self.calls:
            return "used by a method call elsewhere (which may change it)"
        if stmt.kind == "assign" and stmt.mutable and (name in self.reads or name in self.calls):
            return "a mutable value read elsewhere (which may change it)"
        return None


def _root(node: ast.AST) -> Optional[str]:
    """The name an expression starts from: `x` of x.a[0].b, of x(...).a."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call, ast.Starred)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


# ---------------------------------------------------------------------------------------------------------
# The other way: a schema (an image's label) back into the Signature that validates its inputs


def signature_from_schema(schema: Mapping[str, Any], component: str = "Input") -> Optional[Signature]:
    """The Signature whose `validate` checks inputs as the runtime that wrote `schema` does, or None when the
    schema has an input this version of cog cannot read back. The output is not read (validation needs none)."""
    from cog.sdk.signature import BOOL, DICT, FLOAT, INT, PATH, SECRET, STR, InputField, OutputType, Signature

    schemas = schema.get("components", {}).get("schemas", {}) if isinstance(schema, Mapping) else {}
    body = schemas.get(component)
    if not isinstance(body, Mapping):
        return None
    required = set(body.get("required", []))
    inputs: List[InputField] = []
    properties = body.get("properties", {})
    if not isinstance(properties, Mapping):
        return None
    for name, prop in sorted(properties.items(), key=lambda item: item[1].get("x-order", 0)):
        array = prop.get("type") == "array"
        item = prop.get("items", {}) if array else prop
        choices = None
        for part in item.get("allOf", []):
            ref = str(part.get("$ref", ""))
            enum = schemas.get(ref.rsplit("/", 1)[-1], {}) if ref.startswith("#/components/schemas/") else {}
            choices, item = list(enum.get("enum", [])), {**enum, **item}
        kinds = {("string", None): STR, ("string", "uri"): PATH, ("string", "password"): SECRET,
                 ("integer", None): INT, ("number", None): FLOAT, ("boolean", None): BOOL, ("object", None): DICT}
        kind = kinds.get((item.get("type"), item.get("format")))
        if kind is None:
            return None
        try:
            inputs.append(InputField(
                name=name, kind=kind, order=prop.get("x-order", len(inputs)), array=array,
                nullable=bool(prop.get("nullable", False)), default=prop.get("default"),
                required=name in required, description=prop.get("description"),
                ge=prop.get("minimum"), le=prop.get("maximum"), min_length=prop.get("minLength"),
                max_length=prop.get("maxLength"), regex=prop.get("pattern"), choices=choices,
                deprecated=prop.get("deprecated"),
            ))
        except TypeError:
            return None
    return Signature(inputs=inputs, output=OutputType())
