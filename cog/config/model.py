"""The typed intermediate representation of cog.yaml: one Config, whichever dialect it was written in."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cog.errors import CogError, ConfigError, ConfigWarning, Location
from cog.config.requirements import Requirement, Requirements

Variant = Literal["cpu", "gpu"]
VARIANTS: tuple[Variant, ...] = ("cpu", "gpu")
Dialect = Literal["original", "cog"]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True)


class SecretMount(_Value):
    """A BuildKit secret that a build `run` command may read at `target`; never stored in a layer."""

    id: str
    target: str


class RunCommand(_Value):
    command: str
    secrets: tuple[SecretMount, ...] = ()
    # BuildKit's RUN options written at the start of the command, as Cog writes `RUN <command>`:
    # "--mount=type=cache,target=/root/.cache/pip pip install x" is a cache mount, then the command.
    options: tuple[str, ...] = ()

    @property
    def written(self) -> str:
        """The command as cog.yaml has it, its RUN options first."""
        return " ".join((*self.options, self.command))


class Concurrency(_Value):
    max: int = 1
    default_target: int | None = None


class Weight(_Value):
    """One of Cog's `weights:`: recorded, not yet downloaded or pushed by cog."""

    source: str  # a URL or path (config_file.go's source), or a managed weight's source.uri
    target: str | None = None
    name: str | None = None  # managed weights only
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()


class Config(_Value):
    """A validated cog.yaml, normalized from either dialect, with where each setting was written."""

    file: str = Field(description="the cog.yaml as the user named it, for messages")
    dialect: Dialect = "cog"
    python_version: str
    python_version_explicit: bool = False
    gpu: bool = False
    variants: tuple[Variant, ...] = ("cpu",)
    cuda: str | None = None
    cudnn: str | None = None
    python_requirements: Requirements = Requirements()
    python_overrides: tuple[Requirement, ...] = ()  # build.python_overrides: versions that win over dependencies'
    system_packages: tuple[str, ...] = ()
    pre_install: tuple[str, ...] = ()
    run: tuple[RunCommand, ...] = ()
    environment: tuple[tuple[str, str], ...] = ()
    image: str | None = None
    predict: str | None = None
    train: str | None = None
    # `predict:` (or `run:`, or the original `model:`) written with no value: an image of the environment alone.
    environment_only: bool = False
    repository: str | None = None  # today's Cog `model:`, a registry repository
    weights: tuple[Weight, ...] = ()
    concurrency: Concurrency = Concurrency()
    tracing: bool = False  # build.tracing: the server environment gets the OpenTelemetry SDK (cog's tracing extra)
    workdir: str | None = None
    examples: str | list[dict] | None = None  # the original dialect's: a file, or [{input, output}]
    locations: dict[str, Location] = Field(
        default_factory=dict, description='where settings were written, by dotted key, e.g. "build.cuda"'
    )
    warnings: tuple[ConfigWarning, ...] = ()

    def where(self, key: str) -> Location:
        return self.locations.get(key, Location(self.file))


def completed_config(config: Config) -> dict:
    """The config as a cog.yaml in today's dialect with every default filled in: what an image records about itself."""
    requirements = config.python_requirements
    build: dict = {
        "python_version": config.python_version,
        "gpu": config.gpu,
        "python_packages": [requirement.text for requirement in requirements.requirements],
        "system_packages": list(config.system_packages),
        "run": [
            {"command": run.written, "mounts": [{"type": "secret", "id": s.id, "target": s.target} for s in run.secrets]}
            for run in config.run
        ],
    }
    if config.cuda:
        build["cuda"] = config.cuda
    if config.cudnn:
        build["cudnn"] = config.cudnn
    if config.pre_install:
        build["pre_install"] = list(config.pre_install)
    if config.tracing:
        build["tracing"] = True
    completed: dict = {"build": build}
    for key in ("image", "predict", "train"):
        if getattr(config, key):
            completed[key] = getattr(config, key)
    if config.weights:
        completed["weights"] = [weight.model_dump(mode="json", exclude_defaults=True) for weight in config.weights]
    completed["concurrency"] = config.concurrency.model_dump(exclude_none=True)
    completed["environment"] = [f"{name}={value}" for name, value in config.environment]
    return completed


def package_variants(config: Config) -> tuple[Variant, ...]:
    """The images a package of this config gets on a cog server: the original dialect's architectures as listed;
    otherwise CPU, plus GPU when the config asks for a GPU, so that machines without one can still run it."""
    if config.dialect == "original":
        return config.variants
    return VARIANTS if config.gpu else ("cpu",)


def predict_key(config: Config) -> str:
    """The key that names the model in this config's dialect."""
    return "model" if config.dialect == "original" else "predict"


def check_buildable(config: Config) -> None:
    """Before any build: an image needs a model to serve, unless the config says it is the environment alone."""
    if config.predict or config.train or config.environment_only:
        return
    key = predict_key(config)
    raise CogError(
        f'{config.file} has no `{key}:`, so the image would have no model to run; add {key}: "predict.py:Predictor", '
        f"or write `{key}:` with no value to build only the model's environment (for cog exec and cog run)"
    )


def chosen_variants(config: Config, choice: str | None) -> tuple[Variant, ...]:
    """The images `cog build --variant CHOICE` builds (cpu, gpu, all; None: what the config asks for). The original
    dialect's architectures list what the model supports: a GPU image of a model that lists only cpu is refused."""
    if choice is None:
        return config.variants
    wanted: tuple[Variant, ...] = VARIANTS if choice == "all" else (choice,)  # type: ignore[assignment]
    if config.dialect == "original" and "gpu" in wanted and "gpu" not in config.variants:
        raise ConfigError(
            "environment.architectures lists only cpu; add gpu to build a GPU image",
            config.where("build.gpu"),
        )
    return wanted
