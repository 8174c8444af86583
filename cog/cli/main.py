"""`cog`: the command line entry point. Heavy modules are imported inside commands, so that --help is instant."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from cog._version import __version__
from cog.cli import packages
from cog.cli.init import init
from cog.errors import CogError

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


CaBundleOption = typer.Option(
    None, "--ca-bundle", envvar="COG_CA_BUNDLE", dir_okay=False,
    help="CA certificates (PEM) for networked build steps, e.g. behind a TLS-intercepting proxy; never stored in the image.",
)
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


app.command()(init)


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
    from cog.images.context import context_layout
    from cog.cli import output
    from cog.config.project import load_project
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
    ca_bundle: Optional[Path] = CaBundleOption,
    base_image_mirror: Optional[str] = MirrorOption,
    builder: Optional[str] = typer.Option(None, "--builder", help="The buildx builder to use (default: the active one)."),
    push: bool = typer.Option(False, "--push", help="Push the images to their registry instead of loading them here."),
    no_wait: bool = typer.Option(False, "--no-wait", help="With a cog server set: do not wait for its builds."),
    local: bool = typer.Option(False, "--local", help="Build here even though a cog server is set (so does -t)."),
) -> None:
    """Build the model's Docker image(s) with BuildKit. With a cog server set (cog remote set or cog repo set), push
    a package instead and let the server build and push its images."""
    from cog.images.builder import BuildOptions, build_project, default_image_name, default_progress
    from cog.cli import output
    from cog.packages.settings import current_repo
    from cog.config.project import load_project

    if current_repo() is not None and not local and tag is None:
        return packages.push_package(file, wait=not no_wait)

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
        push=push,
    )
    with output.build_display(options.progress == "auto") as log:
        built = build_project(project, options, log)
    for image in built:
        output.success(f"Built {image.tag} ({image.variant.upper()}, {', '.join(image.platforms)})")


InputOption = typer.Option([], "-i", "--input", help="NAME=VALUE, or NAME=@FILE to send a file. Repeat a name for a list.")
JsonOption = typer.Option(None, "--json", help="All inputs as a JSON object: TEXT, @FILE, or @- for standard input.")
OutputOption = typer.Option(None, "-o", "--output", help="Where to write a file output (default: output.<ext>).")
SetupTimeoutOption = typer.Option(600.0, "--setup-timeout", help="Seconds to wait for the model's setup().")


def _job_command(endpoint: str, noun: str, summary: str):
    """predict and train take the same arguments; they differ in the endpoint they call."""

    def command(
        image: Optional[str] = typer.Argument(None, help="An image to run (default: build the project in this directory)."),
        input: list[str] = InputOption,
        json_input: Optional[str] = JsonOption,
        output_path: Optional[Path] = OutputOption,
        url: Optional[str] = typer.Option(None, "--url", help=f"Send the {noun} to a running server instead."),
        file: Optional[Path] = ConfigFileOption,
        ca_bundle: Optional[Path] = CaBundleOption,
        base_image_mirror: Optional[str] = MirrorOption,
        setup_timeout: float = SetupTimeoutOption,
    ) -> None:
        _predict_or_train(endpoint, image, input, json_input, output_path, url, file, ca_bundle, base_image_mirror, setup_timeout)

    command.__doc__ = summary
    return command


predict = _job_command(
    "predictions", "prediction",
    "Run a prediction: build the project's image (or use IMAGE or --url), start it, predict, clean up.",
)
app.command("predict")(predict)
app.command("infer", help="Same as predict (the original name).")(predict)
app.command("train")(_job_command("trainings", "training", "Run cog.yaml's `train` like predict runs `predict`, and write its outputs."))


def _predict_or_train(endpoint, image, pairs, json_input, output_path, url, file, ca_bundle, mirror, setup_timeout) -> None:
    from contextlib import nullcontext

    from cog.images import docker
    from cog.cli import output
    from cog.cli.images import build_for_run, terminate_on_sigterm
    from cog.cli.prediction import Runtime, parse_inputs, write_output
    from cog.config.project import load_project

    terminate_on_sigterm()
    gpus = False
    if url is None and image is None:
        project = load_project(file)
        for warning in project.config.warnings:
            output.warning(str(warning))
        if endpoint == "trainings" and not project.config.train:
            raise CogError(f"{project.config.file} has no `train:`; add train: \"train.py:train\"")
        if endpoint == "predictions" and not project.config.predict:
            key = "model" if project.config.dialect == "original" else "predict"
            raise CogError(f"{project.config.file} has no `{key}:`; add {key}: \"predict.py:Predictor\"")
        image, gpus = build_for_run(project, ca_bundle=ca_bundle, base_image_mirror=mirror, progress=None)
    elif image is not None:
        image = packages.image_of(image)
        docker.require_engine()
        gpus = docker.gpu_available() and "run.cog.cuda" in docker.image_labels(image)
    with (docker.serving(image, gpus=gpus) if url is None else nullcontext(None)) as served:
        runtime = Runtime.at(served.url if served else url)
        output.info("Waiting for the model to be ready")
        if served:
            runtime.wait_until_ready(setup_timeout, served.exited)
        else:
            runtime.wait_until_ready(setup_timeout, unreachable_after=5.0)
        schema = runtime.schema()
        inputs = parse_inputs(pairs, json_input, schema, endpoint=endpoint)
        result = runtime.predict(inputs, endpoint=endpoint)
        for path in write_output(result.get("output"), schema, output_path, typer.echo, endpoint=endpoint):
            output.success(f"Written {path}")


@app.command()
def serve(
    port: int = typer.Option(8393, "-p", "--port", min=1, max=65535, help="Port to publish the prediction server on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to publish on (0.0.0.0 for every interface)."),
    local: bool = typer.Option(False, "--local", help="Run the server in this Python, without Docker (quick iteration)."),
    file: Optional[Path] = ConfigFileOption,
    ca_bundle: Optional[Path] = CaBundleOption,
    base_image_mirror: Optional[str] = MirrorOption,
) -> None:
    """Serve the project's model over Cog's HTTP prediction API."""
    from cog.cli import output
    from cog.config.project import load_project

    project = load_project(file)
    for warning in project.config.warnings:
        output.warning(str(warning))
    if not project.config.predict:
        raise CogError(f"{project.config.file} has no `predict:`; add predict: \"predict.py:Predictor\"")
    if local:
        from cog.server.http import serve as serve_locally

        output.info(f"Serving {project.config.predict} on http://{host}:{port} (Ctrl-C to stop)")
        serve_locally(project.config.predict, project_dir=str(project.directory), host=host, port=port,
                      train_ref=project.config.train, max_concurrency=project.config.concurrency.max)
        return
    from cog.images import docker
    from cog.cli.images import build_for_run, terminate_on_sigterm

    terminate_on_sigterm()
    image, gpus = build_for_run(project, ca_bundle=ca_bundle, base_image_mirror=base_image_mirror, progress=None)
    with docker.serving(image, gpus=gpus, port=port, host=host) as served:
        output.info(f"Serving {image} on {served.url} (Ctrl-C to stop)")
        docker.follow_logs(served)  # until the server stops (POST /shutdown) or cog is interrupted


@app.command(context_settings={"allow_interspersed_args": False})
def run(
    command: list[str] = typer.Argument(..., help="The command to run, e.g. python train.py."),
    file: Optional[Path] = ConfigFileOption,
    ca_bundle: Optional[Path] = CaBundleOption,
    base_image_mirror: Optional[str] = MirrorOption,
) -> None:
    """Run a command inside the project's image, with the project directory mounted at /src."""
    from cog.images import docker
    from cog.cli.images import build_for_run
    from cog.config.project import load_project

    project = load_project(file)
    image, gpus = build_for_run(project, ca_bundle=ca_bundle, base_image_mirror=base_image_mirror, progress=None)
    raise typer.Exit(docker.run_interactive(image, command, mounts={str(project.directory): "/src"}, workdir="/src", gpus=gpus))


@app.command()
def push(
    image: Optional[str] = typer.Argument(None, help="The image to push (default: cog.yaml's image)."),
    file: Optional[Path] = ConfigFileOption,
) -> None:
    """Push a built image to its registry (log in first with cog login)."""
    from cog.images import docker
    from cog.cli import output
    from cog.config.project import load_project

    if image is None:
        image = load_project(file).config.image
        if image is None:
            raise CogError("name the image (cog push REGISTRY/NAME), or set image: in cog.yaml")
    docker.require_engine()
    docker.push(image, output.success)


@app.command()
def login(
    registry: str = typer.Argument(..., help="A registry, e.g. registry.example.com or 127.0.0.1:5000; or a cog server, http(s)://HOST:PORT."),
    username: Optional[str] = typer.Option(None, "-u", "--username", help="User name (asked when not given)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
) -> None:
    """Log in to a Docker registry (stored the Docker way), or with a token to a cog server given as http(s)://HOST:PORT."""
    from cog.images import docker
    from cog.cli import output

    if registry.startswith(("http://", "https://")):
        return packages.login_server(registry, password_stdin)

    if username is None:
        username = typer.prompt("Username")
    password = sys.stdin.read().rstrip("\n") if password_stdin else typer.prompt("Password", hide_input=True)
    if not password:
        raise CogError("the password is empty")
    docker.require_engine()
    docker.login(registry, username, password)
    output.success(f"Logged in to {registry}")


packages.register(app)


def _variants(choice, configured):
    if choice is None:
        return configured
    return ("cpu", "gpu") if choice.value == "all" else (choice.value,)


def _platforms(text: str):
    from cog.matrix import PLATFORMS
    from cog.errors import CogError

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
