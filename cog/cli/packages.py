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
    from cog.config.project import load_project
    from cog.packages.hashes import HashCache
    from cog.packages.package import scan, write_package

    directory = load_project(file).directory
    cache = HashCache.for_project(directory)
    if output_path is None:
        local = scan(directory, cache)
    else:
        local = write_package(directory, output_path, cache)
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
    gc_grace: float = typer.Option(
        3600.0, "--gc-grace", envvar="COG_GC_GRACE", min=0,
        help="Seconds an upload that was never finished, or a blob no package uses, is kept before it is deleted. "
             "Unfinished uploads are collected at start and every few minutes; unused blobs when a package is deleted.",
    ),
    ca_bundle: Optional[Path] = typer.Option(None, "--ca-bundle", envvar="COG_CA_BUNDLE", dir_okay=False, help="CA certificates for networked build steps."),
    base_image_mirror: Optional[str] = typer.Option(None, "--base-image-mirror", envvar="COG_BASE_IMAGE_MIRROR", help="Registry to take base images from."),
) -> None:
    """Keep packages in a store and build their images: the central registry of models."""
    from datetime import timedelta

    import platformdirs
    import uvicorn

    from cog.images import docker
    from cog.cli import output
    from cog.packages.api import ServerState, UploadCollector, create_app
    from cog.packages.builds import BuildQueue, BuildSettings

    # Everything that can be wrong is checked before anything is said: the port, the storage, the token file.
    listening = _listen(host, port)
    try:
        store = _open_store(storage or (Path(platformdirs.user_data_dir("cog")) / "store").as_uri(), given=storage is not None)
        grace = timedelta(seconds=gc_grace)
        collector = UploadCollector(store, grace, output.info)
        collector.collect()  # what a server killed in the middle of an upload left
        if not store.has_tokens():
            _create_admin_token(store, token_file, f"http://{host}:{port}", output.info)
        builds = None
        if docker_registry:
            docker.require_engine()
            settings = BuildSettings(registry=docker_registry.rstrip("/"), builder=builder, max_builds=max_builds,
                                     ca_bundle=ca_bundle, base_image_mirror=base_image_mirror)
            builds = BuildQueue(store, settings, output.info)
            resumed = builds.resume()
            if resumed:
                output.info(f"Resumed {resumed} builds")
    except BaseException:
        listening.close()
        raise
    app = create_app(ServerState(store=store, builds=builds, max_blob_size=max_blob_size, gc_grace=grace))
    images = f"images to {docker_registry}" if docker_registry else "no image builds (no --docker-registry)"
    output.info(f"cog server on http://{host}:{port} (storage {store.url}; {images}); web UI at /, API docs at /docs")
    collector.start()
    try:
        # The socket bound above, so that no other program can take the port between the check and the serving.
        uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[listening])
    finally:
        collector.stop()
        listening.close()
        if builds is not None:
            builds.shutdown()


def _listen(host: str, port: int):
    """A socket bound to HOST:PORT for the server, or a CogError saying why it cannot be."""
    import errno
    import socket

    where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn chooses: localhost is 127.0.0.1
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError):
        raise CogError(f"--host {host}: no such address on this machine; use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)") from None
    listening = socket.socket(family, kind, protocol)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: restart over TIME_WAIT
        listening.bind(address)
        listening.listen(2048)
    except OSError as exc:
        listening.close()
        if exc.errno == errno.EADDRINUSE:
            raise CogError(f"port {port} on {host} is in use by another program (or another cog server); stop it, "
                           f"or choose another port with --port") from None
        if exc.errno == errno.EACCES:
            raise CogError(f"cannot listen on {where}: ports below 1024 need more privileges; choose another port with --port") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise CogError(f"--host {host} is not an address of this machine; use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)") from None
        raise CogError(f"cannot listen on {where}: {exc.strerror or type(exc).__name__}; choose another --host or --port") from None
    return listening


def _open_store(url: str, *, given: bool):
    """The store at `url`, once it has answered and taken a write; else one line naming it and what to do."""
    from cog.packages.store import StorageUnavailable, Store

    where = f"--storage {url}" if given else f"the default storage {url}"
    try:
        store = Store(url)
    except StorageUnavailable as exc:
        if isinstance(exc.__cause__, (ValueError, ImportError)):  # fsspec: an unknown protocol, a missing backend
            raise CogError(f"{where} is not a storage URL cog can use; give file:///PATH, s3://BUCKET/PREFIX, "
                           f"gs://BUCKET/PREFIX or another fsspec URL whose package is installed") from None
        raise CogError(f"{exc}; check {where}") from None
    try:
        store.check()
        store.check_writable()
    except StorageUnavailable as exc:
        cause = exc.__cause__
        if isinstance(cause, OSError) and cause.strerror:
            raise CogError(f"{where} cannot be written to ({cause.strerror}); give a place this user can write to "
                           f"with --storage (file:///PATH, s3://BUCKET/PREFIX, ...)") from None
        raise CogError(f"{exc}; check {where} and its credentials") from None
    return store


def _create_admin_token(store, token_file: Optional[Path], url: str, say: Callable[[str], None]) -> None:
    """The first start on an empty store: create the admin token and write it where the user can read it. The file
    is opened first, so that a token nobody could read is never created."""
    import os

    from cog.packages.settings import local_admin_token_file

    given = token_file is not None
    token_file = token_file or local_admin_token_file()
    try:
        token_file.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as exc:
        blocking = next((parent for parent in token_file.parents if parent.exists() and not parent.is_dir()), None)
        reason = f"{blocking} is a file, not a folder" if blocking else exc.strerror or type(exc).__name__
        where = f"--token-file {token_file}" if given else f"the admin token's file {token_file}"
        raise CogError(f"{where} cannot be written ({reason}); give a path this user can write to with --token-file") from None
    with os.fdopen(descriptor, "w") as out:
        out.write(store.create_token("admin") + "\n")
    say(f"Created the admin token in {token_file}; use it with: cog login {url} --password-stdin < {token_file}")


@remote_app.command("set")
def remote_set(url: str = typer.Argument(..., help="http://HOST:PORT of a cog server.")) -> None:
    """Use this cog server from every directory (a project's repo, if set, wins); says whether one answers there."""
    from cog.packages.settings import set_remote

    server = set_remote(url)
    if _say_set("Remote", server):
        _adopt_local_admin_token(server)


def _say_set(what: str, server: str, shown: str | None = None) -> bool:
    """Say that the setting is kept, and whether a cog server answers there (one line either way); True if one does.
    The setting is kept even when none answers: a server may be started after it."""
    from cog.cli import output
    from cog.packages.client import ServerClient

    problem = ServerClient(server).identify()
    if problem is None:
        output.success(f"{what} set to {shown or server}")
        return True
    output.warning(f"{what} set to {shown or server}, but {problem}; start cog server there, or run "
                   f"cog {what.lower()} set again with the right address")
    return False


def _adopt_local_admin_token(server: str) -> None:
    """A server started on this machine by this user left its admin token in the user's data directory: use it,
    so that `cog server` + `cog remote set` + `cog build` works as it did in the original cog, without a login."""
    from cog.cli import output
    from cog.packages.client import ServerClient
    from cog.packages.settings import local_admin_token_file, save_token, token_for

    token_file = local_admin_token_file()
    if token_for(server) is not None or not token_file.is_file():
        return
    try:
        token = token_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return  # not ours to read: cog login is the way
    try:
        ServerClient(server, token).check_token()
    except CogError:
        return  # another server's token, or this one is not running: cog login is the way
    save_token(server, token)
    output.success(f"Logged in to {server} with the admin token in {token_file}")


@repo_app.command("set")
def repo_set(url: str = typer.Argument(..., help="http://HOST:PORT/OWNER/NAME: the server and the model.")) -> None:
    """Push this project's packages to a model on a cog server (kept in the project's .cog/ folder); says whether
    one answers there."""
    from cog.packages.settings import set_repo

    repo = set_repo(url)
    _say_set("Repo", repo.server, str(repo))


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
        made = [f"{label} {value}" for label, value in (("from", build.base_image), ("epoch", build.source_date_epoch),
                                                        ("lock", build.lock)) if value]
        if made:
            typer.echo(f"       {', '.join(made)}")
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
    from cog.config.project import load_project
    from cog.packages.hashes import HashCache
    from cog.packages.package import scan

    repo, client = _connect(model=True)
    project = load_project(file)
    for warning in project.config.warnings:
        output.warning(str(warning))
    with output.stderr().status("Hashing the project's files"):
        local = scan(project.directory, HashCache.for_project(project.directory))
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


def image_of(argument: str, *, variants: tuple[str, ...] | None = None, purpose: str = "run") -> str:
    """For infer/predict: a unique package-id prefix on the configured server → its pulled image (of the first of
    `variants` it has; by default the GPU one when there is a GPU here); else an image here, else an image pulled
    from its registry. When none of them is, one line says what was tried: the server, the images here, the
    registry; `purpose` is what could not be done ("cannot run IMAGE: ...")."""
    from cog.images import docker
    from cog.packages.settings import current_repo

    repo = current_repo()
    tried = []  # what was looked at, in order: the server (for what could be a package id), here, the registry
    todo = ""
    if PACKAGE_PREFIX.match(argument):
        from cog.packages.client import ServerUnreachable

        if repo is None:
            tried.append("no cog server is set to find a package by that id")
            todo = "to run a package, set its server (cog remote set http://HOST:PORT); to run an image, "
        else:
            try:
                repo, client = _connect()
                model, found = _locate(repo, client, argument)
            except _NotAPackage:
                tried.append(f"{repo} has no package {argument}")
                todo = "to run a package, check its id (cog list); to run an image, "
            except ServerUnreachable as exc:
                tried.append(f"the cog server at {repo.server} did not answer ({exc.reason})")
                todo = "to run a package, start its server (or cog remote set another); to run an image, "
            else:
                return _package_image(model, found, variants)
    docker.require_engine()
    if docker.image_exists(argument):
        return argument
    problem = docker.try_pull(argument)
    if problem is None:
        return argument
    tried += [f"there is no image {argument} here", f"it could not be pulled from {problem}"]
    todo = todo or "check the name, or "
    raise CogError(f"cannot {purpose} {argument}: {', '.join(tried[:-1])} and {tried[-1]}; "
                   f"{todo}build it here (cog build -t NAME) or load it (docker load -i FILE)")


def _package_image(model: str, found, variants: tuple[str, ...] | None = None) -> str:
    """The pulled image of a package: of the first of `variants` that was built (by default the GPU one when there
    is a GPU here, else the CPU one)."""
    from cog.images import docker
    from cog.cli import output

    if variants is None:
        variants = ("gpu", "cpu") if docker.gpu_available() else ("cpu", "gpu")
    built = {build.variant: build for build in found.builds if build.status == "succeeded"}
    build = next((built[variant] for variant in variants if variant in built), None)
    if build is None:
        states = ", ".join(f"{b.variant} {b.status}" for b in found.builds) or "no builds"
        what = f"{variants[0]} image" if len(variants) == 1 else "image"
        raise CogError(f"package {found.id[:12]} of {model} has no built {what} yet ({states}); see cog show {found.id[:12]}")
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
