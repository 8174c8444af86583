"""`from cog.coder import json_coder`, as Cog's models write it: JsonCoder (cog/sdk/coders.py).

Every coder is always in use here; the import is accepted and changes nothing."""

from cog.sdk.coders import JsonCoder

__all__ = ["JsonCoder"]
