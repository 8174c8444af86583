"""`from cog.coder import set_coder`, as Cog's models write it: SetCoder (cog/sdk/coders.py).

Every coder is always in use here; the import is accepted and changes nothing."""

from cog.sdk.coders import SetCoder

__all__ = ["SetCoder"]
