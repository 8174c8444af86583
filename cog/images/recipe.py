"""A code-only rebuild, replayed: `cog build` again after an edit to the model's Python source costs BuildKit's
pass and little more.

A full build that can be repeated as it was (one image for one platform, loaded here, its schema read from the
source, no warnings but the config's) leaves a recipe in the user's cache: the Dockerfile and the `docker buildx
build` it ran, the labels but those of the code, and what the build was made of besides the Python source: every
other file of the project (weights too), the config's own files, each by size, time and inode, and the settings
files of cog and docker by content. The recipe's name is a digest of the command line, its folder, the environment
cog and docker read, and the installed cog's files, so a change to any of those finds no recipe.

The next `cog build` looks for its recipe before the command line is parsed (before typer, pydantic, jinja2 or
python-on-whales are imported). It replays only when every recorded file is as it was and the source still gives
a schema the static reader decides and imports the same modules (what the plan depends on); it then stages the
code and runs the recorded build with the new code's labels, and the image is the one a full build would make.
The schema is the recorded one while the static reader's stubs of the source are (an edit to a function's body
leaves them as they were), so the SDK's signature code is not imported then either.
Anything else, or a replay that fails, is a full build, which writes a new recipe.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from cog._version import __version__
from cog.errors import CogError
from cog.images.buildx import build_command, run_build
from cog.images.context import IGNORE_FILES, project_entries, weight_files
from cog.images.imports import read_imports
from cog.images.model_source import LABEL_CODE_DIGEST, code_digest, project_schema
from cog.images.staging import (CODE_CONTEXT, RUNTIME_CONTEXT, WEIGHTS_CONTEXT, code_context, git_labels, stage_weights,
                                write_dockerfile)

if TYPE_CHECKING:
    from cog.config.project import Project

FORMAT = 3
LABEL_SCHEMA = "run.cog.openapi_schema"  # as cog.images.builder writes it
# The labels a replay makes again: they come of the code (and git's of the checkout).
CODE_LABELS = (LABEL_SCHEMA, LABEL_CODE_DIGEST, "org.opencontainers.image.revision", "org.opencontainers.image.version")
# The environment a build reads: cog's settings, docker's and BuildKit's, where the user's files are, proxies, CA
# bundles, terminal and colour. Anything else in the environment does not change what a build makes or prints.
ENVIRONMENT_PREFIXES = ("COG_", "_COG_", "DOCKER_", "BUILDX_", "BUILDKIT_", "XDG_")
ENVIRONMENT_NAMES = (
    "HOME", "PATH", "NO_COLOR", "FORCE_COLOR", "TERM", "COLUMNS", "LINES", "SSL_CERT_FILE", "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
    "no_proxy", "all_proxy",
)


@dataclass(frozen=True)
class Recipe:
    project: str  # the project's directory
    inputs: dict[str, list[int] | None]  # every file the build read but Python source and settings, by absolute
    # path: [size, mtime_ns, inode], None for one that was not there
    settings: dict[str, str | None]  # the settings files, by content
    warnings: list[str]  # the config's, which cog build says first
    other_files: list[str]  # the project's files that are not Python source (relative)
    weights: list[str]
    modules: list[str]  # the top-level modules the source imports
    predict: str | None
    train: str | None
    python_version: str
    workdir: str
    config: dict  # the completed config, which the code digest covers
    dockerfile: str
    ignore: str
    build: dict  # build_command's arguments, but the paths of the scratch folder and the labels
    labels: dict[str, str]  # but the schema's, the code digest's and git's
    tag: str
    variant: str
    platforms: list[str]
    progress: str
    schema: dict  # the OpenAPI schema the static reader read
    stubs: str | None  # the digest of the stubs it read it from (None: the project has no predictor)


def recipe_file(argv: list[str], cwd: str, environ: dict[str, str]) -> Path:
    """Where the recipe of this command line lives: named by everything it depends on but the project's files."""
    environment = {name: value for name, value in environ.items()
                   if name.startswith(ENVIRONMENT_PREFIXES) or name in ENVIRONMENT_NAMES}
    key = json.dumps([FORMAT, __version__, argv, cwd, sorted(environment.items()), _installed_cog(),
                      sys.stderr.isatty()], separators=(",", ":"))
    return _recipes_dir() / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def _recipes_dir() -> Path:
    """In cog's cache (platformdirs' user cache folder, found by hand on Linux: importing platformdirs is a tenth
    of a replay's start there)."""
    if sys.platform == "linux":
        cache = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.expanduser("~/.cache")
        return Path(cache) / "cog" / "rebuilds"
    import platformdirs

    return Path(platformdirs.user_cache_dir("cog")) / "rebuilds"


def _installed_cog() -> list:
    """cog's own files (code, templates, data, its install record) by path, size and time: a changed cog is a
    different build."""
    import cog
    from cog.resources import cuda_matrix_dir, implied_packages_dir, templates_dir

    found = []
    for root in (Path(cog.__file__).parent, templates_dir(), cuda_matrix_dir(), implied_packages_dir()):
        for directory, folders, files in os.walk(root):
            folders[:] = [name for name in folders if name != "__pycache__"]
            for name in sorted(files):
                if not name.endswith((".pyc", ".pyo")):
                    path = os.path.join(directory, name)
                    found.append([path, *_stat(path)[:2]])
    # What cog says it needs (the server's packages): its installed record, or a checkout's pyproject.toml.
    site = Path(cog.__file__).parent.parent
    found.extend([str(path), *_stat(path)[:2]] for path in [site / "pyproject.toml", *site.glob("cog-*.dist-info/METADATA")]
                 if path.is_file())
    return found


def _stat(path: str | Path) -> list[int] | None:
    try:
        result = os.stat(path)
    except OSError:
        return None
    return [result.st_size, result.st_mtime_ns, result.st_ino]


def other_files(files: list[str]) -> list[str]:
    return [relative for relative in files if not relative.endswith(".py")]


def watched_files(project: Project, files: list[str]) -> dict[str, list[int] | None] | None:
    """What a replay checks is as it was, by absolute path: the project's files but its Python source, its config,
    lock and ignore files. None when the build reads a file a recipe cannot watch: a requirements file outside the
    project, or one that includes another from outside it."""
    from cog.images.locking import lock_path

    directory = project.directory
    watched = [directory / relative for relative in other_files(files)]
    watched += [project.config_path, lock_path(project), *(directory / name for name in IGNORE_FILES)]
    requirements = project.config.python_requirements.file
    if requirements:
        path = (directory / requirements).resolve()
        if not path.is_relative_to(directory) or _includes_from_outside(path, directory):
            return None
        watched.append(path)
    return {str(path): _stat(path) for path in watched}


def settings(project_dir: Path) -> dict[str, str | None]:
    """The settings files a build reads, by content (buildx rewrites its own at every build): cog's (which say
    whether a build goes to a cog server: the project's, by cog.yaml here or above, and the user's) and docker's
    (which builder, which engine)."""
    from cog.packages.settings import PROJECT_SETTINGS, project_root, user_settings_file

    docker_config = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    return read_settings([project_dir / PROJECT_SETTINGS, project_root() / PROJECT_SETTINGS, user_settings_file(),
                          docker_config / "config.json",
                          Path(os.environ.get("BUILDX_CONFIG") or docker_config / "buildx") / "current"])


def read_settings(paths) -> dict[str, str | None]:
    found = {}
    for path in paths:
        try:
            found[str(path)] = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            found[str(path)] = None
    return found


_INCLUDE = re.compile(r"^\s*(?:-r|-c|--requirement|--constraint)(?:\s*=\s*|\s+|(?=\S))(\S+)")


def _includes_from_outside(path: Path, directory: Path) -> bool:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return True
    for line in lines:
        found = _INCLUDE.match(line)
        if found and not (path.parent / found.group(1)).resolve().is_relative_to(directory):
            return True
    return False


KEPT = 16  # recipes kept: the command lines used last


def record(recipe: Recipe, path: Path, wheel: Path) -> None:
    """Keep the recipe, with the cog wheel it builds with beside it (its replays' runtime context); the oldest
    beyond KEPT go."""
    try:
        runtime = path.with_suffix("") / RUNTIME_CONTEXT
        if runtime.parent.exists():
            shutil.rmtree(runtime.parent)
        runtime.mkdir(parents=True)
        try:
            os.link(wheel, runtime / wheel.name)  # the same file, time and all: BuildKit sends it no more
        except OSError:
            shutil.copy2(wheel, runtime / wheel.name)
        _write(recipe, path)
        for old in sorted(path.parent.glob("*.json"), key=lambda found: found.stat().st_mtime)[:-KEPT]:
            forget(old)
    except OSError:
        pass  # a cache that cannot be written: every build is a full one


def _write(recipe: Recipe, path: Path) -> None:
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(asdict(recipe), separators=(",", ":")), encoding="utf-8")
    partial.replace(path)


def forget(path: Path) -> None:
    try:
        path.unlink()
        shutil.rmtree(path.with_suffix(""), ignore_errors=True)
    except OSError:
        pass


def load(path: Path) -> Recipe | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Recipe(**data)
    except (OSError, ValueError, TypeError):
        return None


def _code_labels(recipe: Recipe, project: Path) -> tuple[dict[str, str], list[str], list[str], Recipe] | None:
    """The labels of the project's code now, with its files and folders and the recipe with its schema; None when
    the recipe does not hold."""
    if any(_stat(file) != recorded for file, recorded in recipe.inputs.items()) or read_settings(recipe.settings) != recipe.settings:
        return None
    files, folders = project_entries(project)
    if other_files(files) != recipe.other_files or weight_files(project, files) != recipe.weights:
        return None
    if sorted({found.module for found in read_imports(project, files)}) != recipe.modules:
        return None
    schema, stubs = project_schema(project, recipe.predict, recipe.train, python_version=recipe.python_version,
                                   files=files, known=(recipe.schema, recipe.stubs))
    if schema is None:
        return None
    code = sorted(set(files) - set(recipe.weights))
    labels = {**recipe.labels, LABEL_SCHEMA: json.dumps(schema, sort_keys=True, separators=(",", ":")),
              LABEL_CODE_DIGEST: code_digest(project, code, recipe.config), **git_labels(project)}
    return labels, code, folders, replace(recipe, schema=schema, stubs=stubs)


def replay(argv: list[str]) -> bool:
    """Replay the recipe of this `cog build` command line; False (having printed nothing) when there is none, or
    when anything it was made of but the Python source changed: build in full then."""
    if any(word.startswith("--debug") for word in argv):
        return False  # a build with its timings shown is a full one
    path = recipe_file(argv, os.getcwd(), dict(os.environ))
    recipe = load(path)
    if recipe is None:
        return False
    project = Path(recipe.project)
    try:
        labels = _code_labels(recipe, project)
    except (CogError, OSError, ValueError):
        labels = None
    if labels is None:
        return False
    labels, code, folders, now = labels
    from cog.cli import output

    output.configure(color=not any(word.startswith("--no-color") for word in argv) and not os.environ.get("NO_COLOR"))
    for warning in recipe.warnings:
        output.warning(warning)
    with tempfile.TemporaryDirectory(prefix="cog-build-") as scratch:
        work = Path(scratch)
        dockerfile = write_dockerfile(work, recipe.variant, recipe.dockerfile, recipe.ignore)
        contexts = {RUNTIME_CONTEXT: str(path.with_suffix("") / RUNTIME_CONTEXT)}
        if recipe.weights:
            contexts[WEIGHTS_CONTEXT] = str(stage_weights(project, recipe.weights, work / WEIGHTS_CONTEXT))
        contexts[CODE_CONTEXT] = str(code_context(work, project, code, folders, recipe.workdir))
        command = build_command(context=recipe.project, dockerfile=str(dockerfile), contexts=contexts,
                                labels=labels, **recipe.build)
        try:
            with output.build_display(recipe.progress == "auto") as log:
                log(announcement(recipe.variant, recipe.tag, recipe.platforms))
                run_build(command, log, recipe.progress, pushes=bool(recipe.build.get("push")),
                          builder=recipe.build.get("builder"))
        except CogError:
            forget(path)  # the full build says what is wrong, in its words
            return False
    if now != recipe:
        try:
            _write(now, path)  # the next replay starts from this schema
        except OSError:
            pass
    output.built(recipe.tag, recipe.variant, recipe.platforms)
    return True


def announcement(variant: str, tag: str, platforms: list[str] | tuple[str, ...]) -> str:
    """The line a build starts with, a full one or a replay."""
    return f"Building the {variant.upper()} image {tag} for {', '.join(platforms)}"
