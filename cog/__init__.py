"""Cog: package machine learning models into reproducible Docker images and serve them.

This module is what a model imports (`import cog`). It must import only the standard library, so that
the model's own environment may pin any version of anything. It exports every name Replicate's Cog exports
(v0.16's and today's), and the original dialect's `Model` and `input`.
"""

from cog._version import __version__
from cog.sdk.predictor import BasePredictor, BaseRunner, FieldInfo, Input, Model, concurrent, input, streaming
from cog.sdk.scope import current_scope, emit_metric
from cog.sdk.types import (
    AsyncConcatenateIterator,
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

__all__ = [
    "__version__",
    "AsyncConcatenateIterator",
    "BaseModel",
    "BasePredictor",
    "BaseRunner",
    "CancelationException",
    "ConcatenateIterator",
    "ExperimentalFeatureWarning",
    "FieldInfo",
    "File",
    "Input",
    "Model",
    "Opaque",
    "Path",
    "Secret",
    "URLFile",
    "URLPath",
    "concurrent",
    "current_scope",
    "emit_metric",
    "input",
    "streaming",
]
