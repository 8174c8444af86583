"""`cog.types`, the import path Cog's models use (`from cog.types import Path, Secret`); the types live in
the SDK (cog/sdk/types.py)."""

from cog.sdk.types import *  # noqa: F401,F403
from cog.sdk.types import __all__  # noqa: F401
