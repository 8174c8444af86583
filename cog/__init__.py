"""Cog: package machine learning models into reproducible Docker images and serve them.

This module is what a model imports (`import cog`). It must import only the standard library, so that
the model's own environment may pin any version of anything.
"""

from cog._version import __version__
from cog.sdk.predictor import BasePredictor, BaseRunner, FieldInfo, Input, Model, input, streaming
from cog.sdk.types import (
    AsyncConcatenateIterator,
    BaseModel,
    CancelationException,
    ConcatenateIterator,
    File,
    Path,
    Secret,
)

__all__ = [
    "__version__",
    "AsyncConcatenateIterator",
    "BaseModel",
    "BasePredictor",
    "BaseRunner",
    "CancelationException",
    "ConcatenateIterator",
    "FieldInfo",
    "File",
    "Input",
    "Model",
    "Path",
    "Secret",
    "input",
    "streaming",
]
