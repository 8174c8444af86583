"""`cog.coder`: custom input and output types, as Cog's models import them.

    from cog.coder import json_coder  # noqa: F401    (also dataclass_coder, pydantic_coder, set_coder)

    class MyCoder(Coder): ...                       # a model's own: factory(), encode(), decode()

Every coder is always in use here (the imports are accepted, and change nothing): see cog/sdk/coders.py.
"""

from cog.sdk.coders import Coder

__all__ = ["Coder"]
