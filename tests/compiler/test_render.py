"""Rendered Dockerfiles over a corpus of projects, snapshot-tested: every template change is a reviewable diff.

Update the snapshots after an intended change with `pytest tests/compiler/test_render.py --snapshot-update`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cog.images.context import context_layout
from cog.images.imports import read_imports
from cog.compiler.render import dockerfile_quote, render_dockerfile
from cog.compiler.resolve import resolve
from cog.config.parse import load_config
from tests.heredocs import heredoc

CORPUS = Path(__file__).parent / "corpus"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# Examples whose images no CI step builds (they would download torch): their Dockerfiles are snapshotted instead.
SNAPSHOTTED_EXAMPLES = ["gpu-torch"]

# Renders beyond each project's default variants on linux/amd64.
EXTRA_TARGETS = {
    "arm64-cpu-torch": [("cpu", "linux/arm64")],
    "gpu-arm64-torch": [("gpu", "linux/arm64")],
    "gpu-torch-pinned": [("cpu", "linux/amd64")],
    "cpu-tensorflow": [("cpu", "linux/arm64")],
    "hello-world": [("cpu", "linux/arm64")],
    "example-gpu-torch": [("cpu", "linux/amd64")],
    "requirements-pyproject": [("cpu", "linux/amd64")],
    "requirements-uv-lock": [("cpu", "linux/arm64")],
    "requirements-uv-lock-torch-pypi": [("cpu", "linux/amd64"), ("cpu", "linux/arm64")],
    "requirements-uv-lock-torch-cpu": [("cpu", "linux/arm64")],
}
MIRRORS = {"mirror": "registry.internal:5000/hub"}
CODE_STEP = "COPY --from=cog-code /* /"  # the code's step, the last (cog build stages and dates the code)


def projects() -> dict[str, Path]:
    """The corpus by name, and the snapshotted examples as example-NAME."""
    found = {path.name: path for path in sorted(CORPUS.iterdir()) if path.is_dir()}
    found.update({f"example-{name}": EXAMPLES / name for name in SNAPSHOTTED_EXAMPLES})
    return found


def targets():
    for name, project in projects().items():
        config = load_config(project / "cog.yaml", display="cog.yaml")
        for variant in config.variants:
            yield pytest.param(name, variant, "linux/amd64", id=f"{name}-{variant}-amd64")
        for variant, platform in EXTRA_TARGETS.get(name, []):
            yield pytest.param(name, variant, platform, id=f"{name}-{variant}-{platform[6:]}")


def render(name: str, variant: str, platform: str) -> str:
    project = projects()[name]
    config = load_config(project / "cog.yaml", display="cog.yaml")
    plan = resolve(config, variant, platform, base_image_mirror=MIRRORS.get(name), imports=read_imports(project))
    return render_dockerfile(plan, context_layout(project, "cog.yaml"))


def test_corpus_is_large_enough():
    assert len([path for path in CORPUS.iterdir() if path.is_dir()]) >= 25


@pytest.mark.parametrize(("name", "variant", "platform"), list(targets()))
def test_dockerfile(snapshot, name, variant, platform):
    assert render(name, variant, platform) == snapshot


@pytest.mark.parametrize(("name", "variant", "platform"), list(targets()))
def test_dockerfile_is_well_formed(name, variant, platform):
    text = render(name, variant, platform)
    assert not text.startswith("# syntax="), "a syntax line makes BuildKit pull a frontend image"
    instructions = [line.split()[0] for line in _logical_lines(text)]
    assert instructions[0] == "FROM" and instructions.count("FROM") == 2 + (" AS cog-weights\n" in text)
    assert set(instructions) <= {"FROM", "ARG", "ENV", "COPY", "RUN", "WORKDIR", "EXPOSE", "CMD"}, instructions
    assert instructions[-1] == "CMD"
    # Code comes last, so that a code-only edit rebuilds only its layer.
    code_copy = max(i for i, line in enumerate(_logical_lines(text)) if line.startswith(CODE_STEP))
    assert all(line.split()[0] in ("ENV", "EXPOSE", "CMD") for line in _logical_lines(text)[code_copy + 1:])
    # Every step dates what it writes (templates/build-step.sh): no COPY brings in files with the checkout's times
    # (the weights' stage dates them; cog build stages the code dated).
    assert all(" . /opt/cog/build-step.sh" in line for line in _logical_lines(text)[1:] if line.startswith("RUN ")
               and "/opt/cog/build-step.sh <<" not in line and "from=weights" not in line)
    assert not [line for line in _logical_lines(text) if line.startswith("COPY")
                and "--from=cog-weights" not in line and line != CODE_STEP]


def test_rendering_is_deterministic():
    assert render("gpu-torch-pinned", "gpu", "linux/amd64") == render("gpu-torch-pinned", "gpu", "linux/amd64")


def test_weights_get_their_own_layer_before_the_code():
    text = render("with-weights", "cpu", "linux/amd64")
    assert text.index("COPY --link --from=cog-weights /weights/ /src/") < text.index(CODE_STEP)
    assert "from=weights" in text.split("FROM python:3.11-slim AS cog-weights\n", 1)[1].split("\nFROM ", 1)[0]
    assert "weights" not in render("hello-world", "cpu", "linux/amd64").replace("# ", "")


def test_packages_cogs_sdk_brought_along_join_the_users_install():
    text = render("implicit-sdk-imports", "cpu", "linux/amd64")
    assert heredoc(text, "COG_REQUIREMENTS") == "numpy==1.26.4\npydantic>=1.9,<3\nPyYAML\n"
    assert text.count("-r /opt/cog/requirements.txt") == 1
    assert "PyYAML" not in render("hello-world", "cpu", "linux/amd64")


def test_secrets_are_mounted_only_for_their_command():
    text = render("run-with-secrets", "cpu", "linux/amd64")
    assert text.count("--mount=type=secret,id=pip-token,target=/run/secrets/pip-token") == 1


def test_run_options_at_the_start_of_a_command_are_the_steps_own():
    # Cog writes `RUN <command>`, so a command may start with BuildKit's RUN options, a cache mount most often.
    text = render("run-with-secrets", "cpu", "linux/amd64")
    assert "RUN --mount=type=cache,target=/root/.cache/pip \\\n" in text
    assert "&& pip install cowsay\n" in text and "&& --mount" not in text


def test_environment_values_are_quoted_for_the_dockerfile():
    text = render("environment-variables", "cpu", "linux/amd64")
    assert 'ENV GREETING="Hello, \\"world\\" costs \\$5"' in text  # \$ is a dollar, as Docker reads it
    assert 'ENV WEIGHTS="$HF_HOME/weights"' in text  # a variable set before it, as Cog lets them
    assert 'ENV EMPTY=""' in text


@pytest.mark.parametrize(("value", "quoted"), [
    ("plain", '"plain"'), ('a "b"', '"a \\"b\\""'), ("$HOME", '"\\$HOME"'), ("back\\slash", '"back\\\\slash"'),
])
def test_dockerfile_quote(value, quoted):
    assert dockerfile_quote(value) == quoted


def _logical_lines(text: str) -> list[str]:
    """Dockerfile instructions with continuations and heredoc bodies folded away (the bodies follow the
    instruction's last line, one after another)."""
    lines, current, bodies = [], "", []
    for raw in text.splitlines():
        if bodies:
            if raw == bodies[0]:
                bodies.pop(0)
            continue
        if not current and (not raw.strip() or raw.startswith("#")):
            continue
        current += raw.rstrip("\\").strip() + " "
        if not raw.endswith("\\"):
            lines.append(current.strip())
            bodies = re.findall(r"<<'(\w+)'", current)
            current = ""
    return lines


@pytest.mark.parametrize(("path", "pattern"), [
    ("weights/model.bin", "weights/model.bin"),
    ("model [v2].bin", "model \\[v2\\].bin"),
    ("a*b?.pt", "a\\*b\\?.pt"),
    ("!odd.pt", "\\!odd.pt"),
    ("#hash.pt", "\\#hash.pt"),
])
def test_weights_are_ignored_by_literal_patterns(path, pattern):
    # Checked against BuildKit: each pattern leaves out exactly that file from the code layer's context.
    from cog.images.staging import literal_pattern

    assert literal_pattern(path) == pattern


def test_python_overrides_are_written_and_passed_to_the_install():
    text = render("python-overrides", "cpu", "linux/amd64")
    assert heredoc(text, "COG_OVERRIDES") == 'tokenizers==0.20.3\nnumpy>=2 ; python_version >= "3.10"\n'
    install = next(line for line in text.splitlines() if "uv pip install --python /opt/cog/model/bin/python --index" in line)
    assert install.endswith("-r /opt/cog/requirements.txt --overrides /opt/cog/overrides.txt")
    assert "--overrides" not in render("hello-world", "cpu", "linux/amd64")


def test_a_line_that_is_a_heredocs_word_does_not_end_it_early(tmp_path):
    # A requirement may be named like the word that would end its file's heredoc; the word then changes.
    (tmp_path / "cog.yaml").write_text('build:\n  python_version: "3.12"\n  python_requirements: requirements.txt\n'
                                       '  python_overrides: overrides.txt\npredict: "predict.py:Predictor"\n')
    (tmp_path / "requirements.txt").write_text("COG_REQUIREMENTS\nCOG_REQUIREMENTS_2==1.0\nnumpy\n")
    (tmp_path / "overrides.txt").write_text("COG_OVERRIDES\n")
    (tmp_path / "predict.py").write_text("from cog import BasePredictor\n")
    config = load_config(tmp_path / "cog.yaml", display="cog.yaml")
    text = render_dockerfile(resolve(config, "cpu", "linux/amd64"), context_layout(tmp_path, "cog.yaml"))
    assert "<<'COG_REQUIREMENTS'" not in text and "<<'COG_OVERRIDES'" not in text
    assert heredoc(text, "COG_REQUIREMENTS_2") == "COG_REQUIREMENTS\nCOG_REQUIREMENTS_2==1.0\nnumpy\n"
    assert heredoc(text, "COG_OVERRIDES_2") == "COG_OVERRIDES\n"
    assert CODE_STEP in text  # the rest of the Dockerfile is still steps, not heredoc text
