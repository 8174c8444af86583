"""`from cog.coder import pydantic_coder`, as Cog's models write it: BaseModelCoder (cog/sdk/coders.py).

Every coder is always in use here; the import is accepted and changes nothing."""

from cog.sdk.coders import BaseModelCoder

__all__ = ["BaseModelCoder"]
