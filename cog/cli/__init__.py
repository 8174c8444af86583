"""The command line: thin commands that call the pipeline and print with rich."""

import os

# pydantic looks for plugins in every installed distribution's entry points the first time it builds a model
# (tens of milliseconds of each command, more in a big environment); the CLI uses none.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "1")
