"""cog.yaml → Config: parsing, validation and normalization of both dialects."""
