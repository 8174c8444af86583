"""The cog wheel that images carry, written with the standard library: from a checkout (an editable install without
hatchling) and from an installed cog. Installed into a fresh venv it works from any directory."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest brings tomli
    import tomli as tomllib

from cog._version import __version__
from cog.images.wheel import build_runtime_wheel, source_checkout

REPO = Path(__file__).resolve().parents[1]
DIST_INFO = f"cog-{__version__}.dist-info"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    assert source_checkout() == REPO  # the tests run from the checkout
    return build_runtime_wheel(tmp_path_factory.mktemp("dist"))


def pip_install(python, *args: str) -> None:
    """pip install into the venv of `python` with this test run's pip (the venvs are made without their own)."""
    result = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", *args],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr


def install_with_test_dependencies(wheel: Path, environment: Path) -> tuple[Path, Path]:
    """A fresh venv with cog installed only from `wheel`; its dependencies come from this test run's environment.
    Returns the venv's python and its site-packages."""
    venv.create(environment, with_pip=False)
    python = environment / "bin" / "python"
    site = Path(subprocess.check_output([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    (site / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip_install(python, "--no-deps", "--no-index", str(wheel))
    return python, site


def test_wheel_contains_data_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "cog/_data/templates/Dockerfile.j2" in names
    assert "cog/_data/cuda_matrix/torch.yaml" in names
    assert "cog/_data/cuda_matrix/schema.json" in names
    assert {"cog/web/playground.html", "cog/web/playground.js", "cog/web/store.js", "cog/web/style.css"} <= names


def test_installed_wheel_generates_a_dockerfile_from_another_directory(wheel, tmp_path):
    environment = tmp_path / "venv"
    python, site = install_with_test_dependencies(wheel, environment)
    project = tmp_path / "elsewhere"
    project.mkdir()
    (project / "cog.yaml").write_text('build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\n')
    result = subprocess.run([str(environment / "bin" / "cog"), "generate-dockerfile"], cwd=project, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "FROM python:3.11-slim" in result.stdout
    located = subprocess.check_output([str(python), "-c", "import cog.resources as r; print(r.templates_dir())"], cwd=project, text=True)
    assert located.strip() == str(site / "cog" / "_data" / "templates")


def test_installed_cog_repacks_the_wheel_that_images_carry(wheel, tmp_path):
    """Without a checkout, `cog build` puts into images a wheel made from the installed files, offline."""
    python, _ = install_with_test_dependencies(wheel, tmp_path / "installed")
    out = tmp_path / "out"
    repacked = subprocess.check_output(
        [str(python), "-c", f"from pathlib import Path; from cog.images.wheel import build_runtime_wheel, source_checkout; "
                            f"assert source_checkout() is None; print(build_runtime_wheel(Path({str(out)!r})))"],
        cwd=tmp_path, text=True).strip()
    names = zipfile.ZipFile(repacked).namelist()
    assert "cog/_data/templates/Dockerfile.j2" in names and "cog/sdk/worker.py" in names
    assert not [name for name in names if name.endswith(("INSTALLER", "REQUESTED", "direct_url.json"))]
    model_env = tmp_path / "model"
    venv.create(model_env, with_pip=False)
    pip_install(model_env / "bin" / "python", "--no-deps", "--no-index", repacked)
    version = subprocess.check_output([str(model_env / "bin" / "python"), "-c", "import cog, cog.sdk.worker; print(cog.__version__)"], text=True)
    assert version.strip() == subprocess.check_output([sys.executable, "-c", "import cog; print(cog.__version__)"], text=True).strip()


def test_wheel_is_reproducible_and_its_record_is_right(wheel, tmp_path):
    first, again = build_runtime_wheel(tmp_path / "first"), build_runtime_wheel(tmp_path / "again")
    assert again.name == f"cog-{__version__}-py3-none-any.whl"
    assert again.read_bytes() == first.read_bytes()
    archive = zipfile.ZipFile(wheel)
    assert archive.testzip() is None
    infos = archive.infolist()
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    names = [info.filename for info in infos]
    package = [name for name in names if not name.startswith(DIST_INFO)]
    assert package == sorted(package) and names[-1] == f"{DIST_INFO}/RECORD"
    rows = list(csv.reader(io.StringIO(archive.read(f"{DIST_INFO}/RECORD").decode())))
    assert sorted(row[0] for row in rows) == sorted(names)
    for name, digest, size in rows:
        if name.endswith("/RECORD"):
            assert (digest, size) == ("", "")
            continue
        data = archive.read(name)
        assert digest == "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert size == str(len(data))


def test_wheel_carries_the_package_and_every_folder_pyproject_maps_into_it(wheel):
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    mapped = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]
    tracked = subprocess.check_output(["git", "ls-files", "cog", *mapped], cwd=REPO, text=True).split()
    expected = set()
    for name in tracked:
        top, _, rest = name.partition("/")
        expected.add(name if top == "cog" else f"{mapped[top]}/{rest}")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert expected <= names  # untracked files a .gitignore does not name travel too, as with any build backend
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert {f"{DIST_INFO}/{name}" for name in ("METADATA", "WHEEL", "entry_points.txt", "RECORD")} <= names
    archive = zipfile.ZipFile(wheel)
    metadata = archive.read(f"{DIST_INFO}/METADATA").decode()
    assert f"Name: cog\nVersion: {__version__}\n" in metadata
    assert "Requires-Dist: pydantic>=2.7,<3\n" in metadata and 'Requires-Dist: starlette>=0.37; extra == "server"' in metadata
    assert "Root-Is-Purelib: true\nTag: py3-none-any\n" in archive.read(f"{DIST_INFO}/WHEEL").decode()
    assert archive.read(f"{DIST_INFO}/entry_points.txt").decode() == "[console_scripts]\ncog = cog.cli.entry:main\n"
    listed = subprocess.run([sys.executable, "-m", "zipfile", "-l", str(wheel)], capture_output=True, text=True, check=True)
    assert "cog/sdk/worker.py" in listed.stdout


def test_an_editable_install_without_hatchling_builds_the_wheel_images_carry(tmp_path):
    """The developers' loop: `pip install -e .` (hatchling only in pip's isolated build environment), then the
    wheel for `cog build`, then that wheel installed the way images install it: --no-deps, offline."""
    environment = tmp_path / "dev"
    venv.create(environment, with_pip=False)
    python = str(environment / "bin" / "python")
    pip_install(python, "--no-deps", "-e", str(REPO))
    site = Path(subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    (site / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # cog's own dependencies
    (site / "zz-no-hatchling.pth").write_text("import sys; sys.modules['hatchling'] = None\n")  # even if those have it
    assert subprocess.run([python, "-c", "import hatchling"], capture_output=True).returncode != 0
    out = tmp_path / "runtime"
    built = subprocess.run(
        [python, "-c", "import sys; from pathlib import Path; from cog.images.wheel import build_runtime_wheel, source_checkout; "
                       f"assert source_checkout() == Path({str(REPO)!r}), source_checkout(); print(build_runtime_wheel(Path({str(out)!r})))"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    wheel = Path(built.stdout.strip())
    model_env = tmp_path / "model"
    venv.create(model_env, with_pip=False)
    pip_install(model_env / "bin" / "python", "--no-deps", "--no-index", str(wheel))
    imported = subprocess.check_output(
        [str(model_env / "bin" / "python"), "-c", "import cog, cog.sdk.worker, cog.resources as r; print(cog.__version__, r.templates_dir())"],
        cwd=tmp_path, text=True)
    assert imported.split()[0] == __version__
    assert imported.split()[1].endswith("site-packages/cog/_data/templates")


def test_a_wheel_made_before_comes_from_the_cache_with_the_same_bytes(tmp_path, monkeypatch):
    from cog.images import wheel as module

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    first = build_runtime_wheel(tmp_path / "first").read_bytes()
    [cached] = (tmp_path / "cache" / "cog" / "runtime-wheels").glob("*.whl")
    assert cached.read_bytes() == first

    def no_zipping(*args):
        raise AssertionError("the wheel was zipped again")

    monkeypatch.setattr(module, "_zip", no_zipping)
    assert build_runtime_wheel(tmp_path / "second").read_bytes() == first


def test_other_files_make_another_wheel_and_the_cache_keeps_the_last_four(tmp_path, monkeypatch):
    from cog.images import wheel as module

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for n in range(6):
        module._write_wheel(tmp_path / f"w{n}.whl", [("cog/__init__.py", b"# %d" % n)], "cog-0.dist-info/RECORD")
        assert zipfile.ZipFile(tmp_path / f"w{n}.whl").read("cog/__init__.py") == b"# %d" % n
    assert len(list((tmp_path / "cache" / "cog" / "runtime-wheels").glob("*.whl"))) == 4
