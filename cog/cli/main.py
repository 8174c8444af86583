"""`cog`: the command line entry point. Heavy modules are imported inside commands, so that --help is instant."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from cog._version import __version__
from cog.config.errors import CogError

app = typer.Typer(
    name="cog",
    help="Package machine learning models into reproducible Docker images and serve them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

ConfigFileOption = typer.Option(
    None, "-f", "--file", help="The cog.yaml to use (default: the one in this directory or the nearest parent).",
    dir_okay=False,
)


class VariantChoice(str, Enum):
    cpu = "cpu"
    gpu = "gpu"


class PlatformChoice(str, Enum):
    amd64 = "linux/amd64"
    arm64 = "linux/arm64"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"cog {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Package machine learning models into reproducible Docker images and serve them."""


@app.command("generate-dockerfile")
def generate_dockerfile(
    file: Optional[Path] = ConfigFileOption,
    variant: Optional[VariantChoice] = typer.Option(
        None, "--variant", help="Which image: cpu or gpu (default: gpu if the config asks only for a GPU, else cpu)."
    ),
    platform: PlatformChoice = typer.Option(PlatformChoice.amd64, "--platform", help="Target platform."),
    base_image_mirror: Optional[str] = typer.Option(
        None, "--base-image-mirror", envvar="COG_BASE_IMAGE_MIRROR",
        help="Registry (HOST[:PORT][/PREFIX]) to take base images from instead of their official registries.",
    ),
) -> None:
    """Print the Dockerfile that `cog build` builds for this project."""
    from cog.build.context import context_layout
    from cog.cli import output
    from cog.cli.project import load_project
    from cog.compiler.render import render_dockerfile
    from cog.compiler.resolve import resolve

    project = load_project(file)
    chosen = variant.value if variant else ("gpu" if project.config.variants == ("gpu",) else "cpu")
    plan = resolve(project.config, chosen, platform.value, base_image_mirror=base_image_mirror)
    for warning in plan.warnings[len(project.config.warnings):]:
        output.warning(str(warning))
    layout = context_layout(project.directory, project.config.file)
    sys.stdout.write(render_dockerfile(plan, layout))


def main() -> None:
    if sys.version_info < (3, 10):
        sys.stderr.write("error: cog's command line needs Python 3.10 or newer\n")
        raise SystemExit(1)
    try:
        app()
    except CogError as exc:
        from cog.cli import output

        output.error(str(exc))
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
