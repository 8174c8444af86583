"""The two shapes of cog.yaml, as written. Both are normalized into cog.config.model.Config by cog.config.parse.

original: `environment:` (a mapping) + `model:`, the first Cog's format.
cog:      `build:` + `predict:`/`train:`, today's Cog format; its `environment:` is a LIST of NAME=value.
"""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag
from typing_extensions import Annotated


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# Unquoted YAML versions arrive as numbers (3.11, 12); both spellings are accepted and checked later.
Version = Union[str, int, float]


class SecretMountSpec(_Strict):
    type: Literal["secret"]
    id: str
    target: str  # absolute, or relative to the build step's working directory as BuildKit reads it


def _command_string_to_mapping(value: Any) -> Any:
    return {"command": value} if isinstance(value, str) else value


class RunSpec(_Strict):
    command: str
    mounts: list[SecretMountSpec] = Field(default_factory=list)


RunItem = Annotated[RunSpec, BeforeValidator(_command_string_to_mapping)]


class BuildSpec(_Strict):
    python_version: Version | None = None
    gpu: bool = False
    cuda: Version | None = None
    cudnn: Version | None = None
    python_requirements: str | None = None
    python_extras: list[str] | None = None  # extras of a pyproject.toml or lock that python_requirements names
    python_groups: list[str] | None = None  # its dependency groups (PEP 735)
    python_packages: list[str] | None = None
    system_packages: list[str] | None = None
    run: list[RunItem] | None = None
    pre_install: list[str] | None = None
    python_overrides: str | None = None  # a requirements-format file of versions that win over any dependency's
    tracing: bool = False  # cog's own: the OpenTelemetry SDK in the image's server environment
    # Accepted so that existing Cog projects load; they steer Cog's own runtime and mean nothing here.
    cog_runtime: bool | None = None
    sdk_version: Version | None = None  # a PEP 440 version or specifier, checked later
    fast: bool | None = None


class ConcurrencySpec(_Strict):
    max: int = Field(1, ge=1)
    default_target: int | None = Field(None, ge=1)


class WeightFileSpec(_Strict):
    """One of Cog's `weights:` as its config_file.go reads them: a source (URL or path) and where it goes."""

    source: str
    target: str | None = None


class WeightSourceSpec(_Strict):
    uri: str
    include: list[str] | None = None  # glob patterns
    exclude: list[str] | None = None


class ManagedWeightSpec(_Strict):
    """One of today's Cog's managed weights: a name, a source with file globs, and where it is mounted."""

    name: str
    source: WeightSourceSpec
    target: str


def weight_shape(value: Any) -> str | None:
    """Which of the two shapes a `weights:` item is written in: managed ones have a name or a source mapping."""
    if not isinstance(value, dict):
        return None
    return "managed" if "name" in value or isinstance(value.get("source"), dict) else "file"


WeightItem = Annotated[
    Union[Annotated[WeightFileSpec, Tag("file")], Annotated[ManagedWeightSpec, Tag("managed")]],
    Discriminator(
        weight_shape,
        custom_error_type="weight_shape",
        custom_error_message="a weights item must be a mapping",
    ),
]


class CogYaml(_Strict):
    build: BuildSpec | None = None
    image: str | None = None
    model: str | None = None  # today's Cog: the model's registry repository (r8.im/owner/model)
    predict: str | None = None
    run: str | None = None  # today's Cog name for predict: (a BaseRunner's run())
    train: str | None = None
    concurrency: ConcurrencySpec | None = None
    environment: list[str] | None = None
    weights: list[WeightItem] | None = None


class OriginalEnvironmentSpec(_Strict):
    python_version: Version | None = None
    python_requirements: str | None = None
    python_extras: list[str] | None = None  # as build.python_extras
    python_groups: list[str] | None = None  # as build.python_groups
    python_packages: list[str] | None = None
    python_extra_index_urls: list[str] | None = None
    python_find_links: list[str] | None = None
    system_packages: list[str] | None = None
    pre_install: list[str] | None = None
    architectures: list[Literal["cpu", "gpu"]] | None = None
    gpu: bool | None = None  # the later original dialect's one image: GPU (true) or CPU, instead of architectures
    cuda: Version | None = None
    cudnn: Version | None = None


class OriginalExample(_Strict):
    """One of the original dialect's `examples:`: inputs and, optionally, the output they should give."""

    input: dict[str, Any]
    output: Any = None


class OriginalYaml(_Strict):
    environment: OriginalEnvironmentSpec | None = None
    model: str | None = None
    examples: str | list[OriginalExample] | None = None  # a file of examples, or the examples themselves
    workdir: str | None = None


# Keys that Cog accepts but this tool ignores, with why; each gives a one-line warning instead of an error.
IGNORED_KEYS = {
    ("build", "cog_runtime"): "the image always runs this cog's own prediction server; there is no other runtime to choose",
    ("build", "sdk_version"): "the model's environment gets the SDK of the cog that builds the image, not one from PyPI",
    ("build", "fast"): "cog has one kind of build, which already caches every layer and installs packages with uv",
}
