"""The Docker engine and BuildKit, through python-on-whales: what the rest of cog needs of them, and nothing else."""

from __future__ import annotations

import collections
import json
import re
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
            raise _no_such_builder(builder, None if re.search(r"no builder .* found", reason) else reason) from None
        raise CogError(f"cannot read the active buildx builder ({reason}); check docker buildx ls") from None
    if inspected.driver != "docker":
        return Capabilities(driver=inspected.driver, multi_platform_build=True, multi_platform_load=False)
    try:
        driver_status = client().info().driver_status or []
    except DockerException as exc:
        raise CogError(f"cannot reach the Docker daemon ({_exception_error(exc)}); start Docker and try again") from None
    containerd_store = any(key == "driver-type" and "containerd" in value for key, value in driver_status)
    return Capabilities(driver="docker", multi_platform_build=containerd_store, multi_platform_load=containerd_store)


def _no_such_builder(builder: str, reason: str | None = None) -> CogError:
    because = f" ({reason})" if reason else ""
    return CogError(f"--builder {builder}: there is no such buildx builder here{because}; see the builders with "
                    f"docker buildx ls, or leave --builder out to use the active one")


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
    source_date_epoch: int | None = None,
) -> list[str]:
    """Build and return the build log. Each step's log line says CACHED when BuildKit reused it.

    With `source_date_epoch`, BuildKit dates the image and its history at that time and hands it to RUN steps
    (SOURCE_DATE_EPOCH), where the generated Dockerfile dates every file a step writes at it as well
    (templates/build-step.sh): the same Dockerfile and files give the same digest, with the engine's own exporter."""
    arguments = dict(
        context_path=str(context), file=str(dockerfile), build_contexts=contexts, platforms=platforms,
        secrets=list(secrets), labels=labels or {}, cache=not no_cache, builder=builder,
        build_args=_epoch_argument(source_date_epoch), **_cache_arguments(cache_from, cache_to),
    )
    return _run_build(log, progress, tags=[tag], load=load, push=push, **arguments)


def _epoch_argument(source_date_epoch: int | None) -> dict[str, str]:
    return {} if source_date_epoch is None else {"SOURCE_DATE_EPOCH": str(source_date_epoch)}


def build_and_push_platform(*, tag: str, platform: str, log, progress="plain", context, dockerfile, contexts,
                            secrets=(), no_cache=False, builder=None, cache_from=(), cache_to=None,
                            source_date_epoch: int | None = None) -> str:
    """Build one platform, push it under its own tag (the docker driver cannot push by digest alone) and
    return REPOSITORY@DIGEST for join_platforms."""
    with tempfile.TemporaryDirectory() as scratch:
        metadata = Path(scratch) / "metadata.json"
        _run_build(
            log, progress,
            context_path=str(context), file=str(dockerfile), build_contexts=contexts, platforms=[platform],
            output={"type": "image", "name": tag, "push": "true"},
            metadata_file=str(metadata), secrets=list(secrets), cache=not no_cache, builder=builder,
            build_args=_epoch_argument(source_date_epoch), **_cache_arguments(cache_from, cache_to),
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
    try:
        return subprocess.run([*args, image, *command], capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        raise CogError(f"`{' '.join(command)}` in a container of {image} did not finish within 10 minutes") from None


def _run_build(log: Callable[[str], None], progress: str, **arguments) -> list[str]:
    pushes = bool(arguments.get("push")) or arguments.get("output", {}).get("push") == "true"
    for attempt in range(1, _PUSH_TRIES + 1):
        lines: list[str] = []
        recent: collections.deque[str] = collections.deque(maxlen=_FAILURE_LINES)
        try:
            for line in client().buildx.build(progress="plain", stream_logs=True, provenance=False, **arguments):
                line = line.rstrip("\n")
                lines.append(line)
                recent.append(line)
                if progress != "quiet":
                    log(line)
            return lines
        except DockerException as exc:
            error = _exception_error(exc)
            failure = _failure(lines) or error
            if pushes and _tried_again(failure, attempt, log):  # every step is cached by now: it costs the push
                continue
            if progress == "quiet":
                for line in recent:
                    log(line)
            unpulled = _unpulled_base_image([*lines, *error.splitlines()])
            if unpulled:
                raise CogError(unpulled) from None
            if arguments.get("builder") and re.search(r"no builder .* found", error):
                raise _no_such_builder(arguments["builder"]) from None
            raise CogError(f"the image build failed: {failure}") from None
    raise AssertionError("unreachable: the last try returns or raises")


# A registry's passing failure, in BuildKit's and the docker CLI's words: "unexpected status from HEAD request to
# URL: 500 Internal Server Error", "received unexpected HTTP status: 503 Service Unavailable". Docker's own push of
# a multi-platform image writes the tag once per manifest, and distribution's filesystem storage (registry:2, the
# usual self-hosted registry) rewrites a tag in place: a read in between answers 500. Pushing again is the cure.
_PASSING_STATUS = re.compile(r"unexpected (?:HTTP )?status\b.*?: (?P<status>(?:5\d\d|429)\b[^;\n]*)")
_PUSH_TRIES = 3


def passing_registry_status(error: str) -> str | None:
    """The status line of a registry's passing failure (a 5xx or 429) in an error text; None for any other."""
    found = _PASSING_STATUS.search(error)
    return found.group("status").strip() if found else None


def _tried_again(error: str, attempt: int, say: Callable[[str], None]) -> bool:
    """After failed push number `attempt`: True, once it is said and waited for, when another try is due (a
    registry's passing failure, and tries left); False when the failure is final."""
    status = passing_registry_status(error)
    if status is None or attempt >= _PUSH_TRIES:
        return False
    say(f"the registry answered {status} to the push; pushing again (try {attempt + 1} of {_PUSH_TRIES})")
    time.sleep(attempt)
    return True


# BuildKit's words when it cannot get an image a Dockerfile names (FROM, COPY --from, RUN --mount=from), e.g.
# "failed to solve: python:3.12-slim: failed to resolve source metadata for docker.io/library/python:3.12-slim: ..."
_SOURCE_METADATA = re.compile(
    r"(?:failed to solve: (?P<written>\S+?): )?failed to resolve source metadata for (?P<reference>\S+?): (?P<reason>.+)$"
)


def _unpulled_base_image(lines: list[str]) -> str | None:
    """The one line to say when a build failed because an image it starts from could not be pulled; else None."""
    for line in reversed(lines):
        found = _SOURCE_METADATA.search(line)
        if found is None:
            continue
        reference = found.group("reference")
        image = found.group("written") or reference
        problem = registry_problem(found.group("reason"), reference)
        return (
            f"the base image {image} could not be pulled from its registry {problem}; take base images from a "
            f"registry this machine reaches with --base-image-mirror HOST[:PORT] (or COG_BASE_IMAGE_MIRROR), or "
            f"pre-load it: docker pull {image} on a connected machine, docker save {image} -o image.tar there, "
            f"then docker load -i image.tar here"
        )
    return None


def registry_of(reference: str) -> str:
    """The registry an image reference is pulled from, as Docker reads it: python:3.12-slim → docker.io."""
    first, slash, _ = reference.partition("/")
    return first if slash and ("." in first or ":" in first or first == "localhost") else "docker.io"


def registry_problem(reason: str, reference: str) -> str:
    """Why the engine could not pull `reference`, from its error text, in our words and starting with the
    registry: "docker.io (not reachable from here: no such host registry-1.docker.io)"."""
    registry = registry_of(reference)
    text = reason.lower()
    host = re.search(r"lookup (\S+?)(?: on \S+)?: no such host", reason)
    if host or "no such host" in text or "server misbehaving" in text or "temporary failure in name resolution" in text:
        return f"{registry} (not reachable from here: no such host{' ' + host.group(1) if host else ''})"
    for needle, words in (
        ("connection refused", "connection refused"),
        ("i/o timeout", "timed out"),
        ("deadline exceeded", "timed out"),
        ("network is unreachable", "the network is unreachable"),
        ("no route to host", "no route to host"),
        ("connection reset", "the connection was reset"),
    ):
        if needle in text:
            return f"{registry} (not reachable from here: {words})"
    if "server gave http response to https client" in text:
        return f"{registry} (it speaks http, not https: add it to the engine's insecure-registries)"
    if "x509" in text or "certificate" in text:
        return f"{registry} (its TLS certificate is not trusted here)"
    if "toomanyrequests" in text or "rate limit" in text:
        return f"{registry} (it refused: too many requests; try again later, or docker login {registry})"
    if "pull access denied" in text or "insufficient_scope" in text or "requested access to the resource is denied" in text:
        return f"{registry} (access denied: it has no such image, or it needs docker login {registry})"
    if "unauthorized" in text or "401" in text or "authentication required" in text:
        return f"{registry} (it needs credentials: docker login {registry})"
    if "not found" in text or "manifest unknown" in text or "no such manifest" in text:
        return f"{registry} (it has no such image)"
    if "no match for platform" in text:
        return f"{registry} (it has the image, but not for this platform)"
    return f"{registry} ({last_line(reason, 'unknown error').strip()})"


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
        raise CogError(f"could not start {container.image}: {_docker_error(result.stderr)}")
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
    for attempt in range(1, _PUSH_TRIES + 1):
        result = subprocess.run(["docker", "push", "--quiet", image], capture_output=True, text=True)
        if result.returncode == 0:
            return
        error = _docker_error(result.stderr)
        if not _tried_again(error, attempt, warn):
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
    reason = _docker_error(result.stderr)
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
        reason = _docker_error(result.stderr)
        hint = "; check the user name and password" if "401" in reason or "unauthorized" in reason.lower() else ""
        raise CogError(f"could not log in to {registry}: {reason}{hint}")


def _docker_error(stderr: str) -> str:
    """The docker CLI's last error line, without its 'Error response from daemon:' prefix."""
    errors = "\n".join(line.strip() for line in stderr.strip().splitlines() if not line.startswith("WARNING"))
    return last_line(errors, "unknown error").removeprefix("Error response from daemon: ").removeprefix("Error: ")
