"""Coders: custom types as inputs and outputs, as Cog's coders make them (`cog.coder` is their import path).

A coder turns values of a type it claims into a JSON object and back. Such an input is a JSON object in the
schema (`{"type": "object"}`); the model gets `decode(object)`. Such an output is sent as `encode(value)`.

Cog's coders are always there: `JsonCoder` (dict, Dict[str, ...] and TypedDict: the JSON object itself),
`DataclassCoder` (dataclasses, from and to their fields), `BaseModelCoder` (pydantic models, either major
version, without importing pydantic) and `SetCoder` (sets, as `{"items": [...]}`). A model's own coder is a
subclass of `Coder` with `factory`, `encode` and `decode`: defining it (or `Coder.register(MyCoder)`) is enough,
and it is asked before the built-in ones.

Standard library only: this module runs inside the model's environment.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Dict, List, Optional, Set

from cog.sdk.types import Path, Secret

__all__ = ["BaseModelCoder", "Coder", "DataclassCoder", "JsonCoder", "SetCoder"]


class Coder:
    """Encodes values of some type to a JSON object and decodes them back."""

    _coders: List[type] = []  # in the order they were defined or registered; the last one asked first

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Coder.register(cls)

    @staticmethod
    def register(coder: type) -> None:
        """Make `coder` (a Coder subclass) one that `lookup` asks."""
        if coder in Coder._coders:
            Coder._coders.remove(coder)
        Coder._coders.append(coder)

    @staticmethod
    def lookup(tpe: Any) -> Optional["Coder"]:
        """A coder for `tpe`, from the most recently defined coder that claims it; None when none does."""
        for cls in reversed(Coder._coders):
            try:
                coder = cls.factory(tpe)
            except (TypeError, ValueError, AttributeError):  # e.g. issubclass() of a generic alias
                continue
            if coder is not None:
                return coder  # type: ignore[no-any-return]
        return None

    @staticmethod
    def factory(tpe: Any) -> Optional["Coder"]:
        """A coder for `tpe` if this class handles it, else None."""
        return None

    def encode(self, x: Any) -> Dict[str, Any]:
        raise NotImplementedError

    def decode(self, x: Dict[str, Any]) -> Any:
        raise NotImplementedError


class JsonCoder(Coder):
    @staticmethod
    def factory(tpe: Any) -> Optional[Coder]:
        origin = typing.get_origin(tpe)
        if origin in (dict, Dict):
            args = typing.get_args(tpe)
            return JsonCoder() if not args or args[0] is str else None
        if isinstance(tpe, type) and issubclass(tpe, dict):  # dict itself, and every TypedDict
            return JsonCoder()
        return None

    def encode(self, x: Any) -> Dict[str, Any]:
        return x  # type: ignore[no-any-return]

    def decode(self, x: Dict[str, Any]) -> Any:
        return x


class DataclassCoder(Coder):
    @staticmethod
    def factory(tpe: Any) -> Optional[Coder]:
        if isinstance(tpe, type) and dataclasses.is_dataclass(tpe) and tpe is not Secret:
            return DataclassCoder(tpe)
        return None

    def __init__(self, cls: type) -> None:
        self.cls = cls

    def encode(self, x: Any) -> Dict[str, Any]:
        return {f.name: _encoded(getattr(x, f.name)) for f in dataclasses.fields(x)}

    def decode(self, x: Dict[str, Any]) -> Any:
        return _decoded(self.cls, x)


def _encoded(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encoded(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_encoded(v) for v in value]
    return value  # Path and Secret stay as they are: the worker's output encoding sends them


def _decoded(cls: type, data: Dict[str, Any]) -> Any:
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__} must be given as a JSON object, not {data!r}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _field_value(hints.get(f.name, Any), data[f.name])
    return cls(**kwargs)


def _field_value(tpe: Any, value: Any) -> Any:
    if value is None:
        return None
    args = [a for a in typing.get_args(tpe) if a is not type(None)]
    if typing.get_origin(tpe) is typing.Union and len(args) == 1:  # Optional[T]
        tpe = args[0]
    if typing.get_origin(tpe) in (list, typing.List) and isinstance(value, list):
        item = (typing.get_args(tpe) or (Any,))[0]
        return [_field_value(item, v) for v in value]
    if tpe is Secret:
        return value if isinstance(value, Secret) else Secret(value)
    if isinstance(tpe, type) and issubclass(tpe, Path):
        return Path(value)
    if isinstance(tpe, type) and dataclasses.is_dataclass(tpe):
        return _decoded(tpe, value)
    return value


class BaseModelCoder(Coder):
    @staticmethod
    def factory(tpe: Any) -> Optional[Coder]:
        if isinstance(tpe, type) and (hasattr(tpe, "model_fields") or hasattr(tpe, "__fields__")) \
                and (hasattr(tpe, "model_validate") or hasattr(tpe, "parse_obj")):
            return BaseModelCoder(tpe)
        return None

    def __init__(self, cls: type) -> None:
        self.cls = cls

    def encode(self, x: Any) -> Dict[str, Any]:
        if hasattr(x, "model_dump"):  # pydantic 2
            return x.model_dump(exclude_unset=True)  # type: ignore[no-any-return]
        return x.dict(exclude_unset=True)  # type: ignore[no-any-return]

    def decode(self, x: Dict[str, Any]) -> Any:
        if hasattr(self.cls, "model_validate"):  # pydantic 2
            return self.cls.model_validate(x)  # type: ignore[attr-defined]
        return self.cls.parse_obj(x)  # type: ignore[attr-defined]


class SetCoder(Coder):
    @staticmethod
    def factory(tpe: Any) -> Optional[Coder]:
        if tpe in (set, frozenset) or typing.get_origin(tpe) in (set, Set, frozenset):
            return SetCoder()
        return None

    def encode(self, x: Any) -> Dict[str, Any]:
        return {"items": list(x)}

    def decode(self, x: Dict[str, Any]) -> Any:
        return set(x["items"])
