"""The build stage: the only code that talks to BuildKit."""
