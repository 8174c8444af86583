"""BuildPlan: everything the Dockerfile template needs for one variant on one platform, fully decided."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from cog.matrix import Platform
from cog.errors import ConfigWarning
from cog.config.model import Concurrency, RunCommand, Variant


class InstallOptions(BaseModel):
    """Where and how the installer finds packages: the requirements files' options, plus wheel indexes cog adds."""

    model_config = ConfigDict(frozen=True)

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    pre: bool = False
    flags: tuple[str, ...] = ()  # passed through as written, e.g. "--no-binary :all:"
    no_deps: bool = False  # a lock's lines are every package to install: nothing is resolved
    require_hashes: bool = False  # and every line has its hashes


class LocalPath(BaseModel):
    """A project path that a requirement installs from; copied into the image before the install step."""

    model_config = ConfigDict(frozen=True)

    source: str  # relative to the project, POSIX
    destination: str  # absolute, inside the image


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
    python_constraints: tuple[str, ...] = ()
    python_overrides: tuple[str, ...] = ()  # versions that win over anything the requirements resolve to
    server_requirements: tuple[str, ...] = ()  # the prediction server's packages as cog.lock pins them; () unlocked
    # The base image is Python's own (the CPU images'): the model's environment sees its pip, setuptools and wheel.
    python_from_base: bool = False
    seed_requirements: tuple[str, ...] = ()  # else pip & co. as cog.lock pins them; () unlocked: uv venv --seed
    install_options: InstallOptions = InstallOptions()
    local_paths: tuple[LocalPath, ...] = ()
    pre_install: tuple[str, ...] = ()
    run: tuple[RunCommand, ...] = ()
    environment: tuple[tuple[str, str], ...] = ()
    predict: str | None = None
    train: str | None = None
    concurrency: Concurrency = Concurrency()
    workdir: str = "/src"
    warnings: tuple[ConfigWarning, ...] = ()
