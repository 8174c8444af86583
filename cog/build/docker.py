"""The Docker engine and BuildKit, through python-on-whales: what the rest of cog needs of them, and nothing else."""

from __future__ import annotations

import collections
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Callable, Iterable

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from cog.config.errors import CogError

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
        reason = (exc.stderr or str(exc)).strip().splitlines()[-1] if (exc.stderr or str(exc)).strip() else "no answer"
        raise CogError(f"cannot reach the Docker daemon ({reason}); start Docker and try again") from None


@dataclass(frozen=True)
class Capabilities:
    driver: str
    multi_platform_load: bool  # can build several platforms in one call and load the result into the engine


@cache
def capabilities(builder: str | None) -> Capabilities:
    """Ask the builder rather than assume: older engines' docker driver builds one platform per call."""
    inspected = client().buildx.inspect(builder)
    containerd_store = any(
        key == "driver-type" and "containerd" in value for key, value in (client().info().driver_status or [])
    )
    return Capabilities(driver=inspected.driver, multi_platform_load=containerd_store and inspected.driver in ("docker", "docker-container"))


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
        cache_from=[_cache_spec(spec) for spec in cache_from] or None,
        cache_to=_cache_spec(cache_to) if cache_to else None,
    )


def build_by_digest(*, repository: str, platform: str, log, progress="plain", context, dockerfile, contexts,
                    secrets=(), no_cache=False, builder=None, cache_from=(), cache_to=None) -> str:
    """Build one platform and push it untagged; the digest joins the others in join_platforms."""
    with tempfile.TemporaryDirectory() as scratch:
        metadata = Path(scratch) / "metadata.json"
        _run_build(
            log, progress,
            context_path=str(context), file=str(dockerfile), build_contexts=contexts, platforms=[platform],
            output={"type": "image", "name": repository, "push-by-digest": "true", "name-canonical": "true", "push": "true"},
            metadata_file=str(metadata), secrets=list(secrets), cache=not no_cache, builder=builder,
            cache_from=[_cache_spec(spec) for spec in cache_from] or None,
            cache_to=_cache_spec(cache_to) if cache_to else None,
        )
        return f"{repository}@{json.loads(metadata.read_text())['containerimage.digest']}"


def join_platforms(tag: str, digests: list[str], builder: str | None) -> None:
    try:
        client().buildx.imagetools.create(sources=digests, tags=[tag], builder=builder)
    except DockerException as exc:
        raise CogError(f"could not join the platform images into {tag}: {_last_line(exc)}") from None


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
        raise CogError(f"the image build failed: {_failure(lines) or _last_line(exc)}") from None
    return lines


def _failure(lines: list[str]) -> str | None:
    """BuildKit's own one-line summary of what failed, e.g. 'process "/bin/sh -c ..." did not complete ...'."""
    for line in reversed(lines):
        if line.startswith("ERROR: "):
            return line[len("ERROR: "):]
    return None


def _last_line(exc: DockerException) -> str:
    text = (exc.stderr or exc.stdout or str(exc) or "").strip()
    return text.splitlines()[-1] if text else "unknown error"


def _cache_spec(spec: str) -> dict[str, str]:
    """"type=registry,ref=R" as buildx takes it through python-on-whales."""
    return dict(part.split("=", 1) for part in spec.split(",") if "=" in part)
