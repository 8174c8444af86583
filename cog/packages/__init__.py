"""Content-addressed packages, their store on fsspec, the `cog server` that keeps and builds them, its client."""
