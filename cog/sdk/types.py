"""Value types a model uses in its signature: Path, File, Secret, ConcatenateIterator, BaseModel, and Cog's
URL-backed URLPath and URLFile, the Opaque marker, the Weights alias and ExperimentalFeatureWarning.

Standard library only: this module is imported inside the model's own environment.
"""

from __future__ import annotations

import io
import mimetypes
import os
import pathlib
import shutil
import sys
import tempfile
import typing
import urllib.parse
from typing import Any, AsyncIterator, Dict, Iterator, Optional, TypeVar, Union

__all__ = [
    "AsyncConcatenateIterator",
    "AsyncIterator",  # typing's, as Cog's docs name it for an async predict() that yields: cog.AsyncIterator[str]
    "BaseModel",
    "CancelationException",
    "ConcatenateIterator",
    "ExperimentalFeatureWarning",
    "File",
    "Opaque",
    "Path",
    "Secret",
    "URLFile",
    "URLPath",
    "Weights",
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


class ExperimentalFeatureWarning(FutureWarning):
    """What Cog warned with about experimental features (v0.16's current_scope()); kept so that models that
    filter it (`warnings.filterwarnings("ignore", category=ExperimentalFeatureWarning)`) still load. Nothing here
    warns with it any more."""


class _OpaqueMarker:
    """The one `cog.Opaque`: `Annotated[T, Opaque]` makes an input or output an opaque JSON object, passed
    through as it is (a dict), whatever T says."""

    def __repr__(self) -> str:
        return "cog.Opaque"


Opaque = _OpaqueMarker()


def _request(url: str) -> Any:
    """An open response for an http(s) URL or a data: URI (urllib reads both)."""
    import urllib.request  # here: with http.client, ssl and email it is a tenth of a second of every `import cog`

    return urllib.request.urlopen(urllib.request.Request(url, headers={"User-Agent": "cog"}), timeout=60)  # noqa: S310


def url_filename(url: str) -> str:
    """The file name a URL's content is saved under: its path's last part, or `file.EXT` for a data URI."""
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "data":
        media_type = parsed.path.split(",", 1)[0].split(";", 1)[0] or "text/plain"
        return "file" + (mimetypes.guess_extension(media_type) or "")
    name = urllib.parse.unquote_plus(os.path.basename(parsed.path)).replace("\x00", "_")
    return name[-200:] or "file"


class URLFile(io.IOBase):
    """A file-like object read from a URL (http, https or data:), opened lazily on the first read.

    As an output, the client gets the URL itself; nothing is downloaded."""

    def __init__(self, url: str, filename: Optional[str] = None) -> None:
        if urllib.parse.urlparse(url).scheme not in ("http", "https", "data"):
            raise ValueError(f"URLFile needs an http(s) URL or a data URI, not {url!r}")
        self.url = url
        self.name = filename or url_filename(url)
        self._response: Any = None

    def _open(self) -> Any:
        if self._response is None:
            self._response = _request(self.url)
        return self._response

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._open().read(size)  # type: ignore[no-any-return]

    def readline(self, size: Optional[int] = -1) -> bytes:
        return self._open().readline(size)  # type: ignore[no-any-return]

    def readinto(self, buffer: Any) -> int:
        return self._open().readinto(buffer)  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._open())

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
        super().close()

    def __getstate__(self) -> Dict[str, Any]:  # picklable: the URL travels, not the connection
        return {"url": self.url, "name": self.name}

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__init__(state["url"], state["name"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"<URLFile for {self.url!r}>"


class URLPath(Path):
    """A path whose content is at a URL, downloaded on first use: `open(p)`, `p.read_bytes()`, `os.fspath(p)` and
    `p.convert()` fetch it once into a temporary file and use that. `str(p)` is the URL, as in Cog.

    As an output, the client gets the URL itself; nothing is downloaded or uploaded.

        URLPath("https://example.com/a.png")                  # or, as Cog builds them:
        URLPath(source=url, filename="a.png", fileobj=URLFile(url))
    """

    def __new__(cls, source: Optional[str] = None, *, filename: Optional[str] = None,
                fileobj: Optional[io.IOBase] = None) -> "URLPath":
        return super().__new__(cls, filename or url_filename(source or ""))  # type: ignore[call-arg]

    def __init__(self, source: Optional[str] = None, *, filename: Optional[str] = None,
                 fileobj: Optional[io.IOBase] = None) -> None:
        if source is None:
            raise TypeError("URLPath needs the URL it stands for: URLPath(source=url)")
        self.filename = filename or url_filename(source)
        if sys.version_info >= (3, 12):  # pathlib keeps its parts in __init__ since 3.12
            super().__init__(self.filename)  # type: ignore[call-arg]
        self.source = source
        self.fileobj = fileobj
        self._path: Optional[Path] = None

    def convert(self) -> Path:
        """The content as a local file (downloaded the first time)."""
        if self._path is None:
            directory = tempfile.mkdtemp(prefix="cog-url-")
            local = Path(directory, self.filename)
            stream = self.fileobj if self.fileobj is not None else _request(self.source)
            try:
                with open(os.fspath(local), "wb") as out:
                    shutil.copyfileobj(stream, out)  # type: ignore[misc]
            finally:
                stream.close()
            self._path = local
        return self._path

    def unlink(self, missing_ok: bool = False) -> None:
        """Remove the downloaded copy, if there is one."""
        if self._path is not None:
            try:
                os.unlink(os.fspath(self._path))
            except FileNotFoundError:
                if not missing_ok:
                    raise

    def __fspath__(self) -> str:
        if getattr(self, "source", None) is None:  # a path derived from this one (p.parent): a plain path
            return super().__fspath__()
        return os.fspath(self.convert())

    def __str__(self) -> str:
        source = getattr(self, "source", None)
        return source if source is not None else super().__str__()

    def __repr__(self) -> str:
        return f"URLPath({getattr(self, 'source', None)!r})"

    def __reduce__(self) -> Any:
        return (_url_path, (self.source, self.filename))

    def with_segments(self, *segments: Any) -> Path:  # Python 3.12+: p.parent, p / "x" are plain paths
        return Path(*segments)


def _url_path(source: str, filename: str) -> URLPath:
    return URLPath(source, filename=filename)


# What setup(weights=...) is given: a cog.Path when COG_WEIGHTS names a file (or a URL, fetched on first use),
# else the string (or None when it is unset).
Weights = Union[Path, str]


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
            elif _defaults_to_none(type(self), name):
                setattr(self, name, None)
            elif not hasattr(type(self), name):
                raise TypeError(f"{type(self).__name__} is missing field {name!r}")

    def to_dict(self) -> Dict[str, Any]:
        return {name: getattr(self, name) for name in _model_field_names(type(self))}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.to_dict() == self.to_dict()  # type: ignore[attr-defined]


def _defaults_to_none(cls: type, name: str) -> bool:
    """Whether a field without a default of its own is None when left out: one annotated Optional[...] (or X | None),
    as in Cog's docs (`file: Optional[Path]`, then `return Output(score=1.5)`). The schema still lists it as
    required, as pydantic 2 does: the output always has the key, maybe null."""
    if hasattr(cls, name):
        return False
    try:
        hint = typing.get_type_hints(cls).get(name)
    except Exception:  # a forward reference that does not resolve: required, as written
        return False
    return type(None) in typing.get_args(hint)


def _model_field_names(cls: type) -> list:
    names: list = []
    for klass in reversed(cls.__mro__):
        for name in vars(klass).get("__annotations__", {}):
            if not name.startswith("_") and name not in names:
                names.append(name)
    return names
