"""The store, the same suite on file://, memory:// and s3:// (moto's S3 server on loopback)."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta

import pytest

from cog.packages.manifest import MODE_EXECUTABLE, MODE_FILE, MODE_SYMLINK, Entry, Manifest
from cog.packages.records import Build, Package
from cog.packages.store import BlobMismatch, BlobTooLarge, StorageUnavailable, Store

from tests.packages.conftest import S3_FAST_FAILURE, free_port

LIMIT = 1024 * 1024 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put(store: Store, data: bytes) -> str:
    store.put_blob(sha(data), [data[i:i + 100_000] for i in range(0, len(data), 100_000)], max_size=LIMIT)
    return sha(data)


def package_of(store: Store, files: dict[str, bytes], model: str = "alice/model", **fields) -> Package:
    entries = [Entry(path=path, mode=MODE_FILE, size=len(data), sha256=put(store, data)) for path, data in files.items()]
    manifest = Manifest.of(entries)
    return Package(id=manifest.id, model=model, manifest=manifest, config={}, variants=("cpu",), **fields)


def leftovers(store: Store) -> list[str]:
    return store.fs.find(f"{store.root}/uploads")


def test_a_blob_is_stored_once_under_its_hash(store):
    data = os.urandom(350_000)
    assert store.missing_blobs([sha(data), sha(b"other")]) == [sha(data), sha(b"other")]
    assert store.put_blob(sha(data), [data], max_size=LIMIT) is True
    assert store.put_blob(sha(data), [data], max_size=LIMIT) is False
    assert store.missing_blobs([sha(data), sha(b"other")]) == [sha(b"other")]
    with store.open_blob(sha(data)) as stream:
        assert stream.read() == data
    assert leftovers(store) == []


def test_a_blob_whose_content_does_not_match_its_name_is_never_visible(store):
    with pytest.raises(BlobMismatch, match=f"not {sha(b'right')}"):
        store.put_blob(sha(b"right"), [b"wrong"], max_size=LIMIT)
    assert not store.has_blob(sha(b"right"))
    assert leftovers(store) == []


def test_a_blob_over_the_limit_is_refused_before_it_is_all_read(store):
    read = []

    def chunks():
        for index in range(100):
            read.append(index)
            yield b"x" * 1000

    with pytest.raises(BlobTooLarge, match="limit of 5000 bytes"):
        store.put_blob(sha(b"x" * 100_000), chunks(), max_size=5000)
    assert len(read) == 6
    assert not store.has_blob(sha(b"x" * 100_000)) and leftovers(store) == []


def test_packages_are_listed_newest_first_and_found_by_prefix(store):
    old = package_of(store, {"cog.yaml": b"1"})
    new = package_of(store, {"cog.yaml": b"2"})
    elsewhere = package_of(store, {"cog.yaml": b"3"}, model="bob/other")
    for package in (old, new, elsewhere):
        store.save_package(package)
    assert [p.id for p in store.list_packages("alice/model")] == [new.id, old.id]
    assert [p.id for p in store.list_packages()] == [elsewhere.id, new.id, old.id]
    assert store.load_package("alice/model", new.id) == new
    assert store.find_packages(new.id[:6], model="alice/model") == [("alice/model", new.id)]
    assert store.find_packages(elsewhere.id[:6]) == [("bob/other", elsewhere.id)]
    assert store.find_packages(elsewhere.id[:6], model="alice/model") == []
    assert store.load_package("alice/model", "0" * 64) is None


def test_deleting_a_package_collects_only_the_blobs_nobody_uses(store):
    shared, only_old = os.urandom(1000), os.urandom(1000)
    old = package_of(store, {"cog.yaml": b"a", "weights.bin": shared, "old.py": only_old})
    new = package_of(store, {"cog.yaml": b"b", "weights.bin": shared})
    store.save_package(old)
    store.save_package(new)
    store.save_build("alice/model", old.id, Build(variant="cpu"))
    fresh = put(store, b"uploaded for a package not committed yet")
    store.delete_package("alice/model", old.id)
    assert store.collect_garbage(grace=timedelta(hours=1)) == []  # everything is younger than an hour
    deleted = store.collect_garbage(grace=timedelta(seconds=-1))
    assert sorted(deleted) == sorted([sha(only_old), sha(b"a"), fresh])
    assert store.missing_blobs([sha(shared), sha(b"b")]) == []
    assert store.load_package("alice/model", old.id) is None and store.load_builds("alice/model", old.id) == []


def test_builds_and_logs(store):
    package = package_of(store, {"cog.yaml": b"x"})
    store.save_package(package)
    store.save_build(package.model, package.id, Build(variant="cpu", status="building"))
    store.save_build(package.model, package.id, Build(variant="gpu", status="succeeded", image="r/a/b:1", digest="sha256:" + "1" * 64))
    assert [(b.variant, b.status) for b in store.load_builds(package.model, package.id)] == [("cpu", "building"), ("gpu", "succeeded")]
    assert [(model, pid, b.variant) for model, pid, b in store.unfinished_builds()] == [(package.model, package.id, "cpu")]
    assert store.load_builds(package.model, package.id)[1].reference == "r/a/b@sha256:" + "1" * 64
    assert store.read_log(package.model, package.id, "cpu") is None
    store.save_log(package.model, package.id, "cpu", "step 1\nstep 2\n")
    assert store.read_log(package.model, package.id, "cpu") == "step 1\nstep 2\n"


def test_tokens_are_kept_as_hashes(store):
    assert not store.has_tokens()
    token = store.create_token("admin")
    assert store.has_tokens() and store.token_valid(token)
    assert not store.token_valid(token + "x")
    assert all(token not in store.fs.cat_file(path).decode() and token not in path for path in store.fs.find(store.root))


def test_unpack_lays_the_package_out_with_modes_and_links(store, tmp_path):
    files = {"cog.yaml": b"c", "run.sh": b"#!/bin/sh\n", "weights/a.bin": b"w"}
    entries = [Entry(path=p, mode=MODE_EXECUTABLE if p == "run.sh" else MODE_FILE, size=len(d), sha256=put(store, d))
               for p, d in files.items()]
    entries.append(Entry(path="latest.bin", mode=MODE_SYMLINK, size=13, sha256=put(store, b"weights/a.bin")))
    store.unpack(Manifest.of(entries), tmp_path / "out")
    assert (tmp_path / "out/weights/a.bin").read_bytes() == b"w"
    assert os.access(tmp_path / "out/run.sh", os.X_OK) and not os.access(tmp_path / "out/cog.yaml", os.X_OK)
    assert os.readlink(tmp_path / "out/latest.bin") == "weights/a.bin"


def test_an_unreachable_store_says_so():
    store = Store("s3://nowhere/store", client_kwargs={"endpoint_url": f"http://127.0.0.1:{free_port()}"}, **S3_FAST_FAILURE)
    with pytest.raises(StorageUnavailable, match="the storage s3://nowhere/store is unavailable: Could not connect"):
        store.check()
    with pytest.raises(StorageUnavailable):
        store.put_blob(sha(b"x"), [b"x"], max_size=LIMIT)
