"""The two shapes of cog.yaml, as written. Both are normalized into cog.config.model.Config by cog.config.parse.

original: `environment:` (a mapping) + `model:`, the first Cog's format.
cog:      `build:` + `predict:`/`train:`, today's Cog format; its `environment:` is a LIST of NAME=value.
"""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
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
    python_packages: list[str] | None = None
    system_packages: list[str] | None = None
    run: list[RunItem] | None = None
    pre_install: list[str] | None = None
    # Accepted so that existing Cog projects load; they steer Cog's own runtime and mean nothing here.
    cog_runtime: Any = None
    sdk_version: Any = None
    fast: Any = None


class ConcurrencySpec(_Strict):
    max: int = Field(1, ge=1)
    default_target: int | None = Field(None, ge=1)


class CogYaml(_Strict):
    build: BuildSpec | None = None
    image: str | None = None
    predict: str | None = None
    run: str | None = None  # today's Cog name for predict: (a BaseRunner's run())
    train: str | None = None
    concurrency: ConcurrencySpec | None = None
    environment: list[str] | None = None
    weights: Any = None  # Cog's weights URL list: see cog_runtime above


class OriginalEnvironmentSpec(_Strict):
    python_version: Version | None = None
    python_requirements: str | None = None
    python_packages: list[str] | None = None
    python_extra_index_urls: list[str] | None = None
    python_find_links: list[str] | None = None
    system_packages: list[str] | None = None
    pre_install: list[str] | None = None
    architectures: list[Literal["cpu", "gpu"]] | None = None
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


# Keys that Cog accepts but this tool ignores, with why; each gives a warning instead of an error.
IGNORED_KEYS = {
    ("build", "cog_runtime"): "this image always runs cog's own runtime",
    ("build", "sdk_version"): "the image's SDK is the version of the cog that builds it",
    ("build", "fast"): "every build here is incremental",
    ("weights",): "put weights files in the project directory; they get their own image layer",
}
