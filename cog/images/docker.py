"""The Docker engine and BuildKit, through python-on-whales (builds run as commands: cog.images.buildx): what the
rest of cog needs of them, and nothing else."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Callable, Iterable, Iterator

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from cog.errors import CogError, last_line
from cog.images.buildx import (PUSH_TRIES, build_command, docker_error, no_such_builder, registry_of, registry_problem,
                               run_build, tried_again)


@cache
def client() -> DockerClient:
    return DockerClient()


@cache
def require_engine() -> None:
    if shutil.which("docker") is None:
        raise CogError("the docker command is not installed; install Docker Engine (https://docs.docker.com/engine/install/)")
    # `docker version` asks the daemon for its version alone: a third of the time of `docker info`
    answer = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True)
    if answer.returncode != 0:
        reason = last_line(answer.stderr or answer.stdout, "no answer")
        raise CogError(f"cannot reach the Docker daemon ({reason}); start Docker and try again")


@dataclass(frozen=True)
class Capabilities:
    driver: str
    multi_platform_build: bool  # several platforms in one build call (pushed)
    multi_platform_load: bool  # ...and loaded into the engine as one image


@cache
def capabilities(builder: str | None) -> Capabilities:
    """Ask the builder rather than assume: the docker driver of an engine without the containerd image store
    builds one platform per call; container-based drivers build several but cannot load them."""
    try:
        inspected = client().buildx.inspect(builder)
    except DockerException as exc:
        reason = _exception_error(exc)
        if builder:
            raise no_such_builder(builder, None if re.search(r"no builder .* found", reason) else reason) from None
        raise CogError(f"cannot read the active buildx builder ({reason}); check docker buildx ls") from None
    if inspected.driver != "docker":
        return Capabilities(driver=inspected.driver, multi_platform_build=True, multi_platform_load=False)
    try:
        driver_status = client().info().driver_status or []
    except DockerException as exc:
        raise CogError(f"cannot reach the Docker daemon ({_exception_error(exc)}); start Docker and try again") from None
    containerd_store = any(key == "driver-type" and "containerd" in value for key, value in driver_status)
    return Capabilities(driver="docker", multi_platform_build=containerd_store, multi_platform_load=containerd_store)


def build(*, context: Path, dockerfile: Path, contexts: dict[str, str], log: Callable[[str], None],
          progress: str = "plain", labels: dict[str, str] | None = None, **arguments) -> list[str]:
    """Build (cog.images.buildx.build_command takes the `arguments`: platforms, tags, load, push, secrets...) and
    return the build log. Each step's log line says CACHED when BuildKit reused it.

    With `source_date_epoch`, the generated Dockerfile dates every file a step writes at it as well
    (templates/build-step.sh): the same Dockerfile and files give the same digest, with the engine's own exporter."""
    command = build_command(context=str(context), dockerfile=str(dockerfile), contexts=contexts, labels=labels,
                            **arguments)
    return run_build(command, log, progress, pushes=bool(arguments.get("push")), builder=arguments.get("builder"))


def build_and_push_platform(*, tag: str, platform: str, log, progress="plain", context, dockerfile, contexts,
                            secrets=(), no_cache=False, builder=None, cache_from=(), cache_to=None,
                            source_date_epoch: int | None = None) -> str:
    """Build one platform, push it under its own tag (the docker driver cannot push by digest alone) and
    return REPOSITORY@DIGEST for join_platforms."""
    with tempfile.TemporaryDirectory() as scratch:
        metadata = Path(scratch) / "metadata.json"
        command = build_command(
            context=str(context), dockerfile=str(dockerfile), contexts=contexts, platforms=[platform],
            output=f"type=image,name={tag},push=true", metadata_file=str(metadata), secrets=secrets,
            no_cache=no_cache, builder=builder, source_date_epoch=source_date_epoch,
            cache_from=cache_from, cache_to=cache_to,
        )
        run_build(command, log, progress, pushes=True, builder=builder)
        repository = tag.rsplit(":", 1)[0] if ":" in tag.rsplit("/", 1)[-1] else tag
        return f"{repository}@{json.loads(metadata.read_text())['containerimage.digest']}"


def join_platforms(tag: str, digests: list[str], builder: str | None) -> None:
    try:
        client().buildx.imagetools.create(sources=digests, tags=[tag], builder=builder)
    except DockerException as exc:
        raise CogError(f"could not join the platform images into {tag}: {_exception_error(exc)}") from None


def registry_digest(reference: str) -> str:
    """The digest of an image (or index) in its registry, as `docker pull NAME@DIGEST` takes it."""
    result = subprocess.run(
        ["docker", "buildx", "imagetools", "inspect", reference, "--format", "{{json .Manifest}}"],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise CogError(f"could not read the digest of {reference}: {docker_error(result.stderr)}")
    return json.loads(result.stdout)["digest"]


def run_once(image: str, command: list[str], *, platform: str | None = None) -> subprocess.CompletedProcess:
    """Run a command in a fresh container of `image` and remove it; stdout and stderr kept apart."""
    args = ["docker", "run", "--rm"]
    if platform:
        args += ["--platform", platform]
    try:
        return subprocess.run([*args, image, *command], capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        raise CogError(f"`{' '.join(command)}` in a container of {image} did not finish within 10 minutes") from None


def _exception_error(exc: DockerException) -> str:
    """What a python-on-whales exception says, as _docker_error reads the docker CLI."""
    return docker_error(exc.stderr or exc.stdout or str(exc) or "")


@dataclass(frozen=True)
class Container:
    """How to run an image for cog predict, train, serve and run: what docker run gets besides the image."""

    image: str
    env: dict[str, str] = field(default_factory=dict)
    gpus: str | None = None  # as docker run --gpus takes it: "all", "2", "device=0,1"
    mounts: dict[str, str] = field(default_factory=dict)  # host path -> path in the container
    workdir: str | None = None

    def run_arguments(self) -> list[str]:
        args: list[str] = []
        for name, value in self.env.items():
            args += ["--env", f"{name}={value}"]
        if self.gpus:
            args += ["--gpus", self.gpus]
        for source, target in self.mounts.items():
            args += ["--volume", f"{source}:{target}"]
        if self.workdir:
            args += ["--workdir", self.workdir]
        return args


@dataclass(frozen=True)
class Served:
    url: str
    container_id: str

    def exited(self) -> str | None:
        """Why the container is gone (the end of its log), or None while it runs."""
        try:
            container = client().container.inspect(self.container_id)
            if container.state.running:
                return None
            last = last_line(client().container.logs(self.container_id, tail=20), "")
        except DockerException:
            return "its container is gone (removed, or the Docker daemon stopped)"
        return f"exit code {container.state.exit_code}" + (f": {last}" if last else "")


@contextmanager
def serving(container: Container, *, port: int | None = None, host: str = "127.0.0.1") -> Iterator[Served]:
    """Run the container's prediction server, published on `host` (a free port unless given); always removed after."""
    result = subprocess.run(
        ["docker", "run", "--detach", "--publish", f"{host}:{port or ''}:5000", *container.run_arguments(), container.image],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise CogError(f"could not start {container.image}: {docker_error(result.stderr)}")
    container_id = result.stdout.strip()
    try:
        try:
            bound = client().container.inspect(container_id).network_settings.ports["5000/tcp"][0]
        except (DockerException, KeyError, IndexError, TypeError):
            gone = Served(url="", container_id=container_id).exited() or "no published port"
            raise CogError(f"{container.image} stopped as soon as it started: {gone}") from None
        yield Served(url=f"http://{bound['HostIp']}:{bound['HostPort']}", container_id=container_id)
    finally:
        subprocess.run(["docker", "rm", "--force", container_id], capture_output=True)


@contextmanager
def streaming_logs(served: Served, line: Callable[[str], None]) -> Iterator[None]:
    """Pass each line the container prints (the model's setup() and predict() output) to `line` while it runs;
    the container is stopped at the end of the block, when every line it printed has been passed on."""
    follower = subprocess.Popen(["docker", "logs", "--follow", served.container_id], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace")

    def pump() -> None:
        assert follower.stdout is not None
        for text in follower.stdout:
            line(text.rstrip("\n"))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        yield
    finally:
        # docker logs is a beat behind the container: stopped, it hands over the rest and ends by itself.
        subprocess.run(["docker", "kill", served.container_id], capture_output=True)
        reader.join(timeout=5)
        follower.terminate()
        reader.join(timeout=2)


def follow_logs(served: Served) -> None:
    """Print the container's output as it comes, until the container stops."""
    subprocess.run(["docker", "logs", "--follow", served.container_id])


def run_interactive(container: Container, command: list[str], *, publish: list[str] = ()) -> int:
    """`docker run --rm -it` with the terminal attached when there is one; returns the command's exit code."""
    args = ["docker", "run", "--rm", "--interactive"]
    if sys.stdin.isatty():
        args.append("--tty")
    for port in publish:
        args += ["--publish", port if ":" in port else f"{port}:{port}"]
    return subprocess.run([*args, *container.run_arguments(), container.image, *command]).returncode


def gpu_available() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    return subprocess.run(["nvidia-smi", "-L"], capture_output=True).returncode == 0


def image_exists(image: str) -> bool:
    try:
        return client().image.exists(image)
    except DockerException as exc:
        if "invalid reference format" in _exception_error(exc).lower():
            raise CogError(f"{image} is not a valid image name: names are lowercase, as REGISTRY/NAME[:TAG]") from None
        raise CogError(f"cannot ask the Docker daemon about {image} ({_exception_error(exc)}); start Docker and try again") from None


def image_digest(image: str) -> str | None:
    """The digest `FROM IMAGE@DIGEST` pins an image by: the engine's own copy's (on the containerd image store its
    id is the digest of its index or manifest), else its registry's; None when neither answers."""
    if shutil.which("docker") is None:
        return None
    result = subprocess.run(["docker", "image", "inspect", image, "--format", "{{.Id}}"], capture_output=True, text=True)
    local = result.stdout.strip()
    if result.returncode == 0 and local.startswith("sha256:"):
        return local
    result = subprocess.run(["docker", "buildx", "imagetools", "inspect", image, "--format", "{{json .Manifest}}"],
                            capture_output=True, text=True, timeout=60)
    return json.loads(result.stdout)["digest"] if result.returncode == 0 else None


def image_labels(image: str) -> dict[str, str]:
    try:
        return client().image.inspect(image).config.labels or {}
    except DockerException as exc:
        if not image_exists(image):
            raise CogError(f"there is no image {image} here; build it (cog build -t {image}) or pull it (docker pull {image})") from None
        raise CogError(f"cannot read the labels of {image} ({_exception_error(exc)})") from None


def push(image: str, log: Callable[[str], None], warn: Callable[[str], None]) -> None:
    if not image_exists(image):
        raise CogError(f"there is no image {image} here; build it first with cog build -t {image}")
    _docker_push(image, warn)
    log(f"Pushed {image}")


def _docker_push(image: str, warn: Callable[[str], None]) -> None:
    for attempt in range(1, PUSH_TRIES + 1):
        result = subprocess.run(["docker", "push", "--quiet", image], capture_output=True, text=True)
        if result.returncode == 0:
            return
        error = docker_error(result.stderr)
        if not tried_again(error, attempt, warn):
            raise CogError(f"could not push {image}: {error}")


def pull(image: str) -> None:
    problem = try_pull(image)
    if problem is not None:
        raise CogError(f"could not pull {image} from {problem}")


def try_pull(image: str) -> str | None:
    """Pull an image; None when it is here now, else why not, starting with its registry (registry_problem)."""
    result = subprocess.run(["docker", "pull", "--quiet", image], capture_output=True, text=True)
    if result.returncode == 0:
        return None
    reason = docker_error(result.stderr)
    if "invalid reference format" in reason.lower():
        return f"{registry_of(image)} (it is not a valid image name: lowercase REGISTRY/NAME[:TAG])"
    return registry_problem(reason, image)


def login(registry: str, username: str, password: str) -> None:
    """`docker login`, so that the credentials land where Docker keeps them (credential helper or config.json)."""
    result = subprocess.run(
        ["docker", "login", registry, "--username", username, "--password-stdin"],
        input=password, capture_output=True, text=True,
    )
    if result.returncode != 0:
        reason = docker_error(result.stderr)
        hint = "; check the user name and password" if "401" in reason or "unauthorized" in reason.lower() else ""
        raise CogError(f"could not log in to {registry}: {reason}{hint}")
