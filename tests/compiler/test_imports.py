"""Which top-level modules a project imports: the pure ast reader (cog.compiler.imports) and the files it reads
(cog.images.imports), table-driven."""

from __future__ import annotations

import pytest

from cog.compiler.imports import ModuleImport, imports_in_source, merge_imports
from cog.errors import Location
from cog.images.imports import read_imports

# (id, source, [(module, line), ...] in order of first appearance)
SOURCE_CASES = [
    ("plain import", "import yaml\n", [("yaml", 1)]),
    ("a submodule counts as its top-level module", "import yaml.constructor\n", [("yaml", 1)]),
    ("from-import", "from pydantic import BaseModel as PydanticModel\n", [("pydantic", 1)]),
    ("from a submodule", "from requests.adapters import HTTPAdapter\n", [("requests", 1)]),
    ("several names in one statement", "import os, attr, structlog\n", [("attr", 1), ("os", 1), ("structlog", 1)]),
    ("each module once, at its first line", "import yaml\nimport json\nfrom yaml import safe_load\n",
     [("yaml", 1), ("json", 2)]),
    ("relative imports are the project's own", "from . import helpers\nfrom .yaml import x\nfrom .. import y\n", []),
    ("imports inside functions and try blocks count",
     "def setup():\n    import requests\ntry:\n    import yaml\nexcept ImportError:\n    yaml = None\n",
     [("requests", 2), ("yaml", 4)]),
    ("nested deeper first still reports the earliest line",
     "class A:\n    def f(self):\n        import yaml\nimport yaml\n", [("yaml", 3)]),
    ("if TYPE_CHECKING imports never run", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import yaml\n",
     [("typing", 1)]),
    ("typing.TYPE_CHECKING too, but its else branch runs",
     "import typing\nif typing.TYPE_CHECKING:\n    import yaml\nelse:\n    import requests\n",
     [("typing", 1), ("requests", 5)]),
    ("a syntax error yields nothing", "import yaml\ndef broken(:\n", []),
    ("Python 2 yields nothing", "import yaml\nprint 'hello'\n", []),
    ("a NUL byte yields nothing", "import yaml\n\x00\n", []),
    ("no imports", "x = 1\n", []),
    ("empty file", "", []),
    ("dynamic imports are not read", "import importlib\nimportlib.import_module('yaml')\n", [("importlib", 1)]),
]


@pytest.mark.parametrize(("source", "expected"), [pytest.param(s, e, id=i) for i, s, e in SOURCE_CASES])
def test_imports_in_source(source, expected):
    found = imports_in_source(source, "predict.py")
    assert [(item.module, item.location.line) for item in found] == expected
    assert all(item.location.file == "predict.py" for item in found)


def test_source_bytes_honour_their_encoding_cookie():
    source = "# -*- coding: latin-1 -*-\nimport yaml\ns = '\xe9'\n".encode("latin-1")
    assert imports_in_source(source, "a.py") == (ModuleImport("yaml", Location("a.py", 2)),)


def test_undecodable_bytes_yield_nothing():
    assert imports_in_source(b"import yaml\ns = '\xff\xfe'\n", "a.py") == ()


def test_merge_keeps_the_first_file_that_imports_a_module():
    first = (ModuleImport("yaml", Location("a.py", 3)),)
    second = (ModuleImport("yaml", Location("b.py", 1)), ModuleImport("requests", Location("b.py", 2)))
    assert merge_imports(first, second) == (first[0], second[1])


# (id, files of the project, expected [(module, FILE:LINE)])
PROJECT_CASES = [
    ("every Python file is read, in sorted order",
     {"predict.py": "import yaml\n", "lib/util.py": "import requests\nimport yaml\n"},
     [("requests", "lib/util.py:1"), ("yaml", "lib/util.py:2")]),
    ("a file that does not parse is skipped, the others read",
     {"predict.py": "from pydantic import BaseModel\n", "old.py": "print 'x'\nimport requests\n"},
     [("pydantic", "predict.py:1")]),
    ("hidden folders are skipped", {"predict.py": "import json\n", ".tox/x.py": "import yaml\n"}, [("json", "predict.py:1")]),
    ("a virtual environment in the project is skipped",
     {"predict.py": "import json\n", "venv/pyvenv.cfg": "home = /usr\n", "venv/bin/tool.py": "import requests\n",
      "venv/lib/python3.11/site-packages/a/b.py": "import yaml\n"},
     [("json", "predict.py:1")]),
    ("site-packages trees are skipped without a pyvenv.cfg",
     {"predict.py": "", "env/lib/python3.11/site-packages/pkg/m.py": "import yaml\n"}, []),
    ("files the build context ignores are skipped",
     {"predict.py": "import json\n", "scratch/try.py": "import yaml\n", ".dockerignore": "scratch\n"},
     [("json", "predict.py:1")]),
    (".cogignore too", {"predict.py": "", "notebooks/n.py": "import requests\n", ".cogignore": "notebooks/\n"}, []),
    ("the project's own top-level modules are left out",
     {"predict.py": "import yaml\nimport requests\nimport helpers\n", "yaml.py": "", "requests/__init__.py": "",
      "helpers.py": "import attr\n"},
     [("attr", "helpers.py:1")]),
    ("only .py files are read", {"predict.py": "", "notes.txt": "import yaml\n", "nb.ipynb": "import requests\n"}, []),
]


@pytest.mark.parametrize(("files", "expected"), [pytest.param(f, e, id=i) for i, f, e in PROJECT_CASES])
def test_read_imports(make_project, files, expected):
    directory = make_project(files)
    found = read_imports(directory)
    assert sorted((item.module, str(item.location)) for item in found) == sorted(expected)


def test_read_imports_locates_files_beside_cog_yaml_as_the_user_names_it(make_project):
    directory = make_project({"predict.py": "import yaml\n"})
    assert [str(item.location) for item in read_imports(directory, display_dir="models/one")] == ["models/one/predict.py:1"]


def test_read_imports_takes_the_listed_files(make_project):
    directory = make_project({"predict.py": "import yaml\n", "other.py": "import requests\n"})
    assert [item.module for item in read_imports(directory, ["predict.py"])] == ["yaml"]


def test_a_file_that_vanished_is_skipped(make_project):
    directory = make_project({"predict.py": "import yaml\n"})
    assert [item.module for item in read_imports(directory, ["predict.py", "gone.py"])] == ["yaml"]
