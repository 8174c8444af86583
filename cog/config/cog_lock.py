"""cog.lock: the Python packages of each image of a project, as `cog lock` resolved them (docs/lock.md).

    version = 1
    uv = "0.13.8"                              the resolver that made it
    [inputs]                                   the files it was resolved from, each with its sha256
    "cog.yaml" = "sha256:…"
    "requirements.txt" = "sha256:…"
    [[image]]                                  one per variant × platform
    variant = "cpu"
    platform = "linux/amd64"
    python = "3.11"
    base_image = "python:3.11-slim"
    base_image_digest = "sha256:…"             absent when it could not be read
    requested = "sha256:…"                     what cog asked the resolver for this image (requirements, indexes)
    [[package]]                                one per name and version, in name order
    name = "numpy"
    version = "2.1.3"
    model = ["cpu linux/amd64", …]             the images whose model environment installs it
    server = ["cpu linux/amd64", …]            ...and whose prediction server's environment does
    seed = ["cpu linux/amd64", …]              ...and whose model environment has it from the start, for build
                                               commands (pip, setuptools, wheel and what they need)
    hashes = ["sha256:…", …]

This module reads and checks the file (pure: the text in, a CogLock out); cog.images.locking writes it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from cog.config.tomlsource import TomlFile, load_toml
from cog.errors import ConfigError

LOCK_FILE = "cog.lock"
LOCK_VERSION = 1


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LockedImage(_Value):
    variant: str
    platform: str
    python: str
    base_image: str
    base_image_digest: str | None = None
    requested: str

    @property
    def key(self) -> str:
        """How packages name this image: "cpu linux/amd64"."""
        return image_key(self.variant, self.platform)


class LockedPackage(_Value):
    name: str
    version: str
    model: tuple[str, ...] = ()
    server: tuple[str, ...] = ()
    seed: tuple[str, ...] = ()
    hashes: tuple[str, ...] = ()

    def line(self) -> str:
        """As an installer reads it: numpy==2.1.3 with each hash on a continuation line."""
        return f"{self.name}=={self.version}" + "".join(f" \\\n    --hash={digest}" for digest in self.hashes)


class CogLock(_Value):
    version: int = LOCK_VERSION
    uv: str
    inputs: dict[str, str]
    image: tuple[LockedImage, ...] = ()
    package: tuple[LockedPackage, ...] = ()

    def for_image(self, variant: str, platform: str) -> LockedImage | None:
        return next((image for image in self.image if image.variant == variant and image.platform == platform), None)

    def lines(self, key: str, environment: str = "model") -> tuple[str, ...]:
        """The requirement lines, with hashes, that one environment of an image installs: the
        model's, the server's, or the seed of the model's (pip & co.)."""
        return tuple(package.line() for package in self.package if key in getattr(package, environment))


def image_key(variant: str, platform: str) -> str:
    return f"{variant} {platform}"


def read_cog_lock(path: Path, display: str = LOCK_FILE) -> CogLock:
    """cog.lock as a CogLock, or a one-line ConfigError naming the file (and the line, where TOML says)."""
    return parse_cog_lock(load_toml(path, display))


def parse_cog_lock(toml: TomlFile) -> CogLock:
    version = toml.data.get("version")
    if version != LOCK_VERSION:
        what = "has no `version`" if version is None else f"is of version {version!r}"
        raise ConfigError(f"{what}; this cog reads cog.lock version {LOCK_VERSION}: run cog lock again",
                          toml.at(toml.key_line("version", None, within_table=False)))
    try:
        return CogLock.model_validate(toml.data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise ConfigError(f"`{where}`: {error['msg'].lower()}; run cog lock again", toml.at()) from None
