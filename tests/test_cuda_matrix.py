"""Internal consistency of the compatibility data in cuda_matrix/ (no network).

Every check is table-driven: one test case per row (or per referenced CUDA / Python), so a failure names the
row it is about. The facts themselves (which wheels and images exist) are sourced in cuda_matrix/README.md;
these tests only check that the files agree with each other and with the schema.
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urlparse

import pytest
from packaging.version import InvalidVersion, Version

from cog.matrix import PLATFORMS, json_schema, load_matrix
from cog.resources import cuda_matrix_dir

# The month the data was last checked against its sources (README.md says the same).
CHECKED = "2026-11"

# Oldest releases the data must cover (from the tracker issue).
OLDEST_TORCH = Version("1.7.0")
TENSORFLOW_MINORS_REQUIRED = [f"2.{minor}" for minor in range(11, 20)]
OLDEST_CUDA_MINOR = (11, 7)
# CUDA minors NVIDIA never released (the toolkit went from 12.6 to 12.8).
CUDA_MINORS_NEVER_RELEASED = {(12, 7)}

# TensorFlow rows whose tested cuDNN major has no nvidia/cuda image for their CUDA minor. NVIDIA publishes
# CUDA 12.3 cuDNN images only with cuDNN 9 (12.3.2-cudnn9-*), while TF 2.16/2.17 were tested with cuDNN 8.9;
# tensorflow[and-cuda] installs cuDNN 8.9 itself (nvidia-cudnn-cu12 wheel). For these rows an image of the
# same CUDA minor is required instead. test_tensorflow_cudnn_exceptions_still_needed keeps this list exact.
TENSORFLOW_CUDNN_EXCEPTIONS = {"2.16", "2.17"}

_FLAVOUR_ORDER = {"runtime": 0, "devel": 1}
_MAJOR_MINOR = re.compile(r"^\d+\.\d+$")
_YEAR_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

try:
    MATRIX = load_matrix()
    LOAD_ERROR: Exception | None = None
except Exception as error:  # reported by test_matrix_loads; the parametrized tests below then have no rows
    MATRIX = None
    LOAD_ERROR = error

PYTHONS = list(MATRIX.python.releases) if MATRIX else []
IMAGES = list(MATRIX.cuda.images) if MATRIX else []
TORCH = list(MATRIX.torch) if MATRIX else []
TENSORFLOW = list(MATRIX.tensorflow) if MATRIX else []
TORCH_BUILDS = [(row, build) for row in TORCH for build in row.builds]
TORCH_GPU_BUILDS = [(row, build) for row, build in TORCH_BUILDS if build.cuda != "cpu"]


def _minor(version: str) -> tuple[int, int]:
    release = Version(version).release
    return release[0], release[1]


def _runtime_images(cuda_minor: str, cudnn_major: str | None = None) -> list:
    return [
        image
        for image in IMAGES
        if image.flavour == "runtime"
        and image.cuda_minor == cuda_minor
        and (cudnn_major is None or image.cudnn == cudnn_major)
    ]


def _image_key(image) -> tuple:
    return (Version(image.cuda), Version(image.ubuntu), int(image.cudnn), _FLAVOUR_ORDER[image.flavour])


def _duplicates(values) -> list:
    return sorted(value for value, count in Counter(values).items() if count > 1)


# ---------------------------------------------------------------------------------------------------- loading


def test_matrix_loads():
    if LOAD_ERROR is not None:
        raise LOAD_ERROR
    assert PYTHONS and IMAGES and TORCH and TENSORFLOW, "every data file has rows"


def test_schema_json_is_current():
    on_disk = (cuda_matrix_dir() / "schema.json").read_text(encoding="utf-8")
    assert on_disk == json_schema(), "cuda_matrix/schema.json is stale: run `python -m cog.matrix`"


# ---------------------------------------------------------------------------------------------------- duplicates


@pytest.mark.parametrize(
    ("what", "values"),
    [
        ("python version", [release.version for release in PYTHONS]),
        ("torch version", [str(Version(row.torch)) for row in TORCH]),
        ("tensorflow minor", [row.version for row in TENSORFLOW]),
        ("image tag", [image.tag for image in IMAGES]),
        ("image (cuda, cudnn, ubuntu, flavour)", [(i.cuda, i.cudnn, i.ubuntu, i.flavour) for i in IMAGES]),
    ],
)
def test_no_duplicate_rows(what, values):
    assert not _duplicates(values), f"duplicate {what}: {_duplicates(values)}"


@pytest.mark.parametrize("row", TORCH, ids=lambda row: f"torch-{row.torch}")
def test_torch_row_has_no_duplicate_builds_or_pythons(row):
    assert not _duplicates(b.cuda for b in row.builds), f"torch {row.torch}: duplicate builds"
    assert not _duplicates(row.pythons), f"torch {row.torch}: duplicate pythons"


@pytest.mark.parametrize("row", TENSORFLOW, ids=lambda row: f"tensorflow-{row.version}")
def test_tensorflow_row_has_no_duplicate_pythons_or_platforms(row):
    assert not _duplicates(row.pythons), f"tensorflow {row.version}: duplicate pythons"
    assert not _duplicates(row.gpu_platforms), f"tensorflow {row.version}: duplicate gpu_platforms"


# ---------------------------------------------------------------------------------------------------- versions


@pytest.mark.parametrize("release", PYTHONS, ids=lambda release: f"python-{release.version}")
def test_python_release_fields(release):
    assert _MAJOR_MINOR.match(release.version), f"python {release.version}: version is not MAJOR.MINOR"
    assert _YEAR_MONTH.match(release.end_of_life), f"python {release.version}: end_of_life is not YYYY-MM"
    past_end_of_life = release.end_of_life < CHECKED
    assert release.deprecated == past_end_of_life, (
        f"python {release.version}: deprecated={release.deprecated} but end of life is {release.end_of_life} "
        f"(data checked {CHECKED})"
    )


@pytest.mark.parametrize("row", TORCH, ids=lambda row: f"torch-{row.torch}")
def test_torch_versions_parse(row):
    for name in ("torch", "torchvision", "torchaudio"):
        value = getattr(row, name)
        if value is None:
            assert name != "torch"
            continue
        try:
            parsed = Version(value)
        except InvalidVersion:
            pytest.fail(f"torch {row.torch}: {name} {value!r} is not a version")
        assert not parsed.local, f"torch {row.torch}: {name} {value} carries a local label (+cuXXX)"
    for python in row.pythons:
        assert _MAJOR_MINOR.match(python), f"torch {row.torch}: python {python!r} is not MAJOR.MINOR"
    for build in row.builds:
        assert build.cuda == "cpu" or _MAJOR_MINOR.match(build.cuda), (
            f"torch {row.torch}: build cuda {build.cuda!r} is neither 'cpu' nor MAJOR.MINOR"
        )


@pytest.mark.parametrize("row", TENSORFLOW, ids=lambda row: f"tensorflow-{row.version}")
def test_tensorflow_versions_parse(row):
    for name in ("version", "cuda", "cudnn"):
        value = getattr(row, name)
        assert _MAJOR_MINOR.match(value), f"tensorflow {row.version}: {name} {value!r} is not MAJOR.MINOR"
    Version(row.latest)
    for python in row.pythons:
        assert _MAJOR_MINOR.match(python), f"tensorflow {row.version}: python {python!r} is not MAJOR.MINOR"


@pytest.mark.parametrize("row", TENSORFLOW, ids=lambda row: f"tensorflow-{row.version}")
def test_tensorflow_latest_belongs_to_its_minor(row):
    latest = Version(row.latest)
    assert len(latest.release) == 3 and not latest.is_prerelease and not latest.local, (
        f"tensorflow {row.version}: latest {row.latest} is not a final MAJOR.MINOR.PATCH release"
    )
    assert _minor(row.latest) == _minor(row.version), (
        f"tensorflow {row.version}: latest {row.latest} is not a {row.version}.x release"
    )


@pytest.mark.parametrize("image", IMAGES, ids=lambda image: image.tag)
def test_image_fields_agree_with_tag(image):
    assert len(Version(image.cuda).release) == 3, f"{image.tag}: cuda {image.cuda} is not MAJOR.MINOR.PATCH"
    assert image.cudnn.isdigit(), f"{image.tag}: cudnn {image.cudnn!r} is not a major version"
    assert _MAJOR_MINOR.match(image.ubuntu), f"{image.tag}: ubuntu {image.ubuntu!r} is not YY.MM"
    # cuDNN 8 tags say cudnn8; cuDNN 9 tags say cudnn9 (12.3.x) or plain cudnn (12.4 and later).
    spellings = {"8": ["cudnn8"], "9": ["cudnn9", "cudnn"]}.get(image.cudnn, [f"cudnn{image.cudnn}"])
    expected = [f"{image.cuda}-{spelling}-{image.flavour}-ubuntu{image.ubuntu}" for spelling in spellings]
    assert image.tag in expected, f"{image.tag}: fields (cuda, cudnn, flavour, ubuntu) spell {expected}"
    assert image.platforms and not _duplicates(image.platforms), f"{image.tag}: platforms empty or repeated"
    assert "linux/amd64" in image.platforms, f"{image.tag}: every nvidia/cuda image is published for amd64"


def test_images_come_in_runtime_devel_pairs():
    flavours: dict[tuple, set] = {}
    for image in IMAGES:
        flavours.setdefault((image.cuda, image.cudnn, image.ubuntu), set()).add(image.flavour)
    unpaired = sorted(key for key, found in flavours.items() if found != {"runtime", "devel"})
    assert not unpaired, f"(cuda, cudnn, ubuntu) with only one flavour: {unpaired}"
    for image in IMAGES:
        twin = [i for i in IMAGES if (i.cuda, i.cudnn, i.ubuntu) == (image.cuda, image.cudnn, image.ubuntu)]
        assert {tuple(i.platforms) for i in twin} == {tuple(image.platforms)}, (
            f"{image.tag}: runtime and devel images list different platforms"
        )


# ---------------------------------------------------------------------------------------------------- sorting


@pytest.mark.parametrize(
    ("what", "keys"),
    [
        ("python.yaml releases", [Version(r.version) for r in PYTHONS]),
        ("torch.yaml rows", [Version(r.torch) for r in TORCH]),
        ("tensorflow.yaml rows", [Version(r.version) for r in TENSORFLOW]),
        ("cuda_images.yaml images (cuda, ubuntu, cudnn, runtime before devel)", [_image_key(i) for i in IMAGES]),
    ],
)
def test_rows_are_sorted(what, keys):
    out_of_order = [(before, after) for before, after in zip(keys, keys[1:]) if not before < after]
    assert not out_of_order, f"{what} are not in ascending order: first offending pair {out_of_order[0]}"


@pytest.mark.parametrize("row", TORCH, ids=lambda row: f"torch-{row.torch}")
def test_torch_row_lists_are_sorted(row):
    assert list(row.pythons) == sorted(row.pythons, key=Version), f"torch {row.torch}: pythons not ascending"
    gpu = [Version(b.cuda) for b in row.builds if b.cuda != "cpu"]
    assert gpu == sorted(gpu), f"torch {row.torch}: CUDA builds not ascending"
    assert row.builds[-1].cuda == "cpu", f"torch {row.torch}: the cpu build should come last"


@pytest.mark.parametrize("row", TENSORFLOW, ids=lambda row: f"tensorflow-{row.version}")
def test_tensorflow_pythons_are_sorted(row):
    assert list(row.pythons) == sorted(row.pythons, key=Version), f"tensorflow {row.version}: pythons not ascending"


# ---------------------------------------------------------------------------------------------------- python


def test_default_python_is_a_supported_release():
    releases = {release.version: release for release in PYTHONS}
    default = MATRIX.python.default
    assert default in releases, f"default python {default} is not a release in python.yaml"
    assert not releases[default].deprecated, f"default python {default} is deprecated"


@pytest.mark.parametrize(
    ("owner", "python"),
    [(f"torch {row.torch}", python) for row in TORCH for python in row.pythons]
    + [(f"tensorflow {row.version}", python) for row in TENSORFLOW for python in row.pythons],
    ids=lambda value: str(value),
)
def test_referenced_python_is_a_release(owner, python):
    assert python in {release.version for release in PYTHONS}, f"{owner}: python {python} is not in python.yaml"


@pytest.mark.parametrize("row", TORCH, ids=lambda row: f"torch-{row.torch}")
def test_torch_pythons_are_contiguous(row):
    minors = [_minor(python)[1] for python in row.pythons]
    assert row.pythons and minors == list(range(minors[0], minors[-1] + 1)), (
        f"torch {row.torch}: pythons {list(row.pythons)} have a gap"
    )


# ---------------------------------------------------------------------------------------------------- torch builds


@pytest.mark.parametrize(("row", "build"), TORCH_BUILDS, ids=lambda v: getattr(v, "torch", None) or v.cuda)
def test_torch_index_url_matches_build(row, build):
    url = urlparse(build.index_url)
    where = f"torch {row.torch} build {build.cuda}"
    assert url.scheme == "https", f"{where}: index_url {build.index_url} is not https"
    assert url.netloc == "download.pytorch.org", f"{where}: index_url {build.index_url} is not PyTorch's index"
    assert url.path.rstrip("/") == f"/whl/{build.local_version}", (
        f"{where}: index_url {build.index_url} does not serve the +{build.local_version} wheels"
    )
    assert build.platforms and not _duplicates(build.platforms), f"{where}: platforms empty or repeated"
    assert set(build.platforms) <= set(PLATFORMS)


@pytest.mark.parametrize("row", TORCH, ids=lambda row: f"torch-{row.torch}")
def test_torch_row_has_cpu_and_gpu_builds(row):
    cpu = [b for b in row.builds if b.cuda == "cpu"]
    assert len(cpu) == 1, f"torch {row.torch}: needs exactly one cpu build"
    assert "linux/amd64" in cpu[0].platforms, f"torch {row.torch}: cpu build lacks linux/amd64"
    gpu = [b for b in row.builds if b.cuda != "cpu"]
    assert gpu, f"torch {row.torch}: no CUDA build"
    for build in gpu:
        assert "linux/amd64" in build.platforms, f"torch {row.torch} cu{build.cuda}: CUDA builds ship for amd64"


@pytest.mark.parametrize(
    ("row", "build"), TORCH_GPU_BUILDS, ids=lambda v: f"torch-{v.torch}" if hasattr(v, "torch") else f"cuda-{v.cuda}"
)
def test_torch_cuda_has_runtime_base_image(row, build):
    candidates = _runtime_images(build.cuda)
    assert candidates, f"torch {row.torch} {build.local_version}: no runtime nvidia/cuda image for CUDA {build.cuda}"
    covering = [image for image in candidates if set(build.platforms) <= set(image.platforms)]
    assert covering, (
        f"torch {row.torch} CUDA {build.cuda}: no runtime image covers {list(build.platforms)} "
        f"(have {[(i.tag, list(i.platforms)) for i in candidates]})"
    )


# ---------------------------------------------------------------------------------------------------- tensorflow


@pytest.mark.parametrize("row", TENSORFLOW, ids=lambda row: f"tensorflow-{row.version}")
def test_tensorflow_packages(row):
    assert "linux/amd64" in row.cpu_packages, f"tensorflow {row.version}: no CPU package for linux/amd64"
    for platform, package in row.cpu_packages.items():
        assert package in ("tensorflow", "tensorflow-cpu"), f"tensorflow {row.version} {platform}: {package}?"
    assert row.gpu_platforms == ("linux/amd64",), (
        f"tensorflow {row.version}: TensorFlow publishes CUDA wheels for linux/amd64 only"
    )
    expected_gpu = "tensorflow[and-cuda]" if Version(row.version) >= Version("2.14") else "tensorflow"
    assert row.gpu_package == expected_gpu, f"tensorflow {row.version}: gpu_package should be {expected_gpu}"


@pytest.mark.parametrize("row", TENSORFLOW, ids=lambda row: f"tensorflow-{row.version}")
def test_tensorflow_cuda_has_runtime_base_image(row):
    cudnn_major = row.cudnn.split(".")[0]
    if row.version in TENSORFLOW_CUDNN_EXCEPTIONS:
        candidates = _runtime_images(row.cuda)
        wanted = f"CUDA {row.cuda} (any cuDNN; see TENSORFLOW_CUDNN_EXCEPTIONS)"
    else:
        candidates = _runtime_images(row.cuda, cudnn_major)
        wanted = f"CUDA {row.cuda} with cuDNN {cudnn_major}"
    covering = [image for image in candidates if set(row.gpu_platforms) <= set(image.platforms)]
    assert covering, f"tensorflow {row.version}: no runtime image for {wanted} covering {list(row.gpu_platforms)}"


def test_tensorflow_cudnn_exceptions_still_needed():
    rows = {row.version: row for row in TENSORFLOW}
    stale = sorted(
        version
        for version in TENSORFLOW_CUDNN_EXCEPTIONS
        if version not in rows or _runtime_images(rows[version].cuda, rows[version].cudnn.split(".")[0])
    )
    assert not stale, f"TENSORFLOW_CUDNN_EXCEPTIONS no longer needed for {stale}: remove them"


# ---------------------------------------------------------------------------------------------------- coverage


def test_torch_covers_every_minor_from_the_oldest_to_newest():
    versions = [Version(row.torch) for row in TORCH]
    assert versions[0] == OLDEST_TORCH, f"torch.yaml starts at {versions[0]}, not {OLDEST_TORCH}"
    minors = sorted({v.release[:2] for v in versions})
    newest = minors[-1]
    expected = [(1, minor) for minor in range(OLDEST_TORCH.minor, 14)] + [(2, minor) for minor in range(0, newest[1] + 1)]
    missing = sorted(set(expected) - set(minors))
    assert not missing, f"torch minors missing between {OLDEST_TORCH} and {newest[0]}.{newest[1]}: {missing}"
    assert newest >= (2, 14), f"newest torch row is {newest}, but torch 2.14 exists"


@pytest.mark.parametrize(
    "minor", sorted({Version(row.torch).release[:2] for row in TORCH}), ids=lambda m: f"torch-{m[0]}.{m[1]}"
)
def test_torch_patches_have_no_gaps(minor):
    patches = sorted(Version(row.torch).micro for row in TORCH if Version(row.torch).release[:2] == minor)
    assert patches == list(range(len(patches))), f"torch {minor[0]}.{minor[1]}: patch releases {patches} have a gap"


def test_tensorflow_covers_required_minors_without_gaps():
    versions = [row.version for row in TENSORFLOW]
    missing = [minor for minor in TENSORFLOW_MINORS_REQUIRED if minor not in versions]
    assert not missing, f"tensorflow minors missing: {missing}"
    minors = [_minor(version)[1] for version in versions]
    assert minors == list(range(minors[0], minors[-1] + 1)), f"tensorflow minors have a gap: {versions}"


def test_cuda_images_cover_11_7_to_a_13_x():
    minors = {_minor(image.cuda) for image in IMAGES if image.flavour == "runtime"}
    newest_12 = max(minor for minor in minors if minor[0] == 12)
    newest_13 = max((minor for minor in minors if minor[0] == 13), default=None)
    assert newest_13 is not None, "no CUDA 13.x images"
    expected = (
        [(11, minor) for minor in range(OLDEST_CUDA_MINOR[1], 9)]
        + [(12, minor) for minor in range(0, newest_12[1] + 1)]
        + [(13, minor) for minor in range(0, newest_13[1] + 1)]
    )
    missing = [
        f"{major}.{minor}"
        for major, minor in expected
        if (major, minor) not in minors and (major, minor) not in CUDA_MINORS_NEVER_RELEASED
    ]
    assert not missing, f"CUDA minors without a runtime cuDNN image: {missing}"


@pytest.mark.parametrize(
    "cuda_minor", sorted({image.cuda_minor for image in IMAGES}, key=Version), ids=lambda m: f"cuda-{m}"
)
def test_one_patch_release_per_cuda_minor(cuda_minor):
    patches = {image.cuda for image in IMAGES if image.cuda_minor == cuda_minor}
    assert len(patches) == 1, f"CUDA {cuda_minor}: images from several patch releases {sorted(patches)}"
