"""resolve adds the packages Cog's SDK brought along that a model imports and its requirements do not name:
table-driven over the real implied_packages/ data."""

from __future__ import annotations

import pytest

from cog.compiler.imports import ModuleImport
from cog.compiler.resolve import resolve, resolve_all
from cog.config.parse import parse_config
from cog.errors import Location
from cog.implied_packages import ImpliedPackage, ImpliedPackages


def config_for(make_project, requirements: str = "", build: str = '  python_version: "3.11"\n', **files):
    project = make_project({"requirements.txt": requirements, **files} if requirements else files)
    text = "build:\n" + build + ("  python_requirements: requirements.txt\n" if requirements else "")
    return parse_config(text + 'predict: "predict.py:Predictor"\n', file="cog.yaml", project_dir=project)


def imported(*modules: str, file: str = "predict.py") -> tuple[ModuleImport, ...]:
    return tuple(ModuleImport(module, Location(file, line)) for line, module in enumerate(modules, start=1))


# (id, requirements.txt, modules predict.py imports, requirement lines the plan installs)
CASES = [
    ("nothing imported, nothing added", "", (), []),
    ("standard library and unknown modules add nothing", "", ("os", "json", "numpy_thing"), []),
    ("yaml brings PyYAML", "", ("yaml",), ["PyYAML"]),
    ("pydantic with Cog's range", "", ("pydantic",), ["pydantic>=1.9,<3"]),
    ("requests with Cog's range", "", ("requests",), ["requests>=2,<3"]),
    ("attr and attrs are one package", "", ("attr", "attrs"), ["attrs>=20.1,<24"]),
    ("structlog", "", ("structlog",), ["structlog>=20,<26"]),
    ("typing_extensions", "", ("typing_extensions",), ["typing_extensions>=4.4.0"]),
    ("added after the user's lines, in the data's order", "numpy==1.26.4\n", ("yaml", "requests", "pydantic"),
     ["numpy==1.26.4", "pydantic>=1.9,<3", "PyYAML", "requests>=2,<3"]),
    ("a pinned requirement is the user's", "pydantic==1.10.13\n", ("pydantic",), ["pydantic==1.10.13"]),
    ("names compare canonically", "pyyaml==6.0.1\n", ("yaml",), ["pyyaml==6.0.1"]),
    ("spelled with other separators and case", "Typing-Extensions\n", ("typing_extensions",), ["Typing-Extensions"]),
    ("a requirement with a marker is the user's", 'requests>=2.31 ; python_version >= "3.8"\n', ("requests",),
     ['requests>=2.31 ; python_version >= "3.8"']),
    ("a requirement with extras is the user's", "pydantic[email]\n", ("pydantic",), ["pydantic[email]"]),
    ("a URL requirement with a name is the user's",
     "PyYAML @ https://example.com/PyYAML-6.0.1-cp311-cp311-linux_x86_64.whl\n", ("yaml",),
     ["PyYAML @ https://example.com/PyYAML-6.0.1-cp311-cp311-linux_x86_64.whl"]),
    ("only what the requirements lack is added", "requests==2.32.3\n", ("requests", "yaml"),
     ["requests==2.32.3", "PyYAML"]),
    ("a distribution named like the module is the user's", "attr==0.3.2\n", ("attr",), ["attr==0.3.2"]),
    ("a package brought along comes without a range", "", ("urllib3",), ["urllib3"]),
    ("a package brought along by one the user names comes with it", "requests==2.32.3\n", ("urllib3", "certifi"),
     ["requests==2.32.3"]),
    ("dotenv is python-dotenv", "", ("dotenv",), ["python-dotenv"]),
]


@pytest.mark.parametrize(("requirements", "modules", "lines"), [pytest.param(r, m, l, id=i) for i, r, m, l in CASES])
def test_requirement_lines(make_project, requirements, modules, lines):
    plan = resolve(config_for(make_project, requirements), "cpu", imports=imported(*modules))
    assert list(plan.python_requirements) == lines


def test_each_added_package_has_one_notice_at_its_first_import(make_project):
    imports = (ModuleImport("yaml", Location("predict.py", 3)), ModuleImport("attr", Location("lib/x.py", 7)),
               ModuleImport("attrs", Location("lib/y.py", 1)), ModuleImport("urllib3", Location("net.py", 2)))
    plan = resolve(config_for(make_project), "cpu", imports=imports)
    assert [str(warning) for warning in plan.warnings] == [
        "lib/x.py:7: imports attr, which Cog's SDK brought along; adding attrs>=20.1,<24 to the model's requirements "
        "(list it in requirements.txt to pin it)",
        "predict.py:3: imports yaml, which Cog's SDK brought along; adding PyYAML to the model's requirements "
        "(list it in requirements.txt to pin it)",
        "net.py:2: imports urllib3, which Cog's SDK brought along (through requests); adding urllib3 to the model's "
        "requirements (list it in requirements.txt to pin it)",
    ]


def test_a_named_package_gets_no_notice(make_project):
    plan = resolve(config_for(make_project, "PyYAML==6.0.2\n"), "cpu", imports=imported("yaml"))
    assert not [warning for warning in plan.warnings if "Cog's SDK" in warning.message]


def test_a_model_without_requirements_gets_an_install_step_only_when_it_imports_one(make_project):
    config = config_for(make_project)
    assert resolve(config, "cpu", imports=imported("os")).python_requirements == ()
    assert resolve(config, "cpu", imports=imported("yaml")).python_requirements == ("PyYAML",)


def test_the_user_constraints_still_apply(make_project):
    config = config_for(make_project, "numpy\n-c constraints.txt\n", **{"constraints.txt": "pydantic<2\n"})
    plan = resolve(config, "cpu", imports=imported("pydantic"))
    assert plan.python_requirements == ("numpy", "pydantic>=1.9,<3")
    assert plan.python_constraints == ("pydantic<2",)


def test_every_variant_and_platform_gets_them(make_project):
    config = config_for(make_project, build='  gpu: true\n  python_version: "3.11"\n')
    plans = resolve_all(config, ("cpu", "gpu"), ("linux/amd64", "linux/arm64"), imports=imported("yaml"))
    assert [plan.python_requirements for plan in plans] == [("PyYAML",)] * 4


def test_torch_rewriting_is_unaffected(make_project):
    plan = resolve(config_for(make_project, "torch==2.5.1\n"), "cpu", imports=imported("torch", "yaml"))
    assert plan.python_requirements == ("torch==2.5.1+cpu", "PyYAML")


def test_the_data_decides(make_project):
    data = ImpliedPackages(source="test", packages=(ImpliedPackage(requirement="six>=1.16", imports=("six",), via=None),))
    plan = resolve(config_for(make_project), "cpu", imports=imported("six", "yaml"), implied=data)
    assert plan.python_requirements == ("six>=1.16",)
