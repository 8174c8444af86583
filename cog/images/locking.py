"""`cog lock`: each image's requirements resolved by uv into cog.lock; and, for every build, the lock checked
against the project and applied to the plans.

For each variant × platform, cog hands uv the requirements file exactly as that image would install it (the
torch lines rewritten, the torch index of the variant, the packages Cog's SDK brought along) and the prediction
server's packages, with `uv pip compile --python-version X --python-platform MACHINE-manylinux_2_31
--generate-hashes`: uv reads only metadata (PEP 658 files or the wheels' METADATA by range requests), so locking
torch for four images downloads no torch wheel. cog.lock records the sha256 of the files it was made from; a
build refuses a lock whose files changed since, naming them.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Iterable

from cog.compiler.lock import locked_plan, make_lock, parse_compiled, requested, seed_packages
from cog.compiler.plan import BuildPlan
from cog.compiler.render import render_lock, render_requirements
from cog.compiler.resolve import resolve_all
from cog.config.cog_lock import LOCK_FILE, CogLock, LockedImage, read_cog_lock
from cog.config.project import Project
from cog.errors import CogError
from cog.images.context import runtime_requirements
from cog.images.imports import project_imports
from cog.images.indexes import resolve_torch_source
from cog.matrix import PLATFORMS, Platform

# The oldest glibc of the images cog builds (Ubuntu 20.04's CUDA images; Debian 12 and Ubuntu 22.04 have newer):
# wheels for it install in every image.
MANYLINUX = "manylinux_2_31"
UV_MACHINES = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
UV_TIMEOUT_S = 600


def lock_path(project: Project) -> Path:
    return project.directory / LOCK_FILE


def lock_inputs(project: Project) -> dict[str, str]:
    """The files a lock is made from, relative to the project, with their sha256: cog.yaml, the file
    python_requirements names and the files it includes."""
    requirements = project.config.python_requirements
    files = {project.config_path.name}
    if requirements.file:
        files.add(requirements.file)
    for requirement in (*requirements.requirements, *requirements.constraints):
        files.add(requirement.location.file)
    digests = {}
    for name in sorted(files):
        path = project.directory / name
        if path.is_file():
            digests[Path(name).as_posix()] = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def image_plans(project: Project, variants, platforms: Iterable[Platform], *, base_image_mirror: str | None = None,
                ca_bundle: Path | None = None) -> list[BuildPlan]:
    """The plans of the images, unlocked, as `cog build` resolves them (COG_TORCH_INDEX, the project's imports)."""
    imports = project_imports(project)
    return resolve_torch_source(
        lambda torch_index: resolve_all(project.config, tuple(variants), tuple(platforms), imports=imports,
                                        base_image_mirror=base_image_mirror, torch_index=torch_index),
        ca_bundle=ca_bundle,
    )


def lock_project(project: Project, plans: list[BuildPlan], log: Callable[[str], None],
                 ca_bundle: Path | None = None) -> CogLock:
    """Resolve each plan's model and server requirements with uv into one CogLock."""
    from cog.images import docker  # python-on-whales: longer to import than all generate-dockerfile does with a lock

    requirements = project.config.python_requirements
    if requirements.locked:
        raise CogError(f"python_requirements names {requirements.file}, a lock already: cog builds install it as "
                       f"locked; cog lock resolves requirements files and pyproject.toml")
    server = runtime_requirements(project.config.tracing)
    images, model, served, seeded = [], {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="cog-lock-") as scratch:
        for plan in plans:
            if plan.local_paths:
                raise CogError(f"the requirements install {plan.local_paths[0].source} from the project; cog lock "
                               f"locks packages from indexes: build a wheel of it into an index, or leave cog.lock out")
            key = f"{plan.variant} {plan.platform}"
            log(f"Resolving the {plan.variant.upper()} image for {plan.platform} (Python {plan.python_version})")
            text = render_requirements(plan)
            model[key] = _compile(plan, text, Path(scratch), "model", ca_bundle) if plan.python_requirements else []
            served[key] = _compile(plan, _lines(server), Path(scratch), "server", ca_bundle, model_options=False)
            seed = seed_packages(plan)
            seeded[key] = _compile(plan, _lines(seed), Path(scratch), "seed", ca_bundle,
                                   model_options=False) if seed else []
            images.append(LockedImage(
                variant=plan.variant, platform=plan.platform, python=plan.python_version, base_image=plan.base_image,
                base_image_digest=docker.image_digest(plan.base_image),
                requested=requested(plan, text, server),
            ))
    return make_lock(uv=uv_version(), inputs=lock_inputs(project), images=images, model=model, server=served,
                     seed=seeded)


def _lines(requirements: Iterable[str]) -> str:
    return "".join(f"{line}\n" for line in requirements)


def write_lock(project: Project, lock: CogLock) -> Path:
    path = lock_path(project)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(render_lock(lock), encoding="utf-8")
    partial.replace(path)
    return path


def read_project_lock(project: Project) -> CogLock | None:
    path = lock_path(project)
    return read_cog_lock(path) if path.is_file() else None


def check_lock(project: Project, lock: CogLock, plans: list[BuildPlan]) -> None:
    """A lock that no longer fits the project is refused in one line naming what changed, and how to fix it."""
    recorded, current = lock.inputs, lock_inputs(project)
    changed = [name for name in sorted({*recorded, *current}) if recorded.get(name) != current.get(name)]
    if changed:
        names = ", ".join(changed)
        raise CogError(f"{LOCK_FILE} is out of date: {names} changed since it was made; run cog lock "
                       f"(or delete {LOCK_FILE} to build without it)")
    server = runtime_requirements(project.config.tracing)
    for plan in plans:
        image = lock.for_image(plan.variant, plan.platform)
        if image is None:
            covered = ", ".join(locked.key for locked in lock.image) or "none"
            wanted = {plan.platform, *(locked.platform for locked in lock.image)}
            platforms = ",".join(platform for platform in PLATFORMS if platform in wanted)
            raise CogError(f"{LOCK_FILE} has no {plan.variant} image for {plan.platform} (it locks: {covered}); "
                           f"run cog lock --platform {platforms}")
        if image.requested != requested(plan, render_requirements(plan), server):
            raise CogError(f"{LOCK_FILE} was made for other requirements of the {plan.variant} image on {plan.platform} "
                           f"(cog's version, COG_TORCH_INDEX or the packages the code imports changed); run cog lock")


def locked_plans(project: Project, plans: list[BuildPlan], lock: CogLock | None) -> list[BuildPlan]:
    """The plans as cog.lock pins them, after checking it; the plans themselves when there is no lock."""
    if lock is None:
        return plans
    check_lock(project, lock, plans)
    return [locked_plan(plan, lock) for plan in plans]


def uv_binary() -> str:
    try:
        from uv import find_uv_bin
    except ImportError:
        raise CogError("cog lock needs uv next to cog: pip install uv") from None
    return find_uv_bin()


def uv_version() -> str:
    result = subprocess.run([uv_binary(), "--version"], capture_output=True, text=True)
    return result.stdout.split()[1] if result.returncode == 0 and len(result.stdout.split()) > 1 else "unknown"


def _compile(plan: BuildPlan, text: str, scratch: Path, environment: str, ca_bundle: Path | None,
             model_options: bool = True) -> list[tuple[str, str, tuple[str, ...]]]:
    """uv's resolution of one requirements text for the plan's Python and platform, as pinned packages."""
    stem = f"{plan.variant}-{plan.platform.replace('/', '-')}-{environment}"
    source = scratch / f"{stem}.txt"
    source.write_text(text, encoding="utf-8")
    command = [
        uv_binary(), "pip", "compile", str(source), "--quiet", "--no-header", "--no-annotate",
        "--generate-hashes", "--native-tls", "--python-version", plan.python_version,
        "--python-platform", f"{UV_MACHINES[plan.platform]}-{MANYLINUX}", "--index-strategy", "unsafe-best-match",
    ]
    if model_options:
        for name, lines in (("constraints", plan.python_constraints), ("overrides", plan.python_overrides)):
            if lines:
                extra = scratch / f"{stem}.{name}.txt"
                extra.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
                command += ["--constraints" if name == "constraints" else "--overrides", str(extra)]
        if plan.install_options.pre:
            command += ["--prerelease", "allow"]
    env = {**os.environ, "SSL_CERT_FILE": str(ca_bundle)} if ca_bundle is not None else None
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=UV_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        raise CogError(f"uv did not resolve the {environment} requirements of the {plan.variant} image for "
                       f"{plan.platform} within {UV_TIMEOUT_S} s") from None
    packages = {"model": "the model's requirements", "server": "the prediction server's requirements",
                "seed": "the model environment's pip and its kin"}[environment]
    what = f"{packages} of the {plan.variant} image for {plan.platform}"
    if result.returncode != 0:
        raise CogError(f"uv cannot resolve {what}: {_uv_error(result.stderr)}")
    return parse_compiled(result.stdout, what)


def _uv_error(stderr: str) -> str:
    """uv's explanation on one line: its error lines, joined, without the tree drawing."""
    lines = [line.strip(" ×╰─▶│").strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line and not line.startswith("hint:")]
    return " ".join(lines)[:600] or "no output"
