"""The hash cache: a file's digest is reused exactly while its (path, size, mtime_ns, inode) stay the same.

Each case rewrites a file's content behind the cache's back and then restores or changes one part of the key:
a kept key proves the cache was used (the stale digest comes back), a changed one that it was not.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from cog.packages.hashes import HashCache
from cog.packages.package import CHUNK, scan, write_package

HELLO = {"cog.yaml": "predict: predict.py:Predictor\n", "predict.py": "print('hi')\n"}
OLD_NS = 1_600_000_000 * 10**9  # long enough ago that the cache remembers the file


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def project(make_project) -> Path:
    directory = make_project({**HELLO, "weights.bin": b"before"})
    os.utime(directory / "weights.bin", ns=(OLD_NS, OLD_NS))
    return directory


def cache_of(directory: Path) -> HashCache:
    return HashCache(directory.parent / f"{directory.name}-hashes.json")


def digest_after(directory: Path, edit: str) -> str:
    scan(directory, cache_of(directory))  # remember
    path = directory / "weights.bin"
    if edit == "inode":
        (directory / "replacement").write_bytes(b"after!")
        (directory / "replacement").replace(path)
    else:
        path.write_bytes({"size": b"after, longer"}.get(edit, b"after!"))  # in place: same inode
    mtime = OLD_NS + 1 if edit == "mtime" else OLD_NS
    os.utime(path, ns=(mtime, mtime))
    return scan(directory, cache_of(directory)).manifest.entry("weights.bin").sha256


def test_an_unchanged_key_reuses_the_digest(project):
    assert digest_after(project, "nothing") == sha(b"before")


@pytest.mark.parametrize("edit", ["size", "mtime", "inode"])
def test_a_changed_key_hashes_again(project, edit):
    assert digest_after(project, edit) == sha((project / "weights.bin").read_bytes())


def test_a_file_written_just_before_hashing_is_not_remembered(project):
    (project / "fresh.bin").write_bytes(b"new")  # its mtime is now: a second write could keep it
    scan(project, cache_of(project))
    remembered = json.loads(cache_of(project).location.read_text())["files"]
    assert "weights.bin" in remembered and "fresh.bin" not in remembered


def test_the_cache_keeps_only_the_files_of_the_last_run(project):
    os.utime(project / "predict.py", ns=(OLD_NS, OLD_NS))
    scan(project, cache_of(project))
    (project / "predict.py").unlink()
    scan(project, cache_of(project))
    assert set(json.loads(cache_of(project).location.read_text())["files"]) == {"weights.bin"}


@pytest.mark.parametrize("content", ["not json", '{"version": 99, "files": {}}', '{"version": 1, "files": {"weights.bin": 3}}'])
def test_an_unreadable_cache_is_ignored_and_rewritten(project, content):
    cache_of(project).location.write_text(content)
    assert scan(project, cache_of(project)).id == scan(project).id
    assert json.loads(cache_of(project).location.read_text())["version"] == 1


@pytest.mark.parametrize("before, after", [(b"before", b"after!"), (b"b" * 3 * CHUNK, b"a" * 3 * CHUNK)],
                         ids=["one chunk", "several chunks"])  # hashed here, or in the hashing thread
def test_the_one_pass_zip_uses_and_fills_the_same_cache(project, tmp_path_factory, before, after):
    (project / "weights.bin").write_bytes(before)
    os.utime(project / "weights.bin", ns=(OLD_NS, OLD_NS))
    out = tmp_path_factory.mktemp("out")
    first = write_package(project, out / "a.zip", cache_of(project))
    assert first.id == scan(project).id
    (project / "weights.bin").write_bytes(after)
    os.utime(project / "weights.bin", ns=(OLD_NS, OLD_NS))
    assert write_package(project, out / "b.zip", cache_of(project)).id == first.id  # the remembered digest


def test_cog_package_remembers_between_runs(project, run_cog, cli_env):
    first = run_cog("package", cwd=project).stdout
    (project / "weights.bin").write_bytes(b"after!")
    os.utime(project / "weights.bin", ns=(OLD_NS, OLD_NS))
    assert run_cog("package", cwd=project).stdout == first
    assert list((Path(cli_env["XDG_CACHE_HOME"]) / "cog" / "hashes").glob("*.json"))
