"""A model's signature: its inputs and output, normalized from either declaration style.

`signature_of(fn)` reads a predict()/run()/train() method or a plain function (Input(...) defaults, or the
original dialect's @cog.input declarations) into a `Signature`. The Signature validates request inputs,
produces the OpenAPI schema (cog.sdk.schema) and travels as JSON from the worker to the HTTP server.

Standard library only (typing_extensions optional): this module runs inside the model's own environment.
"""

from __future__ import annotations

import collections.abc
import inspect
import math
import os
import pathlib
import re
import sys
import typing
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable, Dict, List, Optional, Tuple

from cog.sdk.predictor import DECLARED_INPUTS_ATTR, MISSING, Constraints, FieldInfo, constraints_of
from cog.sdk.coders import Coder
from cog.sdk.types import (
    AsyncConcatenateIterator, BaseModel, ConcatenateIterator, File, Opaque, Path, Secret, URLFile, URLPath,
)

try:  # typing_extensions.Literal is a distinct object on old Pythons
    import typing_extensions

    _LITERALS: Tuple[Any, ...] = (typing.Literal, typing_extensions.Literal)
except ImportError:  # pragma: no cover - depends on the model's environment
    _LITERALS = (typing.Literal,)

_UNION_ORIGINS: Tuple[Any, ...] = (typing.Union,)
if sys.version_info >= (3, 10):
    import types as _types

    _UNION_ORIGINS += (_types.UnionType,)  # novermin (guarded by the version check)

# The primitive kinds an input or output value can have. OBJECT: an output with declared fields (a BaseModel);
# DICT: a JSON object passed through (dict, TypedDict, Annotated[T, Opaque]) or made by a coder (cog.sdk.coders).
STR, INT, FLOAT, BOOL, PATH, FILE, SECRET, ANY, OBJECT, DICT = (
    "str", "int", "float", "bool", "path", "file", "secret", "any", "object", "dict",
)
_KIND_OF_TYPE: Dict[Any, str] = {
    str: STR, int: INT, float: FLOAT, bool: BOOL,
    Path: PATH, pathlib.Path: PATH, URLPath: PATH, File: FILE, URLFile: FILE, Secret: SECRET, dict: DICT,
}
_INPUT_KINDS_HELP = ("str, int, float, bool, cog.Path, cog.File, cog.Secret, dict (a JSON object), a list of one of "
                     "them, or Literal[...]")
_ITERATOR_ORIGINS = (collections.abc.Iterator, collections.abc.Generator, collections.abc.Iterable)
_ASYNC_ITERATOR_ORIGINS = (collections.abc.AsyncIterator, collections.abc.AsyncGenerator, collections.abc.AsyncIterable)

WEIGHTS_PARAMETER = "weights"


class SignatureError(ValueError):
    """A declaration the runtime cannot serve; the message names the parameter and says what to change."""


class InputError(ValueError):
    """A request input that does not fit the signature; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class _Input:
    name: str
    kind: str
    order: int
    array: bool = False
    nullable: bool = False
    default: Any = None
    required: bool = True


# A dataclass's fields start with its last base's: the input's own, then the constraints it declares.
@dataclass(frozen=True)
class InputField(Constraints, _Input):
    """One input of a signature: its kind and default, with what Input(...) declared (choices from a Literal)."""

    @property
    def accepts_null(self) -> bool:
        """null is a value of it: its type is Optional, or its default is None (`x: str = None`, as in Cog).
        An input with another default refuses null rather than passing None to a model that never expects it."""
        return self.nullable or (not self.required and self.default is None)


@dataclass
class OutputType:
    kind: str = ANY
    array: bool = False
    nullable: bool = False
    iterator: bool = False
    concatenate: bool = False
    # For kind == OBJECT: field name -> its type, and which fields are required.
    properties: Dict[str, "OutputType"] = field(default_factory=dict)
    required: List[str] = field(default_factory=list)


@dataclass
class Signature:
    inputs: List[InputField]
    output: OutputType

    @property
    def requires_input(self) -> bool:
        """A request must carry `input`: some input has no default."""
        return any(f.required for f in self.inputs)

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "Signature":
        return cls(inputs=[InputField(**f) for f in data["inputs"]], output=_output_from_json(data["output"]))

    def redacted(self, given: Dict[str, Any]) -> Dict[str, Any]:
        """A request's inputs as the job shows them (its answers, webhooks, polls): a secret's value, or each of a
        list of them, as Cog shows it, "**********"."""
        secrets = [f.name for f in self.inputs if f.kind == SECRET]
        if not secrets or not isinstance(given, dict) or not any(name in given for name in secrets):
            return given
        return {name: _redact(value) if name in secrets else value for name, value in given.items()}

    def validate(self, payload: Any) -> Dict[str, Any]:
        """Check a request's `input` object; return every argument (defaults filled) or raise InputError."""
        if not isinstance(payload, dict):
            raise InputError("input", "input must be a JSON object")
        known = {f.name: f for f in self.inputs}
        for name in payload:
            if name not in known:
                raise InputError(name, f"unknown input {name!r}; expected one of: {', '.join(known) or '(none)'}")
        arguments: Dict[str, Any] = {}
        for f in self.inputs:
            if f.name in payload:
                arguments[f.name] = coerce(f, payload[f.name])
            elif f.required:
                raise InputError(f.name, f"input {f.name!r} is required")
            else:
                arguments[f.name] = f.default
        return arguments


SECRET_SHOWN = "**********"  # pydantic's SecretStr, and so Cog, show every secret so


def _redact(value: Any) -> Any:
    if isinstance(value, list):
        return [SECRET_SHOWN if item is not None else None for item in value]
    return SECRET_SHOWN if value is not None else None


def _output_from_json(data: Dict[str, Any]) -> OutputType:
    props = {k: _output_from_json(v) for k, v in data.get("properties", {}).items()}
    return OutputType(**{**data, "properties": props})


# ---------------------------------------------------------------------------------------------------------
# Reading a declaration


def signature_of(fn: Callable[..., Any]) -> Signature:
    """The Signature of a predict()/run()/train() callable; raises SignatureError naming the parameter."""
    declared = getattr(fn, DECLARED_INPUTS_ATTR, None)
    hints = _type_hints(fn)
    if declared is not None:
        inputs = [_input_field(d.name, d.type, d.info, i, _ORIGINAL_NAMES) for i, d in enumerate(declared)]
    else:
        inputs = []
        for p in inspect.signature(fn).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise SignatureError(f"parameter {p.name!r}: *args and **kwargs are not supported; name each input")
            if p.name not in hints:
                raise SignatureError(f"parameter {p.name!r} has no type annotation; add one, e.g. `{p.name}: str`")
            info = p.default if isinstance(p.default, FieldInfo) else FieldInfo(
                default=MISSING if p.default is inspect.Parameter.empty else p.default
            )
            inputs.append(_input_field(p.name, hints[p.name], info, len(inputs)))
    output = _output_type(hints.get("return", Any), is_async_gen=inspect.isasyncgenfunction(fn),
                          is_gen=inspect.isgeneratorfunction(fn))
    return Signature(inputs=inputs, output=output)


def _type_hints(fn: Callable[..., Any]) -> Dict[str, Any]:
    try:
        hints = _get_type_hints(fn)
    except Exception as exc:  # e.g. `list[str]` in a string annotation on an old Python
        raise SignatureError(f"cannot read the type annotations of {fn.__qualname__}: {exc}") from None
    return {name: _plain_type(hint) for name, hint in hints.items()}


def _get_type_hints(fn: Callable[..., Any]) -> Dict[str, Any]:
    """The hints with their Annotated[...] kept (typing_extensions' on 3.8, where it may be missing)."""
    if sys.version_info >= (3, 9):
        return typing.get_type_hints(fn, include_extras=True)
    try:  # pragma: no cover - Python 3.8
        return typing_extensions.get_type_hints(fn, include_extras=True)  # type: ignore[no-any-return]
    except NameError:  # pragma: no cover - no typing_extensions in the model's environment
        return typing.get_type_hints(fn)


_ABC_TO_TYPING = {
    collections.abc.Iterator: typing.Iterator, collections.abc.Iterable: typing.Iterable,
    collections.abc.Generator: typing.Generator, collections.abc.AsyncIterator: typing.AsyncIterator,
    collections.abc.AsyncIterable: typing.AsyncIterable, collections.abc.AsyncGenerator: typing.AsyncGenerator,
    list: typing.List,
}


def _plain_type(tp: Any) -> Any:
    """`tp` without Annotated[...]: Annotated[T, cog.Opaque] is a JSON object (dict; a list of them when T is a
    list), any other Annotated[T, ...] is T. Unions, lists and iterators are rebuilt around what they hold."""
    metadata = getattr(tp, "__metadata__", None)
    if metadata is not None:  # typing's (3.9+) and typing_extensions' Annotated alike
        inner = tp.__origin__
        if not any(m is Opaque for m in metadata):
            return _plain_type(inner)
        inner, nullable = _unwrap_optional(inner)
        opaque: Any = List[dict] if inner is list or typing.get_origin(inner) in (list, List) else dict
        return Optional[opaque] if nullable else opaque
    args = typing.get_args(tp)
    if not args or not any(_has_annotated(a) for a in args):
        return tp
    plain = tuple(_plain_type(a) for a in args)
    origin = typing.get_origin(tp)
    if origin in _UNION_ORIGINS:
        return typing.Union[plain]
    if origin in _ABC_TO_TYPING:
        return _ABC_TO_TYPING[origin][plain if len(plain) > 1 else plain[0]]
    return tp


def _has_annotated(tp: Any) -> bool:
    return getattr(tp, "__metadata__", None) is not None or any(_has_annotated(a) for a in typing.get_args(tp))


def _unwrap_optional(tp: Any) -> Tuple[Any, bool]:
    if typing.get_origin(tp) in _UNION_ORIGINS:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _kind(tp: Any) -> Optional[str]:
    kind = _KIND_OF_TYPE.get(tp)
    if kind is not None:
        return kind
    if typing.get_origin(tp) in (dict, Dict) or Coder.lookup(tp) is not None:  # TypedDict, dataclasses, ...
        return DICT
    if inspect.isclass(tp) and issubclass(tp, os.PathLike):
        return PATH
    return None


# What the original dialect's @cog.input calls the constraints, for messages about them.
_ORIGINAL_NAMES = {"ge": "min", "le": "max", "choices": "options"}


def _input_field(name: str, annotation: Any, info: FieldInfo, order: int,
                 names: Optional[Dict[str, str]] = None) -> InputField:
    """`names`: what the declaration calls the constraints, when not Input()'s keywords."""
    where = f"input {name!r}"
    tp, nullable = _unwrap_optional(annotation)
    array = False
    choices = info.choices
    origin = typing.get_origin(tp)
    if origin in (list, List):
        args = typing.get_args(tp)
        tp, array = (args[0] if args else Any), True
        origin = typing.get_origin(tp)
    if origin in _LITERALS:
        literal_values = list(typing.get_args(tp))
        kinds = {type(v) for v in literal_values}
        if kinds not in ({str}, {int}):
            raise SignatureError(f"{where}: Literal values must be all strings or all integers")
        tp, choices = kinds.pop(), literal_values
    kind = _kind(tp)
    if kind is None:
        raise SignatureError(f"{where}: unsupported type {_type_name(annotation)}; use {_INPUT_KINDS_HELP}")
    f = InputField(
        name=name, kind=kind, order=order, array=array, nullable=nullable,
        required=info.default is MISSING and not nullable, **{**constraints_of(info), "choices": choices},
    )
    _check_constraints(f, where)
    if info.default is MISSING or info.default is None:
        return f
    try:
        default = coerce(f, info.default)
    except InputError as exc:
        problem = _broken_constraint(f, info.default, names or {}) or _said_of_it(f, exc.message)
        raise SignatureError(f"{where}: default {_shown(f, info.default)} is invalid because {problem}") from None
    return replace(f, default=_jsonable_default(default))


def _broken_constraint(f: InputField, default: Any, names: Dict[str, str]) -> Optional[str]:
    """Which of its own constraints a default breaks, said of the default: "it is less than ge=1"."""
    if f.array and isinstance(default, list):
        for index, item in enumerate(default):
            problem = _broken_constraint(replace(f, array=False), item, names)
            if problem is not None:
                return f"its item {index} ({_shown(f, item)}) {problem[3:]}"  # "it is ..." -> "its item 0 (x) is ..."
        return None
    value = default.get_secret_value() if isinstance(default, Secret) else default
    if f.kind in (STR, SECRET) and isinstance(value, str):
        if f.min_length is not None and len(value) < f.min_length:
            return f"it is shorter than min_length={f.min_length}"
        if f.max_length is not None and len(value) > f.max_length:
            return f"it is longer than max_length={f.max_length}"
        if f.regex is not None and re.search(f.regex, value) is None:
            return f"it does not match regex={f.regex!r}"
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if numeric and f.kind in (INT, FLOAT):
        if f.ge is not None and value < f.ge:
            return f"it is less than {names.get('ge', 'ge')}={_num(f.ge)}"
        if f.le is not None and value > f.le:
            return f"it is greater than {names.get('le', 'le')}={_num(f.le)}"
    if f.choices is not None and value not in f.choices:
        return f"it is not one of the {names.get('choices', 'choices')} {', '.join(map(repr, f.choices))}"
    return None


def _said_of_it(f: InputField, message: str) -> str:
    """An InputError's message about the default: "input 'x' must be an integer, ..." -> "it must be an integer, ..."."""
    prefix = f"input {f.name!r} "
    return "it " + message[len(prefix):] if message.startswith(prefix) else message


def _shown(f: InputField, value: Any) -> str:
    """A default as the model's author wrote it; a secret's value is never shown."""
    return "(a secret)" if f.kind == SECRET or isinstance(value, Secret) else repr(value)


def _check_constraints(f: InputField, where: str) -> None:
    numeric = f.kind in (INT, FLOAT)
    if (f.ge is not None or f.le is not None) and not numeric:
        raise SignatureError(f"{where}: ge/le (min/max) apply only to int and float inputs, not {f.kind}")
    if (f.min_length is not None or f.max_length is not None or f.regex is not None) and f.kind not in (STR, SECRET):
        raise SignatureError(f"{where}: min_length/max_length/regex apply only to str inputs, not {f.kind}")
    if f.ge is not None and f.le is not None and f.ge > f.le:
        raise SignatureError(f"{where}: ge={f.ge} is greater than le={f.le}")
    if f.regex is not None:
        try:
            re.compile(f.regex)
        except re.error as exc:
            raise SignatureError(f"{where}: regex {f.regex!r} is not a valid regular expression: {exc}") from None
    if f.choices is not None:
        if f.kind not in (STR, INT):
            raise SignatureError(f"{where}: choices are supported only for str and int inputs, not {f.kind}")
        if not f.choices:
            raise SignatureError(f"{where}: choices must not be empty")
        expected = str if f.kind == STR else int
        for c in f.choices:
            if type(c) is not expected:
                raise SignatureError(f"{where}: choice {c!r} is not a {f.kind}")


def _jsonable_default(value: Any) -> Any:
    if isinstance(value, Secret):
        return value.get_secret_value()
    if isinstance(value, list):
        return [_jsonable_default(v) for v in value]
    return value


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _is_model_class(tp: Any) -> bool:
    """cog.BaseModel, or a pydantic model of either major version (duck-typed: no pydantic import)."""
    return inspect.isclass(tp) and (
        issubclass(tp, BaseModel) or hasattr(tp, "model_fields") or hasattr(tp, "__fields__")
    )


def _output_type(annotation: Any, *, is_async_gen: bool = False, is_gen: bool = False) -> OutputType:
    where = "output"
    if annotation is None or annotation is type(None) or annotation is Any:
        return OutputType(kind=ANY, iterator=is_gen or is_async_gen)
    tp, nullable = _unwrap_optional(annotation)
    origin = typing.get_origin(tp)
    iterator = concatenate = False
    if origin in (ConcatenateIterator, AsyncConcatenateIterator) or tp in (ConcatenateIterator, AsyncConcatenateIterator):
        args = typing.get_args(tp)
        if args and args[0] is not str:
            raise SignatureError(f"{where}: ConcatenateIterator items must be str, not {_type_name(args[0])}")
        return OutputType(kind=STR, iterator=True, concatenate=True)
    if origin in _ITERATOR_ORIGINS + _ASYNC_ITERATOR_ORIGINS:
        args = typing.get_args(tp)
        tp, iterator = (args[0] if args else Any), True
        tp, nullable = _unwrap_optional(tp)
        origin = typing.get_origin(tp)
    array = False
    if origin in (list, List):
        args = typing.get_args(tp)
        tp, array = (args[0] if args else Any), True
        origin = typing.get_origin(tp)
    if tp is Any:
        return OutputType(kind=ANY, array=array, nullable=nullable, iterator=iterator, concatenate=concatenate)
    if _is_model_class(tp):
        props: Dict[str, OutputType] = {}
        required: List[str] = []
        for name, field_tp in typing.get_type_hints(tp).items():
            if name.startswith("_") or typing.get_origin(field_tp) is typing.ClassVar:
                continue
            try:
                props[name] = _output_type(field_tp)
            except SignatureError as exc:
                raise SignatureError(f"output field {name!r}: {exc}") from None
            if _model_field_required(tp, name):
                required.append(name)
        return OutputType(kind=OBJECT, array=array, nullable=nullable, iterator=iterator,
                          properties=props, required=required)
    kind = _kind(tp)
    if kind is None:
        raise SignatureError(
            f"{where}: unsupported return type {_type_name(annotation)}; use a primitive, cog.Path, a list, "
            "a BaseModel subclass, Iterator[...] or ConcatenateIterator[str]"
        )
    return OutputType(kind=kind, array=array, nullable=nullable, iterator=iterator or is_gen or is_async_gen)


def _model_field_required(cls: type, name: str) -> bool:
    fields = getattr(cls, "model_fields", None)
    if isinstance(fields, dict) and name in fields:  # pydantic 2
        return bool(fields[name].is_required())
    fields = getattr(cls, "__fields__", None)
    if isinstance(fields, dict) and name in fields:  # pydantic 1
        return bool(getattr(fields[name], "required", True))
    return not hasattr(cls, name)


# ---------------------------------------------------------------------------------------------------------
# Validating a value against an input field


def coerce(f: InputField, value: Any) -> Any:
    """Return `value` checked (and, for ints given as 3.0, normalized) against the field, or raise InputError."""
    if value is None:
        if f.accepts_null:
            return None
        raise InputError(f.name, f"input {f.name!r} must not be null")
    if f.array:
        if not isinstance(value, list):  # as Cog's pydantic refuses it; `cog predict -i` makes the list itself
            raise InputError(f.name, f"input {f.name!r} must be a list, got {_json_name(value)}")
        return [_coerce_one(f, item) for item in value]
    return _coerce_one(f, value)


_URL_SCHEMES = ("http://", "https://", "data:")


def _coerce_one(f: InputField, value: Any) -> Any:
    name, kind = f.name, f.kind
    if kind == STR or kind == SECRET:
        if isinstance(value, Secret):
            value = value.get_secret_value()
        if not isinstance(value, str):
            raise InputError(name, f"input {name!r} must be a string, got {_json_name(value)}")
        if f.min_length is not None and len(value) < f.min_length:
            raise InputError(name, f"input {name!r} must be at least {f.min_length} characters long")
        if f.max_length is not None and len(value) > f.max_length:
            raise InputError(name, f"input {name!r} must be at most {f.max_length} characters long")
        if f.regex is not None and re.search(f.regex, value) is None:
            raise InputError(name, f"input {name!r} must match the pattern {f.regex!r}")
    elif kind == INT:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(name, f"input {name!r} must be an integer, got {_json_name(value)}")
    elif kind == FLOAT:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(name, f"input {name!r} must be a number, got {_json_name(value)}")
        if not math.isfinite(value):
            raise InputError(name, f"input {name!r} must be a finite number")
        value = float(value)
    elif kind == BOOL:
        if not isinstance(value, bool):
            raise InputError(name, f"input {name!r} must be true or false, got {_json_name(value)}")
    elif kind == DICT:
        if not isinstance(value, dict):
            raise InputError(name, f"input {name!r} must be a JSON object, got {_json_name(value)}")
    elif kind in (PATH, FILE):
        if isinstance(value, pathlib.PurePath):  # a default given as a local path
            return str(value)
        if not isinstance(value, str) or not value.startswith(_URL_SCHEMES):
            raise InputError(name, f"input {name!r} must be an http(s) URL or a data URI")
        if not value.startswith("data:") and not _fetchable(value):
            raise InputError(name, f"input {name!r} is not a URL that can be fetched: it needs a host, and a port "
                                   f"from 1 to 65535 if it names one")
    if f.ge is not None and value < f.ge:
        raise InputError(name, f"input {name!r} must be greater than or equal to {_num(f.ge)}")
    if f.le is not None and value > f.le:
        raise InputError(name, f"input {name!r} must be less than or equal to {_num(f.le)}")
    if f.choices is not None and value not in f.choices:
        raise InputError(name, f"input {name!r} must be one of {', '.join(map(repr, f.choices))}")
    return value


def _fetchable(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port that is no number, or out of range; brackets that do not close
        return False
    return bool(parts.hostname) and port != 0


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _json_name(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
             dict: "an object"}
    return names.get(type(value), type(value).__name__)
