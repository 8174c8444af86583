"""A project as a package: what is in it, its id, its zip; hashing in constant memory."""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from cog.errors import CogError
from cog.packages.hashes import HashCache
from cog.packages.manifest import MODE_EXECUTABLE, MODE_FILE, MODE_SYMLINK
from cog.packages.package import hash_stream, scan, write_package, write_zip, zip_chunks

HELLO = {"cog.yaml": "build:\n  python_version: '3.11'\npredict: predict.py:Predictor\n", "predict.py": "print('hi')\n"}


def zip_bytes(directory: Path) -> bytes:
    local = scan(directory)
    return b"".join(zip_chunks(local.manifest.files, local.open))


def test_files_are_hashed_with_their_mode(make_project):
    directory = make_project({**HELLO, "weights/model.bin": b"\0" * 100})
    (directory / "run.sh").write_text("#!/bin/sh\n")
    (directory / "run.sh").chmod(0o755)
    manifest = scan(directory).manifest
    assert [entry.path for entry in manifest.files] == ["cog.yaml", "predict.py", "run.sh", "weights/model.bin"]
    weights = manifest.entry("weights/model.bin")
    assert (weights.size, weights.sha256, weights.mode) == (100, hashlib.sha256(b"\0" * 100).hexdigest(), MODE_FILE)
    assert manifest.entry("run.sh").mode == MODE_EXECUTABLE


def test_ignore_rules_and_version_control_are_left_out(make_project):
    directory = make_project({**HELLO, ".dockerignore": "data/\n*.log\n", ".cogignore": "scratch.txt\n",
                              "data/big.csv": "1,2\n", "train.log": "x", "scratch.txt": "x", ".git/HEAD": "ref",
                              "__pycache__/predict.cpython-311.pyc": b"\0", ".cog/settings.json": "{}", "keep/notes.md": "n"})
    paths = [entry.path for entry in scan(directory).manifest.files]
    assert paths == [".cogignore", ".dockerignore", "cog.yaml", "keep/notes.md", "predict.py"]


def test_same_tree_same_id_whatever_the_times_and_the_umask(make_project, tmp_path):
    first = make_project(HELLO)
    before = scan(first).id
    os.utime(first / "predict.py", (0, 0))
    (first / "predict.py").chmod(0o600)
    assert scan(first).id == before


@pytest.mark.parametrize("edit", ["byte", "mode", "new file", "rename"])
def test_any_change_gives_a_new_id(make_project, edit):
    directory = make_project(HELLO)
    before = scan(directory).id
    if edit == "byte":
        (directory / "predict.py").write_text("print('hI')\n")
    elif edit == "mode":
        (directory / "predict.py").chmod(0o755)
    elif edit == "new file":
        (directory / "extra.txt").write_text("")
    else:
        (directory / "predict.py").rename(directory / "predictor.py")
    assert scan(directory).id != before


def test_links_inside_the_project_are_kept_as_links(make_project):
    directory = make_project({**HELLO, "weights/v1.bin": b"w"})
    (directory / "latest.bin").symlink_to("weights/v1.bin")
    (directory / "models").symlink_to("weights")
    manifest = scan(directory).manifest
    link = manifest.entry("latest.bin")
    assert (link.mode, link.sha256) == (MODE_SYMLINK, hashlib.sha256(b"weights/v1.bin").hexdigest())
    assert manifest.entry("models").mode == MODE_SYMLINK


@pytest.mark.parametrize("target", ["/etc/hostname", "../outside.txt", "sub/../../outside.txt"])
def test_links_out_of_the_project_are_refused(make_project, tmp_path, target):
    directory = make_project({**HELLO, "sub/x": "x"})
    (tmp_path.parent / "outside.txt").write_text("secret")
    (directory / "escape").symlink_to(target)
    with pytest.raises(CogError, match=r"escape.*outside the project"):
        scan(directory)


def test_a_link_through_a_linked_directory_out_of_the_project_is_refused(make_project, tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    directory = make_project(HELLO)
    (directory / "out").symlink_to(outside)
    with pytest.raises(CogError, match="outside the project"):
        scan(directory)


def test_the_zip_is_reproducible_and_holds_the_tree(make_project, tmp_path):
    directory = make_project({**HELLO, "weights/model.bin": os.urandom(3 * 1024 * 1024)})
    (directory / "run.sh").write_text("#!/bin/sh\n")
    (directory / "run.sh").chmod(0o755)
    (directory / "latest.bin").symlink_to("weights/model.bin")
    first = zip_bytes(directory)
    os.utime(directory / "cog.yaml", (1, 1))
    assert zip_bytes(directory) == first
    archive = zipfile.ZipFile(io.BytesIO(first))
    assert archive.testzip() is None
    assert archive.namelist() == ["cog.yaml", "latest.bin", "predict.py", "run.sh", "weights/model.bin"]
    assert archive.read("weights/model.bin") == (directory / "weights/model.bin").read_bytes()
    assert archive.getinfo("run.sh").external_attr >> 16 == MODE_EXECUTABLE
    assert archive.getinfo("latest.bin").external_attr >> 16 == MODE_SYMLINK | 0o777
    assert archive.read("latest.bin") == b"weights/model.bin"


def test_the_one_pass_zip_and_manifest_equal_those_of_two_passes(make_project, tmp_path_factory):
    directory = make_project({**HELLO, "weights/model.bin": os.urandom(3 * 1024 * 1024 + 7), "empty": b""})
    (directory / "run.sh").write_text("#!/bin/sh\n")
    (directory / "run.sh").chmod(0o755)
    (directory / "latest.bin").symlink_to("weights/model.bin")
    destination = tmp_path_factory.mktemp("out") / "p.zip"
    local = write_package(directory, destination)
    assert local.manifest == scan(directory).manifest
    assert destination.read_bytes() == zip_bytes(directory)


def test_write_zip_leaves_nothing_behind_when_interrupted(tmp_path):
    def chunks():
        yield b"PK"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_zip(chunks(), tmp_path / "out.zip")
    assert list(tmp_path.iterdir()) == []


class Zeros(io.RawIOBase):
    """A stream of `size` zero bytes that never holds them all."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def test_hashing_memory_does_not_grow_with_the_size():
    size = 256 * 1024 * 1024
    tracemalloc.start()
    digest, hashed = hash_stream(Zeros(size))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    expected = hashlib.sha256()
    for _ in range(256):
        expected.update(bytes(1024 * 1024))
    assert (digest, hashed) == (expected.hexdigest(), size)
    assert peak < 8 * 1024 * 1024, peak


def test_cog_package_prints_the_id_and_writes_the_zip(make_project, tmp_path_factory, run_cog):
    directory = make_project(HELLO)
    zip_path = tmp_path_factory.mktemp("out") / "p.zip"
    result = run_cog("package", "-o", str(zip_path), cwd=directory)
    assert result.stdout.strip() == scan(directory).id
    assert zip_path.read_bytes() == zip_bytes(directory)
    assert run_cog("package", cwd=directory).stdout == result.stdout


def test_cog_package_refuses_an_escaping_link_in_one_line(make_project, run_cog):
    directory = make_project(HELLO)
    (directory / "passwd").symlink_to("/etc/passwd")
    result = run_cog("package", cwd=directory, check=False)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: cannot package {directory}: 'passwd' links to '/etc/passwd', outside the project"]


class GrowingWhileRead(HashCache):
    """A cache that, when asked about weights.bin (after its lstat, before its read), appends to it."""

    def __init__(self, directory: Path) -> None:
        super().__init__(None)
        self.directory = directory

    def lookup(self, relative, info):
        if relative == "weights.bin":
            with (self.directory / relative).open("ab") as out:
                out.write(b"more")
        return None


@pytest.mark.parametrize("how", ["scan", "one pass"])
def test_a_file_that_changes_while_it_is_read_is_an_error_not_a_wrong_manifest(make_project, tmp_path_factory, how):
    directory = make_project({**HELLO, "weights.bin": b"\0" * 1000})
    cache = GrowingWhileRead(directory)
    with pytest.raises(CogError, match=r"'weights.bin' changed while it was read; run it again"):
        if how == "scan":
            scan(directory, cache)
        else:
            write_package(directory, tmp_path_factory.mktemp("out") / "p.zip", cache)
