"""The Docker engine and BuildKit, through python-on-whales: what the rest of cog needs of them, and nothing else."""

from __future__ import annotations

import collections
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Callable, Iterable, Iterator

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from cog.errors import CogError, last_line

_FAILURE_LINES = 25  # log lines shown with a failed build when progress is quiet


@cache
def client() -> DockerClient:
    return DockerClient()


@cache
def require_engine() -> None:
    if shutil.which("docker") is None:
        raise CogError("the docker command is not installed; install Docker Engine (https://docs.docker.com/engine/install/)")
    try:
        client().info()
    except DockerException as exc:
        reason = last_line(exc.stderr or str(exc), "no answer")
        raise CogError(f"cannot reach the Docker daemon ({reason}); start Docker and try again") from None


@dataclass(frozen=True)
class Capabilities:
    driver: str
    multi_platform_build: bool  # several platforms in one build call (pushed)
    multi_platform_load: bool  # ...and loaded into the engine as one image


@cache
def capabilities(builder: str | None) -> Capabilities:
    """Ask the builder rather than assume: the docker driver of an engine without the containerd image store
    builds one platform per call; container-based drivers build several but cannot load them."""
    inspected = client().buildx.inspect(builder)
    if inspected.driver != "docker":
        return Capabilities(driver=inspected.driver, multi_platform_build=True, multi_platform_load=False)
    containerd_store = any(
        key == "driver-type" and "containerd" in value for key, value in (client().info().driver_status or [])
    )
    return Capabilities(driver="docker", multi_platform_build=containerd_store, multi_platform_load=containerd_store)


def build(
    *,
    context: Path,
    dockerfile: Path,
    contexts: dict[str, str],
    platforms: list[str],
    tag: str,
    load: bool,
    push: bool,
    log: Callable[[str], None],
    progress: str = "plain",
    secrets: Iterable[str] = (),
    labels: dict[str, str] | None = None,
    no_cache: bool = False,
    builder: str | None = None,
    cache_from: Iterable[str] = (),
    cache_to: str | None = None,
) -> list[str]:
    """Build and return the build log. Each step's log line says CACHED when BuildKit reused it."""
    return _run_build(
        log, progress,
        context_path=str(context), file=str(dockerfile), build_contexts=contexts, platforms=platforms, tags=[tag],
        load=load, push=push, secrets=list(secrets), labels=labels or {}, cache=not no_cache, builder=builder,
        **_cache_arguments(cache_from, cache_to),
    )


def build_and_push_platform(*, tag: str, platform: str, log, progress="plain", context, dockerfile, contexts,
                            secrets=(), no_cache=False, builder=None, cache_from=(), cache_to=None) -> str:
    """Build one platform, push it under its own tag (the docker driver cannot push by digest alone) and
    return REPOSITORY@DIGEST for join_platforms."""
    with tempfile.TemporaryDirectory() as scratch:
        metadata = Path(scratch) / "metadata.json"
        _run_build(
            log, progress,
            context_path=str(context), file=str(dockerfile), build_contexts=contexts, platforms=[platform],
            output={"type": "image", "name": tag, "push": "true"},
            metadata_file=str(metadata), secrets=list(secrets), cache=not no_cache, builder=builder,
            **_cache_arguments(cache_from, cache_to),
        )
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
        raise CogError(f"could not read the digest of {reference}: {_docker_error(result.stderr)}")
    return json.loads(result.stdout)["digest"]


def run_once(image: str, command: list[str], *, platform: str | None = None) -> subprocess.CompletedProcess:
    """Run a command in a fresh container of `image` and remove it; stdout and stderr kept apart."""
    args = ["docker", "run", "--rm"]
    if platform:
        args += ["--platform", platform]
    return subprocess.run([*args, image, *command], capture_output=True, text=True, timeout=600)


def _run_build(log: Callable[[str], None], progress: str, **arguments) -> list[str]:
    lines: list[str] = []
    recent: collections.deque[str] = collections.deque(maxlen=_FAILURE_LINES)
    try:
        for line in client().buildx.build(progress="plain", stream_logs=True, provenance=False, **arguments):
            line = line.rstrip("\n")
            lines.append(line)
            recent.append(line)
            if progress != "quiet":
                log(line)
    except DockerException as exc:
        if progress == "quiet":
            for line in recent:
                log(line)
        raise CogError(f"the image build failed: {_failure(lines) or _exception_error(exc)}") from None
    return lines


def _failure(lines: list[str]) -> str | None:
    """BuildKit's own one-line summary of what failed, e.g. 'process "/bin/sh -c ..." did not complete ...'."""
    for line in reversed(lines):
        if line.startswith("ERROR: "):
            return line[len("ERROR: "):]
    return None


def _exception_error(exc: DockerException) -> str:
    """What a python-on-whales exception says, as _docker_error reads the docker CLI."""
    return _docker_error(exc.stderr or exc.stdout or str(exc) or "")


def _cache_arguments(cache_from: Iterable[str], cache_to: str | None) -> dict:
    """--cache-from/--cache-to as python-on-whales takes them."""
    return {"cache_from": [_cache_spec(spec) for spec in cache_from] or None,
            "cache_to": _cache_spec(cache_to) if cache_to else None}


def _cache_spec(spec: str) -> dict[str, str]:
    """"type=registry,ref=R" as buildx takes it through python-on-whales."""
    return dict(part.split("=", 1) for part in spec.split(",") if "=" in part)


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
        container = client().container.inspect(self.container_id)
        if container.state.running:
            return None
        last = last_line(client().container.logs(self.container_id, tail=20), "")
        return f"exit code {container.state.exit_code}" + (f": {last}" if last else "")


@contextmanager
def serving(container: Container, *, port: int | None = None, host: str = "127.0.0.1") -> Iterator[Served]:
    """Run the container's prediction server, published on `host` (a free port unless given); always removed after."""
    result = subprocess.run(
        ["docker", "run", "--detach", "--publish", f"{host}:{port or ''}:5000", *container.run_arguments(), container.image],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise CogError(f"could not start {container.image}: {_docker_error(result.stderr)}")
    container_id = result.stdout.strip()
    try:
        bound = client().container.inspect(container_id).network_settings.ports["5000/tcp"][0]
        yield Served(url=f"http://{bound['HostIp']}:{bound['HostPort']}", container_id=container_id)
    finally:
        subprocess.run(["docker", "rm", "--force", container_id], capture_output=True)


@contextmanager
def streaming_logs(served: Served, line: Callable[[str], None]) -> Iterator[None]:
    """Pass each line the container prints (the model's setup() and predict() output) to `line` while it runs."""
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
        time.sleep(0.2)  # what the model printed just before it answered: docker logs is a beat behind
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
    return client().image.exists(image)


def image_labels(image: str) -> dict[str, str]:
    return client().image.inspect(image).config.labels or {}


def push(image: str, log: Callable[[str], None]) -> None:
    if not image_exists(image):
        raise CogError(f"there is no image {image} here; build it first with cog build -t {image}")
    result = subprocess.run(["docker", "push", "--quiet", image], capture_output=True, text=True)
    if result.returncode != 0:
        raise CogError(f"could not push {image}: {_docker_error(result.stderr)}")
    log(f"Pushed {image}")


def pull(image: str) -> None:
    result = subprocess.run(["docker", "pull", "--quiet", image], capture_output=True, text=True)
    if result.returncode != 0:
        raise CogError(f"could not pull {image}: {_docker_error(result.stderr)}")


def login(registry: str, username: str, password: str) -> None:
    """`docker login`, so that the credentials land where Docker keeps them (credential helper or config.json)."""
    result = subprocess.run(
        ["docker", "login", registry, "--username", username, "--password-stdin"],
        input=password, capture_output=True, text=True,
    )
    if result.returncode != 0:
        reason = _docker_error(result.stderr)
        hint = "; check the user name and password" if "401" in reason or "unauthorized" in reason.lower() else ""
        raise CogError(f"could not log in to {registry}: {reason}{hint}")


def _docker_error(stderr: str) -> str:
    """The docker CLI's last error line, without its 'Error response from daemon:' prefix."""
    errors = "\n".join(line.strip() for line in stderr.strip().splitlines() if not line.startswith("WARNING"))
    return last_line(errors, "unknown error").removeprefix("Error response from daemon: ").removeprefix("Error: ")
