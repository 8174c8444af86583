"""Cog: package machine learning models into reproducible Docker images and serve them.

This module is what a model imports (`import cog`). It must import only the standard library, so that
the model's own environment may pin any version of anything. It exports every name Replicate's Cog exports
(v0.16's and today's), and the original dialect's `Model` and `input`.

Each name is imported when it is first used (PEP 562), so that `cog`'s command line, which lives in this package
too, does not pay for the SDK at every start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from cog._version import __version__

if TYPE_CHECKING:  # what type checkers and editors read; at run time, __getattr__ below
    from cog.sdk.predictor import (
        BasePredictor, BaseRunner, FieldInfo, Input, Model, Predictor, concurrent, input, streaming,
    )
    from cog.sdk.scope import current_scope, emit_metric
    from cog.sdk.types import (
        AsyncConcatenateIterator,
        AsyncIterator,
        BaseModel,
        CancelationException,
        ConcatenateIterator,
        ExperimentalFeatureWarning,
        File,
        Opaque,
        Path,
        Secret,
        URLFile,
        URLPath,
    )

_HOMES = {
    "cog.sdk.predictor": ("BasePredictor", "BaseRunner", "FieldInfo", "Input", "Model", "Predictor", "concurrent", "input",
                          "streaming"),
    "cog.sdk.scope": ("current_scope", "emit_metric"),
    "cog.sdk.types": ("AsyncConcatenateIterator", "AsyncIterator", "BaseModel", "CancelationException", "ConcatenateIterator",
                      "ExperimentalFeatureWarning", "File", "Opaque", "Path", "Secret", "URLFile", "URLPath"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}

# `cog.Predictor` (the first Cog's) stays out of a star import: `from cog import *` and then a class of the
# model's own named Predictor is today's most common predict.py.
__all__ = ["__version__", *sorted(name for name in _HOME_OF if name != "Predictor")]


def __getattr__(name: str):
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'cog' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later uses are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
