"""The data in implied_packages/ (what Cog's SDK brought into a model's environment): it loads, its schema is
current, and its rows agree with each other. One case per row where a check is about a row."""

from __future__ import annotations

import pytest
from packaging.requirements import Requirement
from pydantic import ValidationError

from cog.implied_packages import ImpliedPackages, json_schema, load_implied_packages
from cog.resources import implied_packages_dir

DATA = load_implied_packages()
ROWS = [pytest.param(row, id=row.name) for row in DATA.packages]

# What Cog v0.14–0.16 declared in its pyproject.toml's [project] dependencies (see implied_packages/README.md).
COG_SDK_DEPENDENCIES = {
    "attrs": "attrs>=20.1,<24",
    "fastapi": "fastapi>=0.100,<0.116.0",
    "pydantic": "pydantic>=1.9,<3",
    "pyyaml": "PyYAML",
    "requests": "requests>=2,<3",
    "structlog": "structlog>=20,<26",
    "typing-extensions": "typing_extensions>=4.4.0",
    "uvicorn": "uvicorn[standard]>=0.12,<1",
}
# The imports published Cog models rely on most (tracker issue 10).
MODELS_IMPORT = {"pydantic": "pydantic", "requests": "requests", "yaml": "pyyaml", "attr": "attrs",
                 "attrs": "attrs", "structlog": "structlog", "typing_extensions": "typing-extensions"}


def test_schema_json_is_current():
    assert (implied_packages_dir() / "schema.json").read_text(encoding="utf-8") == json_schema(), (
        "regenerate it: python -m cog.implied_packages"
    )


def test_direct_rows_are_cogs_dependencies():
    assert {row.name: row.requirement for row in DATA.packages if row.via is None} == COG_SDK_DEPENDENCIES


@pytest.mark.parametrize(("module", "name"), list(MODELS_IMPORT.items()))
def test_the_modules_models_import(module, name):
    assert DATA.for_module(module).name == name


def test_rows_are_sorted_direct_first():
    keys = [(row.via is not None, row.name) for row in DATA.packages]
    assert keys == sorted(keys)


@pytest.mark.parametrize("row", ROWS)
def test_rows_brought_along_have_no_range(row):
    if row.via is not None:
        assert not Requirement(row.requirement).specifier, "Cog never constrained it: leave the range to the resolver"


@pytest.mark.parametrize("row", ROWS)
def test_requirement_has_no_marker_or_url(row):
    parsed = Requirement(row.requirement)
    assert parsed.marker is None and parsed.url is None


@pytest.mark.parametrize(("change", "message"), [
    ({"packages": [{"requirement": "a", "imports": ["x"], "via": None}, {"requirement": "b", "imports": ["x"], "via": None}]},
     "listed for both"),
    ({"packages": [{"requirement": "a", "imports": ["x"], "via": "nothing"}]}, "not one of the direct rows"),
    ({"packages": [{"requirement": "a b c", "imports": ["x"], "via": None}]}, "is not a requirement"),
    ({"packages": [{"requirement": "a; python_version<'3'", "imports": ["x"], "via": None}]}, "no marker"),
    ({"packages": [{"requirement": "a", "imports": ["x.y"], "via": None}]}, "not a top-level module"),
    ({"packages": [{"requirement": "a", "imports": [], "via": None}]}, "at least one module"),
    ({"packages": [{"requirement": "a", "imports": ["x"], "via": None, "extra": 1}]}, "Extra inputs"),
])
def test_invalid_data_is_rejected(change, message):
    with pytest.raises(ValidationError, match=message):
        ImpliedPackages.model_validate({"source": "test", **change})
