"""BuildPlan: everything the Dockerfile template needs for one variant on one platform, fully decided."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from cog.compiler.matrix import Platform
from cog.config.errors import ConfigWarning
from cog.config.model import Concurrency, RunCommand, Variant


class PythonIndex(BaseModel):
    model_config = ConfigDict(frozen=True)

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    pre: bool = False


class BuildPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    variant: Variant
    platform: Platform
    base_image: str
    uv_image: str
    python_version: str
    cuda: str | None = None  # full CUDA version of the base image, GPU variant only
    cudnn: str | None = None  # cuDNN major version of the base image
    torch: str | None = None  # the torch release the requirements were pinned to, if any
    tensorflow: str | None = None
    system_packages: tuple[str, ...] = ()
    python_requirements: tuple[str, ...] = ()
    python_index: PythonIndex = PythonIndex()
    pre_install: tuple[str, ...] = ()
    run: tuple[RunCommand, ...] = ()
    environment: tuple[tuple[str, str], ...] = ()
    predict: str | None = None
    train: str | None = None
    concurrency: Concurrency = Concurrency()
    workdir: str = "/src"
    warnings: tuple[ConfigWarning, ...] = ()
