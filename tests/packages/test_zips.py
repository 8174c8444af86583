"""The package's zip, laid out by hand: the bytes cog has always written (those of Python's zipfile writing stored
entries to an unseekable stream), zip64's fields and records included, and the same package id."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from cog.packages import zips
from cog.packages.package import CHUNK, scan, write_package, zip_chunks

# A tree of every kind of entry: a file of several chunks (hashed in the second thread), an empty one, an
# executable, a link, a name that is not ASCII.
FIXTURE = {
    "cog.yaml": "build:\n  python_version: '3.11'\npredict: predict.py:Predictor\n",
    "predict.py": "print('hi')\n",
    "weights/model.bin": bytes(range(256)) * (3 * CHUNK // 256) + b"tail",
    "empty": b"",
    "données/é.txt": "é" * 3000,
}
# What cog wrote for FIXTURE before the zip was laid out by hand (zipfile's bytes), and the package's id.
FIXTURE_ZIP_SHA256 = "9732e9c06ab9a1d35e3d58aac19c2a80893d6a75acb5bb8b5d0f257c06cf0867"
FIXTURE_ID = "3d2cf436fde16597b80e6c59e2988565e6bcc67f59aff6e06d20d619fe3b03f7"


@pytest.fixture
def fixture_tree(make_project) -> Path:
    directory = make_project(FIXTURE)
    (directory / "run.sh").write_text("#!/bin/sh\n")
    (directory / "run.sh").chmod(0o755)
    (directory / "latest.bin").symlink_to("weights/model.bin")
    return directory


def zipfile_chunks(members, open_member):
    """The zip as cog made it with zipfile, before: the reference the hand-made layout is held to."""
    chunks = io.BytesIO()

    class Unseekable(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, data) -> int:
            return chunks.write(data)

    with zipfile.ZipFile(Unseekable(), "w", compression=zipfile.ZIP_STORED) as archive:
        for member in members:
            info = zipfile.ZipInfo(member.path, date_time=zips.ZIP_TIME)
            info.create_system = 3
            info.external_attr = (member.mode | (0o777 if member.is_link else 0)) << 16
            info.file_size = member.size
            zip64 = member.size > zipfile.ZIP64_LIMIT
            with open_member(member) as source, archive.open(info, "w", force_zip64=zip64) as target:
                target.write(source.read())
    return chunks.getvalue()


def test_the_zip_and_the_id_of_a_fixture_tree_are_what_cog_always_wrote(fixture_tree, tmp_path_factory):
    destination = tmp_path_factory.mktemp("out") / "p.zip"
    local = write_package(fixture_tree, destination)
    assert (local.id, hashlib.sha256(destination.read_bytes()).hexdigest()) == (FIXTURE_ID, FIXTURE_ZIP_SHA256)
    assert local.manifest == scan(fixture_tree).manifest
    assert b"".join(zip_chunks(local.manifest.files, local.open)) == destination.read_bytes()


@pytest.mark.parametrize("limits", [
    {},
    {"ZIP64_LIMIT": 5000},  # the big file, the central directory and its offset past it: every zip64 field
    {"ZIP64_LIMIT": int(len(FIXTURE["weights/model.bin"]) * 1.04)},  # the big file under it, within zipfile's margin
    {"ENTRIES_LIMIT": 3},  # more entries than the end record can count
], ids=["plain", "zip64", "zip64-margin", "many-entries"])
def test_the_layout_is_zipfiles_own(fixture_tree, monkeypatch, limits):
    for name, value in limits.items():
        monkeypatch.setattr(zips, name, value)
        monkeypatch.setattr(zipfile, {"ENTRIES_LIMIT": "ZIP_FILECOUNT_LIMIT"}.get(name, name), value)
    local = scan(fixture_tree)
    ours = b"".join(zip_chunks(local.manifest.files, local.open))
    assert ours == zipfile_chunks(local.manifest.files, local.open)
    archive = zipfile.ZipFile(io.BytesIO(ours))
    assert archive.testzip() is None
    assert archive.read("weights/model.bin") == FIXTURE["weights/model.bin"]
