"""`cog lock`: resolve the project's requirements for every image it builds into cog.lock; `--check` for CI."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def lock(
    file: Optional[Path] = typer.Option(
        None, "-f", "--file", dir_okay=False,
        help="The cog.yaml to use (default: the one in this directory or the nearest parent).",
    ),
    platform: Optional[str] = typer.Option(
        None, "--platform",
        help="Comma-separated: linux/amd64, linux/arm64 (default: both, leaving out one that an image cannot be built for).",
    ),
    check: bool = typer.Option(
        False, "--check", help="Resolve nothing: exit 1 when cog.lock does not fit the project (for CI).",
    ),
    ca_bundle: Optional[Path] = typer.Option(
        None, "--ca-bundle", envvar="COG_CA_BUNDLE", dir_okay=False,
        help="CA certificates (PEM) for reaching the package indexes, e.g. behind a TLS-intercepting proxy.",
    ),
    base_image_mirror: Optional[str] = typer.Option(
        None, "--base-image-mirror", envvar="COG_BASE_IMAGE_MIRROR",
        help="Registry (HOST[:PORT][/PREFIX]) to read the base images' digests from instead of their official registries.",
    ),
) -> None:
    """Resolve the model's Python requirements (and the prediction server's) for each image the project builds,
    CPU and GPU, linux/amd64 and linux/arm64, into cog.lock, with hashes; cog build then installs exactly that."""
    import time

    from cog.cli import output
    from cog.cli.main import parse_platforms
    from cog.config.cog_lock import LOCK_FILE
    from cog.config.model import package_variants
    from cog.config.project import load_project
    from cog.errors import CogError, ConfigError
    from cog.images import locking
    from cog.matrix import PLATFORMS

    project = load_project(file)
    for warning in project.config.warnings:
        output.warning(str(warning))
    options = dict(base_image_mirror=base_image_mirror, ca_bundle=ca_bundle)
    if check:
        existing = locking.read_project_lock(project)
        if existing is None:
            raise CogError(f"there is no {LOCK_FILE} next to {project.config.file}; run cog lock")
        for image in existing.image:
            plans = locking.image_plans(project, (image.variant,), (image.platform,), **options)
            locking.check_lock(project, existing, plans)
        output.success(f"{LOCK_FILE} fits the project ({len(existing.image)} images)")
        return
    platforms = parse_platforms(platform) if platform else PLATFORMS
    plans = []
    for variant in package_variants(project.config):
        for target in platforms:
            try:
                plans.extend(locking.image_plans(project, (variant,), (target,), **options))
            except ConfigError as exc:
                if platform:  # asked for: its problem is the answer
                    raise
                output.warning(f"leaving the {variant} image for {target} out of {LOCK_FILE}: {exc}")
    if not plans:
        raise CogError("no image of this project can be built, so there is nothing to lock")
    shown = set(project.config.warnings)
    for warning in (warning for plan in plans for warning in plan.warnings):
        if warning not in shown:  # each once, though every image's plan carries it
            shown.add(warning)
            output.warning(str(warning))
    started = time.monotonic()
    resolved = locking.lock_project(project, plans, output.info, ca_bundle=ca_bundle)
    path = locking.write_lock(project, resolved)
    images = ", ".join(image.key for image in resolved.image)
    output.success(f"Locked {len(resolved.package)} packages for {images} into {path.name} "
                   f"in {time.monotonic() - started:.1f} s")

