"""The packages Cog's SDK brought into every model's environment (implied_packages/), loaded into typed rows.

A model written for Cog may import pydantic, requests, yaml... without listing them, because Cog's own package
depended on them. Our SDK needs only the standard library, so resolve adds those a model imports and its
requirements do not name. The YAML file is the source of the facts (implied_packages/README.md says where they
come from); these models are its schema. `implied_packages/schema.json` is generated from them
(`python -m cog.implied_packages`).
"""

from __future__ import annotations

import json
from functools import cache

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cog.resources import implied_packages_dir

FILE = "cog_sdk.yaml"


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImpliedPackage(_Row):
    """One distribution that Cog's SDK installed, and the modules a model imports it by."""

    requirement: str = Field(description='what cog adds, PEP 508 without marker or URL, e.g. "pydantic>=1.9,<3"')
    imports: tuple[str, ...] = Field(description='the top-level modules it provides, e.g. ["yaml"] for PyYAML')
    via: str | None = Field(
        description="null for a dependency of Cog's SDK itself; else the one of those that brought this one along"
    )

    @field_validator("requirement")
    @classmethod
    def _parses(cls, value: str) -> str:
        try:
            parsed = Requirement(value)
        except InvalidRequirement as error:
            raise ValueError(f"`{value}` is not a requirement: {error}") from None
        if parsed.marker is not None or parsed.url is not None:
            raise ValueError(f"`{value}`: no marker or URL here")
        return value

    @field_validator("imports")
    @classmethod
    def _modules(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("name at least one module")
        for module in value:
            if not module.isidentifier():
                raise ValueError(f"`{module}` is not a top-level module name")
        return value

    @property
    def name(self) -> str:
        """The canonical distribution name: "PyYAML>=5" → "pyyaml"."""
        return canonicalize_name(Requirement(self.requirement).name)


class ImpliedPackages(_Row):
    """Everything in implied_packages/, loaded once."""

    source: str = Field(description="where the direct rows come from")
    packages: tuple[ImpliedPackage, ...]

    @model_validator(mode="after")
    def _consistent(self) -> ImpliedPackages:
        seen: dict[str, str] = {}
        for package in self.packages:
            for module in package.imports:
                if module in seen:
                    raise ValueError(f"`{module}` is listed for both {seen[module]} and {package.requirement}")
                seen[module] = package.requirement
        direct = {package.name for package in self.packages if package.via is None}
        for package in self.packages:
            if package.via is not None and canonicalize_name(package.via) not in direct:
                raise ValueError(f"{package.requirement}: via `{package.via}`, which is not one of the direct rows")
        return self

    def for_module(self, module: str) -> ImpliedPackage | None:
        """The package that provides a top-level module, if Cog's SDK brought one that does."""
        for package in self.packages:
            if module in package.imports:
                return package
        return None


@cache
def load_implied_packages() -> ImpliedPackages:
    with open(implied_packages_dir() / FILE, encoding="utf-8") as handle:
        raw = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return ImpliedPackages.model_validate(raw)


def json_schema() -> str:
    return json.dumps(ImpliedPackages.model_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # regenerate implied_packages/schema.json
    (implied_packages_dir() / "schema.json").write_text(json_schema(), encoding="utf-8")
