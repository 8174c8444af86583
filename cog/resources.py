"""Where the data files (cuda_matrix/, implied_packages/) and templates (templates/) are, installed or in a checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def _data_dir(name: str) -> Path:
    # An installed wheel carries them as cog/_data/NAME; a checkout (editable install) has them at the top.
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"cog is installed without its {name}/ folder; reinstall cog")


def templates_dir() -> Path:
    return _data_dir("templates")


def cuda_matrix_dir() -> Path:
    return _data_dir("cuda_matrix")


def implied_packages_dir() -> Path:
    return _data_dir("implied_packages")
