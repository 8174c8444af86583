"""`cog`: the command line entry point. Heavy modules are imported inside commands, so that --help is instant."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from cog._version import __version__
from cog.cli import packages
from cog.cli.init import init
from cog.cli.lock import lock
from cog.cli.migrate import migrate
from cog.cli.playground import playground
from cog.deploy.manifests import DEFAULT_SETUP_TIMEOUT, DEFAULT_SHUTDOWN_GRACE, EndpointMode, Target
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
OpenapiSchemaOption = typer.Option(
    None, "--openapi-schema", dir_okay=False,
    help="Label the image with this OpenAPI schema (JSON) instead of reading it from the model; it is checked first.",
)
def _mirror(context: typer.Context, value: Optional[str]) -> Optional[str]:
    """A registry to pull base images from: HOST[:PORT][/PREFIX], which the Dockerfile's FROM lines start with."""
    if value and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*(:[0-9]{1,5})?(/[a-z0-9][a-z0-9._/-]*)?/?", value):
        source = context.get_parameter_source("base_image_mirror")
        given = "COG_BASE_IMAGE_MIRROR" if getattr(source, "name", "") == "ENVIRONMENT" else "--base-image-mirror"
        shown = value.encode("unicode_escape").decode()
        raise CogError(f"{given} {shown} is not a registry HOST[:PORT][/PREFIX], such as mirror.example.com:5000/hub")
    return value


MirrorOption = typer.Option(
    None, "--base-image-mirror", envvar="COG_BASE_IMAGE_MIRROR", callback=_mirror,
    help="Registry (HOST[:PORT][/PREFIX]) to take base images from instead of their official registries.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit()


def version_line() -> str:
    """What `cog --version` prints, in Cog's words, since scripts read its third word: cog version 1.2.3 (built DATE)."""
    import datetime

    built = datetime.datetime.fromtimestamp(Path(__file__).with_name("__init__.py").stat().st_mtime, datetime.timezone.utc)
    return f"cog version {__version__} (built {built.strftime('%Y-%m-%dT%H:%M:%SZ')})"


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show debugging output: every build step, the model server's own log, timings. Also after the command's name."),
    no_color: bool = typer.Option(False, "--no-color", help="No colours in the output (so does NO_COLOR=1)."),
) -> None:
    """Package machine learning models into reproducible Docker images and serve them."""


app.command()(init)
app.command()(migrate)
app.command()(lock)
app.command()(playground)


@app.command("generate-dockerfile")
def generate_dockerfile(
    file: Optional[Path] = ConfigFileOption,
    variant: Optional[VariantChoice] = typer.Option(
        None, "--variant", help="Which image: cpu or gpu (default: gpu if the config asks only for a GPU, else cpu)."
    ),
    platform: PlatformChoice = typer.Option(PlatformChoice.amd64, "--platform", help="Target platform."),
    base_image_mirror: Optional[str] = MirrorOption,
    image_name: Optional[str] = typer.Option(None, "--image-name", help="Accepted for Cog's sake: the Dockerfile does not depend on the image's name."),
) -> None:
    """Print the Dockerfile that `cog build` builds for this project."""
    from cog.images.context import context_layout
    from cog.images.imports import project_imports
    from cog.images.indexes import resolve_torch_source
    from cog.images.locking import locked_plans, read_project_lock
    from cog.cli import output
    from cog.config.project import load_project
    from cog.compiler.render import render_dockerfile
    from cog.compiler.resolve import resolve

    project = load_project(file)
    chosen = variant.value if variant else ("gpu" if project.config.variants == ("gpu",) else "cpu")
    _variants(variant, project.config)  # what cog build refuses (a GPU image of a model that lists only cpu)
    imports = project_imports(project)
    plans = resolve_torch_source(lambda torch_index: [resolve(  # where torch comes from: COG_TORCH_INDEX
        project.config, chosen, platform.value, base_image_mirror=base_image_mirror, imports=imports, torch_index=torch_index,
    )])
    plan = locked_plans(project, plans, read_project_lock(project))[0]  # as cog.lock pins it, when there is one
    for warning in plan.warnings:
        output.warning(str(warning))
    layout = context_layout(project.directory, project.config.file, project.config.tracing)
    sys.stdout.write(render_dockerfile(plan, layout))


app.command("debug", help="Print the Dockerfile that `cog build` builds for this project (Cog's name for generate-dockerfile).")(generate_dockerfile)


@app.command("generate-manifests")
def generate_manifests(
    image: str = typer.Argument(..., metavar="IMAGE|PACKAGE_ID", help="An image built by cog, or a package id on the cog server."),
    target: Target = typer.Option(Target.kubernetes, "--target", help="kubernetes: a Deployment and a Service; swarm: a stack file for docker stack deploy."),
    replicas: str = typer.Option("1", "--replicas", metavar="N", help="How many copies of the model to run."),
    name: Optional[str] = typer.Option(None, "--name", help="The name of the deployment and its service (default: the image's)."),
    shutdown_grace: str = typer.Option(
        str(DEFAULT_SHUTDOWN_GRACE), "--shutdown-grace", metavar="SECONDS",
        help="Seconds running predictions have to finish after a stop (COG_SHUTDOWN_GRACE_SECONDS); the orchestrator waits that and 5 more before it kills.",
    ),
    setup_timeout: float = typer.Option(DEFAULT_SETUP_TIMEOUT, "--setup-timeout", metavar="SECONDS", help="Seconds setup() may take before the orchestrator restarts the container."),
    endpoint_mode: Optional[EndpointMode] = typer.Option(
        None, "--endpoint-mode",
        help="Swarm only: vip (default; one virtual IP balances over the replicas) or dnsrr (the service's name resolves to every healthy replica, for a load balancer of your own).",
    ),
    variant: Optional[VariantChoice] = typer.Option(None, "--variant", help="For a package: which of its images (default: the GPU one when it was built)."),
) -> None:
    """Print the manifests that deploy an image on Kubernetes or Docker Swarm, made from its labels."""
    from cog.deploy.manifests import deployment, options, render
    from cog.images import docker

    if endpoint_mode is not None and target != Target.swarm:
        raise CogError("--endpoint-mode is for --target swarm (a Kubernetes Service has no endpoint mode)")
    chosen = options(replicas=replicas, name=name, shutdown_grace=shutdown_grace, setup_timeout=setup_timeout,
                     endpoint_mode=endpoint_mode or EndpointMode.vip)  # before the image is looked for
    reference = packages.image_of(image, variants=(variant.value,) if variant else ("gpu", "cpu"),
                                  purpose="make manifests for")
    sys.stdout.write(render(deployment(reference, docker.image_labels(reference), chosen), target))


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
    openapi_schema: Optional[Path] = OpenapiSchemaOption,
) -> None:
    """Build the model's Docker image(s) with BuildKit. With a cog server set (cog remote set or cog repo set), push
    a package instead and let the server build and push its images."""
    from cog.packages.settings import current_repo

    if current_repo() is not None and not local and tag is None:
        return packages.push_package(file, wait=not no_wait)

    from cog.images.builder import BuildOptions, build_project, default_image_name, default_progress  # ~1 s to import
    from cog.cli import output
    from cog.config.model import check_buildable
    from cog.config.project import load_project

    project = load_project(file)
    for warning in project.config.warnings:
        output.warning(str(warning))
    check_buildable(project.config)  # before any build: a model to serve, or the environment alone on purpose
    options = BuildOptions(
        tag=tag or project.config.image or default_image_name(project.directory),
        variants=_variants(variant, project.config),
        platforms=parse_platforms(platform),
        no_cache=no_cache,
        progress=progress.value if progress else default_progress(),
        secrets=tuple(secret),
        ca_bundle=ca_bundle,
        base_image_mirror=base_image_mirror,
        builder=builder,
        push=push,
        openapi_schema=openapi_schema,
    )
    with output.build_display(options.progress == "auto") as log:
        built = build_project(project, options, log, recipe_file=_invocation.recipe_file)
    for image in built:
        output.built(image.tag, image.variant, image.platforms)


InputOption = typer.Option([], "-i", "--input", help="NAME=VALUE, or NAME=@FILE to send a file. Repeat a name for a list.")
JsonOption = typer.Option(
    None, "--json",
    help="All inputs as a JSON object: TEXT, @FILE, or @- (or -) for standard input. Prints Cog's JSON envelope "
         '{"status", "output", "error"} instead of the bare output.',
)
SetupTimeoutOption = typer.Option(300.0, "--setup-timeout", help="Seconds to wait for the model's setup().")
EnvOption = typer.Option([], "-e", "--env", help="NAME=VALUE: an environment variable for the model's container. Repeatable.")
GpusOption = typer.Option(
    None, "--gpus", help="GPU devices for the container, as docker run --gpus takes them (all, 2, device=0,1); default: all when the image is a GPU one and there is a GPU."
)


def _output_option(default: Optional[Path], what: str):
    return typer.Option(default, "-o", "--output", help=f"Where to write the output: {what}.")


def _job_command(endpoint: str, noun: str, summary: str, output_default: Optional[Path], output_help: str):
    """predict and train take the same arguments; they differ in the endpoint they call and where outputs go."""

    def command(
        image: Optional[str] = typer.Argument(None, help="An image to run (default: build the project in this directory)."),
        input: list[str] = InputOption,
        json_input: Optional[str] = JsonOption,
        output_path: Optional[Path] = _output_option(output_default, output_help),
        url: Optional[str] = typer.Option(None, "--url", help=f"Send the {noun} to a running server instead."),
        file: Optional[Path] = ConfigFileOption,
        env: list[str] = EnvOption,
        gpus: Optional[str] = GpusOption,
        use_replicate_token: bool = typer.Option(
            False, "--use-replicate-token", help="Send REPLICATE_API_TOKEN from this environment to the model, in the request's context."
        ),
        ca_bundle: Optional[Path] = CaBundleOption,
        base_image_mirror: Optional[str] = MirrorOption,
        setup_timeout: float = SetupTimeoutOption,
    ) -> None:
        _run_job(JobRequest(
            endpoint=endpoint, image=image, pairs=input, json_input=json_input, output_path=output_path, url=url,
            file=file, env=env, gpus=gpus, use_replicate_token=use_replicate_token, ca_bundle=ca_bundle,
            base_image_mirror=base_image_mirror, setup_timeout=setup_timeout,
        ))

    command.__doc__ = summary
    return command


predict = _job_command(
    "predictions", "prediction",
    "Run a prediction: build the project's image (or use IMAGE or --url), start it, predict, clean up.",
    None, "a file output to PATH (default: output.EXT), any other output as text or JSON",
)
app.command("predict")(predict)
app.command("infer", help="Same as predict (the original name).")(predict)
app.command("train")(_job_command(
    "trainings", "training", "Run cog.yaml's `train` like predict runs `predict`, and write its output to weights.",
    Path("weights"), "PATH, whatever the output is",
))


@dataclass(frozen=True)
class JobRequest:
    """One cog predict or cog train, as typed."""

    endpoint: str  # "predictions" or "trainings": the runtime's route
    image: Optional[str]
    pairs: list[str]
    json_input: Optional[str]
    output_path: Optional[Path]
    url: Optional[str] = None
    file: Optional[Path] = None
    env: list[str] = field(default_factory=list)
    gpus: Optional[str] = None
    use_replicate_token: bool = False
    ca_bundle: Optional[Path] = None
    base_image_mirror: Optional[str] = None
    setup_timeout: float = 300.0


def _run_job(request: JobRequest) -> None:
    from cog.cli import output
    from cog.cli.prediction import Runtime, StdinOnce, check_inputs_early, inputs_for, replicate_context, write_result
    from cog.config.project import load_project

    env = _env_pairs(request.env)
    context = replicate_context() if request.use_replicate_token else None
    container = early = project = None
    stdin = StdinOnce(sys.stdin)  # `--json @-` is parsed before the build and again for the runtime's schema
    check = dict(endpoint=request.endpoint, stdin=stdin, env=env)
    if request.url is None and request.image is None:
        project = load_project(request.file)
        for warning in project.config.warnings:
            output.warning(str(warning))
        _require_target(project, request.endpoint)
        # Before Docker is even imported: a mistyped input costs no build and no start-up.
        early = check_inputs_early(request.pairs, request.json_input, project=project, **check)

    from cog.cli.images import container_for_project, container_for_image, terminate_on_sigterm
    from cog.images import docker

    terminate_on_sigterm()
    if project is not None:
        container = container_for_project(project, env=env, gpus=request.gpus, ca_bundle=request.ca_bundle,
                                          base_image_mirror=request.base_image_mirror)
    elif request.image is not None:
        image = packages.image_of(request.image)
        early = check_inputs_early(request.pairs, request.json_input, image=image, **check)
        container = container_for_image(image, env=env, gpus=request.gpus)
    def ask(runtime: Runtime) -> tuple[dict, dict]:
        """The runtime's schema and the finished prediction's JSON."""
        schema = runtime.schema()
        inputs = inputs_for(early, request.pairs, request.json_input, schema, endpoint=request.endpoint, stdin=stdin)
        return schema, runtime.predict(inputs, endpoint=request.endpoint, context=context)

    if container is None:
        runtime = Runtime.at(request.url)
        output.info("Waiting for the model to be ready")
        runtime.wait_until_ready(request.setup_timeout, unreachable_after=5.0)
        schema, result = ask(runtime)
    else:
        with docker.serving(container) as served, docker.streaming_logs(served, output.container_log):
            output.info(f"Starting Docker image {container.image} and running setup()...")
            runtime = Runtime.at(served.url)
            runtime.wait_until_ready(request.setup_timeout, served.exited, logs_streamed=True)
            output.info(f"Running {'training' if request.endpoint == 'trainings' else 'prediction'}...")
            schema, result = ask(runtime)
    code = write_result(result, schema, request.output_path, envelope=request.json_input is not None,
                        endpoint=request.endpoint)
    raise typer.Exit(code)


def _require_target(project, endpoint: str) -> None:
    if endpoint == "trainings" and not project.config.train:
        raise CogError(f"{project.config.file} has no `train:`; add train: \"train.py:train\"")
    if endpoint == "predictions" and not project.config.predict:
        key = "model" if project.config.dialect == "original" else "predict"
        raise CogError(f"{project.config.file} has no `{key}:`; add {key}: \"predict.py:Predictor\"")


def _env_pairs(pairs: list[str]) -> dict[str, str]:
    """-e NAME=VALUE, as docker run -e takes them (a bare NAME passes this environment's value on)."""
    import os

    from cog.config.parse import ENV_NAME

    env: dict[str, str] = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not ENV_NAME.match(name):
            raise CogError(f"-e {pair}: expected NAME=VALUE with NAME a valid environment variable name")
        if not separator:
            if name not in os.environ:
                raise CogError(f"-e {name}: {name} is not set here; give it a value as -e {name}=VALUE")
            value = os.environ[name]
        env[name] = value
    return env


@app.command()
def serve(
    port: int = typer.Option(8393, "-p", "--port", min=1, max=65535, help="Port to publish the prediction server on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to publish on (0.0.0.0 for every interface)."),
    local: bool = typer.Option(False, "--local", help="Run the server in this Python, without Docker (quick iteration)."),
    file: Optional[Path] = ConfigFileOption,
    env: list[str] = EnvOption,
    gpus: Optional[str] = GpusOption,
    upload_url: Optional[str] = typer.Option(None, "--upload-url", help="Where file outputs are PUT (e.g. https://example.com/upload/) instead of returned as data URIs."),
    ca_bundle: Optional[Path] = CaBundleOption,
    base_image_mirror: Optional[str] = MirrorOption,
    open_playground: bool = typer.Option(False, "--playground", help="Open the model's playground (a web page to try it) in a browser."),
) -> None:
    """Serve the project's model over Cog's HTTP prediction API, and its playground at /playground."""
    from cog.cli import output
    from cog.cli.playground import open_when_up, playground_url
    from cog.config.project import load_project

    project = load_project(file)
    for warning in project.config.warnings:
        output.warning(str(warning))
    _require_target(project, "predictions")
    environment = _env_pairs(env)
    if upload_url:
        environment["COG_UPLOAD_URL"] = upload_url
    if local:
        import os

        from cog.server.http import serve as serve_locally

        os.environ.update(environment)
        output.info(f"Serving {project.config.predict} on http://{host}:{port} (Ctrl-C to stop)")
        page = playground_url(f"http://{host}:{port}")
        output.info(f"Playground: {page}")
        if open_playground:
            open_when_up(page)
        serve_locally(project.config.predict, project_dir=str(project.directory), host=host, port=port,
                      train_ref=project.config.train, max_concurrency=project.config.concurrency.max)
        return
    from cog.images import docker
    from cog.cli.images import container_for_project, terminate_on_sigterm

    terminate_on_sigterm()
    container = container_for_project(project, env=environment, gpus=gpus, ca_bundle=ca_bundle, base_image_mirror=base_image_mirror)
    with docker.serving(container, port=port, host=host) as served:
        output.info(f"Serving {container.image} on {served.url} (Ctrl-C to stop)")
        page = playground_url(served.url)
        output.info(f"Playground: {page}")
        if open_playground:
            open_when_up(page)
        docker.follow_logs(served)  # until the server stops (POST /shutdown) or cog is interrupted


RUN_HELP = """Run a command inside the project's image, with the project directory mounted at its workdir (/src).

With -i or --json it runs a prediction instead, as today's Cog's `cog run` does (the same as cog predict)."""


@app.command(help=RUN_HELP, context_settings={"allow_interspersed_args": False})
def run(
    context: typer.Context,
    command: Optional[list[str]] = typer.Argument(None, help="The command to run, e.g. python train.py; or, with -i/--json, an image to predict with."),
    input: list[str] = InputOption,
    json_input: Optional[str] = JsonOption,
    output_path: Optional[Path] = _output_option(None, "with -i/--json, as cog predict writes it"),
    file: Optional[Path] = ConfigFileOption,
    env: list[str] = EnvOption,
    publish: list[str] = typer.Option([], "-p", "--publish", help="A port of the container to publish here, e.g. -p 8888. Repeatable."),
    gpus: Optional[str] = GpusOption,
    ca_bundle: Optional[Path] = CaBundleOption,
    base_image_mirror: Optional[str] = MirrorOption,
) -> None:
    if context.info_name == "exec" and not command:
        raise CogError("cog exec runs a command; name it, e.g. cog exec python train.py")
    if input or json_input is not None or not command:
        if command and len(command) > 1:
            raise CogError(f"cog run with -i/--json runs a prediction; `{' '.join(command)}` is not an image name")
        return _run_job(JobRequest(
            endpoint="predictions", image=command[0] if command else None, pairs=input, json_input=json_input,
            output_path=output_path, file=file, env=env, gpus=gpus, ca_bundle=ca_bundle, base_image_mirror=base_image_mirror,
        ))
    _exec(command, file=file, env=env, publish=publish, gpus=gpus, ca_bundle=ca_bundle, base_image_mirror=base_image_mirror)


# Today's Cog's name for running a command (its `cog run` predicts); here both do what they are given.
app.command("exec", help="Run a command inside the project's image, with the project directory mounted at its workdir "
                         "(/src): today's Cog's name for cog run CMD.",
            context_settings={"allow_interspersed_args": False})(run)


def _exec(command: list[str], *, file, env, publish, gpus, ca_bundle, base_image_mirror) -> None:
    from cog.cli import output
    from cog.cli.images import container_for_project
    from cog.config.project import load_project
    from cog.images import docker

    project = load_project(file)
    container = container_for_project(project, env=_env_pairs(env), gpus=gpus, ca_bundle=ca_bundle,
                                      base_image_mirror=base_image_mirror)
    output.info(f"Running '{' '.join(command)}' in Docker with the current directory mounted as a volume...")
    code = docker.run_interactive(container, command, publish=publish)
    if code != 0:
        output.error(f"the command exited with status {code}")
    raise typer.Exit(code)


@app.command()
def push(
    image: Optional[str] = typer.Argument(None, help="The image to push (default: cog.yaml's image)."),
    file: Optional[Path] = ConfigFileOption,
    no_cache: bool = typer.Option(False, "--no-cache", help="Rebuild every layer."),
    secret: list[str] = typer.Option([], "--secret", help="id=NAME,src=PATH, as cog build takes it. Repeatable."),
    openapi_schema: Optional[Path] = OpenapiSchemaOption,
    ca_bundle: Optional[Path] = CaBundleOption,
    base_image_mirror: Optional[str] = MirrorOption,
) -> None:
    """Build the project's image and push it to its registry, as Cog does (log in first with cog login). Outside a
    project, push an image already built here."""
    from cog.images import docker
    from cog.images.builder import BuildOptions, build_project, default_progress
    from cog.cli import output
    from cog.config.parse import find_config_file
    from cog.config.project import load_project

    docker.require_engine()
    if file is None and find_config_file(Path.cwd()) is None:
        if image is None:
            raise CogError("name the image to push (cog push REGISTRY/NAME), or run cog push in a project")
        return docker.push(image, output.success, output.warning)
    project = load_project(file)
    image = image or project.config.image
    if image is None:
        raise CogError(f"name the image (cog push REGISTRY/NAME), or set image: in {project.config.file}")
    options = BuildOptions(
        tag=image, variants=project.config.variants, no_cache=no_cache, progress=default_progress(),
        secrets=tuple(secret), ca_bundle=ca_bundle, base_image_mirror=base_image_mirror, openapi_schema=openapi_schema,
    )
    with output.build_display(options.progress == "auto") as log:
        built = build_project(project, options, log)
    for each in built:
        output.info(f"Image built as {each.tag}")
        docker.push(each.tag, output.success, output.warning)


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


def _variants(choice, config):
    """--variant CHOICE, checked against what the config says the model supports (cog.config.model)."""
    from cog.config.model import chosen_variants

    return chosen_variants(config, choice.value if choice else None)


def parse_platforms(text: str):
    from cog.matrix import PLATFORMS
    from cog.errors import CogError

    platforms = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    for platform in platforms:
        if platform not in PLATFORMS:
            raise CogError(f"--platform {platform} is not supported; use {' or '.join(PLATFORMS)}")
    return platforms or ("linux/amd64",)


@dataclass
class Invocation:
    recipe_file: Optional[Path] = None  # where a `cog build` leaves its recipe (cog.images.recipe), if it may


_invocation = Invocation()


def main() -> None:
    if sys.version_info < (3, 10):
        sys.stderr.write("error: cog's command line needs Python 3.10 or newer\n")
        raise SystemExit(1)
    import os

    from cog.cli import argv, output

    if sys.argv[1:2] == ["build"]:  # where a replay of this command line would look (before the environment changes)
        from cog.images.recipe import recipe_file

        _invocation.recipe_file = recipe_file(sys.argv[1:], os.getcwd(), dict(os.environ))
    try:
        command = typer.main.get_command(app)  # built once: the normalizer reads it, then it runs
        command_line = argv.normalize(sys.argv[1:], command)
        if command_line.notices or command_line.settings.get("debug"):
            _invocation.recipe_file = None  # a replay would not say them (cog.images.recipe replays neither)
        output.configure(debug=bool(command_line.settings.get("debug")),
                         color=not command_line.settings.get("no_color") and not os.environ.get("NO_COLOR"))
        if "progress" in command_line.settings:
            os.environ["BUILDKIT_PROGRESS"] = str(command_line.settings["progress"])
        for notice in command_line.notices:
            output.info(f"note: {notice}")
        command(args=command_line.argv, prog_name="cog")
    except argv.FlagValueError as exc:
        output.error(str(exc))
        raise SystemExit(2) from None
    except CogError as exc:
        output.error(str(exc))
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except Exception as exc:
        # A backstop: Docker's and httpx's errors are translated where they are met; one that was missed still
        # gets one line (with --debug, its traceback).
        line = _foreign_error(exc)
        if line is None or output.debugging():
            raise
        output.error(line)
        raise SystemExit(1) from None


def _foreign_error(exc: Exception) -> str | None:
    """One line for an error of python-on-whales or httpx that reached the top; None for any other."""
    module = type(exc).__module__
    if module.startswith("python_on_whales"):
        from cog.errors import last_line

        reason = last_line(getattr(exc, "stderr", None) or "", "no reason given").removeprefix("Error response from daemon: ")
        return f"a Docker command failed ({reason}); check that Docker runs (docker info), or run again with --debug"
    if module.startswith(("httpx", "httpcore")):
        from cog.http_errors import http_failure

        request = getattr(exc, "_request", None)
        where = f" to {request.url.scheme}://{request.url.netloc.decode()}" if request is not None else ""
        return f"a request{where} failed ({http_failure(exc)}); run again with --debug for details"
    return None
