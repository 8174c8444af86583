"""The server's build queue: each variant of each committed package built with cog's image builder and pushed to
the server's Docker registry as REGISTRY/OWNER/NAME:ID (and :ID-gpu).

Build state and logs live in the store, so that a restarted server resumes what was queued, and any server on
the same store takes over, once its heartbeat is stale, what a dead server left queued or half-built.
"""

from __future__ import annotations

import tempfile
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Callable

from cog.images import docker
from cog.images.builder import BuildOptions, build_project
from cog.errors import CogError
from cog.config.model import Variant
from cog.config.parse import CONFIG_FILE_NAME
from cog.packages.records import Build, now
from cog.packages.store import Store
from cog.config.project import load_project

HEARTBEAT = timedelta(seconds=15)  # how often a running build says it is alive, and saves its log so far
STALE = timedelta(seconds=60)  # a build silent for this long lost its server


@dataclass(frozen=True)
class BuildSettings:
    registry: str  # HOST[:PORT][/PREFIX]
    builder: str | None = None
    max_builds: int = 1
    ca_bundle: Path | None = None
    base_image_mirror: str | None = None


class BuildQueue:
    def __init__(self, store: Store, settings: BuildSettings, log: Callable[[str], None]) -> None:
        self.store, self.settings, self.log = store, settings, log
        self._pool = ThreadPoolExecutor(max_workers=settings.max_builds, thread_name_prefix="cog-build")
        self._running: dict[tuple[str, str, str], _Running] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        threading.Thread(target=self._beat, name="cog-build-heartbeat", daemon=True).start()

    def image(self, model: str, package_id: str, variant: Variant) -> str:
        return f"{self.settings.registry}/{model}:{package_id}{'-gpu' if variant == 'gpu' else ''}"

    def queue(self, model: str, package_id: str, variants: tuple[Variant, ...]) -> None:
        for variant in variants:
            self._submit(model, package_id, Build(variant=variant, image=self.image(model, package_id, variant)))

    def retry(self, model: str, package_id: str, variant: Variant) -> bool:
        """Queue a failed build again; False when it has not failed."""
        build = next((b for b in self.store.load_builds(model, package_id) if b.variant == variant), None)
        if build is None or build.status != "failed":
            return False
        self._submit(model, package_id, Build(variant=variant, image=build.image, attempt=build.attempt + 1))
        return True

    def retry_failed(self, model: str, package_id: str) -> None:
        for build in self.store.load_builds(model, package_id):
            self.retry(model, package_id, build.variant)

    def resume(self) -> int:
        """At start: take over the builds that were queued, or whose server stopped beating; returns how many."""
        return self._take_over(lambda build: build.status == "queued" or _silent(build))

    def take_over_stale(self) -> int:
        """While running: take over the builds of servers that stopped beating (their queued builds too, which
        a live server keeps beating); returns how many."""
        return self._take_over(_silent)

    def _take_over(self, wanted: Callable[[Build], bool]) -> int:
        taken = 0
        for model, package_id, build in self.store.unfinished_builds():
            with self._lock:
                ours = (model, package_id, build.variant) in self._running
            if not ours and wanted(build):
                self.log(f"Resuming the {build.variant} build of {model}:{package_id[:12]}")
                self._submit(model, package_id, build.model_copy(update={"status": "queued"}))
                taken += 1
        return taken

    def live_log(self, model: str, package_id: str, variant: str) -> str | None:
        """The log of a build running in this server, up to this moment (the store's copy is as of the last
        heartbeat); None when this server is not running it."""
        with self._lock:
            running = self._running.get((model, package_id, variant))
        return None if running is None else running.log()

    def shutdown(self) -> None:
        self._stopped.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _submit(self, model: str, package_id: str, build: Build) -> None:
        key = (model, package_id, build.variant)
        with self._lock:
            if key in self._running:
                return
            self._running[key] = _Running(build)
        self.store.save_build(model, package_id, build)
        self._pool.submit(self._run, model, package_id, key)

    def _run(self, model: str, package_id: str, key: tuple[str, str, str]) -> None:
        running = self._running[key]
        build = running.save(self.store, model, package_id, status="building", started_at=now(), heartbeat_at=now())
        self.log(f"Building the {build.variant} image of {model}:{package_id[:12]}")
        try:
            package = self.store.load_package(model, package_id)
            if package is None:
                raise CogError("the package was deleted before it was built")
            with tempfile.TemporaryDirectory(prefix="cog-package-") as scratch:
                directory = Path(scratch) / "src"
                self.store.unpack(package.manifest, directory)
                project = load_project(directory / CONFIG_FILE_NAME)
                cache = f"type=registry,ref={self.settings.registry}/{model}:buildcache-{build.variant}"
                options = BuildOptions(
                    tag=build.image, variants=(build.variant,), push=True, package_id=package_id,
                    cache_from=(cache,), cache_to=f"{cache},mode=max", builder=self.settings.builder,
                    ca_bundle=self.settings.ca_bundle, base_image_mirror=self.settings.base_image_mirror, progress="plain",
                )
                [image] = build_project(project, options, running.lines.append)
            outcome = {"status": "succeeded", "digest": docker.registry_digest(build.image),
                       "platforms": list(image.platforms), **image.provenance}
            self.log(f"Built and pushed {build.image}")
        except CogError as exc:
            outcome = {"status": "failed", "error": str(exc)}
            running.lines.append(f"error: {exc}")
            self.log(f"The {build.variant} build of {model}:{package_id[:12]} failed: {exc}")
        except Exception as exc:  # a bug must still end the build, visibly, and not the server
            outcome = {"status": "failed", "error": f"internal error: {exc!r}"}
            running.lines.append(traceback.format_exc())
            self.log(f"The {build.variant} build of {model}:{package_id[:12]} failed: {exc!r}")
        try:
            running.save(self.store, model, package_id, finished_at=now(), heartbeat_at=now(), **outcome)
        finally:
            with self._lock:
                del self._running[key]

    def _beat(self) -> None:
        beats = 0
        while not self._stopped.wait(HEARTBEAT.total_seconds()):
            with self._lock:
                running = list(self._running.items())
            for (model, package_id, variant), state in running:
                try:
                    state.save(self.store, model, package_id, only_while_unfinished=True, heartbeat_at=now())
                except CogError as exc:  # the storage is down; the build goes on, and says so next time
                    self.log(f"could not save the state of {model}:{package_id[:12]}: {exc}")
            beats += 1
            if beats % int(STALE / HEARTBEAT) == 0:  # once a STALE period: builds another server left behind
                try:
                    self.take_over_stale()
                except CogError as exc:
                    self.log(f"could not look for abandoned builds: {exc}")


def _silent(build: Build) -> bool:
    """No sign of life from its server (a heartbeat, or being queued) for STALE."""
    return now() - (build.heartbeat_at or build.queued_at) >= STALE


class _Running:
    """A build this server has taken: its record and its log so far, saved together under one lock, so that a
    heartbeat never writes an older state over the final one."""

    def __init__(self, build: Build) -> None:
        self.build = build
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def log(self) -> str:
        return "\n".join(self.lines) + "\n"

    def save(self, store: Store, model: str, package_id: str, only_while_unfinished: bool = False, **changes) -> Build:
        with self._lock:
            if only_while_unfinished and self.build.status not in ("queued", "building"):
                return self.build
            self.build = self.build.model_copy(update=changes)
            store.save_log(model, package_id, self.build.variant, self.log())
            store.save_build(model, package_id, self.build)
            return self.build
