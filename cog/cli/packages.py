"""Commands of packages and the cog server: package, server, remote set, repo set, list, show, download, delete;
and the server side of build (a project with a repo), login (a URL) and infer (a package id)."""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

import typer

from cog.errors import CogError

remote_app = typer.Typer(help="The cog server this user works with.", no_args_is_help=True)
repo_app = typer.Typer(help="The cog server and model of this project.", no_args_is_help=True)
# An infer argument that could be a package id; anything else is an image name.
PACKAGE_PREFIX = re.compile(r"^[0-9a-f]{4,64}$")


def register(app: typer.Typer) -> None:
    for command in (package, server, list_packages, show, download, delete):
        app.command(command.__name__.removesuffix("_packages").replace("_", "-"))(command)
    app.add_typer(remote_app, name="remote")
    app.add_typer(repo_app, name="repo")


def package(
    output_path: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the package as a zip (FILE.zip)."),
    file: Optional[Path] = typer.Option(None, "-f", "--file", help="The cog.yaml of the project (default: the nearest).", dir_okay=False),
) -> None:
    """Make a package of the project: print its content-addressed id, and write it as a reproducible zip with -o."""
    from cog.cli import output
    from cog.packages.package import scan, write_zip, zip_chunks
    from cog.config.project import load_project

    local = scan(load_project(file).directory)
    if output_path is not None:
        write_zip(zip_chunks(local.manifest, local.open), output_path)
        output.success(f"Written {output_path} ({len(local.manifest.files)} files, {_size(local.manifest.size)})")
    typer.echo(local.id)


def server(
    port: int = typer.Option(8080, "-p", "--port", min=1, max=65535, help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0 for every interface)."),
    storage: Optional[str] = typer.Option(
        None, "--storage", envvar="COG_STORAGE",
        help="Where packages live: any fsspec URL, e.g. s3://bucket/cog, gs://bucket/cog, file:///srv/cog (default: file:// under the user's data directory).",
    ),
    docker_registry: Optional[str] = typer.Option(
        None, "--docker-registry", help="HOST[:PORT][/PREFIX] to push images to; without it, the server builds no images."
    ),
    builder: Optional[str] = typer.Option(None, "--builder", help="The buildx builder to build with (default: the active one)."),
    max_builds: int = typer.Option(1, "--max-builds", min=1, help="Builds at once."),
    token_file: Optional[Path] = typer.Option(
        None, "--token-file", help="Where to write the admin token created at first start (default: in the user's data directory)."
    ),
    max_blob_size: int = typer.Option(200 * 1024**3, "--max-blob-size", min=1, help="Largest file accepted, in bytes."),
    ca_bundle: Optional[Path] = typer.Option(None, "--ca-bundle", envvar="COG_CA_BUNDLE", dir_okay=False, help="CA certificates for networked build steps."),
    base_image_mirror: Optional[str] = typer.Option(None, "--base-image-mirror", envvar="COG_BASE_IMAGE_MIRROR", help="Registry to take base images from."),
) -> None:
    """Keep packages in a store and build their images: the central registry of models."""
    import os

    import platformdirs
    import uvicorn

    from cog.images import docker
    from cog.cli import output
    from cog.packages.api import ServerState, create_app
    from cog.packages.builds import BuildQueue, BuildSettings
    from cog.packages.settings import local_admin_token_file
    from cog.packages.store import Store

    data = Path(platformdirs.user_data_dir("cog"))
    store = Store(storage or (data / "store").as_uri())
    store.check()
    if not store.has_tokens():
        token_file = token_file or local_admin_token_file()
        token_file.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(store.create_token("admin") + "\n")
        output.info(f"Created the admin token in {token_file}; use it with: cog login http://{host}:{port} --password-stdin < {token_file}")
    builds = None
    if docker_registry:
        docker.require_engine()
        settings = BuildSettings(registry=docker_registry.rstrip("/"), builder=builder, max_builds=max_builds,
                                 ca_bundle=ca_bundle, base_image_mirror=base_image_mirror)
        builds = BuildQueue(store, settings, output.info)
        resumed = builds.resume()
        if resumed:
            output.info(f"Resumed {resumed} builds")
    app = create_app(ServerState(store=store, builds=builds, max_blob_size=max_blob_size))
    images = f"images to {docker_registry}" if docker_registry else "no image builds (no --docker-registry)"
    output.info(f"cog server on http://{host}:{port} (storage {store.url}; {images}); API docs at /docs")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        if builds is not None:
            builds.shutdown()


@remote_app.command("set")
def remote_set(url: str = typer.Argument(..., help="http://HOST:PORT of a cog server.")) -> None:
    """Use this cog server from every directory (a project's repo, if set, wins)."""
    from cog.cli import output
    from cog.packages.settings import set_remote

    server = set_remote(url)
    output.success(f"Remote set to {server}")
    _adopt_local_admin_token(server)


def _adopt_local_admin_token(server: str) -> None:
    """A server started on this machine by this user left its admin token in the user's data directory: use it,
    so that `cog server` + `cog remote set` + `cog build` works as it did in the original cog, without a login."""
    from cog.cli import output
    from cog.packages.client import ServerClient
    from cog.packages.settings import local_admin_token_file, save_token, token_for

    token_file = local_admin_token_file()
    if token_for(server) is not None or not token_file.is_file():
        return
    token = token_file.read_text(encoding="utf-8").strip()
    try:
        ServerClient(server, token).check_token()
    except CogError:
        return  # another server's token, or this one is not running: cog login is the way
    save_token(server, token)
    output.success(f"Logged in to {server} with the admin token in {token_file}")


@repo_app.command("set")
def repo_set(url: str = typer.Argument(..., help="http://HOST:PORT/OWNER/NAME: the server and the model.")) -> None:
    """Push this project's packages to a model on a cog server (kept in the project's .cog/ folder)."""
    from cog.cli import output
    from cog.packages.settings import set_repo

    output.success(f"Repo set to {set_repo(url)}")


def list_packages() -> None:
    """List the packages of this project's model (or of every model on the remote), newest first."""
    from rich.console import Console
    from rich.table import Table

    repo, client = _connect()
    packages = client.packages(repo.model)
    table = Table(box=None, header_style="bold")
    for column in ("ID", "CREATED", "SIZE", "IMAGES") if repo.model else ("MODEL", "ID", "CREATED", "SIZE", "IMAGES"):
        table.add_column(column)
    for found in packages:
        images = ", ".join(f"{build.variant} {build.status}" for build in found.builds) or "-"
        row = [found.id[:12], f"{found.created_at:%Y-%m-%d %H:%M:%S}", _size(found.size), images]
        table.add_row(*(row if repo.model else [found.model, *row]))
    Console(soft_wrap=True).print(table) if packages else typer.echo(f"No packages on {repo}", err=True)


def show(
    package_id: str = typer.Argument(..., metavar="ID", help="A package id, or a unique prefix of one."),
    logs: bool = typer.Option(False, "--logs", help="Print the whole log of each build."),
) -> None:
    """Show a package: its id, config, files, images and their builds."""
    import yaml

    repo, client = _connect()
    model, found = _locate(repo, client, package_id)
    detail = client.package(model, found.id)
    typer.echo(f"Package  {detail.id}\nModel    {detail.model}\nCreated  {detail.created_at:%Y-%m-%d %H:%M:%S %Z}")
    typer.echo(f"Files    {len(detail.manifest.files)} ({_size(detail.size)})\nImages")
    for build in detail.builds:
        typer.echo(f"  {build.variant}  {build.status:<9}  {build.reference or build.image}")
        if build.error:
            typer.echo(f"       {build.error}")
    if not detail.builds:
        typer.echo("  none (this server builds no images)")
    typer.echo("Config\n" + "\n".join(f"  {line}" for line in yaml.safe_dump(detail.config, sort_keys=False).splitlines()))
    for build in detail.builds if logs else ():
        typer.echo(f"\n--- {build.variant} build log ---\n{client.build_log(model, detail.id, build.variant)}")


def download(
    package_id: str = typer.Argument(..., metavar="ID", help="A package id, or a unique prefix of one."),
    output_path: Optional[Path] = typer.Option(None, "-o", "--output", help="Where to write the zip (default: NAME-ID.zip)."),
) -> None:
    """Download a package as a zip: byte for byte what `cog package -o` wrote for it."""
    from cog.cli import output

    repo, client = _connect()
    model, found = _locate(repo, client, package_id)
    destination = output_path or Path(f"{model.split('/')[1]}-{found.id[:12]}.zip")
    with _bytes_progress("Downloading", found.size) as advance:
        client.download(model, found.id, destination, advance)
    output.success(f"Written {destination}")


def delete(
    package_id: str = typer.Argument(..., metavar="ID", help="A package id, or a unique prefix of one."),
) -> None:
    """Delete a package; the files no other package uses are deleted from the store."""
    from cog.cli import output

    repo, client = _connect()
    model, found = _locate(repo, client, package_id)
    client.delete(model, found.id)
    output.success(f"Deleted {model} {found.id}")


def push_package(file: Optional[Path], wait: bool) -> None:
    """`cog build` in a project with a repo: package, upload what the server lacks, commit, wait for its images."""
    from cog.cli import output
    from cog.packages.package import scan
    from cog.config.project import load_project

    repo, client = _connect(model=True)
    project = load_project(file)
    for warning in project.config.warnings:
        output.warning(str(warning))
    with output.stderr().status("Hashing the project's files"):
        local = scan(project.directory)
    output.info(f"Package {local.id} ({len(local.manifest.files)} files, {_size(local.manifest.size)})")
    detail = client.push(repo.model, local, log=output.info, progress=_bytes_progress)
    if not detail.builds:
        output.success(f"Pushed {detail.id} to {repo} (this server builds no images)")
    elif not wait:
        output.success(f"Pushed {detail.id} to {repo}; its images are building (cog show {detail.id[:12]})")
    else:
        for build in client.wait_for_builds(repo.model, detail.id, log=output.info, show_log=output.build_log):
            output.info(f"{build.variant.upper()} image: {build.reference}")
        output.success(f"Built and pushed {detail.id}")
    typer.echo(detail.id)


def login_server(url: str, password_stdin: bool) -> None:
    """`cog login http(s)://...`: check a cog server token and keep it in the user's settings."""
    import sys

    from cog.cli import output
    from cog.packages.client import ServerClient
    from cog.packages.settings import parse_server, save_token

    server_url = parse_server(url)
    token = sys.stdin.read().strip() if password_stdin else typer.prompt("Token", hide_input=True).strip()
    if not token:
        raise CogError("the token is empty")
    ServerClient(server_url, token).check_token()
    save_token(server_url, token)
    output.success(f"Logged in to {server_url}")


def image_of(argument: str) -> str:
    """For infer/predict: a unique package-id prefix on the configured server → its pulled image (the GPU one when
    there is a GPU here); anything else is an image name, returned as it is."""
    from cog.images import docker
    from cog.cli import output
    from cog.packages.settings import current_repo

    repo = current_repo()
    if repo is None or not PACKAGE_PREFIX.match(argument):
        return argument
    repo, client = _connect()
    try:
        model, found = _locate(repo, client, argument)
    except _NotAPackage:
        return argument
    built = {build.variant: build for build in found.builds if build.status == "succeeded"}
    build = built.get("gpu") if docker.gpu_available() and "gpu" in built else built.get("cpu") or built.get("gpu")
    if build is None:
        states = ", ".join(f"{b.variant} {b.status}" for b in found.builds) or "no builds"
        raise CogError(f"package {found.id[:12]} of {model} has no built image yet ({states}); see cog show {found.id[:12]}")
    output.info(f"Package {found.id[:12]} of {model}: pulling {build.reference}")
    docker.pull(build.reference)
    return build.reference


class _NotAPackage(CogError):
    pass


def _connect(model: bool = False):
    from cog.packages.client import ServerClient
    from cog.packages.settings import Repo, current_repo, default_model, project_root, token_for

    repo = current_repo()
    if repo is None:
        raise CogError("no cog server is set; run cog remote set http://HOST:PORT (or cog repo set http://HOST:PORT/OWNER/NAME)")
    if model and repo.model is None:
        # Only a remote: the model is this user's, named after the project (cog repo set names another).
        repo = Repo(server=repo.server, model=default_model(project_root()))
    return repo, ServerClient(repo.server, token_for(repo.server))


def _locate(repo, client, prefix: str):
    """(model, package summary) of a unique id prefix, in the repo's model or, with only a remote, in any model."""
    if not re.fullmatch(r"[0-9a-f]{1,64}", prefix):
        raise _NotAPackage(f"{prefix} is not a package id (hexadecimal)")
    found = [p for p in client.packages(repo.model) if p.id.startswith(prefix)] if repo.model else client.packages(prefix=prefix)
    if not found:
        raise _NotAPackage(f"there is no package {prefix} on {repo}")
    if len({(p.model, p.id) for p in found}) > 1:
        raise CogError(f"{prefix} is the start of {len(found)} package ids on {repo}; give more of it")
    return found[0].model, found[0]


@contextmanager
def _bytes_progress(description: str, total: int) -> Iterator[Callable[[int], None]]:
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from cog.cli import output

    with Progress("{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  console=output.stderr(), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda done: bar.advance(task, done)


def _size(size: float) -> str:
    if size < 1000:
        return f"{size:.0f} B"
    for unit in ("kB", "MB", "GB"):
        size /= 1000
        if size < 1000 or unit == "GB":
            break
    return f"{size:.1f} {unit}"
