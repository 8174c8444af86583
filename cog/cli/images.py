"""What predict, train, serve and run share: which image to use for a project, building it when needed."""

from __future__ import annotations

import signal
from pathlib import Path

from cog.images import docker
from cog.images.builder import BuildOptions, BuiltImage, build_project, default_image_name, default_progress, requested_progress
from cog.cli import output
from cog.config.project import Project


def variant_to_run(project: Project, gpu_present: bool) -> str:
    """The GPU image when a GPU is present and the config has one; otherwise the CPU image."""
    if gpu_present and "gpu" in project.config.variants:
        return "gpu"
    if "cpu" not in project.config.variants:
        output.warning("no GPU here: running the CPU image of this GPU model")
    return "cpu"


def build_for_run(project: Project, *, ca_bundle: Path | None, base_image_mirror: str | None) -> BuiltImage:
    """Build (or reuse, through the layer cache) the image to run here: the GPU one where there is a GPU."""
    variant = variant_to_run(project, docker.gpu_available())
    tag = project.config.image or default_image_name(project.directory)
    options = BuildOptions(
        tag=f"{tag}-gpu" if variant == "gpu" and "cpu" in project.config.variants else tag,
        variants=(variant,),
        progress=requested_progress() or ("plain" if output.debugging() else "quiet" if default_progress() == "plain" else "auto"),
        ca_bundle=ca_bundle,
        base_image_mirror=base_image_mirror,
    )
    with output.build_display(options.progress == "auto") as log:
        return build_project(project, options, log)[0]


def container_for_project(project: Project, *, env: dict[str, str], gpus: str | None, ca_bundle: Path | None,
                          base_image_mirror: str | None) -> docker.Container:
    """The project's image with the project mounted at its workdir, as Cog runs it: what the model writes lands in
    the project, and code edits take effect without a rebuild."""
    built = build_for_run(project, ca_bundle=ca_bundle, base_image_mirror=base_image_mirror)
    workdir = built.plan.workdir
    return docker.Container(image=built.tag, env=_with_log_level(env), gpus=_gpus(gpus, built.variant == "gpu"),
                            mounts={str(project.directory): workdir}, workdir=workdir)


def container_for_image(image: str, *, env: dict[str, str], gpus: str | None) -> docker.Container:
    docker.require_engine()
    gpu_image = "run.cog.cuda" in docker.image_labels(image)
    return docker.Container(image=image, env=_with_log_level(env), gpus=_gpus(gpus, gpu_image))


def _gpus(requested: str | None, gpu_image: bool) -> str | None:
    """--gpus as given; else every GPU for a GPU image on a machine that has one."""
    if requested is not None:
        return requested
    return "all" if gpu_image and docker.gpu_available() else None


def _with_log_level(env: dict[str, str]) -> dict[str, str]:
    # As Cog does: the server says what is wrong; with --debug, everything it does.
    return {"COG_LOG_LEVEL": "debug" if output.debugging() else "warning", **env}


def terminate_on_sigterm() -> None:
    """Let SIGTERM unwind like Ctrl-C, so that the containers we started are removed."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
