"""The static schema reader (cog/compiler/static_schema.py): the OpenAPI schema read from a model's source, without
running its environment, is byte-identical to the runtime's (`python -m cog.sdk.worker --openapi`) wherever it
decides, on every fixture model of the repository; and where it cannot decide it says why, never guessing."""

from __future__ import annotations

import ast
import importlib.util
import json
import shutil
import sys
import textwrap
from pathlib import Path

import pytest

from cog.compiler.static_schema import CannotDecide, read_signatures, read_stubs, signature_from_schema, static_schema
from cog.config.project import load_project
from cog.errors import CogError
from cog.images.model_source import code_digest, project_schema, project_signatures
from cog.sdk.schema import input_schema
from cog.sdk.signature import InputError
from cog.server.process import SchemaError, openapi_schema_for
from tests.compat.test_migrate import BORROWED

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "runtime" / "fixtures"
PROJECT_ROOTS = [REPO / "tests" / "images" / "projects", REPO / "tests" / "compat" / "projects", REPO / "examples"]

# What the reader cannot decide among the fixtures, and why: each a principled fallback (the runtime decides).
# (Refs to output classes and bad declarations fail in the runtime too; those need no entry.)
UNDECIDED = {
    "tests/runtime/fixtures/pydantic_output.py:Predictor": "`from pydantic import BaseModel` is an import the static "
                                                           "reader does not run",  # a third-party output type
    "tests/compat/projects/migrate-unsafe/model.py:Greeter": "calls os.environ.get",  # a default from the environment
}

# Third-party packages some examples import (only in setup() and predict()); this environment lacks them, so the
# runtime's reading gets empty stand-ins. Nothing of theirs reaches a signature: the comparison stays exact.
STAND_INS = ["numpy", "joblib", "torch", "PIL", "PIL.Image"]
_ANYTHING = """\
class _Anything:
    def __getattr__(self, name): return _Anything()
    def __call__(self, *args, **kwargs): return _Anything()
def __getattr__(name): return _Anything()
"""


@pytest.fixture(scope="module")
def stand_ins(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("stand-ins")
    for name in STAND_INS:
        if importlib.util.find_spec(name.split(".")[0]) is not None:
            continue
        path = directory.joinpath(*name.split("."))
        if "." in name:
            path.with_suffix(".py").write_text(_ANYTHING)
        else:
            path.mkdir()
            (path / "__init__.py").write_text(_ANYTHING)
    return directory


def _models() -> list:
    """(directory, predict ref, train ref, python version) of every fixture model, both APIs."""
    models = []
    for path in sorted(FIXTURES.glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                models.append(pytest.param(FIXTURES, f"{path.name}:{node.name}", None, None,
                                           id=f"tests/runtime/fixtures/{path.name}:{node.name}"))
    models.append(pytest.param(FIXTURES, "hello.py:Predictor", "train.py:train", None,
                               id="tests/runtime/fixtures/hello.py:Predictor+train.py:train"))
    for root in PROJECT_ROOTS:
        for directory in sorted(p for p in root.iterdir() if (p / "cog.yaml").is_file()):
            try:
                config = load_project(directory / "cog.yaml").config
            except CogError:
                continue  # a project whose cog.yaml is wrong on purpose
            if config.predict:
                name = f"{directory.relative_to(REPO)}/{config.predict}" + (f"+{config.train}" if config.train else "")
                models.append(pytest.param(directory, config.predict, config.train, config.python_version, id=name))
    return models


MODELS = _models()


def _with_borrowed(directory: Path, tmp_path: Path) -> Path:
    copy = tmp_path / directory.name
    shutil.copytree(directory, copy)
    for name, source in BORROWED[directory.name].items():
        shutil.copy(source, copy / name)
    return copy


def _sources(directory: Path, *refs) -> dict:
    return {ref.split(":")[0]: (directory / ref.split(":")[0]).read_text(encoding="utf-8")
            for ref in refs if ref and (directory / ref.split(":")[0]).is_file()}


@pytest.mark.parametrize(("directory", "predict", "train", "python_version"), MODELS)
def test_the_static_schema_is_the_runtimes_byte_for_byte(directory, predict, train, python_version, stand_ins,
                                                          monkeypatch, request, tmp_path):
    name = request.node.callspec.id
    if directory.name in BORROWED:  # a project that takes its model from elsewhere in the repository
        directory = _with_borrowed(directory, tmp_path)
    sources = _sources(directory, predict, train)
    monkeypatch.setenv("PYTHONPATH", str(stand_ins))
    try:
        runtime = openapi_schema_for(predict, project_dir=str(directory), train_ref=train)
    except SchemaError:
        runtime = None  # the runtime refuses it (a bad declaration, a ref to an output class): the reader must not decide
    try:
        static = read_signatures(sources, predict, train).openapi_schema()
    except CannotDecide as exc:
        if runtime is not None:
            assert name in UNDECIDED, f"cannot decide {name}: {exc.reason}"
            assert UNDECIDED[name] in exc.reason
        return
    assert name not in UNDECIDED, f"{name} is decided now: take it off UNDECIDED"
    assert runtime is not None, f"decided a schema for {name}, which the runtime refuses"
    assert json.dumps(static, sort_keys=True) == json.dumps(runtime, sort_keys=True)
    # With the project's own Python (3.8 ... 3.12) the reader decides the same, or refuses: never another schema.
    try:
        assert read_signatures(sources, predict, train, python_version=python_version).openapi_schema() == static
    except CannotDecide as exc:
        assert "reads differently" in exc.reason


def test_every_fixture_model_is_in_the_comparison():
    ids = {m.id for m in MODELS}
    assert "examples/jazz-composer/model.py:JazzSoloComposerModel" in ids  # the original API
    assert "tests/images/projects/trainer/predict.py:Predictor+train.py:train" in ids
    assert sum(i.startswith("tests/runtime/fixtures/") for i in ids) >= 30


# --- decided: each compared with the runtime's reading of the same file -------------------------------------

HEAD = "from cog import BaseModel, BasePredictor, Input, Path\n"
DECIDED = {
    "constants from the module": """
        N = 3
        CHOICES = ["a", "b"]
        class Predictor(BasePredictor):
            def predict(self, n: int = Input(default=N, ge=0), c: str = Input(choices=CHOICES, default="a")) -> str: ...
    """,
    "a class attribute as a default": """
        class Predictor(BasePredictor):
            STEPS = 5
            def predict(self, steps: int = Input(default=STEPS)) -> str: ...
    """,
    "torch only in setup and predict": """
        import torch
        class Predictor(BasePredictor):
            model: torch.nn.Module
            @torch.no_grad()
            def setup(self):
                self.model = torch.load("w.pt")
            def predict(self, x: float = 1.0) -> float:
                return self.model(torch.tensor([x])).item()
    """,
    "an output BaseModel with a default and a property": """
        from typing import Optional
        class Out(BaseModel):
            text: str
            score: float = 0.0
            note: Optional[str] = None
            @property
            def shout(self): return self.text.upper()
        class Predictor(BasePredictor):
            def predict(self) -> Out: ...
    """,
    "a str Enum's value as a default": """
        import enum
        class Size(str, enum.Enum):
            SMALL = "small"
            LARGE = "large"
        class Predictor(BasePredictor):
            def predict(self, size: str = Input(default=Size.SMALL.value, choices=[s.value for s in Size])) -> str: ...
    """,
    "inherited from the model's own base class": """
        class Base(BasePredictor):
            def predict(self, x: int = 2) -> str: ...
        class Predictor(Base):
            def setup(self): ...
    """,
    "postponed annotations": """
        from __future__ import annotations
        from typing import Iterator
        import torch
        class Predictor(BasePredictor):
            def predict(self, prompt: str, n: int = Input(default=2, le=8)) -> Iterator[str]:
                yield prompt
            def helper(self, t: torch.Tensor) -> torch.Tensor: ...
    """,
    "an async generator": """
        from typing import AsyncIterator
        class Predictor(BasePredictor):
            async def predict(self, n: int = 3) -> AsyncIterator[int]:
                for i in range(n):
                    yield i
    """,
    "a main guard and helpers": """
        import os, sys
        def helper(x): return os.path.join(x, "y")
        class Predictor(BasePredictor):
            def predict(self, path: Path = Input(description="a file")) -> Path: ...
        if __name__ == "__main__":
            Predictor.predict = None
            print(Predictor().predict(sys.argv[1]))
    """,
    "a star import of cog": """
        from cog import *
        class Predictor(BasePredictor):
            def predict(self, token: Secret = Input(default=None), n: int = Input(default=1)) -> Path: ...
    """,
    "the original API": """
        import cog
        class Model(cog.Model):
            @cog.input("a", type=int, default=1, min=0, max=5, help="A")
            @cog.input("b", type=cog.Path, default=None)
            def run(self, a, b): ...
    """,
}


@pytest.mark.parametrize("source", DECIDED.values(), ids=DECIDED.keys())
def test_decided_sources_read_as_the_runtime_reads_them(source, tmp_path, stand_ins, monkeypatch):
    body = textwrap.dedent(source).lstrip()
    future, _, rest = body.partition("\n")
    text = f"{future}\n{HEAD}{rest}" if future.startswith("from __future__") else HEAD + body
    (tmp_path / "predict.py").write_text(text)
    attr = "Model" if "cog.Model" in text else "Predictor"
    monkeypatch.setenv("PYTHONPATH", str(stand_ins))
    runtime = openapi_schema_for(f"predict.py:{attr}", project_dir=str(tmp_path))
    static = read_signatures({"predict.py": text}, f"predict.py:{attr}").openapi_schema()
    assert json.dumps(static, sort_keys=True) == json.dumps(runtime, sort_keys=True)


# --- cannot decide: the table of fallbacks -------------------------------------------------------------------

FALLBACKS = {
    "a third-party annotation": ("import torch\nclass Predictor(BasePredictor):\n    def predict(self, x: torch.Tensor) -> str: ...",
                                 "predict() reads torch; predict.py:2: `import torch` is an import the static reader does not run"),
    "a dynamic decorator": ("import torch\nclass Predictor(BasePredictor):\n    @torch.inference_mode()\n    def predict(self, x: str) -> str: ...",
                            "has the decorator @torch.inference_mode()"),
    "a default from the environment": ("import os\nclass Predictor(BasePredictor):\n    def predict(self, x: str = Input(default=os.getenv('X', 'a'))) -> str: ...",
                                       "calls os.getenv"),
    "a default from the model's function": ("def d(): return 3\nclass Predictor(BasePredictor):\n    def predict(self, x: int = Input(default=d())) -> str: ...",
                                            "calls d, which the static reader does not run"),
    "a default read from a file": ("import pathlib\nclass Predictor(BasePredictor):\n    def predict(self, x: str = Input(default=pathlib.Path('x').read_text())) -> str: ...",
                                   "calls pathlib.Path('x').read_text"),
    "a function alias": ("import pathlib\nR = pathlib.Path.read_text\nclass Predictor(BasePredictor):\n    def predict(self, x: str = Input(default=R(pathlib.Path('x')))) -> str: ...",
                         "calls R"),
    "a constant changed in place": ("C = ['a', 'b']\nC.append('c')\nclass Predictor(BasePredictor):\n    def predict(self, c: str = Input(choices=C, default='a')) -> str: ...",
                                    "C is a mutable value read elsewhere"),
    "a constant bound again": ("N = 3\nN = compute()\nclass Predictor(BasePredictor):\n    def predict(self, x: int = Input(default=N)) -> str: ...",
                               "reads N; predict.py:3: N = ... calls compute"),
    "a constant declared global": ("N = 3\ndef f():\n    global N\n    N = 4\nclass Predictor(BasePredictor):\n    def predict(self, x: int = Input(default=N)) -> str: ...",
                                   "N is declared `global` in a function"),
    "an import in try/except": ("try:\n    from typing import Literal\nexcept ImportError:\n    from typing_extensions import Literal\n"
                                "class Predictor(BasePredictor):\n    def predict(self, x: Literal['a', 'b']) -> str: ...",
                                "reads Literal; predict.py:2: a `try` statement"),
    "a class attribute shadowed by one not kept": ("N = 1\nclass Predictor(BasePredictor):\n    N = compute()\n    def predict(self, x: int = Input(default=N)) -> str: ...",
                                                   "reads N; predict.py:4: N = ... calls compute"),
    "the model's __init__": ("class Predictor(BasePredictor):\n    def __init__(self):\n        self.x = 1\n    def predict(self, x: str) -> str: ...",
                             "reading the signature runs Predictor.__init__()"),
    "an __init_subclass__": ("class B(BasePredictor):\n    def __init_subclass__(cls): ...\nclass Predictor(B):\n    def predict(self, x: str) -> str: ...",
                             "runs B.__init_subclass__()"),
    "an output field not kept": ("class Out(BaseModel):\n    a: str\n    b: int = compute()\nclass Predictor(BasePredictor):\n    def predict(self) -> Out: ...",
                                 "class Out is not kept without it"),
    "a pydantic output": ("from pydantic import BaseModel as PM\nclass Out(PM):\n    a: str\nclass Predictor(BasePredictor):\n    def predict(self) -> Out: ...",
                          "`from pydantic import BaseModel as PM` is an import"),
    "a monkeypatched predictor": ("class Predictor(BasePredictor):\n    def predict(self, x: int = 1) -> str: ...\nPredictor.predict = other",
                                  "Predictor is changed by an assignment into it elsewhere"),
    "a star import of another module": ("from utils import *\nclass Predictor(BasePredictor):\n    def predict(self, x: int = 1) -> str: ...",
                                        "`from utils import *` binds names the static reader cannot know"),
    "the module's __name__": ("class Predictor(BasePredictor):\n    def predict(self, x: str = Input(default=__name__)) -> str: ...",
                              "reads __name__"),
    "a predictor defined conditionally": ("import sys\nif sys.platform == 'linux':\n    class Predictor(BasePredictor):\n        def predict(self) -> str: ...",
                                          "a `if` statement"),
    "an unknown name": ("class Predictor(BasePredictor):\n    def predict(self, x: Foo) -> str: ...",
                        "reads Foo, which is not defined"),
    "a declaration the runtime refuses": ("class Predictor(BasePredictor):\n    def predict(self, x: int = Input(default=9, le=4)) -> str: ...",
                                          "SignatureError: input 'x': default 9 is invalid"),
    "a syntax error": ("class Predictor(BasePredictor):\n    def predict(self) -> str\n", "does not compile"),
    "no such predictor": ("class Other(BasePredictor):\n    def predict(self) -> str: ...", "has no top-level Predictor"),
}


@pytest.mark.parametrize(("source", "reason"), FALLBACKS.values(), ids=FALLBACKS.keys())
def test_what_it_cannot_decide_it_says_why(source, reason):
    with pytest.raises(CannotDecide) as raised:
        read_signatures({"predict.py": HEAD + source}, "predict.py:Predictor")
    assert reason in raised.value.reason
    assert static_schema({"predict.py": HEAD + source}, "predict.py:Predictor") is None


# --- the stub digest: what a replayed rebuild takes the recorded schema on ----------------------------------


def _bodies_edited(source: str) -> str:
    """The source with a statement more in every function's body (after its docstring), reformatted, under a
    comment that moves every line."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.body.insert(int(ast.get_docstring(node, clean=False) is not None), ast.Expr(ast.Constant("edited")))
    return "# edited\n\n" + ast.unparse(tree) + "\n"


@pytest.mark.parametrize(("directory", "predict", "train", "python_version"), MODELS)
def test_an_edit_to_function_bodies_keeps_the_stub_digest_and_the_schema(directory, predict, train, python_version,
                                                                          request, tmp_path):
    if directory.name in BORROWED:
        directory = _with_borrowed(directory, tmp_path)
    sources = _sources(directory, predict, train)
    try:
        schema = read_signatures(sources, predict, train).openapi_schema()
    except CannotDecide:
        return  # nothing to keep: a replay reads such a model in full (and fails to decide), as a build does
    edited = {path: _bodies_edited(text) for path, text in sources.items()}
    assert edited != sources
    assert read_stubs(edited, predict, train).digest == read_stubs(sources, predict, train).digest
    assert read_signatures(edited, predict, train).openapi_schema() == schema


SIGNATURE_BASE = HEAD + """\
from typing import Iterator
CHOICES = ["a", "b"]
class Out(BaseModel):
    text: str
class Predictor(BasePredictor):
    def setup(self):
        self.n = 1
    def predict(self, text: str = Input(default="a", choices=CHOICES), n: int = Input(default=1, ge=0)) -> Out:
        \"\"\"Say it.\"\"\"
        return Out(text=text * n)
"""
SIGNATURE_EDITS = {
    "a default": ('default="a"', 'default="b"'),
    "a constraint": ("ge=0", "ge=1"),
    "an annotation": ("n: int", "n: float"),
    "a parameter more": ("ge=0)", "ge=0), loud: bool = False"),
    "a constant the signature reads": ('CHOICES = ["a", "b"]', 'CHOICES = ["a", "b", "c"]'),
    "the output class": ("    text: str\n", "    text: str\n    score: float = 0.0\n"),
    "the return annotation and a yield": ("-> Out:", "-> Iterator[str]:\n        yield text\n"),
}


@pytest.mark.parametrize(("old", "new"), SIGNATURE_EDITS.values(), ids=SIGNATURE_EDITS.keys())
def test_an_edit_to_a_signature_changes_the_stub_digest(old, new):
    assert SIGNATURE_BASE.count(old) == 1
    edited = SIGNATURE_BASE.replace(old, new)
    schemas = [json.dumps(read_signatures({"predict.py": text}, "predict.py:Predictor").openapi_schema(),
                          sort_keys=True) for text in (SIGNATURE_BASE, edited)]
    assert schemas[0] != schemas[1]
    digests = {read_stubs({"predict.py": text}, "predict.py:Predictor").digest for text in (SIGNATURE_BASE, edited)}
    assert len(digests) == 2


def test_the_stub_digest_covers_the_trainer_the_references_and_the_python():
    trainer = HEAD + "def train(steps: int = 3) -> str: ...\n"
    sources = {"predict.py": SIGNATURE_BASE, "train.py": trainer}
    digests = {
        read_stubs(sources, "predict.py:Predictor").digest,
        read_stubs(sources, "predict.py:Predictor", "train.py:train").digest,
        read_stubs({**sources, "train.py": trainer.replace("3", "4")}, "predict.py:Predictor", "train.py:train").digest,
        read_stubs({"predict.py": SIGNATURE_BASE + "class Other(Predictor): ...\n"}, "predict.py:Other").digest,
    }
    assert len(digests) == 4
    with pytest.raises(CannotDecide, match="reads differently"):
        read_stubs({"predict.py": SIGNATURE_BASE.replace("n: int", "n: int | None")}, "predict.py:Predictor",
                   python_version="3.8")



def test_a_module_reference_or_a_missing_file_is_not_decided():
    with pytest.raises(CannotDecide, match="names a module, not a file"):
        read_signatures({}, "pkg.mod:Predictor")
    with pytest.raises(CannotDecide, match="is not among the sources"):
        read_signatures({}, "predict.py:Predictor")


def test_a_project_module_that_shadows_a_kept_one_is_not_decided():
    source = HEAD + "class Predictor(BasePredictor):\n    def predict(self) -> str: ..."
    assert static_schema({"predict.py": source}, "predict.py:Predictor") is not None
    for local in ("typing", "cog", "enum"):
        with pytest.raises(CannotDecide, match=f"has its own {local} module"):
            read_signatures({"predict.py": source}, "predict.py:Predictor", local_modules={local, "predict"})


@pytest.mark.parametrize(("annotation", "default", "feature"), [
    ("list[str]", '["a"]', "list[...]-style generics"),
    ("str | None", '"a"', "X | Y"),
    ("str", "None", "a parameter defaulting to None"),
])
def test_a_python_that_reads_annotations_differently_is_not_decided(annotation, default, feature):
    source = HEAD + f"class Predictor(BasePredictor):\n    def predict(self, x: {annotation} = {default}) -> str: ..."
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert read_signatures({"predict.py": source}, "predict.py:Predictor", python_version=here)
    with pytest.raises(CannotDecide, match=feature.replace("[", r"\[").replace("|", r"\|")):
        read_signatures({"predict.py": source}, "predict.py:Predictor", python_version="3.8")
    plain = HEAD + "from typing import List\nclass Predictor(BasePredictor):\n    def predict(self, x: List[str] = Input(default=['a'])) -> str: ..."
    assert read_signatures({"predict.py": plain}, "predict.py:Predictor", python_version="3.8")


def test_the_stub_runs_no_code_of_the_model(tmp_path):
    marker = tmp_path / "ran"
    source = HEAD + textwrap.dedent(f"""
        import pathlib
        pathlib.Path({str(marker)!r}).write_text("import time")
        class Out(BaseModel):
            a: str
            def __init__(self, **kw):
                pathlib.Path({str(marker)!r}).write_text("__init__")
        class Predictor(BasePredictor):
            def setup(self):
                pathlib.Path({str(marker)!r}).write_text("setup")
            def predict(self, x: str = "a") -> Out:
                pathlib.Path({str(marker)!r}).write_text("predict")
    """)
    assert read_signatures({"predict.py": source}, "predict.py:Predictor").predict.output.kind == "object"
    assert not marker.exists()
    assert not [m for m in sys.modules if m.startswith("_cog_static_")]


# --- the project's files, at the edge ------------------------------------------------------------------------

def test_a_project_is_read_from_its_files(tmp_path):
    (tmp_path / "predict.py").write_text(HEAD + "class Predictor(BasePredictor):\n    def predict(self, x: int) -> int: ...")
    signatures = project_signatures(tmp_path, "predict.py:Predictor", None, python_version=None)
    assert [f.name for f in signatures.predict.inputs] == ["x"]
    assert project_schema(tmp_path, None, None, python_version=None) == ({}, None)  # an environment alone
    schema, digest = project_schema(tmp_path, "predict.py:Predictor", None, python_version=None)
    assert schema["components"]["schemas"]["Input"]["required"] == ["x"]
    # A known schema is taken for stubs with its digest (an edit to a body leaves it), never for others.
    (tmp_path / "predict.py").write_text((tmp_path / "predict.py").read_text().replace("-> int: ...", "-> int:\n        return x"))
    assert project_schema(tmp_path, "predict.py:Predictor", None, python_version=None, known=({"k": 1}, digest)) == ({"k": 1}, digest)
    assert project_schema(tmp_path, "predict.py:Predictor", None, python_version=None, known=({"k": 1}, "other")) == (schema, digest)
    # In the image only the build context's files exist: an ignored predictor is the runtime's to report.
    assert project_schema(tmp_path, "predict.py:Predictor", None, python_version=None, files=["cog.yaml"]) == (None, None)
    (tmp_path / "typing.py").write_text("")
    assert project_schema(tmp_path, "predict.py:Predictor", None, python_version=None) == (None, None)


def test_the_code_digest_changes_with_the_code_and_the_config(tmp_path):
    (tmp_path / "predict.py").write_text("a")
    digest = code_digest(tmp_path, ["predict.py"], {"build": {}})
    assert digest == code_digest(tmp_path, ["predict.py"], {"build": {}})
    assert digest != code_digest(tmp_path, ["predict.py"], {"build": {"gpu": True}})
    (tmp_path / "predict.py").write_text("b")
    assert digest != code_digest(tmp_path, ["predict.py"], {"build": {}})


# --- a schema label read back into the Signature that validates inputs ----------------------------------------

@pytest.mark.parametrize("ref", ["types_predictor.py:Predictor", "original.py:JazzSoloComposerModel", "files.py:Predictor",
                                 "json_inputs.py:Predictor", "hello.py:Predictor"])
def test_a_schema_reads_back_into_the_signature_that_wrote_it(ref):
    path = FIXTURES / ref.split(":")[0]
    signatures = read_signatures({path.name: path.read_text()}, ref)
    schema = signatures.openapi_schema()
    back = signature_from_schema(schema)
    assert back is not None, "every input kind of these fixtures reads back"
    enums: dict = {}
    assert input_schema(back, "Input", enums) == schema["components"]["schemas"]["Input"]
    for payload in [{}, {"text": "hello"}, {"nosuch": 1}, {"count": 99}, {"text": "x", "count": "3"},
                    {"notes": 3, "tempo": 120.0}, {"image": "data:text/plain;base64,aGk="}]:
        assert _outcome(back, payload) == _outcome(signatures.predict, payload)


def _outcome(signature, payload):
    try:
        return signature.validate(payload)
    except InputError as exc:
        return (exc.field, exc.message)


def test_a_schema_with_an_input_it_cannot_read_back_gives_no_signature():
    schema = {"components": {"schemas": {"Input": {"properties": {"x": {"type": "weird", "x-order": 0}}}}}}
    assert signature_from_schema(schema) is None
    assert signature_from_schema({}) is None
