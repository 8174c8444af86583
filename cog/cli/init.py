"""`cog init`: a new project (cog.yaml, predict.py, .dockerignore) that builds and predicts as it is.

The files' text lives in templates/init/; this module only decides what goes where.
"""

from __future__ import annotations

from pathlib import Path

from cog.errors import CogError

# The files cog init writes, and the template each comes from.
SCAFFOLD = {"cog.yaml": "cog.yaml", "predict.py": "predict.py", ".dockerignore": "dockerignore"}


def init_project(directory: Path) -> list[str]:
    """Write the scaffold into `directory`, or raise CogError and write nothing if any of its files exist."""
    import jinja2

    from cog.matrix import load_matrix
    from cog.resources import templates_dir

    existing = [name for name in SCAFFOLD if (directory / name).exists()]
    if existing:
        raise CogError(f"{_listing(existing)} already {'exists' if len(existing) == 1 else 'exist'} here; "
                       "cog init writes only into a directory without them")
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(templates_dir() / "init"),
                                     keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    python_version = load_matrix().python.default
    for name, template in SCAFFOLD.items():
        text = environment.get_template(template).render(python_version=python_version)
        (directory / name).write_text(text, encoding="utf-8")
    return list(SCAFFOLD)


def init() -> None:
    """Create cog.yaml, predict.py and .dockerignore here: a model that builds and predicts as it is."""
    from cog.cli import output

    written = init_project(Path.cwd())
    output.success(f"Created {_listing(written)}")
    output.info("Next: edit predict.py, then run `cog predict -i name=you`")


def _listing(names: list[str]) -> str:
    """["a", "b", "c"] -> "a, b and c"."""
    return " and ".join(filter(None, [", ".join(names[:-1]), names[-1]]))
