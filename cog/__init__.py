"""Cog: package machine learning models into reproducible Docker images and serve them.

This module is what a model imports (`import cog`). It must import only the standard library, so that
the model's own environment may pin any version of anything.
"""

from cog._version import __version__

__all__ = ["__version__"]
