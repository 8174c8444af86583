"""cog.yaml text → Config. Every error names the file, line and column of what is wrong."""

from __future__ import annotations

import difflib
import os
import re
import typing
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, Tag, ValidationError

from cog._version import __version__
from cog.matrix import load_matrix
from cog.config.dialects import (
    IGNORED_KEYS, BuildSpec, CogYaml, ManagedWeightSpec, OriginalEnvironmentSpec, OriginalYaml, WeightFileSpec,
)
from cog.errors import ConfigError, ConfigWarning, Location
from cog.config.model import VARIANTS, Concurrency, Config, RunCommand, SecretMount, Weight
from cog.config.requirements import Requirement, Requirements, parse_requirement_lines, parse_requirements_file
from cog.config.sources import Selection, read_requirements, source_kind
from cog.config.yamlsource import SourceMap, load_yaml

CONFIG_FILE_NAME = "cog.yaml"

_REF = re.compile(r"^(?P<path>[^:\s]+\.py):(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DEBIAN_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.\-]*(:[a-z0-9]+)?(=[A-Za-z0-9.+~:\-]+)?$")
# The image and the runtime set these; a model overriding them would break the environment it runs in.
_RESERVED_ENV_NAMES = {"PATH", "LD_LIBRARY_PATH", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONUNBUFFERED", "HOME", "PORT"}
_RESERVED_ENV_PREFIXES = ("COG_", "CUDA_", "NVIDIA_", "NV_", "R8_", "REPLICATE_")
_MIN_CUDA_MAJOR = 11
_WORKDIR = re.compile(r"/[A-Za-z0-9._/-]*")
_PYTHON_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))?")
_EXTRA_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")  # PEP 685 extras, PEP 735 groups
# A registry repository as Docker names one, without a tag: [HOST[:PORT]/]COMPONENT[/COMPONENT...], lowercase.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"(?:localhost|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+)(?::[0-9]+)?|[a-z0-9-]+:[0-9]+"
_REPOSITORY = re.compile(rf"^(?:(?:{_HOST})/)?{_COMPONENT}(?:/{_COMPONENT})*$")
_PYTHON_FILE = re.compile(r"\.py(?::|$)")
# RUN options at the start of a build command, which Cog writes after `RUN ` as they are (Dockerfile reference:
# RUN --mount, --network, --security).
_RUN_OPTIONS = re.compile(r"(?:--(?:mount|network|security)=\S+(?:\s+|$))+")
_MODEL_FORMS = (
    'the model\'s Python class, like model: "model.py:Model" (the original cog.yaml format), or its registry '
    "repository, like model: r8.im/owner/model (today's Cog; lowercase, no tag)"
)


def model_form(value: Any) -> str | None:
    """What a `model:` value is: "predictor" for the original dialect's `FILE.py:NAME` (or an attempt at one),
    "repository" for today's Cog's registry repository (r8.im/owner/model), None for neither."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _PYTHON_FILE.search(text):
        return "predictor"
    if _REPOSITORY.match(text):
        return "repository"
    return None


def find_config_file(start: Path) -> Path | None:
    """The cog.yaml in `start` or the nearest parent directory, like git finds .git."""
    for directory in (start, *start.parents):
        candidate = directory / CONFIG_FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path, display: str | None = None) -> Config:
    display = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", Location(display)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"is not UTF-8 text (byte {exc.start})", Location(display)) from None
    except OSError as exc:
        raise ConfigError(f"cannot be read: {exc.strerror}", Location(display)) from None
    return parse_config(text, file=display, project_dir=path.parent)


def parse_config(text: str, *, file: str = CONFIG_FILE_NAME, project_dir: Path) -> Config:
    data, source = load_yaml(text, file)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError("must be a mapping of settings such as `build:` and `predict:`", source.locate(()))
    dialect = _detect_dialect(data, source)
    spec_class = OriginalYaml if dialect == "original" else CogYaml
    try:
        spec = spec_class.model_validate(data)
    except ValidationError as exc:
        raise _translate(exc, spec_class, source) from None
    builder = _Normalizer(source, project_dir)
    if isinstance(spec, OriginalYaml):
        return builder.original(spec, data)
    return builder.cog(spec, data)


def _detect_dialect(data: dict, source: SourceMap) -> str:
    """The original dialect has `environment:` as a mapping and `model: FILE.py:NAME`; today's has `build:`,
    `predict:`... and `model:` as a registry repository. A `model:` that is neither decides nothing."""
    environment = data.get("environment")
    form = model_form(data.get("model"))
    original_signals = [key for key in ("model", "examples", "workdir") if key in data
                        and (key != "model" or form == "predictor")]
    if isinstance(environment, dict):
        original_signals.insert(0, "environment")
    cog_signals = [key for key in ("build", "predict", "run", "train", "image", "concurrency", "weights", "model")
                   if key in data and (key != "model" or form == "repository")]
    if isinstance(environment, list):
        cog_signals.append("environment")
    if original_signals and cog_signals:
        first, second = original_signals[0], cog_signals[0]
        return_hint = (
            "`environment:` as a mapping and `model: FILE.py:NAME` belong to the original format, `build:`/`predict:` "
            "to the current one"
        )
        raise ConfigError(
            f"mixes two cog.yaml formats (`{first}` and `{second}`): {return_hint}; use one",
            source.locate((second,), key=True),
        )
    return "original" if original_signals else "cog"


class _Normalizer:
    """Turns a validated dialect spec into a Config, checking what types alone cannot."""

    def __init__(self, source: SourceMap, project_dir: Path):
        self.source = source
        self.project_dir = project_dir
        self.warnings: list[ConfigWarning] = []
        self.locations: dict[str, Location] = {}

    def at(self, *path: Any, key: bool = False) -> Location:
        return self.source.locate(tuple(path), key=key)

    def remember(self, name: str, *path: Any) -> None:
        if tuple(path) in self.source.positions:
            self.locations[name] = self.at(*path)

    def cog(self, spec: CogYaml, data: dict) -> Config:
        build = spec.build
        ignored = dict(IGNORED_KEYS)
        if build is not None and build.sdk_version is not None:
            ignored["build", "sdk_version"] = (
                f"the model's environment gets the SDK of the cog that builds the image ({__version__}), not Cog's SDK "
                f"{self.sdk_version(build.sdk_version)} from PyPI"
            )
        found = [(self.at(*key_path, key=True), key_path, why) for key_path, why in ignored.items() if _has_path(data, key_path)]
        for where, key_path, why in sorted(found, key=lambda item: (item[0].line or 0, item[0].column or 0)):
            self.warnings.append(ConfigWarning(f"`{'.'.join(key_path)}` is ignored: {why}", where))
        gpu = bool(build and build.gpu)
        concurrency = Concurrency()
        if spec.concurrency:
            concurrency = Concurrency(max=spec.concurrency.max, default_target=spec.concurrency.default_target)
            if concurrency.default_target is not None and concurrency.default_target > concurrency.max:
                raise ConfigError(
                    f"concurrency.default_target ({concurrency.default_target}) cannot exceed concurrency.max "
                    f"({concurrency.max})",
                    self.at("concurrency", "default_target"),
                )
        run = tuple(self.run_command(item.command, item.mounts, index) for index, item in enumerate(build.run or [])) if build else ()
        return self.finish(
            dialect="cog",
            prefix="build",
            section=build,
            gpu=gpu,
            variants=("gpu",) if gpu else ("cpu",),
            run=run,
            environment=self.environment_list(spec.environment),
            image=self.image_or_repository(spec),
            repository=self.repository(spec.model),
            predict=self.predict_reference(spec),
            train=self.reference(spec.train, "train"),
            environment_only=_written_empty(data, "predict") or _written_empty(data, "run"),
            weights=self.weights(spec.weights),
            python_overrides=self.overrides(build.python_overrides if build else None),
            concurrency=concurrency,
            tracing=bool(build and build.tracing),
        )

    def original(self, spec: OriginalYaml, data: dict) -> Config:
        env = spec.environment
        if env and env.gpu is not None and env.architectures is not None:
            raise ConfigError("set environment.gpu or environment.architectures, not both",
                              self.at("environment", "gpu", key=True))
        if env and env.gpu is not None:
            architectures: tuple[str, ...] = ("gpu",) if env.gpu else ("cpu",)
        else:
            architectures = tuple(dict.fromkeys(env.architectures)) if env and env.architectures is not None else VARIANTS
        if not architectures:
            raise ConfigError("environment.architectures is empty; list cpu, gpu or both", self.at("environment", "architectures"))
        extra_index_urls = self.index_options(env.python_extra_index_urls if env else None, "python_extra_index_urls")
        find_links = self.index_options(env.python_find_links if env else None, "python_find_links")
        if spec.workdir is not None and (not _WORKDIR.fullmatch(spec.workdir) or spec.workdir.rstrip("/") in ("", "/opt/cog")
                                         or spec.workdir.startswith("/opt/cog/")):
            raise ConfigError(f"`workdir: {spec.workdir}` must be an absolute path of letters, digits and . _ - / "
                              f"(such as /src), and not / or cog's /opt/cog", self.at("workdir"))
        return self.finish(
            dialect="original",
            prefix="environment",
            section=env,
            gpu="gpu" in architectures,
            variants=tuple(v for v in VARIANTS if v in architectures),
            run=(),
            environment=(),
            image=None,
            predict=self.reference(spec.model, "model"),
            train=None,
            environment_only=_written_empty(data, "model"),
            concurrency=Concurrency(),
            workdir=spec.workdir,
            examples=[example.model_dump() for example in spec.examples] if isinstance(spec.examples, list) else spec.examples,
            extra_index_urls=extra_index_urls,
            find_links=find_links,
        )

    def index_options(self, values: list[str] | None, name: str) -> tuple[str, ...]:
        """The original dialect's python_extra_index_urls or python_find_links: each one URL (or path) that pip
        takes as it is, on a line of the requirements file the image installs."""
        for index, value in enumerate(values or ()):
            if not value.strip() or value.startswith("-") or any(c.isspace() or not c.isprintable() for c in value):
                raise ConfigError(f"`environment.{name}[{index}]` must be one URL, without spaces or line breaks",
                                  self.at("environment", name, index))
        return tuple(values or ())

    def finish(self, *, prefix: str, section: BuildSpec | OriginalEnvironmentSpec | None, extra_index_urls=(),
               find_links=(), **fields) -> Config:
        """The settings both dialects share, read from `section` (build: or environment:), plus `fields`."""

        def setting(name: str):
            return getattr(section, name) if section is not None else None

        python_version, cuda, cudnn = setting("python_version"), setting("cuda"), setting("cudnn")
        pre_install = setting("pre_install")
        for name in ("python_version", "cuda", "cudnn", "python_requirements", "python_packages", "system_packages"):
            self.remember(f"build.{name}", prefix, name)
        # Where the config asks for a GPU: build.gpu, or the original dialect's architectures.
        self.remember("build.gpu", prefix, "gpu" if prefix == "build" or getattr(section, "gpu", None) is not None
                      else "architectures")
        checked_python: list[str] = []

        def python() -> str:  # checked once, when first needed (a pyproject or lock checks it against its own)
            if not checked_python:
                checked_python.append(self.python_version(python_version, prefix))
            return checked_python[0]

        requirements = self.requirements(prefix, setting("python_requirements"), setting("python_packages"),
                                         self.selection(prefix, setting, python, python_version is not None))
        if requirements.locked and fields.get("python_overrides"):
            raise ConfigError(
                f"python_overrides cannot change what {requirements.file} locks; change the versions in the lock",
                self.at(prefix, "python_overrides"),
            )
        if extra_index_urls or find_links:
            requirements = requirements.model_copy(update={
                "extra_index_urls": tuple(dict.fromkeys((*requirements.extra_index_urls, *extra_index_urls))),
                "find_links": tuple(dict.fromkeys((*requirements.find_links, *find_links))),
            })
        for index, command in enumerate(pre_install or ()):
            self.single_line(command, (prefix, "pre_install", index))
        for name, value in (("cuda", cuda), ("cudnn", cudnn)):
            if value is not None and "gpu" not in fields["variants"]:
                how = "set build.gpu: true" if prefix == "build" else "add gpu to environment.architectures"
                self.warnings.append(ConfigWarning(
                    f"{prefix}.{name} is set but no GPU image is built; {how}", self.at(prefix, name)))
        return Config(
            file=self.source.file,
            python_version=python(),
            python_version_explicit=python_version is not None,
            cuda=self.cuda(cuda, prefix),
            cudnn=self.version_string(cudnn, (prefix, "cudnn")),
            python_requirements=requirements,
            system_packages=self.system_packages(setting("system_packages"), prefix),
            pre_install=tuple(pre_install or ()),
            locations=self.locations,
            warnings=tuple(self.warnings),
            **fields,
        )

    # --- individual settings -------------------------------------------------------------------------

    def version_string(self, value, path: tuple) -> str | None:
        if value is None:
            return None
        text = self.source.number_texts.get(tuple(path), str(value)).strip()
        try:
            Version(text)
        except InvalidVersion:
            raise ConfigError(f"`{text}` is not a version number", self.at(*path)) from None
        return text

    def python_version(self, value, prefix: str) -> str:
        releases = load_matrix().python
        if value is None:
            return releases.default
        path = (prefix, "python_version")
        text = self.version_string(value, path)
        if not _PYTHON_VERSION.fullmatch(text):  # it names the base image (python:X-slim) and uv's interpreter
            raise ConfigError(f"`{text}` is not a Python version such as 3.12 or 3.12.4", self.at(*path))
        supported = {release.version: release for release in releases.releases}
        parsed = Version(text)
        minor = f"{parsed.major}.{parsed.minor}" if len(parsed.release) >= 2 else text
        listing = ", ".join(supported)
        if minor not in supported:
            raise ConfigError(f"Python {text} is not supported; supported: {listing}", self.at(*path))
        release = supported[minor]
        if release.deprecated:
            self.warnings.append(ConfigWarning(
                f"Python {minor} reached its end of life in {release.end_of_life}; consider {releases.default}",
                self.at(*path),
            ))
        return text

    def cuda(self, value, prefix: str) -> str | None:
        path = (prefix, "cuda")
        text = self.version_string(value, path)
        if text is not None and Version(text).major < _MIN_CUDA_MAJOR:
            raise ConfigError(f"CUDA {text} is too old; cog builds CUDA {_MIN_CUDA_MAJOR} and newer", self.at(*path))
        return text

    def selection(self, prefix: str, setting, python, explicit: bool):
        """python_extras and python_groups (checked names), and the image's Python, for a pyproject or a lock;
        a callable, so that a requirements file never needs them."""

        def names(key: str) -> tuple[tuple[str, Location], ...] | None:
            values = setting(key)
            if values is None:
                return None
            for index, value in enumerate(values):
                if not _EXTRA_NAME.match(value.strip()):
                    raise ConfigError(f"`{value}` is not an extra or group name (letters, digits, - _ .)",
                                      self.at(prefix, key, index))
            return tuple((value.strip(), self.at(prefix, key, index)) for index, value in enumerate(values))

        def make() -> Selection:
            return Selection(python_version=python(), python_where=self.locations.get("build.python_version"),
                             python_explicit=explicit, extras=names("python_extras") or (),
                             groups=names("python_groups"), section=prefix)

        extras_or_groups = [key for key in ("python_extras", "python_groups") if setting(key) is not None]
        return make, extras_or_groups

    def requirements(self, prefix: str, file_name: str | None, packages: list[str] | None,
                     selection=None) -> Requirements:
        make_selection, selecting = selection or (None, [])
        if selecting and file_name is None:
            raise ConfigError(
                f"{prefix}.{selecting[0]} selects from the pyproject.toml, uv.lock or pylock.toml that "
                f"python_requirements names, and there is none",
                self.at(prefix, selecting[0], key=True),
            )
        if file_name is not None and packages is not None:
            raise ConfigError(
                "set python_requirements or python_packages, not both; move the packages into the requirements file",
                self.at(prefix, "python_packages", key=True),
            )
        if packages is not None:
            self.warnings.append(ConfigWarning(
                "python_packages is deprecated; list packages in a requirements.txt and name it in python_requirements",
                self.at(prefix, "python_packages", key=True),
            ))
            locations = [self.at(prefix, "python_packages", index) for index in range(len(packages))]
            return self.keep_warnings(parse_requirement_lines(packages, locations, self.project_dir))
        if file_name is None:
            return Requirements()
        path = self.named_file("python_requirements", file_name, self.at(prefix, "python_requirements"))
        try:
            if source_kind(file_name) == "requirements" and not selecting:
                return self.keep_warnings(parse_requirements_file(path, file_name, self.project_dir).model_copy(
                    update={"kind": "requirements", "file": file_name}))
            return self.keep_warnings(read_requirements(path, file_name, self.project_dir, make_selection()))
        except FileNotFoundError:
            raise ConfigError(
                f"python_requirements names `{file_name}`, which does not exist next to cog.yaml",
                self.at(prefix, "python_requirements"),
            ) from None

    def named_file(self, key: str, file_name: str, where: Location) -> Path:
        """The file that python_requirements (or python_overrides) names: in the project, which is all a build
        sees, and a file. One that does not exist is the caller's FileNotFoundError to word."""
        path = self.project_dir / file_name
        if Path(file_name).is_absolute() or os.path.normpath(file_name).split(os.sep)[0] == "..":  # a link may lead out
            raise ConfigError(f"{key} names `{file_name}`, which is outside the project directory; name a file in it",
                              where)
        if path.is_dir():
            raise ConfigError(f"{key} names `{file_name}`, which is a directory, not a file", where)
        return path

    def keep_warnings(self, requirements: Requirements) -> Requirements:
        self.warnings.extend(requirements.warnings)
        return requirements

    def system_packages(self, packages: list[str] | None, prefix: str) -> tuple[str, ...]:
        for index, package in enumerate(packages or ()):
            if not _DEBIAN_PACKAGE.match(package):
                raise ConfigError(
                    f"`{package}` is not an apt package name (lowercase letters, digits, + - . and an optional =VERSION)",
                    self.at(prefix, "system_packages", index),
                )
        return tuple(dict.fromkeys(packages or ()))

    def single_line(self, command: str, path: tuple) -> None:
        if "\n" in command.strip() or "\r" in command:
            raise ConfigError(
                "a build command must be one line; join steps with && or put them in a script",
                self.at(*path),
            )
        if not command.strip():
            raise ConfigError("a build command is empty", self.at(*path))

    def run_command(self, command: str, mounts, index: int) -> RunCommand:
        self.single_line(command, ("build", "run", index))
        command = command.strip()
        options = _RUN_OPTIONS.match(command)
        written = options.group(0).split() if options else []
        command = command[options.end():] if options else command
        if not command:
            raise ConfigError(f"a build command has RUN options ({' '.join(written)}) and no command after them",
                              self.at("build", "run", index))
        secrets = []
        seen: set[str] = set()
        for mount_index, mount in enumerate(mounts):
            where = self.at("build", "run", index, "mounts", mount_index)
            if not mount.target.strip():
                raise ConfigError("a secret's target is empty; give the path the command reads it from", where)
            if mount.id in seen:
                raise ConfigError(f"secret `{mount.id}` is mounted twice in one command", where)
            seen.add(mount.id)
            secrets.append(SecretMount(id=mount.id, target=mount.target))
        return RunCommand(command=command.strip(), secrets=tuple(secrets), options=tuple(written))

    def environment_list(self, entries: list[str] | None) -> tuple[tuple[str, str], ...]:
        result: dict[str, str] = {}
        for index, entry in enumerate(entries or ()):
            where = self.at("environment", index)
            name, separator, value = entry.partition("=")
            if not separator:
                raise ConfigError(f"`{entry}` must be NAME=value", where)
            if not ENV_NAME.match(name):
                raise ConfigError(f"`{name}` is not a valid environment variable name", where)
            if name in _RESERVED_ENV_NAMES or name.startswith(_RESERVED_ENV_PREFIXES):
                raise ConfigError(f"`{name}` is set by cog and the image and cannot be overridden", where)
            if name in result:
                raise ConfigError(f"`{name}` is set twice", where)
            if "\n" in value:
                raise ConfigError(f"the value of `{name}` must be one line", where)
            result[name] = value
        return tuple(result.items())

    def image(self, name: str | None) -> str | None:
        if name is not None and not re.match(r"^[a-z0-9][a-z0-9._\-/:@]*$", name):
            raise ConfigError(
                f"`{name}` is not an image name (lowercase, like registry.example.com/owner/model)", self.at("image")
            )
        return name

    def image_or_repository(self, spec: CogYaml) -> str | None:
        """image:, else today's `model:` repository: the name cog build tags and cog push pushes."""
        image = self.image(spec.image)
        repository = self.repository(spec.model)
        if image is not None and repository is not None and _without_tag(image) != repository:
            self.warnings.append(ConfigWarning(
                f"`model: {repository}` is not used as the image's name: image: ({image}) names it",
                self.at("model"),
            ))
        return image or repository

    def repository(self, value: str | None) -> str | None:
        if value is None:
            return None
        form = model_form(value)
        if form == "repository":
            return value.strip()
        if form == "predictor":  # only reached in a mixed file, which detection refuses first
            return None
        raise ConfigError(f"`model: {value}` must be {_MODEL_FORMS}", self.at("model"))

    def sdk_version(self, value) -> str:
        """build.sdk_version: Cog's SDK release to install, a version (0.16.8) or a specifier (>=0.16,<0.17)."""
        path = ("build", "sdk_version")
        text = self.source.number_texts.get(path, str(value)).strip()
        try:
            Version(text)
            return text
        except InvalidVersion:
            pass
        try:
            if text and SpecifierSet(text):
                return text
        except InvalidSpecifier:
            pass
        raise ConfigError(
            f"`build.sdk_version: {text}` is not a version (0.16.8) or a version specifier (>=0.16,<0.17)",
            self.at(*path),
        )

    def overrides(self, file_name: str | None) -> tuple[Requirement, ...]:
        """build.python_overrides: a requirements file whose versions win over any the requirements or their
        dependencies ask for (uv's --overrides); names and URLs only, no paths or includes of constraints."""
        if file_name is None:
            return ()
        where = self.at("build", "python_overrides")
        self.remember("build.python_overrides", "build", "python_overrides")
        if not file_name.strip():
            raise ConfigError("python_overrides is empty; name a requirements-format file such as overrides.txt", where)
        path = self.named_file("python_overrides", file_name, where)
        try:
            parsed = parse_requirements_file(path, file_name, self.project_dir)
        except FileNotFoundError:
            raise ConfigError(
                f"python_overrides names `{file_name}`, which does not exist next to cog.yaml", where
            ) from None
        self.keep_warnings(parsed)
        for constraint in parsed.constraints:
            raise ConfigError(
                f"`{constraint.text}`: python_overrides cannot include constraints (-c); list the versions directly",
                constraint.location,
            )
        for requirement in parsed.requirements:
            if requirement.name is None:
                raise ConfigError(
                    f"`{requirement.text}`: an override must name its package, like NAME==1.0 or NAME @ URL",
                    requirement.location,
                )
            if requirement.local_path is not None or requirement.editable:
                raise ConfigError(
                    f"`{requirement.text}`: an override cannot be a path or editable; pin a version or a URL",
                    requirement.location,
                )
        if parsed.index_url or parsed.extra_index_urls or parsed.find_links or parsed.pre or parsed.options:
            self.warnings.append(ConfigWarning(
                f"the installer options in `{file_name}` are ignored: python_overrides holds versions only; put "
                "index options in python_requirements",
                where,
            ))
        return parsed.requirements

    def weights(self, items) -> tuple[Weight, ...]:
        """Cog's weights: [{source, target}], or today's managed weights [{name, source: {uri, include, exclude},
        target}]. Checked and recorded; cog does not download or push them yet."""
        if items is None:
            return ()
        weights: list[Weight] = []
        names: dict[str, int] = {}
        targets: dict[str, int] = {}
        for index, item in enumerate(items):
            if isinstance(item, ManagedWeightSpec):
                self.nonempty(item.name, ("weights", index, "name"))
                self.nonempty(item.source.uri, ("weights", index, "source", "uri"))
                for field in ("include", "exclude"):
                    for position, pattern in enumerate(getattr(item.source, field) or ()):
                        self.nonempty(pattern, ("weights", index, "source", field, position))
                weight = Weight(name=item.name.strip(), source=item.source.uri.strip(), target=item.target.strip(),
                                include=tuple(item.source.include or ()), exclude=tuple(item.source.exclude or ()))
                self.nonempty(item.target, ("weights", index, "target"))
            else:
                assert isinstance(item, WeightFileSpec)
                self.nonempty(item.source, ("weights", index, "source"))
                if item.target is not None:
                    self.nonempty(item.target, ("weights", index, "target"))
                weight = Weight(source=item.source.strip(), target=item.target.strip() if item.target else None)
            for seen, value, what in ((names, weight.name, "name"), (targets, weight.target, "target")):
                if value is None:
                    continue
                if value in seen:
                    raise ConfigError(
                        f"weights[{index}] has the same {what} as weights[{seen[value]}] (`{value}`); each needs its own",
                        self.at("weights", index, what),
                    )
                seen[value] = index
            weights.append(weight)
        if weights:
            self.warnings.append(ConfigWarning(
                "`weights` is recorded but cog does not download or push weights yet; put weights files in the "
                "project directory, where they get their own image layer",
                self.at("weights", key=True),
            ))
        return tuple(weights)

    def nonempty(self, value: str, path: tuple) -> None:
        if not value.strip():
            raise ConfigError(f"`{_dotted(path)}` is empty", self.at(*path))

    def predict_reference(self, spec: CogYaml) -> str | None:
        """`predict:`, or `run:`, today's Cog name for the same thing; not both."""
        if spec.predict is not None and spec.run is not None:
            raise ConfigError("set predict: or run:, not both; they name the same thing", self.at("run", key=True))
        if spec.run is not None:
            return self.reference(spec.run, "run")
        return self.reference(spec.predict, "predict")

    def reference(self, value: str | None, key: str) -> str | None:
        if value is None:
            return None
        if key == "model" and model_form(value) is None:
            raise ConfigError(f"`model: {value}` must be {_MODEL_FORMS}", self.at(key))
        if not _REF.match(value.strip()):
            example = {"train": "train.py:train", "model": "model.py:Model"}.get(key, "predict.py:Predictor")
            raise ConfigError(
                f'`{key}: {value}` must name a Python file and a class or function in it, like {key}: "{example}"',
                self.at(key),
            )
        return value.strip()


def _without_tag(image: str) -> str:
    """registry:5000/owner/model:v1 → registry:5000/owner/model (a colon after the last slash starts a tag)."""
    name, _, digest = image.partition("@")
    head, colon, tail = name.rpartition(":")
    return head if colon and "/" not in tail else name


def _written_empty(data: dict, key: str) -> bool:
    """`key:` written with no value (null): said on purpose, unlike a key left out."""
    return key in data and data[key] is None


def _has_path(data: Any, path: tuple) -> bool:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return False
        data = data[part]
    return True


# --- pydantic errors → one located sentence ------------------------------------------------------


def _translate(exc: ValidationError, spec_class: type[BaseModel], source: SourceMap) -> ConfigError:
    # A misspelled key (`targt:`) also leaves the real one missing: name the misspelling, it is the cause. Else the
    # deepest error: of a union's members (`examples:` a file or a list), the one the value came closest to.
    errors = exc.errors(include_url=False)
    error = max(errors, key=lambda e: (e["type"] == "extra_forbidden", len(e["loc"])))
    path = _data_path(error["loc"], source, error["type"])
    dotted = _dotted(path) or "cog.yaml"
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        key = str(path[-1])
        allowed = _allowed_keys(spec_class, tuple(error["loc"][:-1]))
        guess = difflib.get_close_matches(key, allowed, n=1)
        parent = ".".join(str(part) for part in path[:-1] if not isinstance(part, int))
        where = f"under `{parent}`" if parent else "at the top level"
        hint = f"; did you mean `{guess[0]}`?" if guess else f"; known keys: {', '.join(allowed)}"
        return ConfigError(f"unknown key `{key}` {where}{hint}", source.locate(path, key=True))
    if kind == "missing":
        return ConfigError(f"`{dotted}` is required", source.locate(path[:-1]))
    expected = {
        "string_type": "a string", "bool_type": "true or false", "int_type": "a whole number",
        "list_type": "a list", "model_type": "a mapping", "dict_type": "a mapping",
        "float_type": "a number", "model_attributes_type": "a mapping",
    }
    if kind == "model_type" and len(path) >= 2 and path[-2] == "run":
        return ConfigError(
            f"`{dotted}` must be a command string or a mapping with `command` and `mounts`, not {_describe(value)}",
            source.locate(path),
        )
    if kind == "weight_shape":
        return ConfigError(
            f"`{dotted}` must be a mapping, {{source: URL, target: PATH}} or {{name: NAME, source: {{uri: URI}}, "
            f"target: PATH}}, not {_describe(value)}",
            source.locate(path),
        )
    if kind in expected:
        return ConfigError(f"`{dotted}` must be {expected[kind]}, not {_describe(value)}", source.locate(path))
    if kind == "literal_error":
        choices = error.get("ctx", {}).get("expected", "")
        return ConfigError(f"`{dotted}` must be one of {choices}, not {_describe(value)}", source.locate(path))
    if kind in ("greater_than_equal", "greater_than"):
        bound = error.get("ctx", {}).get("ge", error.get("ctx", {}).get("gt"))
        return ConfigError(f"`{dotted}` must be at least {bound}, not {value}", source.locate(path))
    return ConfigError(f"`{dotted}`: {error['msg']}", source.locate(path))


def _dotted(path: tuple) -> str:
    """("build", "run", 0, "command") → "build.run[0].command", as a user would point at it."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _data_path(loc: tuple, source: SourceMap, kind: str) -> tuple:
    """The document path of a pydantic error location, without the member names that unions add to it."""
    path: tuple = ()
    for index, part in enumerate(loc):
        is_last = index == len(loc) - 1
        if path + (part,) in source.positions or (kind == "missing" and is_last):
            path += (part,)
    return path


def _allowed_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys of the mapping at a pydantic error location: fields are followed into their models, the tags of a
    discriminated union (`weights:` items) pick its member, and other union member names are passed over."""
    candidates: list[tuple[str | None, Any]] = [(None, model)]
    for part in loc:
        if isinstance(part, int):
            continue
        with_field = [m for _, m in candidates if part in m.model_fields]
        if with_field:
            candidates = [member for m in with_field for member in _models_in(m.model_fields[part].annotation)]
            continue
        tagged = [(tag, m) for tag, m in candidates if tag == part]
        if tagged:
            candidates = tagged
    if len(candidates) == 1:
        return list(candidates[0][1].model_fields)
    return []


def _models_in(annotation: Any, tag: str | None = None) -> list[tuple[str | None, Any]]:
    """The BaseModels inside Optional[...], list[...], Union[...] or Annotated[...], each with its union Tag."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(tag, annotation)]
    arguments = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated and arguments:
        tags = [meta.tag for meta in arguments[1:] if isinstance(meta, Tag)]
        return _models_in(arguments[0], tags[0] if tags else tag)
    return [found for argument in arguments for found in _models_in(argument, tag)]


def _describe(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f'the string "{value}"'
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
