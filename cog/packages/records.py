"""What the store keeps and the HTTP API returns: packages, their builds, and names of models."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cog.config.model import Variant
from cog.packages.manifest import Manifest

# A model is OWNER/NAME; both become part of a Docker repository name, so they follow its rules.
MODEL_PART = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
MODEL_PART_RULE = "lowercase letters, digits and . _ - between them, at most 64 characters"
ID_PREFIX = re.compile(r"^[0-9a-f]{1,64}$")

BuildStatus = Literal["queued", "building", "succeeded", "failed"]


def now() -> datetime:
    return datetime.now(timezone.utc)


def check_model_part(value: str, what: str) -> str:
    """OWNER or NAME as Docker repositories allow it, or ValueError naming which is wrong."""
    if len(value) > 64 or not MODEL_PART.match(value):
        raise ValueError(f"{what} {value!r} is not a valid name ({MODEL_PART_RULE})")
    return value


class Build(BaseModel):
    """One image of a package: its variant, where it is pushed, how the build went."""

    model_config = ConfigDict(extra="ignore")

    variant: Variant
    status: BuildStatus = "queued"
    image: str | None = Field(None, description="REGISTRY/OWNER/NAME:TAG the image is pushed to")
    digest: str | None = Field(None, description="the pushed image's digest, once built")
    platforms: list[str] | None = Field(None, description="the platforms the pushed image holds, once built")
    attempt: int = 1
    queued_at: datetime = Field(default_factory=now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = Field(None, description="refreshed while a server builds it")
    error: str | None = None
    # How the image was made (its labels run.cog.base_image, run.cog.source_date_epoch, run.cog.lock), once built.
    base_image: str | None = Field(None, description="the base image, by digest when cog.lock pins it")
    source_date_epoch: str | None = Field(None, description="SOURCE_DATE_EPOCH of the build: the files' time")
    lock: str | None = Field(None, description="sha256 of the cog.lock the image installed, when it had one")

    @property
    def reference(self) -> str | None:
        """IMAGE@DIGEST: exactly what was built, whatever the tag points at later."""
        if self.image is None or self.digest is None:
            return None
        return f"{self.image.rsplit(':', 1)[0]}@{self.digest}"


class Package(BaseModel):
    """A committed package of a model. Content-addressed: `id` is the sha256 of the manifest's canonical form."""

    model_config = ConfigDict(extra="ignore")

    id: str
    model: str = Field(description="OWNER/NAME")
    created_at: datetime = Field(default_factory=now)
    manifest: Manifest
    config: dict = Field(description="cog.yaml as the server read it, normalized")
    variants: tuple[Variant, ...]


class PackageSummary(BaseModel):
    id: str
    model: str
    created_at: datetime
    size: int
    files: int
    builds: list[Build] = []


class PackageDetail(PackageSummary):
    config: dict
    manifest: Manifest
