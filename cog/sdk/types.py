"""Value types a model uses in its signature: Path, File, Secret, ConcatenateIterator, BaseModel.

Standard library only: this module is imported inside the model's own environment.
"""

from __future__ import annotations

import pathlib
import sys
from typing import Any, AsyncIterator, Dict, Iterator, TypeVar

__all__ = [
    "AsyncConcatenateIterator",
    "BaseModel",
    "CancelationException",
    "ConcatenateIterator",
    "File",
    "Path",
    "Secret",
]

T = TypeVar("T")


class CancelationException(BaseException):
    """Raised inside a synchronous predict() when its prediction is canceled.

    A BaseException (like KeyboardInterrupt) so that a broad `except Exception` in model code does not
    swallow it.
    """


class Path(pathlib.PosixPath if sys.platform != "win32" else pathlib.WindowsPath):  # type: ignore[misc]
    """A file on local disk. As an input, the client sends a URL and the model gets a local path;
    as an output, the file is returned to the client as a data URI or uploaded."""

    # So that a model's own pydantic output model may have a Path field, with either major version of
    # pydantic, without this module importing it: v1 asks for validators, v2 for a core schema (a plain dict).
    @classmethod
    def __get_validators__(cls) -> Iterator[Any]:
        yield cls._coerce

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Dict[str, Any]:
        return {"type": "function-plain", "function": {"type": "no-info", "function": cls._coerce}}

    @classmethod
    def _coerce(cls, value: Any) -> "Path":
        return value if isinstance(value, cls) else cls(value)


class File:
    """Deprecated input/output type (an open binary file). Prefer cog.Path."""


class Secret:
    """A string the schema marks as a password; its repr never shows the value."""

    __slots__ = ("_value",)

    def __init__(self, secret_value: str | None = None) -> None:
        self._value = secret_value

    def get_secret_value(self) -> str | None:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class ConcatenateIterator(Iterator[T]):
    """Iterator[str] output whose items a client should display joined (token streaming)."""

    def __next__(self) -> T:  # pragma: no cover - a marker type, never instantiated
        raise StopIteration


class AsyncConcatenateIterator(AsyncIterator[T]):
    """Async twin of ConcatenateIterator."""

    async def __anext__(self) -> T:  # pragma: no cover - a marker type, never instantiated
        raise StopAsyncIteration


class BaseModel:
    """Structured output without pydantic: declare fields as class annotations.

        class Output(cog.BaseModel):
            text: str
            score: float = 0.0

    Instances take the fields as keyword arguments. Pydantic models (v1 or v2) work as outputs too.
    """

    def __init__(self, **values: Any) -> None:
        fields = _model_field_names(type(self))
        unknown = set(values) - set(fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {', '.join(sorted(unknown))}")
        for name in fields:
            if name in values:
                setattr(self, name, values[name])
            elif not hasattr(type(self), name):
                raise TypeError(f"{type(self).__name__} is missing field {name!r}")

    def to_dict(self) -> Dict[str, Any]:
        return {name: getattr(self, name) for name in _model_field_names(type(self))}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.to_dict() == self.to_dict()  # type: ignore[attr-defined]


def _model_field_names(cls: type) -> list:
    names: list = []
    for klass in reversed(cls.__mro__):
        for name in vars(klass).get("__annotations__", {}):
            if not name.startswith("_") and name not in names:
                names.append(name)
    return names
