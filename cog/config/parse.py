"""cog.yaml text → Config. Every error names the file, line and column of what is wrong."""

from __future__ import annotations

import difflib
import re
import typing
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ValidationError

from cog.matrix import load_matrix
from cog.config.dialects import IGNORED_KEYS, BuildSpec, CogYaml, OriginalEnvironmentSpec, OriginalYaml
from cog.errors import ConfigError, ConfigWarning, Location
from cog.config.model import VARIANTS, Concurrency, Config, RunCommand, SecretMount
from cog.config.requirements import Requirements, parse_requirement_lines, parse_requirements_file
from cog.config.yamlsource import SourceMap, load_yaml

CONFIG_FILE_NAME = "cog.yaml"

_REF = re.compile(r"^(?P<path>[^:\s]+\.py):(?P<name>[A-Za-z_][A-Za-z0-9_]*)$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DEBIAN_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.\-]*(:[a-z0-9]+)?(=[A-Za-z0-9.+~:\-]+)?$")
# The image and the runtime set these; a model overriding them would break the environment it runs in.
_RESERVED_ENV_NAMES = {"PATH", "LD_LIBRARY_PATH", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONUNBUFFERED", "HOME", "PORT"}
_RESERVED_ENV_PREFIXES = ("COG_", "CUDA_", "NVIDIA_", "NV_", "R8_", "REPLICATE_")
_MIN_CUDA_MAJOR = 11


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
    environment = data.get("environment")
    original_signals = [key for key in ("model", "examples", "workdir") if key in data]
    if isinstance(environment, dict):
        original_signals.insert(0, "environment")
    cog_signals = [key for key in ("build", "predict", "run", "train", "image", "concurrency") if key in data]
    if isinstance(environment, list):
        cog_signals.append("environment")
    if original_signals and cog_signals:
        first, second = original_signals[0], cog_signals[0]
        return_hint = (
            "`environment:` as a mapping and `model:` belong to the original format, `build:`/`predict:` to the "
            "current one"
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
        for key_path, why in IGNORED_KEYS.items():
            if _has_path(data, key_path):
                self.warnings.append(ConfigWarning(f"`{'.'.join(key_path)}` is ignored: {why}", self.at(*key_path, key=True)))
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
            image=self.image(spec.image),
            predict=self.predict_reference(spec),
            train=self.reference(spec.train, "train"),
            concurrency=concurrency,
        )

    def original(self, spec: OriginalYaml, data: dict) -> Config:
        env = spec.environment
        architectures = tuple(dict.fromkeys(env.architectures)) if env and env.architectures is not None else VARIANTS
        if not architectures:
            raise ConfigError("environment.architectures is empty; list cpu, gpu or both", self.at("environment", "architectures"))
        extra_index_urls = tuple(env.python_extra_index_urls or ()) if env else ()
        find_links = tuple(env.python_find_links or ()) if env else ()
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
            concurrency=Concurrency(),
            workdir=spec.workdir,
            examples=[example.model_dump() for example in spec.examples] if isinstance(spec.examples, list) else spec.examples,
            extra_index_urls=extra_index_urls,
            find_links=find_links,
        )

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
        self.remember("build.gpu", prefix, "gpu" if prefix == "build" else "architectures")
        requirements = self.requirements(prefix, setting("python_requirements"), setting("python_packages"))
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
            python_version=self.python_version(python_version, prefix),
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

    def requirements(self, prefix: str, file_name: str | None, packages: list[str] | None) -> Requirements:
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
        path = (self.project_dir / file_name)
        try:
            return self.keep_warnings(parse_requirements_file(path, file_name, self.project_dir))
        except FileNotFoundError:
            raise ConfigError(
                f"python_requirements names `{file_name}`, which does not exist next to cog.yaml",
                self.at(prefix, "python_requirements"),
            ) from None

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
        return RunCommand(command=command.strip(), secrets=tuple(secrets))

    def environment_list(self, entries: list[str] | None) -> tuple[tuple[str, str], ...]:
        result: dict[str, str] = {}
        for index, entry in enumerate(entries or ()):
            where = self.at("environment", index)
            name, separator, value = entry.partition("=")
            if not separator:
                raise ConfigError(f"`{entry}` must be NAME=value", where)
            if not _ENV_NAME.match(name):
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
        if not _REF.match(value.strip()):
            example = {"train": "train.py:train", "model": "model.py:Model"}.get(key, "predict.py:Predictor")
            raise ConfigError(
                f'`{key}: {value}` must name a Python file and a class or function in it, like {key}: "{example}"',
                self.at(key),
            )
        return value.strip()


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
        allowed = _allowed_keys(spec_class, path[:-1])
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


def _allowed_keys(model: type[BaseModel], path: tuple) -> list[str]:
    current: Any = model
    for part in path:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if isinstance(current, type) and issubclass(current, BaseModel) else None
        if field is None:
            return []
        current = _model_in(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    """The BaseModel inside Optional[...], list[...] or Annotated[...], if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


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
