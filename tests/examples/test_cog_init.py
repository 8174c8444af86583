"""The getting-started flow: `cog init` in an empty directory, then build and predict without editing predict.py."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.docker


def test_init_builds_and_predicts(cog, image_name, tmp_path):
    cog("init", cwd=tmp_path)
    config = tmp_path / "cog.yaml"
    # The one edit: this machine's only offline CPU base image is python:3.11-slim (cog init writes the default).
    text, edits = re.subn(r'python_version: "[0-9.]+"', 'python_version: "3.11"', config.read_text())
    assert edits == 1
    config.write_text(text)
    tag = image_name()
    cog("build", "-t", tag, cwd=tmp_path)
    assert cog("predict", tag, cwd=tmp_path).stdout == "hello, world\n"
    assert cog("predict", tag, "-i", "name=you", cwd=tmp_path).stdout == "hello, you\n"
