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
    rich_markup_mode=None,  # help texts are plain prose: [HOST] is not markup
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


class VariantsChoice(str, Enum):
    cpu = "cpu"
    gpu = "gpu"
    all = "all"


class ProgressChoice(str, Enum):
    auto = "auto"
    plain = "plain"
    quiet = "quiet"


MirrorOption = typer.Option(
    None, "--base-image-mirror", envvar="COG_BASE_IMAGE_MIRROR",
    help="Registry (HOST[:PORT][/PREFIX]) to take base images from instead of their official registries.",
)


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
    base_image_mirror: Optional[str] = MirrorOption,
) -> None:
    """Print the Dockerfile that `cog build` builds for this project."""
    from cog.build.context import context_layout
    from cog.cli import output
    from cog.project import load_project
    from cog.compiler.render import render_dockerfile
    from cog.compiler.resolve import resolve

    project = load_project(file)
    chosen = variant.value if variant else ("gpu" if project.config.variants == ("gpu",) else "cpu")
    plan = resolve(project.config, chosen, platform.value, base_image_mirror=base_image_mirror)
    for warning in plan.warnings:
        output.warning(str(warning))
    layout = context_layout(project.directory, project.config.file)
    sys.stdout.write(render_dockerfile(plan, layout))


@app.command()
def build(
    tag: Optional[str] = typer.Option(None, "-t", "--tag", help="Image name (default: cog.yaml's image, else cog-DIRECTORY)."),
    file: Optional[Path] = ConfigFileOption,
    variant: Optional[VariantsChoice] = typer.Option(
        None, "--variant", help="cpu, gpu or all (default: what cog.yaml asks for). With both, the GPU image's tag ends in -gpu."
    ),
    platform: str = typer.Option("linux/amd64", "--platform", help="Comma-separated: linux/amd64, linux/arm64."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Rebuild every layer."),
    progress: Optional[ProgressChoice] = typer.Option(None, "--progress", help="auto (default), plain or quiet."),
    secret: list[str] = typer.Option([], "--secret", help="id=NAME,src=PATH: a file that build `run` commands can mount; never stored in the image. Repeatable."),
    ca_bundle: Optional[Path] = typer.Option(
        None, "--ca-bundle", envvar="COG_CA_BUNDLE", dir_okay=False,
        help="CA certificates (PEM) for networked build steps, e.g. behind a TLS-intercepting proxy; never stored in the image.",
    ),
    base_image_mirror: Optional[str] = MirrorOption,
    builder: Optional[str] = typer.Option(None, "--builder", help="The buildx builder to use (default: the active one)."),
) -> None:
    """Build the model's Docker image(s) with BuildKit."""
    from cog.build.builder import BuildOptions, build_project, default_image_name, default_progress
    from cog.cli import output
    from cog.project import load_project

    project = load_project(file)
    for warning in project.config.warnings:
        output.warning(str(warning))
    options = BuildOptions(
        tag=tag or project.config.image or default_image_name(project.directory),
        variants=_variants(variant, project.config.variants),
        platforms=_platforms(platform),
        no_cache=no_cache,
        progress=progress.value if progress else default_progress(),
        secrets=tuple(secret),
        ca_bundle=ca_bundle,
        base_image_mirror=base_image_mirror,
        builder=builder,
    )
    for image in build_project(project, options, output.build_log):
        output.success(f"Built {image.tag} ({image.variant.upper()}, {', '.join(image.platforms)})")


def _variants(choice, configured):
    if choice is None:
        return configured
    return ("cpu", "gpu") if choice.value == "all" else (choice.value,)


def _platforms(text: str):
    from cog.compiler.matrix import PLATFORMS
    from cog.config.errors import CogError

    platforms = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    for platform in platforms:
        if platform not in PLATFORMS:
            raise CogError(f"--platform {platform} is not supported; use {' or '.join(PLATFORMS)}")
    return platforms or ("linux/amd64",)


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
