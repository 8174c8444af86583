"""python_requirements naming a pyproject.toml, uv.lock or pylock.toml: what each gives (the same Requirements as a
requirements file, located FILE:LINE), what a lock installs for each platform and Python (checked against what
`uv export` says for the same lock), the errors with their locations, and torch's CPU/CUDA handling per source."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from packaging.markers import Marker

from cog.compiler.imports import ModuleImport
from cog.compiler.render import render_dockerfile
from cog.compiler.resolve import resolve
from cog.config.migrate import migrate_project
from cog.config.parse import parse_config
from cog.config.sources import Selection, source_kind
from cog.errors import ConfigError, Location

CORPUS = Path(__file__).parent / "corpus"


def config(make_project, build: str, files: dict | None = None, *, dialect: str = "build", corpus: str | None = None):
    """Parse a cog.yaml whose `build:` (or `environment:`) section is `build`, in a project of `files` (and the
    files of a corpus project)."""
    project = make_project(files or {"placeholder": ""})
    if corpus:
        for path in (CORPUS / corpus).iterdir():
            if path.name != "cog.yaml":
                shutil.copy(path, project / path.name)
    text = f"{dialect}:\n{build}" + ('predict: "predict.py:Predictor"\n' if dialect == "build" else "")
    return parse_config(text, file="cog.yaml", project_dir=project)


def error(make_project, build: str, files: dict | None = None, **options) -> str:
    with pytest.raises(ConfigError) as caught:
        config(make_project, build, files, **options)
    return str(caught.value)


def fake_hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def pins(requirements, platform: str) -> list[str]:
    """What a platform installs: name==version of each line for it."""
    return sorted(f"{r.name}{r.specifier}" if r.specifier else r.text.split(";")[0].strip()
                  for r in requirements.requirements if r.platforms is None or platform in r.platforms)


# --- which file is which ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "kind"), [
    ("requirements.txt", "requirements"), ("requirements/prod.txt", "requirements"), ("pyproject.toml", "pyproject"),
    ("app/pyproject.toml", "pyproject"), ("uv.lock", "uv.lock"), ("sub/uv.lock", "uv.lock"),
    ("pylock.toml", "pylock"), ("pylock.gpu.toml", "pylock"), ("pylock.a.b.toml", "requirements"),
    ("my-pyproject.toml", "requirements"),
])
def test_the_file_name_says_what_it_is(name, kind):
    assert source_kind(name) == kind


# --- pyproject.toml -------------------------------------------------------------------------------------------

PYPROJECT = """\
[project]
name = "model"
requires-python = ">=3.10"
dependencies = [
    "numpy>=1.26",
    'pillow==10.4.0 ; python_version >= "3.10"',
]

[project.optional-dependencies]
Vision = ["opencv-python-headless==4.10.0.84", "model[tools]"]
tools = ["rich>=13", "numpy>=1.26"]
unused = ["attrs"]

[dependency-groups]
eval = ["scikit-learn==1.5.2", {include-group = "plots"}]
plots = ["matplotlib>=3.8"]
dev = ["pytest>=8"]
"""

# (id, build section after python_requirements, [(text, location)])
PYPROJECT_CASES = [
    ("dependencies alone, located FILE:LINE:COL", "", [
        ("numpy>=1.26", "pyproject.toml:5:5"), ('pillow==10.4.0 ; python_version >= "3.10"', "pyproject.toml:6:5")]),
    ("an extra, by its normalized name, naming the project's own extra", "  python_extras: [vision]\n", [
        ("numpy>=1.26", "pyproject.toml:5:5"), ('pillow==10.4.0 ; python_version >= "3.10"', "pyproject.toml:6:5"),
        ("opencv-python-headless==4.10.0.84", "pyproject.toml:10:11"), ("rich>=13", "pyproject.toml:11:10")]),
    ("a group and the group it includes", "  python_groups: [eval]\n", [
        ("numpy>=1.26", "pyproject.toml:5:5"), ('pillow==10.4.0 ; python_version >= "3.10"', "pyproject.toml:6:5"),
        ("scikit-learn==1.5.2", "pyproject.toml:15:9"), ("matplotlib>=3.8", "pyproject.toml:16:10")]),
    ("extras and groups in the order written, each once", "  python_extras: [tools, Vision]\n  python_groups: [dev, DEV]\n", [
        ("numpy>=1.26", "pyproject.toml:5:5"), ('pillow==10.4.0 ; python_version >= "3.10"', "pyproject.toml:6:5"),
        ("rich>=13", "pyproject.toml:11:10"), ("opencv-python-headless==4.10.0.84", "pyproject.toml:10:11"),
        ("pytest>=8", "pyproject.toml:17:8")]),
]


@pytest.mark.parametrize(("build", "expected"), [case[1:] for case in PYPROJECT_CASES],
                         ids=[case[0] for case in PYPROJECT_CASES])
def test_pyproject_gives_requirement_lines_where_they_are_written(make_project, build, expected):
    parsed = config(make_project, '  python_version: "3.11"\n  python_requirements: pyproject.toml\n' + build,
                    {"pyproject.toml": PYPROJECT})
    requirements = parsed.python_requirements
    assert [(r.text, str(r.location)) for r in requirements.requirements] == expected
    assert requirements.kind == "pyproject" and requirements.file == "pyproject.toml" and not requirements.locked
    assert all(not r.hashes for r in requirements.requirements)


def test_pyproject_groups_without_a_project_table(make_project):
    parsed = config(make_project, '  python_requirements: pyproject.toml\n  python_groups: [serve]\n',
                    {"pyproject.toml": '[dependency-groups]\nserve = ["uvicorn>=0.29"]\n'})
    assert [r.text for r in parsed.python_requirements.requirements] == ["uvicorn>=0.29"]


def test_pyproject_in_a_folder_and_the_original_dialect(make_project):
    parsed = config(make_project, '  python_requirements: app/pyproject.toml\n  python_extras: [tools]\n',
                    {"app/pyproject.toml": PYPROJECT}, dialect="environment")
    assert parsed.dialect == "original"
    assert [str(r.location) for r in parsed.python_requirements.requirements][-1] == "app/pyproject.toml:11:10"


def test_uv_settings_in_pyproject_are_said_to_be_unread(make_project):
    text = PYPROJECT + '\n[tool.uv.sources]\ntorch = { index = "pytorch" }\n'
    parsed = config(make_project, "  python_requirements: pyproject.toml\n", {"pyproject.toml": text})
    assert [str(w) for w in parsed.warnings] == [
        "pyproject.toml:19: [tool.uv.sources] is not read: the packages come from PyPI and the indexes of the "
        "install; name uv.lock in python_requirements to install what uv resolved"]


# --- uv.lock and pylock.toml, against uv export -------------------------------------------------------------

# `uv export --frozen --no-hashes --no-header --no-annotate --no-default-groups OPTIONS` of
# corpus/requirements-uv-lock/uv.lock, as uv 0.13.9 printed it: what uv itself installs from that lock.
UV_EXPORT = {
    "": """\
idna==3.6 ; platform_machine == 'x86_64' and sys_platform == 'linux'
idna==3.7 ; platform_machine == 'aarch64' and sys_platform == 'linux'
six==1.16.0 ; sys_platform == 'linux'
tomli==2.0.1 ; python_full_version < '3.11' and sys_platform == 'linux'
""",
    "--extra versions --group typing": """\
attrs==23.2.0 ; sys_platform == 'linux'
idna==3.6 ; platform_machine == 'x86_64' and sys_platform == 'linux'
idna==3.7 ; platform_machine == 'aarch64' and sys_platform == 'linux'
packaging==24.1 ; sys_platform == 'linux'
six==1.16.0 ; sys_platform == 'linux'
tomli==2.0.1 ; python_full_version < '3.11' and sys_platform == 'linux'
typing-extensions==4.12.2 ; sys_platform == 'linux'
""",
    "--all-extras --all-groups": """\
attrs==23.2.0 ; sys_platform == 'linux'
idna==3.6 ; platform_machine == 'x86_64' and sys_platform == 'linux'
idna==3.7 ; platform_machine == 'aarch64' and sys_platform == 'linux'
iniconfig==2.0.0 ; sys_platform == 'linux'
packaging==24.1 ; sys_platform == 'linux'
six==1.16.0 ; sys_platform == 'linux'
tomli==2.0.1 ; python_full_version < '3.11' and sys_platform == 'linux'
typing-extensions==4.12.2 ; sys_platform == 'linux'
""",
    "--extra attributes --group dev": """\
attrs==23.2.0 ; sys_platform == 'linux'
idna==3.6 ; platform_machine == 'x86_64' and sys_platform == 'linux'
idna==3.7 ; platform_machine == 'aarch64' and sys_platform == 'linux'
iniconfig==2.0.0 ; sys_platform == 'linux'
six==1.16.0 ; sys_platform == 'linux'
tomli==2.0.1 ; python_full_version < '3.11' and sys_platform == 'linux'
""",
}
SELECTIONS = {
    "": "",
    "--extra versions --group typing": "  python_extras: [versions]\n  python_groups: [typing]\n",
    "--all-extras --all-groups": "  python_extras: [versions, attributes]\n  python_groups: [typing, dev]\n",
    "--extra attributes --group dev": "  python_extras: [attributes]\n  python_groups: [dev]\n",
}
MACHINES = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}


def exported(options: str, python: str, platform: str) -> list[str]:
    environment = {"python_version": python, "python_full_version": f"{python}.5", "sys_platform": "linux",
                   "platform_machine": MACHINES[platform]}
    lines = []
    for line in UV_EXPORT[options].splitlines():
        requirement, _, marker = line.partition(" ; ")
        if Marker(marker).evaluate(environment):
            lines.append(requirement)
    return sorted(lines)


@pytest.mark.parametrize("platform", list(MACHINES))
@pytest.mark.parametrize("python", ["3.10", "3.11"])
@pytest.mark.parametrize("options", list(UV_EXPORT))
def test_uv_lock_installs_what_uv_export_says(make_project, options, python, platform):
    parsed = config(make_project, f'  python_version: "{python}"\n  python_requirements: uv.lock\n' + SELECTIONS[options],
                    corpus="requirements-uv-lock")
    assert parsed.python_requirements.kind == "uv.lock" and parsed.python_requirements.locked
    assert pins(parsed.python_requirements, platform) == exported(options, python, platform)


@pytest.mark.parametrize("platform", list(MACHINES))
@pytest.mark.parametrize("python", ["3.10", "3.11"])
def test_pylock_installs_what_it_was_exported_with(make_project, python, platform):
    # corpus/requirements-pylock/pylock.toml is uv export --format pylock.toml --extra versions --group typing
    parsed = config(make_project, f'  python_version: "{python}"\n  python_requirements: pylock.toml\n',
                    corpus="requirements-pylock")
    assert pins(parsed.python_requirements, platform) == exported("--extra versions --group typing", python, platform)


def test_a_lock_line_carries_hashes_of_what_fits_and_a_marker_where_one_platform_installs_it(make_project):
    requirements = config(make_project, '  python_version: "3.11"\n  python_requirements: uv.lock\n',
                          corpus="requirements-uv-lock").python_requirements
    idna = [r for r in requirements.requirements if r.name == "idna"]
    assert [(r.text, r.platforms, str(r.location)) for r in idna] == [
        ("idna==3.6; platform_machine == 'x86_64'", ("linux/amd64",), "uv.lock:66"),
        ("idna==3.7; platform_machine == 'aarch64'", ("linux/arm64",), "uv.lock:78"),
    ]
    assert idna[0].hashes == (
        "sha256:9ecdbbd083b06798ae1e86adcbfe8ab1479cf864e4ee30fe4e46a003d12491ca",
        "sha256:c05567e9c24a6b9faaa835c4821bad0590fbb9d5779e7caa6e1cc4978e7eb24f")
    assert idna[0].line() == (
        "idna==3.6; platform_machine == 'x86_64' \\\n"
        "    --hash=sha256:9ecdbbd083b06798ae1e86adcbfe8ab1479cf864e4ee30fe4e46a003d12491ca \\\n"
        "    --hash=sha256:c05567e9c24a6b9faaa835c4821bad0590fbb9d5779e7caa6e1cc4978e7eb24f")


def test_only_the_wheels_that_fit_keep_their_hashes(make_project):
    """torch's lock lists wheels for both machines: each line has the hashes of its own."""
    requirements = config(make_project, '  python_version: "3.11"\n  python_requirements: uv.lock\n',
                          corpus="requirements-uv-lock-torch-cpu").python_requirements
    torch = {r.text: r.hashes for r in requirements.requirements if r.name == "torch"}
    assert torch == {"torch==2.5.1; platform_machine == 'aarch64'": (fake_hash("torch-2.5.1-aarch64"),),
                     "torch==2.5.1+cpu; platform_machine == 'x86_64'": (fake_hash("torch-2.5.1+cpu-x86_64"),)}
    assert requirements.extra_index_urls == ("https://download.pytorch.org/whl/cpu",)


def uv_lock(*packages: str, root: str = '{ name = "six" }', head: str = "", extras: str = "", groups: str = "") -> str:
    """A small uv.lock: the project `model` depending on `root`, then `packages` (TOML bodies)."""
    text = f'version = 1\nrevision = 3\nrequires-python = ">=3.10"\n{head}\n'
    text += f'[[package]]\nname = "model"\nversion = "0.1.0"\nsource = {{ virtual = "." }}\ndependencies = [{root}]\n'
    if extras:
        text += f"\n[package.optional-dependencies]\n{extras}\n"
    if groups:
        text += f"\n[package.dev-dependencies]\n{groups}\n"
    for body in packages:
        text += f"\n[[package]]\n{body}\n"
    return text


SIX = ('name = "six"\nversion = "1.16.0"\nsource = { registry = "https://pypi.org/simple" }\n'
       f'sdist = {{ url = "https://files.example/six-1.16.0.tar.gz", hash = "{fake_hash("six-sdist")}" }}\n'
       f'wheels = [{{ url = "https://files.example/six-1.16.0-py2.py3-none-any.whl", hash = "{fake_hash("six-whl")}" }}]')


def test_uv_lock_sources_git_url_and_project_paths(make_project):
    lock = uv_lock(
        'name = "tool"\nversion = "1.0"\nsource = { git = "https://github.com/example/tool?subdirectory=py&rev=main#4f1c0ffee" }',
        'name = "wheelie"\nversion = "2.0"\nsource = { url = "https://example.com/wheelie-2.0-py3-none-any.whl" }\n'
        f'wheels = [{{ url = "https://example.com/wheelie-2.0-py3-none-any.whl", hash = "{fake_hash("w")}" }}]',
        'name = "helper"\nversion = "0.3"\nsource = { editable = "libs/helper" }',
        'name = "member"\nversion = "0.1"\nsource = { virtual = "libs/member" }\ndependencies = [{ name = "six" }]',
        SIX,
        root='{ name = "tool" }, { name = "wheelie" }, { name = "helper" }, { name = "member" }')
    parsed = config(make_project, '  python_requirements: uv.lock\n', {"uv.lock": lock, "libs/helper/pyproject.toml": ""})
    requirements = parsed.python_requirements.requirements
    assert [(r.text, r.local_path, r.hashes) for r in requirements] == [
        ("./libs/helper", "libs/helper", ()),
        ("six==1.16.0", None, (fake_hash("six-sdist"), fake_hash("six-whl"))),
        ("tool @ git+https://github.com/example/tool@4f1c0ffee#subdirectory=py", None, ()),
        ("wheelie @ https://example.com/wheelie-2.0-py3-none-any.whl", None, (fake_hash("w"),)),
    ]
    plan = resolve(parsed, "cpu")
    assert plan.python_requirements[0] == "/opt/cog/local/libs/helper"
    assert [p.source for p in plan.local_paths] == ["libs/helper"]
    assert plan.install_options.no_deps and not plan.install_options.require_hashes  # git and paths have none


def test_uv_lock_forks_conflicts_and_encoded_extras(make_project):
    """Two versions of a package, one for each extra that uv's conflicts keep apart; a marker in uv's encoding of
    an extra (`extra == 'extra-5-model-cuda'`)."""
    idna = ('name = "idna"\nversion = "{v}"\nsource = {{ registry = "https://pypi.org/simple" }}\n'
            'sdist = {{ url = "https://files.example/idna-{v}.tar.gz", hash = "{h}" }}')
    lock = uv_lock(
        idna.format(v="3.6", h=fake_hash("3.6")), idna.format(v="3.7", h=fake_hash("3.7")), SIX,
        head="conflicts = [[{ package = \"model\", extra = \"cpu\" }, { package = \"model\", extra = \"cuda\" }]]\n",
        root="{ name = \"six\", marker = \"extra == 'extra-5-model-cuda'\" }",
        extras=('cpu = [{ name = "idna", version = "3.6", source = { registry = "https://pypi.org/simple" } }]\n'
                'cuda = [{ name = "idna", version = "3.7", source = { registry = "https://pypi.org/simple" } }]'))
    for extra, expected in (("cpu", ["idna==3.6"]), ("cuda", ["idna==3.7", "six==1.16.0"])):
        parsed = config(make_project, f"  python_requirements: uv.lock\n  python_extras: [{extra}]\n", {"uv.lock": lock})
        assert pins(parsed.python_requirements, "linux/amd64") == expected
    assert error(make_project, "  python_requirements: uv.lock\n  python_extras: [cpu, cuda]\n", {"uv.lock": lock}) == (
        "cog.yaml:3:24: uv.lock says extra `cpu` and extra `cuda` conflict (uv's conflicts); select one")


PYLOCK_SELECTING = """\
lock-version = "1.0"
requires-python = ">=3.10"
extras = ["cuda"]
dependency-groups = ["dev", "docs"]
default-groups = ["docs"]

[[packages]]
name = "six"
version = "1.16.0"
index = "https://pypi.org/simple"
wheels = [{ name = "six-1.16.0-py2.py3-none-any.whl", hashes = { sha256 = "aa" } }]

[[packages]]
name = "triton"
version = "3.1.0"
marker = "'cuda' in extras and platform_machine == 'x86_64'"
index = "https://pypi.org/simple"
wheels = [{ url = "https://files.example/triton-3.1.0-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", hashes = { sha256 = "bb" } }]

[[packages]]
name = "pytest"
version = "8.3.3"
marker = "'dev' in dependency_groups"
index = "https://private.example/simple"
sdist = { url = "https://private.example/pytest-8.3.3.tar.gz", hashes = { sha256 = "cc" } }

[[packages]]
name = "sphinx"
version = "8.0.0"
marker = "'docs' in dependency_groups"
index = "https://pypi.org/simple"
sdist = { url = "https://files.example/sphinx-8.0.0.tar.gz", hashes = { sha256 = "dd" } }

[[packages]]
name = "tool"
vcs = { type = "git", url = "https://github.com/example/tool", commit-id = "4f1c0ffee" }

[[packages]]
name = "archive"
archive = { url = "https://example.com/archive-1.0.tar.gz", hashes = { sha256 = "ee" } }

[[packages]]
name = "local"
directory = { path = "libs/local" }
"""


@pytest.mark.parametrize(("build", "platform", "expected"), [
    ("", "linux/amd64", ["./libs/local", "archive @ https://example.com/archive-1.0.tar.gz", "six==1.16.0",
                         "sphinx==8.0.0", "tool @ git+https://github.com/example/tool@4f1c0ffee"]),
    ("  python_groups: []\n", "linux/amd64", ["./libs/local", "archive @ https://example.com/archive-1.0.tar.gz",
                                               "six==1.16.0", "tool @ git+https://github.com/example/tool@4f1c0ffee"]),
    ("  python_extras: [CUDA]\n  python_groups: [dev]\n", "linux/amd64", [
        "./libs/local", "archive @ https://example.com/archive-1.0.tar.gz", "pytest==8.3.3", "six==1.16.0",
        "tool @ git+https://github.com/example/tool@4f1c0ffee", "triton==3.1.0"]),
    ("  python_extras: [cuda]\n", "linux/arm64", ["./libs/local", "archive @ https://example.com/archive-1.0.tar.gz",
                                                  "six==1.16.0", "sphinx==8.0.0",
                                                  "tool @ git+https://github.com/example/tool@4f1c0ffee"]),
], ids=["default-groups", "no groups", "an extra and a group", "an extra on another machine"])
def test_pylock_extras_and_groups_in_markers(make_project, build, platform, expected):
    parsed = config(make_project, '  python_version: "3.11"\n  python_requirements: pylock.toml\n' + build,
                    {"pylock.toml": PYLOCK_SELECTING, "libs/local/setup.py": ""})
    assert pins(parsed.python_requirements, platform) == expected
    if "dev" in build:
        assert parsed.python_requirements.extra_index_urls == ("https://private.example/simple",)


# --- errors, located ------------------------------------------------------------------------------------------

BAD_TOML = '[project]\nname = "model"\ndependencies = ["six"\n'
LOCK_HEAD = 'version = 1\nrevision = 3\nrequires-python = ">=3.12"\n'

# (id, build section, files, the error)
ERROR_CASES = [
    ("a missing pyproject.toml", "  python_requirements: pyproject.toml\n", {},
     "cog.yaml:2:24: python_requirements names `pyproject.toml`, which does not exist next to cog.yaml"),
    ("a missing uv.lock", "  python_requirements: uv.lock\n", {},
     "cog.yaml:2:24: python_requirements names `uv.lock`, which does not exist next to cog.yaml"),
    ("malformed TOML, at tomllib's line and column", "  python_requirements: pyproject.toml\n",
     {"pyproject.toml": '[project]\nname = model\n'}, "pyproject.toml:2:8: is not valid TOML: invalid value"),
    ("TOML that ends too soon, at its last line", "  python_requirements: pyproject.toml\n",
     {"pyproject.toml": BAD_TOML}, "pyproject.toml:3: is not valid TOML: unclosed array"),
    ("a malformed uv.lock", "  python_requirements: uv.lock\n", {"uv.lock": "version = 1\n[[package]\n"},
     "uv.lock:2:10: is not valid TOML: expected ']]' at the end of an array declaration"),
    ("a pyproject without [project]", "  python_requirements: pyproject.toml\n", {"pyproject.toml": "[tool.x]\na = 1\n"},
     "pyproject.toml: has no [project] table, so it names no packages to install; add `dependencies = [...]` under "
     "[project], or select a dependency group with build.python_groups"),
    ("a pyproject without [project].dependencies", "  python_requirements: pyproject.toml\n",
     {"pyproject.toml": '# the model\n[project]\nname = "model"\n'},
     "pyproject.toml:2: has no [project].dependencies, so it names no packages to install; add `dependencies = "
     "[...]` under [project], or select a dependency group with build.python_groups"),
    ("dynamic dependencies", "  python_requirements: pyproject.toml\n",
     {"pyproject.toml": '[project]\nname = "model"\ndynamic = ["dependencies", "version"]\n'},
     "pyproject.toml:3: [project].dependencies is dynamic (its build backend decides it), so cog cannot read it; "
     "list the dependencies in pyproject.toml, or name a requirements file or a lock in python_requirements"),
    ("a requirement pip cannot read", "  python_requirements: pyproject.toml\n",
     {"pyproject.toml": '[project]\nname = "m"\ndependencies = [\n  "six",\n  "numpy>>2",\n]\n'},
     "pyproject.toml:5:3: `numpy>>2` is not a valid requirement: ..."),  # the rest is packaging's, by version
    ("an unknown extra, with a guess", "  python_requirements: pyproject.toml\n  python_extras: [vison]\n",
     {"pyproject.toml": PYPROJECT}, "cog.yaml:3:19: pyproject.toml has no extra `vison`; did you mean `Vision`?"),
    ("an unknown group, with what there is", "  python_requirements: pyproject.toml\n  python_groups: [x]\n",
     {"pyproject.toml": PYPROJECT},
     "cog.yaml:3:19: pyproject.toml has no dependency group `x`; it has `dev`, `eval`, `plots`"),
    ("groups that include each other", "  python_requirements: pyproject.toml\n  python_groups: [a]\n",
     {"pyproject.toml": '[dependency-groups]\na = [{include-group = "b"}]\nb = ["six", {include-group = "a"}]\n'},
     "pyproject.toml:3: dependency groups include each other in a cycle: a → b → a"),
    ("a pyproject for another Python", '  python_version: "3.11"\n  python_requirements: pyproject.toml\n',
     {"pyproject.toml": '[project]\nname = "m"\nrequires-python = ">=3.12"\ndependencies = []\n'},
     "pyproject.toml:3: pyproject.toml is for Python >=3.12, which leaves out the image's Python 3.11 "
     "(build.python_version, cog.yaml:2:19); change python_version or pyproject.toml's requires-python"),
    ("a uv.lock for another Python, with cog's default", "  python_requirements: uv.lock\n",
     {"uv.lock": 'version = 1\nrequires-python = ">=3.13"\n'},
     "uv.lock:2: uv.lock is for Python >=3.13, which leaves out the image's Python 3.12 (cog's default; set "
     "build.python_version); change python_version or uv.lock's requires-python"),
    ("a uv.lock of another version", "  python_requirements: uv.lock\n", {"uv.lock": "# lock\nversion = 2\n"},
     "uv.lock:2: is a uv.lock of version 2; cog reads version 1 (uv 0.4 and newer)"),
    ("a uv.lock without the project", "  python_requirements: uv.lock\n", {"uv.lock": "version = 1\n\n[[package]]\n"
                                                                            'name = "six"\nversion = "1"\n'},
     'uv.lock: has no project at its own directory (a package with source virtual or editable "."), so cog cannot '
     "tell what to install; lock the model's project with uv lock"),
    ("an unknown extra of a uv.lock", "  python_requirements: uv.lock\n  python_extras: [gpu]\n",
     {"uv.lock": uv_lock(SIX, extras='cpu = [{ name = "six" }]')},
     "cog.yaml:3:19: uv.lock has no extra `gpu`; did you mean `cpu`?"),
    ("an unknown group of a uv.lock", "  python_requirements: uv.lock\n  python_groups: [dev]\n",
     {"uv.lock": uv_lock(SIX, groups='lint = [{ name = "six" }]\ntest = [{ name = "six" }]')},
     "cog.yaml:3:19: uv.lock has no dependency group `dev`; it has `lint`, `test`"),
    ("a dependency the lock lacks", "  python_requirements: uv.lock\n", {"uv.lock": uv_lock(root='{ name = "idna" }')},
     "uv.lock:5: model depends on idna, which uv.lock does not have; lock again with uv lock"),
    ("a uv.lock package from a local index", "  python_requirements: uv.lock\n",
     {"uv.lock": uv_lock('name = "six"\nversion = "1"\nsource = { registry = "wheels" }')},
     "uv.lock:11: six comes from a local index (wheels); cog installs from package indexes and project paths only"),
    ("a uv.lock path outside the project", "  python_requirements: uv.lock\n",
     {"uv.lock": uv_lock('name = "six"\nversion = "1"\nsource = { directory = "../six" }')},
     "uv.lock:11: `../six` is outside the project directory, which is all an image build can see; move it into the "
     "project"),
    ("a pylock of another version", "  python_requirements: pylock.toml\n", {"pylock.toml": 'lock-version = "2.0"\n'},
     "pylock.toml:1: has lock-version '2.0'; cog reads PEP 751's 1.x"),
    ("a pylock without its version", "  python_requirements: pylock.toml\n", {"pylock.toml": 'created-by = "x"\n'},
     "pylock.toml: has no lock-version; cog reads PEP 751's 1.x"),
    ("a pylock for another Python", '  python_version: "3.10"\n  python_requirements: pylock.toml\n',
     {"pylock.toml": 'lock-version = "1.0"\nrequires-python = ">=3.11"\n'},
     "pylock.toml:2: pylock.toml is for Python >=3.11, which leaves out the image's Python 3.10 "
     "(build.python_version, cog.yaml:2:19); change python_version or pylock.toml's requires-python"),
    ("an unknown group of a pylock", "  python_requirements: pylock.toml\n  python_groups: [test]\n",
     {"pylock.toml": PYLOCK_SELECTING}, "cog.yaml:3:19: pylock.toml has no dependency group `test`; it has `dev`, `docs`"),
    ("a pylock with two entries for one platform", "  python_requirements: pylock.toml\n",
     {"pylock.toml": 'lock-version = "1.0"\n[[packages]]\nname = "six"\nversion = "1"\n[[packages]]\nname = "six"\n'
                     'version = "2"\n'},
     "pylock.toml:5: two entries of six apply to linux/amd64 with Python 3.12; a lock installs one"),
    ("a pylock package for another Python", '  python_version: "3.11"\n  python_requirements: pylock.toml\n',
     {"pylock.toml": 'lock-version = "1.0"\n\n[[packages]]\nname = "six"\nversion = "1"\nrequires-python = ">=3.12"\n'},
     "pylock.toml:3: six is for Python >=3.12, which leaves out the image's Python 3.11 (build.python_version, "
     "cog.yaml:2:19)"),
    ("a bad marker in a lock", "  python_requirements: pylock.toml\n",
     {"pylock.toml": 'lock-version = "1.0"\n[[packages]]\nname = "six"\nversion = "1"\nmarker = "os_name ="\n'},
     "pylock.toml:2: `os_name =` is not a marker cog can read: ..."),
    ("extras of a requirements file", "  python_requirements: requirements.txt\n  python_extras: [gpu]\n",
     {"requirements.txt": "six\n"},
     "cog.yaml:3:19: build.python_extras selects from a pyproject.toml, uv.lock or pylock.toml; python_requirements "
     "names `requirements.txt`, a requirements file"),
    ("groups without python_requirements", "  python_groups: [dev]\n", {},
     "cog.yaml:2:3: build.python_groups selects from the pyproject.toml, uv.lock or pylock.toml that "
     "python_requirements names, and there is none"),
    ("a name that is no extra", "  python_requirements: pyproject.toml\n  python_extras: [\"a b\"]\n",
     {"pyproject.toml": PYPROJECT}, "cog.yaml:3:19: `a b` is not an extra or group name (letters, digits, - _ .)"),
    ("python_overrides over a lock", "  python_requirements: uv.lock\n  python_overrides: overrides.txt\n",
     {"uv.lock": uv_lock(SIX), "overrides.txt": "six==1.17.0\n"},
     "cog.yaml:3:21: python_overrides cannot change what uv.lock locks; change the versions in the lock"),
]


@pytest.mark.parametrize(("build", "files", "expected"), [case[1:] for case in ERROR_CASES],
                         ids=[case[0] for case in ERROR_CASES])
def test_bad_input_is_one_located_line(make_project, build, files, expected):
    message = error(make_project, build, files)
    assert message.startswith(expected[:-3]) if expected.endswith("...") else message == expected


def test_the_original_dialect_names_its_own_keys(make_project):
    assert error(make_project, "  python_requirements: uv.lock\n", {"uv.lock": 'version = 1\nrequires-python = ">=3.13"\n'},
                 dialect="environment").endswith("(cog's default; set environment.python_version); change "
                                                 "python_version or uv.lock's requires-python")


# --- platforms a lock does not cover: an error when that image is resolved ------------------------------------

X86_ONLY = uv_lock(SIX, head="supported-markers = [\n    \"sys_platform == 'linux' and platform_machine == 'x86_64'\",\n]\n")
NO_ARM_WHEEL = uv_lock(
    'name = "six"\nversion = "1.16.0"\nsource = { registry = "https://pypi.org/simple" }\n'
    f'wheels = [{{ url = "https://files.example/six-1.16.0-cp311-cp311-manylinux_2_17_x86_64.whl", hash = "{fake_hash("x")}" }}]')
PYLOCK_X86 = 'lock-version = "1.0"\nenvironments = ["platform_machine == \'x86_64\'"]\n'

# (id, build section, files, platform, the error when resolving for it)
GAP_CASES = [
    ("uv.lock's supported-markers", "  python_requirements: uv.lock\n", {"uv.lock": X86_ONLY}, "linux/arm64",
     "uv.lock:4: is locked for sys_platform == 'linux' and platform_machine == 'x86_64' ([tool.uv] environments), "
     "which leaves out linux/arm64 with Python 3.11; add it to [tool.uv] environments and lock again"),
    ("uv.lock's resolution-markers", "  python_requirements: uv.lock\n",
     {"uv.lock": uv_lock(SIX, head="resolution-markers = [\"python_full_version >= '3.12'\"]\n")}, "linux/amd64",
     "uv.lock:4: is locked for python_full_version >= '3.12' (resolution), which leaves out linux/amd64 with "
     "Python 3.11; add it to [tool.uv] environments and lock again"),
    ("a package with no wheel for the platform and no sdist", "  python_requirements: uv.lock\n",
     {"uv.lock": NO_ARM_WHEEL}, "linux/arm64",
     "uv.lock:11: uv.lock locks six 1.16.0, which has no wheel for linux/arm64 and Python 3.11 and no sdist; lock "
     "it for that platform, or build for another"),
    ("pylock.toml's environments", "  python_requirements: pylock.toml\n", {"pylock.toml": PYLOCK_X86}, "linux/arm64",
     "pylock.toml:2: is locked for platform_machine == 'x86_64' (its environments), which leaves out linux/arm64 "
     "with Python 3.11; lock it for that platform too"),
]


@pytest.mark.parametrize(("build", "files", "platform", "expected"), [case[1:] for case in GAP_CASES],
                         ids=[case[0] for case in GAP_CASES])
def test_a_platform_the_lock_leaves_out_fails_when_resolved(make_project, build, files, platform, expected):
    parsed = config(make_project, '  python_version: "3.11"\n' + build, files)
    other = "linux/amd64" if platform == "linux/arm64" else None
    if other:
        resolve(parsed, "cpu", other)  # the platform it covers resolves
        assert all(r.platforms is None for r in parsed.python_requirements.requirements)  # no marker for that
    with pytest.raises(ConfigError) as caught:
        resolve(parsed, "cpu", platform)
    assert str(caught.value) == expected


def test_markers_see_the_full_python_version_when_it_is_written(make_project):
    lock = uv_lock(SIX, root="{ name = \"six\", marker = \"python_full_version < '3.11.5'\" }")
    for python, expected in (("3.11.4", ["six==1.16.0"]), ("3.11.9", []), ("3.11", [])):
        parsed = config(make_project, f'  python_version: "{python}"\n  python_requirements: uv.lock\n', {"uv.lock": lock})
        assert pins(parsed.python_requirements, "linux/amd64") == expected, python


def test_a_minor_python_is_allowed_by_a_patch_level_requires_python():
    assert Selection("3.11").allows_python(">=3.11.4")
    assert not Selection("3.11.2").allows_python(">=3.11.4")
    assert not Selection("3.10").allows_python(">=3.11")


# --- torch and tensorflow, for CPU and GPU images, from each source ---------------------------------------------

TORCH_CU121_PYLOCK = f"""\
lock-version = "1.0"
requires-python = ">=3.11"

[[packages]]
name = "torch"
version = "2.5.1+cu121"
index = "https://download.pytorch.org/whl/cu121"
wheels = [{{ name = "torch-2.5.1+cu121-cp311-cp311-linux_x86_64.whl", hashes = {{ sha256 = "{fake_hash('cu121')[7:]}" }} }}]

[[packages]]
name = "nvidia-cudnn-cu12"
version = "9.1.0.70"
marker = "platform_machine == 'x86_64'"
index = "https://pypi.org/simple"
wheels = [{{ name = "nvidia_cudnn_cu12-9.1.0.70-py3-none-manylinux2014_x86_64.whl", hashes = {{ sha256 = "{fake_hash('cudnn')[7:]}" }} }}]
"""
PY311 = '  python_version: "3.11"\n'

# (id, corpus project or files, build section, variant, platform, base image, torch lines, extra index URLs, warnings)
TORCH_CASES = [
    ("pyproject: torch rewritten for the CPU image", "requirements-pyproject", None, "cpu", "linux/amd64",
     "python:3.11-slim", ["torch==2.5.1+cpu", "torchvision==0.20.1+cpu"], ["https://download.pytorch.org/whl/cpu"], []),
    ("pyproject: torch rewritten for the GPU image", "requirements-pyproject", None, "gpu", "linux/amd64",
     "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04", ["torch==2.5.1+cu124", "torchvision==0.20.1+cu124"],
     ["https://download.pytorch.org/whl/cu124"], []),
    ("pyproject: torch on arm64", "requirements-pyproject", None, "cpu", "linux/arm64",
     "python:3.11-slim", ["torch==2.5.1", "torchvision==0.20.1"], ["https://download.pytorch.org/whl/cpu"], []),
    ("uv.lock of PyTorch's CPU index: as locked", "requirements-uv-lock-torch-cpu", None, "cpu", "linux/amd64",
     "python:3.11-slim", ["torch==2.5.1; platform_machine == 'aarch64'", "torch==2.5.1+cpu; platform_machine == 'x86_64'"],
     ["https://download.pytorch.org/whl/cpu"], []),
    ("uv.lock of PyTorch's CPU index on arm64", "requirements-uv-lock-torch-cpu", None, "cpu", "linux/arm64",
     "python:3.11-slim", ["torch==2.5.1; platform_machine == 'aarch64'", "torch==2.5.1+cpu; platform_machine == 'x86_64'"],
     ["https://download.pytorch.org/whl/cpu"], []),
    ("uv.lock of PyPI's torch in the GPU image: its CUDA", "requirements-uv-lock-torch-pypi", None, "gpu",
     "linux/amd64", "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04", ["torch==2.5.1"], [], []),
    ("uv.lock of PyPI's torch in the CPU image: CUDA's libraries, said", "requirements-uv-lock-torch-pypi", None,
     "cpu", "linux/amd64", "python:3.11-slim", ["torch==2.5.1"], [],
     ["uv.lock:199: uv.lock locks torch 2.5.1 with CUDA's libraries (nvidia-cublas-cu12 and 11 more nvidia-* "
      "packages, several GB) for the CPU image on linux/amd64; lock torch from https://download.pytorch.org/whl/cpu "
      "for a small CPU image"]),
    ("uv.lock of PyPI's torch on arm64: no CUDA there", "requirements-uv-lock-torch-pypi", None, "cpu", "linux/arm64",
     "python:3.11-slim", ["torch==2.5.1"], [], []),
    ("pylock of a cu121 torch: CUDA 12.1 for the GPU image", {"pylock.toml": TORCH_CU121_PYLOCK},
     "  gpu: true\n" + PY311 + "  python_requirements: pylock.toml\n", "gpu", "linux/amd64",
     "nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04", ["torch==2.5.1+cu121"], ["https://download.pytorch.org/whl/cu121"],
     []),
    ("pylock of a cu121 torch in the CPU image: said", {"pylock.toml": TORCH_CU121_PYLOCK},
     PY311 + "  python_requirements: pylock.toml\n", "cpu", "linux/amd64", "python:3.11-slim", ["torch==2.5.1+cu121"],
     ["https://download.pytorch.org/whl/cu121"],
     ["pylock.toml:4: pylock.toml locks torch 2.5.1+cu121, a CUDA build, for the CPU image too: it runs on the CPU, "
      "with CUDA's libraries (several GB); lock torch from https://download.pytorch.org/whl/cpu for a small CPU image"]),
]


@pytest.mark.parametrize(("source", "build", "variant", "platform", "base", "torch", "indexes", "warnings"),
                         [case[1:] for case in TORCH_CASES], ids=[case[0] for case in TORCH_CASES])
def test_torch_from_each_source(make_project, source, build, variant, platform, base, torch, indexes, warnings):
    if isinstance(source, str):
        text = (CORPUS / source / "cog.yaml").read_text().split("\n", 1)[1].split("predict:")[0]
        parsed = config(make_project, text, corpus=source)
    else:
        parsed = config(make_project, build, source)
    plan = resolve(parsed, variant, platform)
    assert plan.base_image == base
    assert [line.split(" \\")[0] for line in plan.python_requirements if line.startswith("torch")] == torch
    assert list(plan.install_options.extra_index_urls) == indexes
    assert [str(w) for w in plan.warnings] == warnings


@pytest.mark.parametrize(("source", "build", "expected"), [
    ("requirements-uv-lock-torch-cpu", None,
     "uv.lock:132: uv.lock locks torch 2.5.1+cpu, a CPU build, but this is the GPU image; lock torch from a CUDA "
     "index (https://download.pytorch.org/whl/cu124, say)"),
    ({"pylock.toml": TORCH_CU121_PYLOCK}, "  gpu: true\n" + PY311 + '  cuda: "12.4"\n  python_requirements: pylock.toml\n',
     "cog.yaml:4:9: `torch==2.5.1+cu121` has wheels for CUDA 12.1; that clashes with CUDA 12.4"),
], ids=["a CPU torch in the GPU image", "a lock's CUDA against cog.yaml's"])
def test_a_lock_that_does_not_fit_the_gpu_image_is_an_error(make_project, source, build, expected):
    if isinstance(source, str):
        parsed = config(make_project, "  gpu: true\n" + PY311 + "  python_requirements: uv.lock\n", corpus=source)
    else:
        parsed = config(make_project, build, source)
    with pytest.raises(ConfigError) as caught:
        resolve(parsed, "gpu")
    assert str(caught.value) == expected


def test_a_torch_mirror_replaces_the_index_a_lock_names(make_project):
    parsed = config(make_project, PY311 + "  python_requirements: uv.lock\n", corpus="requirements-uv-lock-torch-cpu")
    plan = resolve(parsed, "cpu", torch_index="https://mirror.example/pytorch/{index}/simple")
    assert plan.install_options.extra_index_urls == ("https://mirror.example/pytorch/cpu/simple",)


def test_a_lock_from_pytorchs_index_cannot_take_torch_from_pypi(make_project):
    """COG_TORCH_INDEX=pypi (or auto, when PyTorch's index does not answer) cannot install what a lock pins there."""
    parsed = config(make_project, PY311 + "  python_requirements: uv.lock\n", corpus="requirements-uv-lock-torch-cpu")
    with pytest.raises(ConfigError) as caught:
        resolve(parsed, "cpu", torch_index="pypi")
    assert str(caught.value) == (
        "uv.lock:132: uv.lock locks packages from https://download.pytorch.org/whl/cpu, and this build takes torch "
        "from PyPI (COG_TORCH_INDEX=pypi, or auto when that index does not answer); set COG_TORCH_INDEX to a mirror "
        "of that index")


def test_tensorflow_in_a_lock_chooses_the_cuda_image_and_stays_as_locked(make_project):
    lock = ('lock-version = "1.0"\n\n[[packages]]\nname = "tensorflow"\nversion = "2.15.0"\n'
            'index = "https://pypi.org/simple"\nsdist = { url = "https://f.example/tf.tar.gz", hashes = { sha256 = "ab" } }\n')
    parsed = config(make_project, "  gpu: true\n" + PY311 + "  python_requirements: pylock.toml\n", {"pylock.toml": lock})
    plan = resolve(parsed, "gpu")
    assert plan.base_image == "nvidia/cuda:12.2.2-cudnn8-runtime-ubuntu22.04"
    assert plan.python_requirements == ("tensorflow==2.15.0 \\\n    --hash=sha256:ab",)


# --- what else changes with a lock -----------------------------------------------------------------------------


def test_a_lock_gets_no_implied_packages_but_a_notice(make_project):
    parsed = config(make_project, PY311 + "  python_requirements: uv.lock\n", {"uv.lock": uv_lock(SIX)})
    imports = (ModuleImport("yaml", Location("predict.py", 3)), ModuleImport("six", Location("predict.py", 4)))
    plan = resolve(parsed, "cpu", imports=imports)
    assert [line.split(" \\")[0] for line in plan.python_requirements] == ["six==1.16.0"]
    assert [str(w) for w in plan.warnings] == [
        "predict.py:3: imports yaml, which Cog's SDK brought along, and uv.lock does not lock PyYAML; add it to the "
        "project's dependencies and lock again"]


def test_pyproject_requirements_get_implied_packages_as_a_requirements_file_does(make_project):
    parsed = config(make_project, PY311 + "  python_requirements: pyproject.toml\n", {"pyproject.toml": PYPROJECT})
    plan = resolve(parsed, "cpu", imports=(ModuleImport("yaml", Location("predict.py", 3)),))
    assert plan.python_requirements[-1] == "PyYAML"


def test_the_install_of_a_lock_resolves_nothing_and_checks_every_hash(make_project):
    locked = resolve(config(make_project, PY311 + "  python_requirements: uv.lock\n", corpus="requirements-uv-lock"), "cpu")
    dockerfile = render_dockerfile(locked)
    assert "-r /opt/cog/requirements.txt --no-deps --require-hashes\n" in dockerfile
    assert "idna==3.6; platform_machine == 'x86_64' \\\n    --hash=sha256:9ecdbbd0" in dockerfile
    ranged = resolve(config(make_project, PY311 + "  python_requirements: pyproject.toml\n", {"pyproject.toml": PYPROJECT}),
                     "cpu")
    install = [line for line in render_dockerfile(ranged).splitlines() if "-r /opt/cog/requirements.txt" in line]
    assert install and not any("--no-deps" in line or "--require-hashes" in line for line in install)


def test_one_dockerfile_serves_both_platforms_of_a_lock(make_project):
    """The lines for both machines are in each plan (markers choose), so a multi-platform build is one build."""
    parsed = config(make_project, PY311 + "  python_requirements: uv.lock\n", corpus="requirements-uv-lock")
    assert resolve(parsed, "cpu", "linux/amd64").python_requirements == resolve(parsed, "cpu", "linux/arm64").python_requirements


def test_migrate_keeps_the_extras_and_groups(make_project):
    original = ('environment:\n  python_version: "3.11"\n  python_requirements: pyproject.toml\n'
                '  python_extras: [vision]\n  python_groups: [eval]\nmodel: "predict.py:Predictor"\n')
    migration = migrate_project(original, read=lambda name: None)
    new = next(change.new for change in migration.changes if change.path == "cog.yaml")
    assert '  python_requirements: "pyproject.toml"\n  python_extras:\n    - "vision"\n  python_groups:\n    - "eval"\n' in new
