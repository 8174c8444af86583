"""What predict, train, serve and run share: which image to use for a project, building it when needed."""

from __future__ import annotations

import signal
from pathlib import Path

from cog.images import docker
from cog.images.builder import BuildOptions, build_project, default_image_name, default_progress
from cog.cli import output
from cog.config.project import Project


def variant_to_run(project: Project, gpu_present: bool) -> str:
    """The GPU image when a GPU is present and the config has one; otherwise the CPU image."""
    if gpu_present and "gpu" in project.config.variants:
        return "gpu"
    if "cpu" not in project.config.variants:
        output.warning("no GPU here: running the CPU image of this GPU model")
    return "cpu"


def build_for_run(project: Project, *, ca_bundle: Path | None, base_image_mirror: str | None, progress: str | None) -> tuple[str, bool]:
    """Build (or reuse, through the layer cache) the image to run here; returns its tag and whether it is the GPU one."""
    gpu_present = docker.gpu_available()
    variant = variant_to_run(project, gpu_present)
    tag = project.config.image or default_image_name(project.directory)
    options = BuildOptions(
        tag=f"{tag}-gpu" if variant == "gpu" and "cpu" in project.config.variants else tag,
        variants=(variant,),
        progress=progress or ("quiet" if default_progress() == "plain" else "auto"),
        ca_bundle=ca_bundle,
        base_image_mirror=base_image_mirror,
    )
    with output.build_display(options.progress == "auto") as log:
        image = build_project(project, options, log)[0]
    return image.tag, variant == "gpu"


def terminate_on_sigterm() -> None:
    """Let SIGTERM unwind like Ctrl-C, so that the containers we started are removed."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
