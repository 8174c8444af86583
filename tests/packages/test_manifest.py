"""The manifest: canonical bytes, id, and which paths, modes and links are refused."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, strategies as st
from pydantic import ValidationError

from cog.packages.manifest import (
    MODE_EXECUTABLE, MODE_FILE, MODE_SYMLINK, Entry, Manifest, UnsafePath, check_link, check_path, file_mode,
)

A = hashlib.sha256(b"a").hexdigest()
B = hashlib.sha256(b"b").hexdigest()


def entry(path: str, mode: int = MODE_FILE, size: int = 1, sha256: str = A) -> Entry:
    return Entry(path=path, mode=mode, size=size, sha256=sha256)


def test_the_id_is_the_sha256_of_a_fixed_canonical_form():
    manifest = Manifest.of([entry("predict.py", sha256=B), entry("cog.yaml")])
    expected = (
        '{"files":[{"mode":33188,"path":"cog.yaml","sha256":"%s","size":1},'
        '{"mode":33188,"path":"predict.py","sha256":"%s","size":1}],"version":1}' % (A, B)
    ).encode()
    assert manifest.canonical() == expected
    # Pinned: a change here changes every package id there is.
    assert manifest.id == hashlib.sha256(expected).hexdigest()
    assert manifest.id == "20e2b57eef73c48d6e3d8bb2ff7b167e6b65814a893276c82fb40ba43b9cfaff"


def test_order_of_discovery_does_not_matter():
    one = Manifest.of([entry("a"), entry("b/c"), entry("b/d")])
    other = Manifest.of([entry("b/d"), entry("a"), entry("b/c")])
    assert one.id == other.id


@pytest.mark.parametrize("change", [
    {"sha256": B}, {"size": 2}, {"mode": MODE_EXECUTABLE}, {"mode": MODE_SYMLINK}, {"path": "other.py"},
])
def test_any_change_of_an_entry_changes_the_id(change):
    before = Manifest.of([entry("cog.yaml"), entry("model.py")])
    after = Manifest.of([entry("cog.yaml"), entry("model.py").model_copy(update=change)])
    assert before.id != after.id


def test_adding_a_file_changes_the_id():
    assert Manifest.of([entry("a")]).id != Manifest.of([entry("a"), entry("b")]).id


def test_non_ascii_paths_are_canonical_ascii():
    manifest = Manifest.of([entry("modèle/権重.bin")])
    assert manifest.canonical().isascii()
    assert Manifest.model_validate_json(manifest.canonical()).id == manifest.id


@pytest.mark.parametrize("path, problem", [
    ("", "empty"),
    ("/etc/passwd", "absolute"),
    ("../outside", "'..'"),
    ("a/../../b", "'..'"),
    ("a/./b", "'.'"),
    ("a//b", "'empty'"),
    ("dir/", "'empty'"),
    ("a\\b", "backslash"),
    ("a\0b", "NUL"),
    ("x" * 5000, "longer than"),
])
def test_unsafe_paths_are_refused(path, problem):
    with pytest.raises(UnsafePath, match=problem):
        check_path(path)
    with pytest.raises(ValidationError, match=problem):
        entry(path)


@pytest.mark.parametrize("path", ["cog.yaml", "a/b/c.py", ".hidden", "weights/model..bin", "...", "sp ace/ü.txt"])
def test_plain_relative_paths_are_accepted(path):
    assert check_path(path) == path


@pytest.mark.parametrize("path, target", [("link", "/etc/passwd"), ("link", "../x"), ("a/link", "../../x"), ("a/link", ""),
                                          ("a/link", "b/../../../x")])
def test_links_out_of_the_package_are_refused(path, target):
    with pytest.raises(UnsafePath, match="outside the project"):
        check_link(path, target)


@pytest.mark.parametrize("path, target", [("link", "a/b"), ("a/link", "../b"), ("a/b/link", "../../c"), ("link", "./x")])
def test_links_inside_the_package_are_accepted(path, target):
    assert check_link(path, target) == target


@pytest.mark.parametrize("field, value, problem", [
    ("mode", 0o100600, "mode 100600 is not one of"),
    ("mode", 0o040755, "is not one of"),
    ("size", -1, "greater than or equal to 0"),
    ("sha256", "ABC", "not a sha256"),
    ("sha256", A.upper(), "not a sha256"),
    ("sha256", A[:-1], "not a sha256"),
])
def test_bad_entries_are_refused(field, value, problem):
    with pytest.raises(ValidationError, match=problem):
        Entry(**{"path": "a", "mode": MODE_FILE, "size": 1, "sha256": A, field: value})


def test_unknown_fields_are_refused():
    with pytest.raises(ValidationError, match="Extra inputs"):
        Entry.model_validate({"path": "a", "mode": MODE_FILE, "size": 1, "sha256": A, "owner": "root"})


def test_a_manifest_must_be_sorted_and_name_each_path_once():
    with pytest.raises(ValidationError, match="sorted"):
        Manifest(files=(entry("b"), entry("a")))
    with pytest.raises(ValidationError, match="listed twice"):
        Manifest(files=(entry("a"), entry("a")))


def test_a_path_cannot_be_both_a_file_and_a_directory():
    with pytest.raises(ValidationError, match="'a' is a file but also the directory of 'a/b/c'"):
        Manifest.of([entry("a"), entry("a/b/c")])


def test_an_unknown_manifest_version_is_refused():
    with pytest.raises(ValidationError, match="version 2 is not supported"):
        Manifest(version=2, files=())


def test_digests_lists_each_content_once_and_size_adds_up():
    manifest = Manifest.of([entry("a", size=3), entry("b", size=3), entry("c", sha256=B, size=4)])
    assert manifest.digests() == [A, B]
    assert manifest.size == 10
    assert manifest.entry("c").sha256 == B and manifest.entry("zzz") is None


@pytest.mark.parametrize("st_mode, mode", [(0o100644, MODE_FILE), (0o100600, MODE_FILE), (0o100664, MODE_FILE),
                                           (0o100755, MODE_EXECUTABLE), (0o100700, MODE_EXECUTABLE), (0o100744, MODE_EXECUTABLE)])
def test_file_modes_keep_only_whether_a_file_is_executable(st_mode, mode):
    assert file_mode(st_mode) == mode


safe_part = st.text(st.characters(blacklist_characters="/\\\0", blacklist_categories=("Cs",)), min_size=1, max_size=12).filter(
    lambda part: part not in (".", ".."))
safe_path = st.lists(safe_part, min_size=1, max_size=4).map("/".join)


@given(st.dictionaries(safe_path, st.tuples(st.sampled_from([MODE_FILE, MODE_EXECUTABLE]), st.integers(0, 2**40),
                                             st.sampled_from([A, B])), max_size=8))
def test_a_manifest_round_trips_through_its_canonical_form(files):
    try:
        manifest = Manifest.of(entry(path, mode, size, sha) for path, (mode, size, sha) in files.items())
    except ValidationError:
        return  # a path that is also another's directory: refused, as tested above
    again = Manifest.model_validate(json.loads(manifest.canonical()))
    assert again == manifest and again.canonical() == manifest.canonical() and again.id == manifest.id
