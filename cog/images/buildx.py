"""`docker buildx build`, run as the command it is: the one way cog runs BuildKit's builds, and what its failures
mean. No python-on-whales here (importing it is a tenth of a second, and a rebuild is a few tenths), so that a
rebuild's replay (cog.images.recipe) runs the very command the build it repeats ran."""

from __future__ import annotations

import collections
import re
import subprocess
import time
from typing import Callable, Iterable

from cog.errors import CogError, last_line

_FAILURE_LINES = 25  # log lines shown with a failed build when progress is quiet


def build_command(
    *,
    context: str,
    dockerfile: str,
    contexts: dict[str, str],
    platforms: Iterable[str],
    tags: Iterable[str] = (),
    load: bool = False,
    push: bool = False,
    output: str | None = None,
    metadata_file: str | None = None,
    secrets: Iterable[str] = (),
    labels: dict[str, str] | None = None,
    no_cache: bool = False,
    builder: str | None = None,
    source_date_epoch: int | None = None,
    cache_from: Iterable[str] = (),
    cache_to: str | None = None,
) -> list[str]:
    """The argv of one `docker buildx build`, its progress plain (cog shows it) and without provenance (an
    attestation would make each build's image differ). With `source_date_epoch`, BuildKit dates the image and its
    history at that time and hands it to RUN steps as the SOURCE_DATE_EPOCH argument."""
    command = ["docker", "buildx", "build", "--progress", "plain", "--provenance", "false"]
    if builder:
        command += ["--builder", builder]
    command += ["--file", dockerfile, "--platform", ",".join(platforms)]
    for name, path in contexts.items():
        command += ["--build-context", f"{name}={path}"]
    if source_date_epoch is not None:
        command += ["--build-arg", f"SOURCE_DATE_EPOCH={source_date_epoch}"]
    for name, value in (labels or {}).items():
        command += ["--label", f"{name}={value}"]
    for secret in secrets:
        command += ["--secret", secret]
    for spec in cache_from:
        command += ["--cache-from", spec]
    if cache_to:
        command += ["--cache-to", cache_to]
    if no_cache:
        command.append("--no-cache")
    for tag in tags:
        command += ["--tag", tag]
    if load:
        command.append("--load")
    if push:
        command.append("--push")
    if output:
        command += ["--output", output]
    if metadata_file:
        command += ["--metadata-file", metadata_file]
    return [*command, context]


def run_build(command: list[str], log: Callable[[str], None], progress: str, *, pushes: bool = False,
              builder: str | None = None) -> list[str]:
    """Run a build_command and return its log; each line goes to `log` as it comes (unless progress is quiet).
    A failure is a CogError in one line: BuildKit's own summary, or what an image that could not be pulled needs."""
    for attempt in range(1, PUSH_TRIES + 1):
        lines: list[str] = []
        recent: collections.deque[str] = collections.deque(maxlen=_FAILURE_LINES)
        try:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True, errors="replace")
        except OSError as exc:
            raise CogError(f"cannot run docker buildx ({exc.strerror or exc}); install Docker Engine with buildx") from None
        with process:
            for line in process.stdout:
                line = line.rstrip("\n")
                lines.append(line)
                recent.append(line)
                if progress != "quiet":
                    log(line)
        if process.returncode == 0:
            return lines
        error = docker_error("\n".join(recent))
        failure = _failure(lines) or error
        if pushes and tried_again(failure, attempt, log):  # every step is cached by now: it costs the push
            continue
        if progress == "quiet":
            for line in recent:
                log(line)
        unpulled = unpulled_base_image(lines)
        if unpulled:
            raise CogError(unpulled) from None
        if builder and re.search(r"no builder .* found", error):
            raise no_such_builder(builder) from None
        raise CogError(f"the image build failed: {failure}") from None
    raise AssertionError("unreachable: the last try returns or raises")


# A registry's passing failure, in BuildKit's and the docker CLI's words: "unexpected status from HEAD request to
# URL: 500 Internal Server Error", "received unexpected HTTP status: 503 Service Unavailable". Docker's own push of
# a multi-platform image writes the tag once per manifest, and distribution's filesystem storage (registry:2, the
# usual self-hosted registry) rewrites a tag in place: a read in between answers 500. Pushing again is the cure.
_PASSING_STATUS = re.compile(r"unexpected (?:HTTP )?status\b.*?: (?P<status>(?:5\d\d|429)\b[^;\n]*)")
PUSH_TRIES = 3


def passing_registry_status(error: str) -> str | None:
    """The status line of a registry's passing failure (a 5xx or 429) in an error text; None for any other."""
    found = _PASSING_STATUS.search(error)
    return found.group("status").strip() if found else None


def tried_again(error: str, attempt: int, say: Callable[[str], None]) -> bool:
    """After failed push number `attempt`: True, once it is said and waited for, when another try is due (a
    registry's passing failure, and tries left); False when the failure is final."""
    status = passing_registry_status(error)
    if status is None or attempt >= PUSH_TRIES:
        return False
    say(f"the registry answered {status} to the push; pushing again (try {attempt + 1} of {PUSH_TRIES})")
    time.sleep(attempt)
    return True


# BuildKit's words when it cannot get an image a Dockerfile names (FROM, COPY --from, RUN --mount=from), e.g.
# "failed to solve: python:3.12-slim: failed to resolve source metadata for docker.io/library/python:3.12-slim: ..."
_SOURCE_METADATA = re.compile(
    r"(?:failed to solve: (?P<written>\S+?): )?failed to resolve source metadata for (?P<reference>\S+?): (?P<reason>.+)$"
)


def unpulled_base_image(lines: list[str]) -> str | None:
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


def no_such_builder(builder: str, reason: str | None = None) -> CogError:
    because = f" ({reason})" if reason else ""
    return CogError(f"--builder {builder}: there is no such buildx builder here{because}; see the builders with "
                    f"docker buildx ls, or leave --builder out to use the active one")


def docker_error(stderr: str) -> str:
    """The docker CLI's last error line, without its 'Error response from daemon:' prefix."""
    errors = "\n".join(line.strip() for line in stderr.strip().splitlines() if not line.startswith("WARNING"))
    return last_line(errors, "unknown error").removeprefix("Error response from daemon: ").removeprefix("Error: ")
