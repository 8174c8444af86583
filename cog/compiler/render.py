"""BuildPlan → Dockerfile text, through the Jinja templates in templates/. Pure and deterministic (the only
write is jinja2's cache of compiled templates, which it checks against their source)."""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import jinja2
import platformdirs

from cog._version import __version__
from cog.compiler.plan import BuildPlan
from cog.config.cog_lock import CogLock
from cog.resources import templates_dir


@dataclass(frozen=True)
class ContextLayout:
    """What the build contexts hold, decided by the build stage from the project directory."""

    wheel_name: str = f"cog-{__version__}-py3-none-any.whl"
    runtime_requirements: tuple[str, ...] = ()  # the server environment's packages (from cog's [server] extra)
    has_weights: bool = False
    config_file: str = "cog.yaml"


def dockerfile_quote(value: str) -> str:
    """A double-quoted Dockerfile word: ENV expands $VARS and backslashes, so escape them."""
    return dockerfile_expanding(value.replace("$", "\\$"))


def dockerfile_expanding(value: str) -> str:
    """A double-quoted Dockerfile word whose $VARS ENV expands, as Cog writes cog.yaml's `environment:` (a value may
    use a variable set before it: ANOTHER_DIR=$SOME_DIR/weights); `\\$` is a literal dollar."""
    escaped = re.sub(r'\\(?!\$)', r"\\\\", value).replace('"', '\\"')
    return f'"{escaped}"'


def _compiled_templates() -> jinja2.BytecodeCache | None:
    """The user's cache of compiled templates: compiling them is most of what rendering costs a command (70 ms
    here). None where that folder cannot be written: the templates are compiled each time, as without it."""
    directory = Path(platformdirs.user_cache_dir("cog")) / "templates"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(directory)) if os.access(directory, os.W_OK) else None


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        bytecode_cache=_compiled_templates(),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    environment.filters["shell_quote"] = shlex.quote
    environment.filters["dockerfile_quote"] = dockerfile_quote
    environment.filters["dockerfile_expanding"] = dockerfile_expanding
    environment.filters["toml"] = json.dumps  # a JSON string is a TOML basic string
    environment.filters["heredoc_end"] = heredoc_end
    return environment


def heredoc_end(body: str, word: str) -> str:
    """The word that ends a heredoc holding `body`: `word`, or `word_2`, `word_3`... when a line of the body is
    that word, which would end the heredoc early."""
    lines = set(body.splitlines())
    end, n = word, 1
    while end in lines:
        n += 1
        end = f"{word}_{n}"
    return end


def render_dockerfile(plan: BuildPlan, layout: ContextLayout = ContextLayout()) -> str:
    template = _environment().get_template("Dockerfile.j2")
    return template.render(
        plan=plan,
        cog_version=__version__,
        config_file=layout.config_file,
        wheel_name=layout.wheel_name,
        runtime_requirements=layout.runtime_requirements,
        has_weights=layout.has_weights,
    )


def render_requirements(plan: BuildPlan) -> str:
    """The model's requirements file as the image installs it: index options, then one line per requirement."""
    return _environment().get_template("requirements.txt.j2").render(plan=plan)


def render_lock(lock: CogLock) -> str:
    return _environment().get_template("cog.lock.j2").render(lock=lock, cog_version=__version__)
