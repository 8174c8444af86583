"""`cog.types`, the import path Cog's models use (`from cog.types import Path, Secret, URLPath, Weights`); the
types live in the SDK (cog/sdk/types.py). v0.16 also had `Input` here."""

from cog.sdk.predictor import Input  # noqa: F401
from cog.sdk.types import *  # noqa: F401,F403
from cog.sdk.types import __all__  # noqa: F401
