"""`cog migrate`: projects in the original Cog's format (projects/migrate-*), upgraded through the real CLI.

Each migration is checked for what it prints and writes, and for what it must not change: the migrated cog.yaml
parses as today's dialect with the same settings, and the migrated model has the same signature and schema.
No Docker needed.
"""

from __future__ import annotations

import difflib
import filecmp
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cog.config.migrate import migrate_model, migrate_project
from cog.config.model import Config, package_variants
from cog.config.parse import load_config, parse_config
from cog.sdk.signature import signature_of
from cog.sdk.worker import entry_point, load_ref
from cog.server.process import openapi_schema_for

PROJECTS = Path(__file__).parent / "projects"
EXAMPLES = Path(__file__).parents[2] / "examples"
# The files a project takes from elsewhere in the repository. migrate-jazz is the seed README's project: its model
# is examples/jazz-composer's (the README's, in the original API), beside the README's own cog.yaml (Python 3.8,
# ffmpeg) and a stand-in for its composer.
BORROWED = {"migrate-jazz": {"model.py": EXAMPLES / "jazz-composer" / "model.py"}}

# The command as `cog` runs it; until cog/cli/main.py registers it, through an app with main()'s error handling.
_STANDALONE = """
import sys, typer
from cog.cli.migrate import migrate
from cog.errors import CogError
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
app.command()(migrate)
app.callback()(lambda: None)
try:
    app()
except CogError as exc:
    from cog.cli import output
    output.error(str(exc))
    raise SystemExit(1) from None
"""


def _registered() -> bool:
    from cog.cli.main import app

    return any((command.name or command.callback.__name__) == "migrate" for command in app.registered_commands)


def cog_migrate(*args: str, cwd: Path, input: str | None = None) -> subprocess.CompletedProcess:
    command = ["-m", "cog.cli"] if _registered() else ["-c", _STANDALONE]
    env = {key: value for key, value in os.environ.items() if key not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).parents[2]), env.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, *command, "migrate", *args], cwd=cwd, input=input, capture_output=True,
                          text=True, timeout=60, env=env)


def project(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(PROJECTS / name, target)
    for relative, source in BORROWED.get(name, {}).items():
        shutil.copyfile(source, target / relative)
    return target


def files(directory: Path) -> dict[str, str]:
    return {str(path.relative_to(directory)): path.read_text() for path in sorted(directory.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts}


def original(name: str) -> dict[str, str]:
    """The project's files as a migration finds them."""
    borrowed = {relative: source.read_text() for relative, source in BORROWED.get(name, {}).items()}
    return dict(sorted({**files(PROJECTS / name), **borrowed}.items()))


# --- what each migration prints and writes ---------------------------------------------------------------


def _replaced(text: str, *replacements: tuple[str, str]) -> str:
    for old, new in replacements:
        assert text.count(old) == 1, (old, text)
        text = text.replace(old, new)
    return text


def as_predictor(name: str, path: str, *inputs: str, imports: tuple[str, str] = ("import cog\n",
                 "from cog import BasePredictor, Input\n")) -> str:
    """The project's model as cog migrate rewrites it, and nothing else changed: the import line imports[0] as
    imports[1], the base class (cog.Model or Model) as BasePredictor, and run() with the @cog.input decorators
    before it as predict() taking `inputs` (one a line, as written), its return annotation kept."""
    source = original(name)[path]
    decorators = re.search(r"^    @(cog\.)?input\(", source, re.M)
    run = re.search(r"^    def run\([^)]*\)(.*):\n", source, re.M)
    predict = "".join(["    def predict(\n        self,\n", *(f"        {line}\n" for line in inputs),
                       f"    ){run[1]}:\n"])
    base = re.search(r"\((cog\.)?Model\)", source)[0]
    return _replaced(source, imports, (base, "(BasePredictor)"), (source[decorators.start():run.end()], predict))


def unified_diff(path: str, old: str | None, new: str) -> str:
    """`diff -u`, with git's a/ and b/ names and /dev/null for a new file (the project's files all end in a newline)."""
    lines = difflib.unified_diff((old or "").splitlines(keepends=True), new.splitlines(keepends=True),
                                 "/dev/null" if old is None else f"a/{path}", f"b/{path}")
    return "".join(lines)


def shown(name: str) -> str:
    """What `cog migrate` prints on standard output for the project: the diff of each file it changes."""
    changes, before = MIGRATIONS[name][0], original(name)
    return "".join(unified_diff(path, before.get(path), new) for path, new in changes.items())


# The seed README's migration, as a person reads it (shown("migrate-jazz") must be this).
JAZZ_DIFF = '''\
--- a/cog.yaml
+++ b/cog.yaml
@@ -1,7 +1,8 @@
-environment:
+build:
   python_version: "3.8"
+  gpu: true
   python_requirements: "requirements.txt"
   system_packages:
-  - "ffmpeg"
-  - "libavcodec-dev"
-model: "model.py:JazzSoloComposerModel"
+    - "ffmpeg"
+    - "libavcodec-dev"
+predict: "model.py:JazzSoloComposerModel"
--- a/model.py
+++ b/model.py
@@ -1,16 +1,18 @@
-import cog
+from cog import BasePredictor, Input
 
 from composer import JazzSoloComposer
 
 
-class JazzSoloComposerModel(cog.Model):
+class JazzSoloComposerModel(BasePredictor):
     """Generate melody and chords from partial lead sheets"""
 
     def setup(self):
         self.model = JazzSoloComposer.from_pretrained("./saved_model")
 
-    @cog.input("notes", type=str, help="Partial notes")
-    @cog.input("chords", type=str, help="Partial chords")
-    @cog.input("strategy", type=str, help="Either 'sample' or 'sequential'")
-    def run(self, notes, chords, strategy):
+    def predict(
+        self,
+        notes: str = Input(description="Partial notes"),
+        chords: str = Input(description="Partial chords"),
+        strategy: str = Input(description="Either 'sample' or 'sequential'"),
+    ):
         return self.model(notes, chords, strategy)
'''

MIGRATIONS = {
    # name: (each file it changes, in the order it shows them, with what the file becomes; the notices on stderr;
    #        the files written, in the order written; the model's reference)
    "migrate-jazz": (
        {"cog.yaml": 'build:\n  python_version: "3.8"\n  gpu: true\n  python_requirements: "requirements.txt"\n'
                     '  system_packages:\n    - "ffmpeg"\n    - "libavcodec-dev"\n'
                     'predict: "model.py:JazzSoloComposerModel"\n',
         "model.py": as_predictor("migrate-jazz", "model.py", 'notes: str = Input(description="Partial notes"),',
                                  'chords: str = Input(description="Partial chords"),',
                                  'strategy: str = Input(description="Either \'sample\' or \'sequential\'"),')},
        "warning: cog.yaml:1:1: environment.architectures is not set (cpu and gpu): today's format says gpu: true, "
        "so cog build builds the GPU image only; cog build --variant all builds both, as before\n",
        ["model.py", "cog.yaml"], "model.py:JazzSoloComposerModel"),
    "migrate-packages": (
        {"requirements.txt": "--extra-index-url https://download.example.com/simple\n"
                             "--find-links https://wheels.example.com/\nnumpy==1.26.4  # arrays\npillow==10.3.0\n",
         "cog.yaml": "# An image captioner, in the first Cog's format.\n\nbuild:  # what the image holds\n"
                     '  python_version: "3.11"\n  gpu: true\n  cuda: "12.1"\n  # pinned, as they were tested\n'
                     '  python_requirements: "requirements.txt"\n'
                     'predict: "predict.py:CaptionModel"  # the class below\n',
         "predict.py": as_predictor(
             "migrate-packages", "predict.py",
             'steps: int = Input(description="Refinement steps", default=4, ge=1, le=16),',
             'style: str = Input(default="plain", choices=STYLES),  # one of STYLES',
             "temperature: float = Input(default=0.7, ge=0.0, le=2.0),", "verbose: bool = Input(default=False),",
             imports=("from cog import Model, input\n", "from cog import BasePredictor, Input\n"))},
        "warning: cog.yaml:13:3: environment.architectures lists only gpu: today's format says gpu: true, with which "
        "a cog server also builds a CPU image\n"
        "warning: cog.yaml:17:1: workdir (/code) is dropped: today's format has no workdir; the code is at /src in "
        "the image, not /code: check paths in the model that assume it\n"
        "warning: cog.yaml:18:1: examples (one example input) is dropped: today's format has no examples, and cog "
        "never used them\n",
        ["requirements.txt", "predict.py", "cog.yaml"], "predict.py:CaptionModel"),
    "migrate-cpu": (
        {"cog.yaml": 'build:\n  python_version: "3.10"\n  gpu: false\n  system_packages:\n    - "libgl1"\n'
                     '  pre_install:\n    - "echo preparing"  # runs before the requirements\n'
                     'predict: "model.py:Counter"\n',
         "model.py": as_predictor("migrate-cpu", "model.py",
                                  'text: str = Input(description="What to count the words of"),')},
        "", ["model.py", "cog.yaml"], "model.py:Counter"),
    "migrate-path": (
        {"cog.yaml": 'build:\n  python_version: "3.12"\n  gpu: true\npredict: "upscale.py:Upscaler"\n',
         "upscale.py": as_predictor(
             "migrate-path", "upscale.py", 'image: Path = Input(description="The picture to upscale"),',
             'mask: Path = Input(description="Where to upscale (default: everywhere)", default=None),',
             'scale: int = Input(description="How much larger", default=2, choices=[2, 4]),',
             imports=("import cog\n", "import cog\nfrom cog import BasePredictor, Input, Path\n"))},
        "warning: cog.yaml:3:3: environment.architectures lists cpu and gpu: today's format says gpu: true, so cog "
        "build builds the GPU image only; cog build --variant all builds both, as before\n",
        ["upscale.py", "cog.yaml"], "upscale.py:Upscaler"),
    "migrate-unsafe": (
        {"cog.yaml": 'build:\n  python_version: "3.11"\n  gpu: false\npredict: "model.py:Greeter"\n'},
        "warning: model.py:10:42: left as it is: the default of input 'name' is computed (a call); rewrite run() as "
        "predict() by hand (see docs/python.md)\n",
        ["cog.yaml"], "model.py:Greeter"),
    "migrate-today": (
        {"cog_requirements.txt": "numpy==2.2.6  # arrays\n# images\npillow==11.2.1\n",
         "cog.yaml": _replaced(original("migrate-today")["cog.yaml"], (
             '  python_packages:\n    - "numpy==2.2.6"  # arrays\n    # images\n    - "pillow==11.2.1"\n',
             '  python_requirements: "cog_requirements.txt"\n'))},
        "", ["cog_requirements.txt", "cog.yaml"], "predict.py:Predictor"),
}


def _listing(names: list[str]) -> str:
    return " and ".join(filter(None, [", ".join(names[:-1]), names[-1]]))


def test_the_seed_readme_migration_shows_this_diff():
    assert shown("migrate-jazz") == JAZZ_DIFF


@pytest.mark.parametrize("name", list(MIGRATIONS))
def test_migrate_yes_prints_the_diff_and_writes_it(tmp_path, name):
    changes, notices, written, _ = MIGRATIONS[name]
    directory = project(tmp_path, name)
    before = files(directory)
    assert before == original(name)
    result = cog_migrate("-y", cwd=directory)
    assert (result.returncode, result.stdout, result.stderr) == (
        0, shown(name), notices + f"✓ Wrote {_listing(written)}\n")
    after = files(directory)
    assert sorted(set(after) - set(before)) == sorted(set(written) - set(before))  # new files: only those shown
    assert [path for path in before if before[path] != after[path]] == [p for p in before if p in written]
    assert sorted(written) == sorted(changes) and after == {**before, **changes}  # written as the diff shows
    assert not [path for path in directory.rglob(".*.tmp")]  # no temporary files left behind
    again = cog_migrate("-y", cwd=directory)  # migrating twice changes nothing more
    assert (again.returncode, again.stdout) == (0, "")
    assert again.stderr.endswith("nothing to migrate: cog.yaml is already in today's format\n")
    assert files(directory) == after


def _same_settings(old: Config, new: Config) -> None:
    assert new.dialect == "cog" and not [w for w in new.warnings if "deprecated" in w.message]
    assert new.python_version == old.python_version
    assert new.python_version_explicit == old.python_version_explicit
    old_requirements, new_requirements = old.python_requirements, new.python_requirements
    assert [r.text for r in new_requirements.requirements] == [r.text for r in old_requirements.requirements]
    for setting in ("extra_index_urls", "find_links", "index_url", "options", "pre"):
        assert getattr(new_requirements, setting) == getattr(old_requirements, setting), setting
    for setting in ("system_packages", "pre_install", "run", "cuda", "cudnn", "predict", "train", "environment", "image"):
        assert getattr(new, setting) == getattr(old, setting), setting
    assert new.gpu == old.gpu
    # The original's architectures [cpu, gpu] become gpu: true, which builds the GPU image and, on a cog server,
    # both; [gpu] alone becomes the same gpu: true (a notice says so).
    if old.variants == ("cpu", "gpu"):
        assert package_variants(new) == old.variants and new.variants == ("gpu",)
    elif old.variants == ("gpu",):
        assert new.variants == old.variants and package_variants(new) == ("cpu", "gpu")
    else:
        assert new.variants == old.variants and package_variants(new) == package_variants(old)


def _signature(directory: Path, reference: str):
    sys.path.insert(0, str(directory))
    modules = set(sys.modules)
    try:
        _, fn = entry_point(load_ref(reference, str(directory)), "predict")
        return signature_of(fn)
    finally:
        sys.path.remove(str(directory))
        for name in set(sys.modules) - modules:
            del sys.modules[name]


@pytest.mark.parametrize("name", list(MIGRATIONS))
def test_the_migrated_project_is_the_same_model(tmp_path, name):
    *_, reference = MIGRATIONS[name]
    original = project(tmp_path / "original", name)  # a copy: loading the model writes __pycache__ beside it
    directory = project(tmp_path, name)
    assert cog_migrate("-y", cwd=directory).returncode == 0
    old, new = load_config(original / "cog.yaml"), load_config(directory / "cog.yaml")
    _same_settings(old, new)
    assert new.predict == reference
    assert _signature(directory, reference) == _signature(original, reference)
    assert openapi_schema_for(reference, project_dir=str(directory)) == openapi_schema_for(
        reference, project_dir=str(original))


def test_the_migrated_model_still_predicts(tmp_path):
    directory = project(tmp_path, "migrate-packages")
    assert cog_migrate("-y", cwd=directory).returncode == 0
    sys.path.insert(0, str(directory))
    try:
        predictor = load_ref("predict.py:CaptionModel", str(directory))()
        predictor.setup()
        assert predictor.predict(style="poetic", steps=2, temperature=1.0, verbose=True) == (
            "caption (poetic, 2 steps, t=1.0, verbose=True)")
    finally:
        sys.path.remove(str(directory))
        sys.modules.pop("predict", None)


# --- asking ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "answer", "outcome"), [
    pytest.param("migrate-jazz", "n\n", "Not applied: nothing was changed\n", id="declining-writes-nothing"),
    pytest.param("migrate-today", "", "Not applied: nothing was changed\n", id="no-answer-is-no"),
    pytest.param("migrate-cpu", "y\n", "✓ Wrote model.py and cog.yaml\n", id="yes-applies"),
])
def test_it_asks_before_writing(tmp_path, name, answer, outcome):
    changes, notices, *_ = MIGRATIONS[name]
    directory = project(tmp_path, name)
    result = cog_migrate(cwd=directory, input=answer)
    assert (result.returncode, result.stdout) == (0, shown(name))
    assert result.stderr == notices + "Apply these changes? [y/N]: \n" + outcome
    if answer == "y\n":
        assert files(directory) == {**original(name), **changes}
    else:
        assert not filecmp.dircmp(directory, project(tmp_path / "original", name)).diff_files
        assert files(directory) == original(name)


# --- nothing to do, and mistakes -----------------------------------------------------------------------


def test_nothing_to_migrate(tmp_path):
    directory = project(tmp_path, "migrate-current")
    result = cog_migrate(cwd=directory)
    assert (result.returncode, result.stdout, result.stderr) == (
        0, "", "nothing to migrate: cog.yaml is already in today's format\n")
    assert files(directory) == original("migrate-current")


def test_a_malformed_cog_yaml_is_one_located_error(tmp_path):
    (tmp_path / "cog.yaml").write_text("environment:\n  python_versoin: '3.11'\nmodel: model.py:Model\n")
    result = cog_migrate("-y", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (
        1, "", "error: cog.yaml:2:3: unknown key `python_versoin` under `environment`; did you mean `python_version`?\n")
    (tmp_path / "cog.yaml").write_text("environment:\n\tpython_version: '3.11'\n")
    result = cog_migrate("-y", cwd=tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("error: cog.yaml:2:") and result.stderr.count("\n") == 1


def test_no_cog_yaml(tmp_path):
    result = cog_migrate(cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.startswith("error: no cog.yaml in this directory or any parent")


def test_dash_f_names_another_cog_yaml(tmp_path):
    directory = project(tmp_path, "migrate-unsafe")
    (directory / "cog.yaml").rename(directory / "old.yaml")
    result = cog_migrate("-y", "-f", "migrate-unsafe/old.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == shown("migrate-unsafe").replace("a/cog.yaml", "a/old.yaml").replace("b/cog.yaml", "b/old.yaml")
    assert result.stderr == ("warning: migrate-unsafe/model.py:10:42: left as it is: the default of input 'name' is "
                             "computed (a call); rewrite run() as predict() by hand (see docs/python.md)\n"
                             "✓ Wrote old.yaml\n")
    assert (directory / "old.yaml").read_text().startswith("build:\n")


# --- the transforms, without the CLI -------------------------------------------------------------------


def _migrate(config: str, project_files: dict[str, str] | None = None):
    project_files = project_files or {}

    def read(path: str) -> bytes | None:
        return project_files[path].encode() if path in project_files else None

    return migrate_project(config, read=read)


def _parse(migration, project_files: dict[str, str], tmp_path: Path) -> Config:
    for path, text in project_files.items():
        (tmp_path / path).write_text(text)
    for change in migration.changes:
        (tmp_path / change.path).write_text(change.new)
    return parse_config((tmp_path / "cog.yaml").read_text(), project_dir=tmp_path)


def test_extra_index_urls_are_added_to_the_named_requirements_file(tmp_path):
    config = ("environment:\n  python_requirements: reqs.txt\n  python_extra_index_urls:\n"
              "    - https://a.example.com/simple\n    - https://b.example.com/simple  # b\n"
              "  python_find_links: [./wheels]\n  architectures: [cpu]\n")
    project_files = {"reqs.txt": "--extra-index-url https://a.example.com/simple\nnumpy==2.2.6"}
    migration = _migrate(config, project_files)
    changes = {change.path: change for change in migration.changes}
    assert changes["reqs.txt"].new == ("--extra-index-url https://a.example.com/simple\nnumpy==2.2.6\n"
                                       "--extra-index-url https://b.example.com/simple  # b\n--find-links ./wheels\n")
    assert changes["cog.yaml"].new == 'build:\n  gpu: false\n  python_requirements: "reqs.txt"\n'
    original = parse_config(config, project_dir=_write(tmp_path / "old", project_files))
    _same_settings(original, _parse(migration, project_files, tmp_path))
    assert migration.notices == ()


def _write(directory: Path, project_files: dict[str, str]) -> Path:
    directory.mkdir()
    for path, text in project_files.items():
        (directory / path).write_text(text)
    return directory


def test_index_options_without_requirements_are_dropped_with_a_notice():
    migration = _migrate("environment:\n  architectures: [cpu]\n  python_find_links: [https://w.example.com]\n")
    assert [change.new for change in migration.changes] == ["build:\n  gpu: false\n"]
    assert migration.notices == ("cog.yaml:3:3: environment.python_find_links is dropped: there are no Python "
                                 "requirements to install from it",)


@pytest.mark.parametrize("gpu", ["true", "false"])
def test_the_later_original_dialects_gpu_key_is_kept(gpu):
    migration = _migrate(f"model: predict.py:Model\nenvironment:\n  python_version: '3.8'\n  # why\n  gpu: {gpu}\n")
    assert [change.new for change in migration.changes] == [
        f'build:\n  python_version: "3.8"\n  # why\n  gpu: {gpu}\npredict: "predict.py:Model"\n']
    assert not any("architectures" in notice for notice in migration.notices)


def test_requirements_file_names_do_not_overwrite_a_file():
    migration = _migrate("build:\n  python_packages: [numpy]\n",
                         {"requirements.txt": "a\n", "cog_requirements.txt": "b\n"})
    assert [(c.path, c.old, c.new) for c in migration.changes] == [
        ("cog_requirements_2.txt", None, "numpy\n"),
        ("cog.yaml", "build:\n  python_packages: [numpy]\n", 'build:\n  python_requirements: "cog_requirements_2.txt"\n'),
    ]


def test_an_empty_python_packages_is_removed():
    migration = _migrate("build:\n  python_packages: []\n  gpu: true\n")
    assert [(c.path, c.new) for c in migration.changes] == [("cog.yaml", "build:\n  gpu: true\n")]


def test_comments_that_have_nowhere_to_go_are_named():
    migration = _migrate("# header\nenvironment:\n  architectures: [cpu]\nworkdir: /src  # the default\n"
                         "# the end\n")
    assert migration.changes[0].new == "# header\nbuild:\n  gpu: false\n"
    assert migration.notices == (
        "cog.yaml:4:1: workdir (/src) is dropped: today's format has no workdir; the code is at /src in the image, "
        "as before",
        "cog.yaml: the comments on lines 4 and 5 have no place in today's format and are left out",
    )


def test_windows_line_endings_are_kept():
    migration = _migrate("environment:\r\n  architectures: [cpu]\r\nmodel: m.py:M\r\n",
                         {"m.py": "import cog\r\n\r\nclass M(cog.Model):\r\n    @cog.input('x')\r\n"
                                  "    def run(self, x):\r\n        return x\r\n"})
    assert [(c.path, c.new) for c in migration.changes] == [
        ("cog.yaml", 'build:\r\n  gpu: false\r\npredict: "m.py:M"\r\n'),
        ("m.py", "from cog import BasePredictor, Input\r\n\r\nclass M(BasePredictor):\r\n    def predict(\r\n"
                 "        self,\r\n        x: str = Input(),\r\n    ):\r\n        return x\r\n"),
    ]


def _model(source: str, class_name: str = "M"):
    return migrate_model(source, class_name)


@pytest.mark.parametrize(("source", "reason", "line"), [
    ("import cog\nclass M(cog.Model):\n    @cog.input('x')\n    def run(self, **kwargs):\n        pass\n",
     "run() takes **kwargs; name each input as a parameter by hand", 4),
    ("import cog\nclass M(cog.Model):\n    @cog.input('x')\n    def run(self, x):\n        pass\n"
     "    def twice(self, x):\n        return self.run(x=x) * 2\n",
     "run() is also called here (self.run); rewrite run() as predict() by hand (see docs/python.md)", 7),
    ("import cog\nNAME = 'x'\nclass M(cog.Model):\n    @cog.input(NAME)\n    def run(self, x):\n        pass\n",
     "an @cog.input's name is not written as a string naming a parameter; rewrite run() as predict() by hand "
     "(see docs/python.md)", 4),
    ("import cog, functools\nclass M(cog.Model):\n    @functools.lru_cache\n    @cog.input('x')\n"
     "    def run(self, x):\n        pass\n",
     "run() has a decorator other than @cog.input; rewrite run() as predict() by hand (see docs/python.md)", 3),
    ("import cog\nclass M(cog.Model):\n    @cog.input('x', **{'type': int})\n    def run(self, x):\n        pass\n",
     "an @cog.input's arguments are unpacked (* or **); rewrite run() as predict() by hand (see docs/python.md)", 3),
    ("import cog\nclass M(cog.Model):\n    @cog.input('x')\n    def run(self, y):\n        pass\n",
     "run()'s parameters (y) are not the inputs @cog.input declares (x); rewrite run() as predict() by hand "
     "(see docs/python.md)", 4),
    ("import cog\nfrom mylib import Input\nclass M(cog.Model):\n    @cog.input('x')\n    def run(self, x):\n"
     "        pass\n",
     "the name Input is already taken in it; rewrite run() as predict() by hand (see docs/python.md)", 2),
    ("import cog\nclass M(cog.Model):\n    @cog.input('x')\n    def run(self, x):\n        pass\n"
     "class N(M):\n    pass\n",
     "N derives from M and may rely on its run(); rewrite run() as predict() by hand (see docs/python.md)", 6),
    ("import cog\nclass M(cog.Model):\n    def predict(self):\n        pass\n    def run(self):\n        pass\n",
     "M already has a predict", 3),
    ("import cog\nclass M(cog.Model):\n    def run(self\n", "it is not valid Python ('(' was never closed, line 3)",
     None),
    ("import cog\nclass Other(cog.Model):\n    pass\n", "it has no class M at its top level", None),
])
def test_code_it_cannot_rewrite_exactly_is_left_with_a_reason(source, reason, line):
    rewrite = _model(source)
    assert (rewrite.new, rewrite.reason, rewrite.line) == (None, reason, line)


def test_a_class_that_is_not_a_cog_model_is_left_alone_silently():
    source = "from cog import BasePredictor\nclass M(BasePredictor):\n    def predict(self) -> str:\n        return 'x'\n"
    assert _model(source) == migrate_model(source, "M") and _model(source).new is None
    assert _model(source).reason is None


def test_a_run_without_cog_input_is_renamed():
    source = ("import cog\nfrom cog import Input\n\n\nclass M(cog.Model):\n"
              "    def run(self, text: str = Input(description='t')) -> str:  # keep\n        return text\n")
    assert _model(source).new == (
        "from cog import BasePredictor, Input\n\n\nclass M(BasePredictor):\n"
        "    def predict(self, text: str = Input(description='t')) -> str:  # keep\n        return text\n")


def test_path_type_with_pathlib_path_in_the_module_keeps_cog_path():
    source = ("from pathlib import Path\n\nimport cog\n\n\nclass M(cog.Model):\n"
              "    @cog.input('image', type=cog.Path)\n    async def run(self, image):\n        return Path(image)\n")
    assert _model(source).new == (
        "from pathlib import Path\n\nimport cog\nfrom cog import BasePredictor, Input\n\n\nclass M(BasePredictor):\n"
        "    async def predict(\n        self,\n        image: cog.Path = Input(),\n    ):\n"
        "        return Path(image)\n")


def test_comments_among_the_decorators_move_with_their_input():
    source = ("import cog  # the SDK\n\nclass M(cog.Model):\n"
              "    # inputs:\n"
              "    @cog.input('a', type=int,  # a number\n"
              "               default=1)\n"
              "    # the second\n"
              "    @cog.input('b', help='''multi\nline''')  # b\n"
              "    # the method\n"
              "    def run(self, b, a):\n"
              "        return a, b\n")
    assert _model(source).new == (
        "from cog import BasePredictor, Input  # the SDK\n\nclass M(BasePredictor):\n"
        "    # inputs:\n"
        "    # the method\n"
        "    def predict(\n"
        "        self,\n"
        "        # a number\n"
        "        a: int = Input(default=1),\n"
        "        # the second\n"
        "        b: str = Input(description='''multi\nline'''),  # b\n"
        "    ):\n"
        "        return a, b\n")


def test_future_annotations_need_module_level_types():
    source = ("from __future__ import annotations\nimport cog\n\nclass M(cog.Model):\n    Kind = str\n"
              "    @cog.input('a', type=Kind)\n    def run(self, a):\n        return a\n")
    rewrite = _model(source)
    assert rewrite.reason == ("the type of input 'a' names Kind, which the module does not define; rewrite run() as "
                              "predict() by hand (see docs/python.md)")
    assert _model(source.replace("    Kind = str\n", "").replace("type=Kind", "type=int")).new is not None


def test_rewritten_code_keeps_the_rest_byte_for_byte():
    source = (PROJECTS / "migrate-path" / "upscale.py").read_text()
    new = _model(source, "Upscaler").new
    assert new.startswith(source[:source.index("import cog\n") + len("import cog\n")])
    assert new.endswith(source[source.index("        out = cog.Path("):])


def test_todays_model_repository_is_not_the_original_dialect(tmp_path):
    (tmp_path / "cog.yaml").write_text('build:\n  python_version: "3.11"\npredict: "predict.py:Predictor"\nmodel: r8.im/owner/model\n')
    (tmp_path / "predict.py").write_text("from cog import BasePredictor\n\n\nclass Predictor(BasePredictor):\n    def predict(self) -> str:\n        return 'hi'\n")
    result = cog_migrate(cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == "nothing to migrate: cog.yaml is already in today's format\n"
