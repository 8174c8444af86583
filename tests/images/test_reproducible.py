"""Byte-identical images: the same package built twice with --no-cache, from two checkouts, has one digest."""

from __future__ import annotations

import os
import shutil
import subprocess

from tests.imagediff import differences, saved_image

OTHER_USER = 12345  # the second checkout's files belong to someone else


def image_id(tag: str) -> str:
    return subprocess.run(["docker", "image", "inspect", tag, "--format", "{{.Id}}"], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_the_same_package_built_twice_from_two_checkouts_without_cache_has_one_digest(cog, project, image_name, tmp_path):
    tag = image_name("cog-test-reproducible")
    first = project("hello-world")
    second = tmp_path / "elsewhere" / "checkout"
    shutil.copytree(first, second)
    for path in [second, *second.rglob("*")]:  # another user's checkout, written at another time
        os.chown(path, OTHER_USER, OTHER_USER)
        os.utime(path, (1_700_000_000, 1_700_000_000))
    cog("build", "-t", tag, "--no-cache", "--progress", "quiet", cwd=first)
    built_first = image_id(tag)
    kept = f"{tag}:first"
    subprocess.run(["docker", "tag", tag, kept], check=True)
    try:
        cog("build", "-t", tag, "--no-cache", "--progress", "quiet", cwd=second)
        what_differs = "" if image_id(tag) == built_first else "\n".join(
            differences(saved_image(kept), saved_image(f"{tag}:latest")))  # a bare name would save all its tags
    finally:
        subprocess.run(["docker", "image", "rm", "-f", kept], capture_output=True)
    assert image_id(tag) == built_first, f"the second build differs:\n{what_differs}"
    labels = subprocess.run(["docker", "image", "inspect", tag, "--format", "{{json .Config.Labels}}"],
                            check=True, capture_output=True, text=True).stdout
    assert '"run.cog.source_date_epoch":"315532800"' in labels
    assert '"run.cog.base_image":"python:3.11-slim"' in labels
