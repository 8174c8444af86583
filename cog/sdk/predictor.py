"""The two ways to declare a model, both normalized by cog.sdk.signature into one Signature.

Current Cog style::

    class Predictor(cog.BasePredictor):          # or cog.BaseRunner with run()
        def setup(self, weights=None): ...
        def predict(self, text: str = cog.Input(description="Text")) -> str: ...

Original style::

    class Model(cog.Model):
        def setup(self): ...
        @cog.input("text", type=str, help="Text")
        def run(self, text): ...

Standard library only: this module is imported inside the model's own environment.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

__all__ = ["BasePredictor", "BaseRunner", "FieldInfo", "Input", "Model", "Predictor", "concurrent", "input", "streaming"]

F = TypeVar("F", bound=Callable[..., Any])


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


OPENAPI = "openapi"  # a Constraints field's metadata key: the keyword the schema writes it as


@dataclass(frozen=True)
class Constraints:
    """What an input may declare besides its type and default: the one list of them. FieldInfo (what Input()
    says), the signature's InputField and the schema all take their fields from here; one with OPENAPI metadata
    is written to the schema as it is (ge=1 → "minimum": 1), the others cog.sdk.schema writes its own way."""

    description: Optional[str] = None
    ge: Optional[float] = field(default=None, metadata={OPENAPI: "minimum"})
    le: Optional[float] = field(default=None, metadata={OPENAPI: "maximum"})
    min_length: Optional[int] = field(default=None, metadata={OPENAPI: "minLength"})
    max_length: Optional[int] = field(default=None, metadata={OPENAPI: "maxLength"})
    regex: Optional[str] = field(default=None, metadata={OPENAPI: "pattern"})
    choices: Optional[List[Any]] = None  # an enum component in the schema
    deprecated: Optional[bool] = field(default=None, metadata={OPENAPI: "deprecated"})


def constraints_of(declared: Constraints) -> Dict[str, Any]:
    """The constraints a FieldInfo or InputField holds, by name: Input(ge=1) → {"description": None, "ge": 1, ...}."""
    return {f.name: getattr(declared, f.name) for f in fields(Constraints)}


@dataclass(frozen=True)
class _Default:
    default: Any = MISSING


# A dataclass's fields start with its last base's: default first, then the constraints, as Input() takes them.
@dataclass(frozen=True)
class FieldInfo(Constraints, _Default):
    """What Input(...) or @cog.input(...) says about one parameter, before its type is known."""


def Input(  # noqa: N802 - Cog's public name
    default: Any = MISSING,
    *,
    default_factory: Optional[Callable[[], Any]] = None,
    description: Optional[str] = None,
    ge: Optional[float] = None,
    le: Optional[float] = None,
    min_length: Optional[int] = None,
    max_length: Optional[int] = None,
    regex: Optional[str] = None,
    choices: Optional[Sequence[Any]] = None,
    deprecated: Optional[bool] = None,
) -> Any:
    """Describe a predict() parameter: `text: str = Input(description="...", default="hi")`.

    Its keywords are Constraints' fields, spelled out for editors and type checkers (a test keeps them equal), and
    pydantic's default_factory, which Cog takes too: called here, once, for the default."""
    declared = dict(locals())  # the parameters, by name: default and every constraint
    factory = declared.pop("default_factory")
    if factory is not None:
        if default is not MISSING:
            raise TypeError("Input() takes a default or a default_factory, not both")
        declared["default"] = factory()
    if choices is not None:
        declared["choices"] = list(choices)
    return FieldInfo(**declared)


@dataclass(frozen=True)
class DeclaredInput:
    """One @cog.input(...) of the original dialect: the type travels with the declaration."""

    name: str
    type: Any
    info: FieldInfo = field(default_factory=FieldInfo)


DECLARED_INPUTS_ATTR = "_cog_inputs"


def input(  # noqa: A001 - the original dialect's public name
    name: str,
    type: Any = str,  # noqa: A002
    help: Optional[str] = None,  # noqa: A002
    default: Any = MISSING,
    min: Optional[float] = None,  # noqa: A002
    max: Optional[float] = None,  # noqa: A002
    options: Optional[Sequence[Any]] = None,
) -> Callable[[F], F]:
    """Original-dialect input declaration, stacked on run(): `@cog.input("text", type=str, help="...")`."""
    info = FieldInfo(
        default=default,
        description=help,
        ge=min,
        le=max,
        choices=list(options) if options is not None else None,
    )

    def decorate(run: F) -> F:
        declared = list(getattr(run, DECLARED_INPUTS_ATTR, []))
        # Decorators apply bottom-up; prepend so the schema keeps the order the author wrote.
        declared.insert(0, DeclaredInput(name=name, type=type, info=info))
        setattr(run, DECLARED_INPUTS_ATTR, declared)
        return run

    return decorate


def streaming(fn: Any = None) -> Any:
    """Accepted for compatibility with Cog (`@cog.streaming`); every iterator output streams here."""
    if fn is None:
        return lambda inner: inner
    return fn


CONCURRENT_MAX_ATTR = "__cog_concurrent_max__"


def concurrent(fn: Any = None, *, max: int = 1) -> Any:  # noqa: A002 - Cog's keyword
    """`@cog.concurrent(max=N)` on predict()/run(): up to N predictions may run at once in this model (N > 1
    needs an `async def`). The runtime takes it as the model's concurrency when cog.yaml's `concurrency.max`
    leaves it at 1. Bare `@cog.concurrent` is max=1."""
    if isinstance(max, bool) or not isinstance(max, int):
        raise TypeError("concurrent max must be an integer")
    if max < 1:
        raise ValueError("concurrent max must be at least 1")

    def decorate(inner: F) -> F:
        if max > 1 and not (inspect.iscoroutinefunction(inner) or inspect.isasyncgenfunction(inner)):
            raise TypeError("concurrent max greater than 1 requires an async function")
        setattr(inner, CONCURRENT_MAX_ATTR, max)
        return inner

    if fn is None:
        return decorate
    if not callable(fn):
        raise TypeError("concurrent must be used as @concurrent or @concurrent(max=...)")
    return decorate(fn)


class BasePredictor:
    """Current Cog style: override setup() (optional) and predict()."""

    def setup(self, weights: Any = None) -> None:
        """Load the model once, before the first prediction."""


class BaseRunner(BasePredictor):
    """Cog's newer name for BasePredictor, whose entry point is run() instead of predict()."""


class Model:
    """Original style: override setup() and run(), declare inputs with @cog.input."""

    def setup(self) -> None:
        """Load the model once, before the first prediction."""


class Predictor(Model):
    """The first Cog's other base class: setup() and predict(), inputs declared with @cog.input."""


class LoadError(Exception):
    """The predictor reference cannot be loaded; the message says why in one line."""


def entry_point(obj: Any, kind: str) -> Tuple[Any, Callable[..., Any]]:
    """(instance or None, callable) for a loaded predict (kind 'predict') or train (kind 'train') target."""
    if not inspect.isclass(obj):
        if not callable(obj):
            raise LoadError(f"{obj!r} is neither a class nor a function")
        return None, obj
    # Each base class's own name first, then the other: Cog takes whichever of the two the class defines
    # (a BasePredictor with run(), a BaseRunner or the first Cog's Model with predict()).
    if kind == "train":
        names = ["train"]
    elif issubclass(obj, (BaseRunner, Model)):
        names = ["run", "predict"]
    else:
        names = ["predict", "run"]
    for name in names:
        if callable(getattr(obj, name, None)):
            instance = obj()
            return instance, getattr(instance, name)
    raise LoadError(f"{obj.__name__} has no {' or '.join(n + '()' for n in names)} method")
