"""cog.lock without a resolver: the resolver's answer read, locks merged, written and read back, plans pinned."""

from __future__ import annotations

from pathlib import Path

import pytest

from cog.compiler.lock import locked_plan, make_lock, parse_compiled, requested, seed_packages
from cog.compiler.plan import BuildPlan, InstallOptions
from cog.compiler.render import render_dockerfile, render_lock, render_requirements
from cog.config.cog_lock import LockedImage, read_cog_lock
from cog.errors import CogError, ConfigError

COMPILED = """numpy==2.1.3 \\
    --hash=sha256:bbb \\
    --hash=sha256:aaa
torch==2.8.0+cpu \\
    --hash=sha256:ccc
"""


def plan(**changes) -> BuildPlan:
    values = dict(variant="cpu", platform="linux/amd64", base_image="python:3.11-slim", uv_image="uv", python_version="3.11",
                  python_requirements=("numpy>=2", "torch==2.8.0+cpu"),
                  install_options=InstallOptions(extra_index_urls=("https://download.pytorch.org/whl/cpu",)))
    return BuildPlan(**{**values, **changes})


def image(variant="cpu", platform="linux/amd64", digest: str | None = "sha256:base") -> LockedImage:
    return LockedImage(variant=variant, platform=platform, python="3.11", base_image="python:3.11-slim",
                       base_image_digest=digest, requested="sha256:asked")


def test_the_resolvers_answer_is_read_as_pinned_packages_with_sorted_hashes():
    assert parse_compiled(COMPILED, "here") == [("numpy", "2.1.3", ("sha256:aaa", "sha256:bbb")),
                                                 ("torch", "2.8.0+cpu", ("sha256:ccc",))]


@pytest.mark.parametrize("line", ["pkg @ https://example.com/pkg-1.0.tar.gz", "pkg>=1", "./local"])
def test_an_answer_that_is_not_one_pinned_version_is_a_one_line_error(line):
    with pytest.raises(CogError) as caught:
        parse_compiled(line + "\n", "the model's requirements")
    assert str(caught.value).startswith("the model's requirements: ")
    assert f"`{line}`" in str(caught.value) and "\n" not in str(caught.value)


def test_a_package_that_images_share_is_written_once_naming_them_with_the_union_of_hashes():
    images = [image(), image(platform="linux/arm64")]
    lock = make_lock(
        uv="0.13.9", inputs={"requirements.txt": "sha256:r", "cog.yaml": "sha256:c"}, images=images,
        model={"cpu linux/amd64": [("numpy", "2.1.3", ("sha256:x86",))],
               "cpu linux/arm64": [("numpy", "2.1.3", ("sha256:arm",)), ("onlyarm", "1.0", ())]},
        server={"cpu linux/amd64": [("fastapi", "0.115.0", ("sha256:f",))], "cpu linux/arm64": []},
    )
    assert list(lock.inputs) == ["cog.yaml", "requirements.txt"]
    assert [(p.name, p.model, p.server, p.hashes) for p in lock.package] == [
        ("fastapi", (), ("cpu linux/amd64",), ("sha256:f",)),
        ("numpy", ("cpu linux/amd64", "cpu linux/arm64"), (), ("sha256:arm", "sha256:x86")),
        ("onlyarm", ("cpu linux/arm64",), (), ()),
    ]
    assert lock.lines("cpu linux/arm64") == ("numpy==2.1.3 \\\n    --hash=sha256:arm \\\n    --hash=sha256:x86", "onlyarm==1.0")


def test_a_written_lock_reads_back_the_same(tmp_path: Path):
    lock = make_lock(uv="0.13.9", inputs={"cog.yaml": "sha256:c"}, images=[image(), image("gpu", digest=None)],
                     model={"cpu linux/amd64": [("numpy", "2.1.3", ("sha256:a",))]}, server={},
                     seed={"cpu linux/amd64": [("pip", "25.0", ("sha256:p",))], "gpu linux/amd64": [("pip", "25.0", ())]})
    assert lock.lines("gpu linux/amd64", "seed") == ("pip==25.0 \\\n    --hash=sha256:p",)
    path = tmp_path / "cog.lock"
    path.write_text(render_lock(lock), encoding="utf-8")
    assert read_cog_lock(path) == lock


@pytest.mark.parametrize("text, message", [
    ("version = 2\n", "cog.lock:1: is of version 2; this cog reads cog.lock version 1: run cog lock again"),
    ('version = 1\nuv = "0.13"\n', "cog.lock: `inputs`: field required; run cog lock again"),
    ("version = [\n", None),
])
def test_a_lock_cog_cannot_read_is_a_located_one_line_error(tmp_path: Path, text, message):
    path = tmp_path / "cog.lock"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        read_cog_lock(path)
    assert str(caught.value).startswith("cog.lock:")
    if message:
        assert str(caught.value) == message


def test_a_locked_plan_installs_the_lines_by_hash_from_the_base_image_by_digest():
    lock = make_lock(uv="0.13.9", inputs={}, images=[image()],
                     model={"cpu linux/amd64": [("numpy", "2.1.3", ("sha256:a",))]},
                     server={"cpu linux/amd64": [("fastapi", "0.115.0", ("sha256:f",))]},
                     seed={"cpu linux/amd64": [("pip", "25.0", ("sha256:p",))]})
    pinned = locked_plan(plan(python_constraints=("numpy<3",), python_overrides=("numpy==2.1.3",)), lock)
    assert pinned.base_image == "python:3.11-slim@sha256:base"
    assert pinned.python_requirements == ("numpy==2.1.3 \\\n    --hash=sha256:a",)
    assert (pinned.python_constraints, pinned.python_overrides) == ((), ())
    assert pinned.install_options.no_deps and pinned.install_options.require_hashes
    assert pinned.install_options.extra_index_urls == ("https://download.pytorch.org/whl/cpu",)
    dockerfile = render_dockerfile(pinned)
    assert "FROM python:3.11-slim@sha256:base\n" in dockerfile
    assert "fastapi==0.115.0 \\\n    --hash=sha256:f\nCOG_SERVER_REQUIREMENTS" in dockerfile
    assert "--no-deps --require-hashes -r /opt/cog/server-requirements.txt" in dockerfile
    # pip from the lock, not the newest of the day that `uv venv --seed` would take
    assert "pip==25.0 \\\n    --hash=sha256:p\nCOG_SEED_REQUIREMENTS" in dockerfile
    assert "uv venv --python 3.11 /opt/cog/model \\\n" in dockerfile and "--seed" not in dockerfile
    assert "--no-deps --require-hashes -r /opt/cog/seed-requirements.txt\n" in dockerfile


def test_an_unlocked_image_seeds_the_newest_pip_where_the_base_image_has_none():
    assert "uv venv --seed --python 3.11 /opt/cog/model\n" in render_dockerfile(plan())


def test_an_image_from_pythons_own_uses_its_pip_which_the_base_images_digest_pins():
    dockerfile = render_dockerfile(plan(python_from_base=True))
    assert "uv venv --system-site-packages --python 3.11 /opt/cog/model \\\n" in dockerfile
    assert "exec /opt/cog/model/bin/python -m pip \"$@\"" in dockerfile and "--seed" not in dockerfile
    assert seed_packages(plan(python_from_base=True)) == ()


@pytest.mark.parametrize(("python", "seed"), [("3.10", ("pip", "setuptools", "wheel")),
                                              ("3.11", ("pip", "setuptools", "wheel")), ("3.12", ("pip",)),
                                              ("3.13.1", ("pip",))])
def test_the_seed_is_what_uv_venv_seed_installs_for_the_python(python, seed):
    assert seed_packages(plan(python_version=python)) == seed


def test_what_is_asked_of_the_resolver_changes_with_each_input_it_is_given():
    base = plan()
    asked = requested(base, render_requirements(base), ("fastapi>=0.110",))
    changed = [plan(platform="linux/arm64"), plan(python_version="3.12"), plan(cuda="12.8.1"),
               plan(python_requirements=("numpy>=2",)), plan(python_constraints=("numpy<3",)),
               plan(install_options=InstallOptions())]
    digests = {requested(other, render_requirements(other), ("fastapi>=0.110",)) for other in changed}
    assert asked not in digests and len(digests) == len(changed)
    assert requested(base, render_requirements(base), ("fastapi>=0.111",)) != asked
    assert requested(base, render_requirements(base), ("fastapi>=0.110",)) == asked
