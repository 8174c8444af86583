"""A project: the directory holding cog.yaml and the model code, found the way git finds a repository."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cog.errors import CogError
from cog.config.model import Config
from cog.config.parse import CONFIG_FILE_NAME, find_config_file, load_config


@dataclass(frozen=True)
class Project:
    directory: Path
    config_path: Path
    config: Config


def load_project(config_file: Path | None) -> Project:
    """The project of `--file`, or of the cog.yaml in the current directory or the nearest parent."""
    if config_file is not None:
        path = config_file
        if not path.is_file():
            raise CogError(f"{config_file}: " + ("not a regular file" if path.exists() else "file not found"))
    else:
        found = find_config_file(Path.cwd())
        if found is None:
            raise CogError(
                f"no {CONFIG_FILE_NAME} in this directory or any parent; run `cog init` to create one, or pass -f FILE"
            )
        path = found
    config = load_config(path, display=_shown(path))
    return Project(directory=path.resolve().parent, config_path=path.resolve(), config=config)


def _shown(path: Path) -> str:
    """The path as the user would type it from here."""
    relative = os.path.relpath(path.resolve(), Path.cwd())
    return relative if not relative.startswith("..") else str(path.resolve())
