from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def make_project(tmp_path: Path):
    """Write files into a fresh project directory: make_project({"cog.yaml": "...", "requirements.txt": "..."})."""

    def make(files: dict[str, str | bytes]) -> Path:
        for name, content in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return tmp_path

    return make
