"""`from cog.coder import dataclass_coder`, as Cog's models write it: DataclassCoder (cog/sdk/coders.py).

Every coder is always in use here; the import is accepted and changes nothing."""

from cog.sdk.coders import DataclassCoder

__all__ = ["DataclassCoder"]
