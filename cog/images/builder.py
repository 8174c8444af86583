"""Build a project's images with BuildKit (`docker buildx build`, cog.images.buildx). The only module that runs builds.

For each variant: resolve a plan per platform, render the Dockerfiles, lay out the build contexts (the project
minus weights, the weights, the cog wheel), build, and record the model's OpenAPI schema with the config and
versions as labels. The schema is read from the model's source when the static reader decides it
(cog.compiler.static_schema), and then the labels go on in the one build; otherwise the built image is asked for
it and a second, FROM-only pass labels the image.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

from cog._version import __version__
from cog.images import docker, recipe
from cog.images.context import docker_ignore_lines, project_entries, runtime_requirements, weight_files
from cog.images.imports import project_imports
from cog.images.indexes import resolve_torch_source
from cog.images.locking import lock_path, locked_plans, read_project_lock
from cog.images.model_source import LABEL_CODE_DIGEST, code_digest, project_schema
from cog.images.staging import (CODE_CONTEXT, RUNTIME_CONTEXT, SOURCE_DATE_EPOCH, WEIGHTS_CONTEXT, code_context,
                                git_labels, literal_pattern, stage_weights, write_dockerfile)
from cog.images.wheel import build_runtime_wheel
from cog.config.project import Project
from cog.matrix import Platform
from cog.compiler.plan import BuildPlan
from cog.compiler.render import ContextLayout, render_dockerfile
from cog.compiler.resolve import resolve_all
from cog.errors import CogError, ConfigWarning, last_line
from cog.config.model import Variant, completed_config

Progress = Literal["auto", "plain", "quiet"]
CA_BUNDLE_SECRET = "cog-ca-bundle"  # the id templates/build-step.sh reads

LABEL_CONFIG = "run.cog.config"
LABEL_SCHEMA = "run.cog.openapi_schema"
LABEL_VERSION = "run.cog.version"
LABEL_PACKAGE = "run.cog.package_id"
LABEL_EPOCH = "run.cog.source_date_epoch"
LABEL_LOCK = "run.cog.lock"  # sha256 of the cog.lock the image installed
LABEL_BASE_IMAGE = "run.cog.base_image"  # the base image, by digest when the lock pins it


@dataclass(frozen=True)
class BuildOptions:
    tag: str
    variants: tuple[Variant, ...]
    platforms: tuple[Platform, ...] = ("linux/amd64",)
    no_cache: bool = False
    progress: Progress = "auto"
    secrets: tuple[str, ...] = ()  # as docker takes them: "id=NAME,src=PATH"
    ca_bundle: Path | None = None
    base_image_mirror: str | None = None
    push: bool = False
    builder: str | None = None
    package_id: str | None = None
    cache_from: tuple[str, ...] = ()
    cache_to: str | None = None
    openapi_schema: Path | None = None  # label the images with this schema instead of asking the model


@dataclass(frozen=True)
class BuiltImage:
    variant: Variant
    tag: str
    platforms: tuple[Platform, ...]
    plan: BuildPlan
    openapi_schema: dict = field(repr=False)
    labels: dict[str, str] = field(repr=False, default_factory=dict)  # what the image was labelled with

    @property
    def provenance(self) -> dict[str, str | None]:
        """How the image was made, as `cog show` tells it: its base image, the epoch of its files, its lock."""
        return {"base_image": self.labels.get(LABEL_BASE_IMAGE), "source_date_epoch": self.labels.get(LABEL_EPOCH),
                "lock": self.labels.get(LABEL_LOCK)}


def image_tag(base: str, variant: Variant, variants: tuple[Variant, ...]) -> str:
    """One variant: the name as given. Both: the CPU image has the name, the GPU image gains -gpu on its tag."""
    if len(variants) == 1 or variant == "cpu":
        return base
    name, tag = _split_tag(base)
    return f"{name}:{tag}-gpu"


def build_project(project: Project, options: BuildOptions, log: Callable[[str], None],
                  recipe_file: Path | None = None) -> list[BuiltImage]:
    """Build the images; with `recipe_file`, a build that a code-only rebuild can replay leaves its recipe there
    (cog.images.recipe)."""
    docker.require_engine()
    if options.ca_bundle is not None and not options.ca_bundle.is_file():
        raise CogError(f"--ca-bundle {options.ca_bundle}: file not found")
    secrets = list(options.secrets)
    if options.ca_bundle is not None:
        secrets.append(f"id={CA_BUNDLE_SECRET},src={options.ca_bundle.resolve()}")
    _check_secrets(secrets)
    given_schema = read_openapi_schema(options.openapi_schema) if options.openapi_schema else None
    files, folders = project_entries(project.directory)
    watched = recipe.watched_files(project, files) if recipe_file is not None else None  # before they are read
    settings = recipe.settings(project.directory) if watched is not None else {}
    weights = weight_files(project.directory, files)
    imports = project_imports(project, files)  # for the packages Cog's SDK brought along (resolve adds them)
    shown = set(project.config.warnings)
    lock = read_project_lock(project)  # cog.lock: what each image installs, checked against the project
    built = []
    with tempfile.TemporaryDirectory(prefix="cog-build-") as scratch:
        work = Path(scratch)
        runtime_dir = work / RUNTIME_CONTEXT
        wheel = build_runtime_wheel(runtime_dir)
        weights_dir = stage_weights(project.directory, weights, work / WEIGHTS_CONTEXT) if weights else None
        layout = ContextLayout(
            wheel_name=wheel.name,
            runtime_requirements=runtime_requirements(project.config.tracing),
            has_weights=bool(weights),
            config_file=project.config.file,
        )
        contexts = {RUNTIME_CONTEXT: str(runtime_dir)}
        code = sorted(set(files) - set(weights))
        if weights_dir is not None:
            contexts[WEIGHTS_CONTEXT] = str(weights_dir)
        for variant in options.variants:
            plans = resolve_torch_source(  # where torch comes from: COG_TORCH_INDEX, PyTorch's index if it answers
                lambda torch_index: resolve_all(project.config, (variant,), options.platforms, imports=imports,
                                                base_image_mirror=options.base_image_mirror, torch_index=torch_index),
                ca_bundle=options.ca_bundle,
            )
            plans = locked_plans(project, plans, lock)
            for warning in _new_warnings(plans, tuple(shown)):
                shown.add(warning)
                log(f"warning: {warning}")
            code_dir = code_context(work, project.directory, code, folders, plans[0].workdir)
            contexts = {**contexts, CODE_CONTEXT: str(code_dir)}
            tag = image_tag(options.tag, variant, options.variants)
            log(recipe.announcement(variant, tag, options.platforms))
            dockerfiles = [render_dockerfile(plan, layout) for plan in plans]
            ignore = "\n".join([*docker_ignore_lines(project.directory), *map(literal_pattern, weights)]) + "\n"
            job = VariantBuild(
                variant=variant, tag=tag, plans=tuple(plans), dockerfiles=tuple(dockerfiles), ignore=ignore,
                work=work, context=project.directory, contexts=contexts, secrets=tuple(secrets),
            )
            schema, stubs = (given_schema, None) if given_schema is not None else _static_schema(project, plans[0], files)
            labels = _labels(project, plans[0], schema, options, files, weights) if schema is not None else None
            arguments = _build_variant(job, options, log, labels=labels)
            if schema is None:
                schema = _openapi_schema(tag, plans[0], options)
            if arguments is None:
                labels = _labels(project, plans[0], schema, options, files, weights)
                _label(work, tag, labels, options, log)
            elif (watched is not None and len(options.variants) == 1 and given_schema is None
                  and not shown - set(project.config.warnings)):  # the plan's warnings name places in the code
                recipe.record(recipe.Recipe(
                    project=str(project.directory), inputs=watched, settings=settings,
                    warnings=[str(warning) for warning in project.config.warnings],
                    other_files=recipe.other_files(files),
                    weights=weights, modules=sorted({found.module for found in imports}), predict=plans[0].predict,
                    train=plans[0].train, python_version=plans[0].python_version, workdir=plans[0].workdir,
                    config=completed_config(project.config), dockerfile=dockerfiles[0], ignore=ignore,
                    build=arguments, labels={name: value for name, value in labels.items() if name not in recipe.CODE_LABELS},
                    tag=tag, variant=variant, platforms=list(options.platforms), progress=options.progress,
                    schema=schema, stubs=stubs,
                ), recipe_file, wheel)
            built.append(BuiltImage(variant=variant, tag=tag, platforms=options.platforms, plan=plans[0],
                                    openapi_schema=schema, labels=labels))
    return built


@dataclass(frozen=True)
class VariantBuild:
    """One variant's build: a plan and its Dockerfile per platform, the ignore rules of the main context, and
    where the contexts are."""

    variant: Variant
    tag: str
    plans: tuple[BuildPlan, ...]
    dockerfiles: tuple[str, ...]  # one per plan, in the same order
    ignore: str  # the .dockerignore text of the main context
    work: Path  # the scratch folder the Dockerfiles are written to
    context: Path  # the main context: the project's directory
    contexts: dict[str, str] = field(repr=False)  # the named contexts: runtime, weights
    secrets: tuple[str, ...] = ()  # as docker takes them: "id=NAME,src=PATH"


def _build_variant(job: VariantBuild, options: BuildOptions, log: Callable[[str], None],
                   labels: dict[str, str] | None = None) -> dict | None:
    """Build the variant's images. When one call built them and put `labels` on, the arguments of that call
    (cog.images.buildx.build_command's, but the contexts, the Dockerfile and the labels), which can run again;
    otherwise None."""
    common = dict(context=job.context, contexts=job.contexts, secrets=job.secrets, no_cache=options.no_cache,
                  builder=options.builder, cache_from=options.cache_from, cache_to=options.cache_to,
                  progress=options.progress, log=log, source_date_epoch=SOURCE_DATE_EPOCH)
    platforms = [plan.platform for plan in job.plans]

    def one_call_builds_all() -> bool:
        able = docker.capabilities(options.builder)
        return able.multi_platform_build if options.push else able.multi_platform_load

    if len(set(job.dockerfiles)) == 1 and (len(job.plans) == 1 or one_call_builds_all()):
        dockerfile = write_dockerfile(job.work, f"{job.variant}", job.dockerfiles[0], job.ignore)
        arguments = dict(platforms=platforms, tags=[job.tag], load=not options.push, push=options.push,
                         secrets=list(job.secrets), no_cache=options.no_cache, builder=options.builder,
                         cache_from=list(options.cache_from), cache_to=options.cache_to,
                         source_date_epoch=SOURCE_DATE_EPOCH)
        docker.build(context=job.context, dockerfile=dockerfile, contexts=job.contexts, labels=labels, log=log,
                     progress=options.progress, **arguments)
        return arguments if labels is not None else None
    if not options.push:
        raise CogError(
            f"the {job.variant} images for {', '.join(platforms)} cannot be built in one call here (this builder "
            f"cannot load several platforms, or their Dockerfiles differ); build one --platform at a time, or add "
            f"--push to join them in the registry"
        )
    # Each platform on its own, pushed as TAG-ARCH, then joined by digest into one index under the tag.
    digests = []
    name, version = _split_tag(job.tag)
    for plan, text in zip(job.plans, job.dockerfiles):
        architecture = plan.platform.split("/", 1)[1]
        dockerfile = write_dockerfile(job.work, f"{job.variant}.{architecture}", text, job.ignore)
        digests.append(docker.build_and_push_platform(
            dockerfile=dockerfile, platform=plan.platform, tag=f"{name}:{version}-{architecture}", **common))
    docker.join_platforms(job.tag, digests, options.builder)
    log(f"Joined {', '.join(platforms)} into {job.tag}")
    return None


def read_openapi_schema(path: Path) -> dict:
    """--openapi-schema FILE: a valid OpenAPI 3 document, checked before anything is built."""
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    where = f"--openapi-schema {path}"
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CogError(f"{where}: {exc.strerror or 'cannot be read'}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        detail = f"{exc.msg} (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
        raise CogError(f"{where} is not JSON: {detail}") from None
    if not isinstance(schema, dict) or not str(schema.get("openapi", "")).startswith("3."):
        raise CogError(f"{where} is not an OpenAPI 3 document (no \"openapi\": \"3.x\" at its top)")
    try:
        validate(schema)
    except OpenAPIValidationError as exc:
        at = "/".join(str(part) for part in exc.absolute_path)
        reason = exc.message.partition("\n")[0]  # openapi-spec-validator 0.9 appends the schema and the instance
        raise CogError(f"{where} is not a valid OpenAPI document: {reason}" + (f" (at {at})" if at else "")) from None
    return schema


def _static_schema(project: Project, plan: BuildPlan, files: list[str]) -> tuple[dict | None, str | None]:
    """The schema read from the model's source without running it (cog.compiler.static_schema), byte-identical
    to what `_openapi_schema` would get from the image, None when the source does not decide it; with the digest
    of the stubs it was read from, which a recipe keeps beside it (cog.images.recipe).

    When it decides, the image is not run to ask: that run also proved that the model imports in the image (its
    requirements installed, its module-level code working), and a model that does not will now fail when the
    server starts (setup) instead of failing the build. The schema itself is never a guess: the reader decides
    only what it can read exactly, and a declaration the runtime refuses is left to the runtime, so such a model
    still fails the build with the runtime's message."""
    return project_schema(project.directory, plan.predict, plan.train, python_version=plan.python_version, files=files)


def _openapi_schema(tag: str, plan: BuildPlan, options: BuildOptions) -> dict:
    """Ask the model's own environment in the image for the schema: it imports the model as the server will."""
    if not plan.predict:
        return {}
    command = ["/opt/cog/model/bin/python", "-m", "cog.sdk.worker", "--openapi", plan.predict]
    if plan.train:
        command += ["--train", plan.train]
    result = docker.run_once(tag, command, platform=plan.platform)
    if result.returncode != 0:
        detail = last_line(result.stderr, "no output").removeprefix("error: ")
        raise CogError(f"the image was built, but its model does not load: {detail}")
    return json.loads(result.stdout)


def _labels(project: Project, plan: BuildPlan, schema: dict, options: BuildOptions, files: list[str],
            weights: list[str]) -> dict[str, str]:
    config = completed_config(project.config)
    labels = {
        LABEL_CONFIG: json.dumps(config, sort_keys=True, separators=(",", ":")),
        LABEL_SCHEMA: json.dumps(schema, sort_keys=True, separators=(",", ":")),
        LABEL_VERSION: __version__,
        # Which code the image holds (weights aside): `cog predict` trusts the schema label only for this code.
        LABEL_CODE_DIGEST: code_digest(project.directory, sorted(set(files) - set(weights)), config),
        "run.cog.python_version": plan.python_version,
        LABEL_BASE_IMAGE: plan.base_image,
        LABEL_EPOCH: str(SOURCE_DATE_EPOCH),
        "org.opencontainers.image.title": _split_tag(options.tag)[0].rsplit("/", 1)[-1],
    }
    if plan.cuda:
        labels["run.cog.cuda"] = plan.cuda
        labels["run.cog.cudnn"] = plan.cudnn or ""
    if plan.torch:
        labels["run.cog.torch"] = plan.torch
    if plan.tensorflow:
        labels["run.cog.tensorflow"] = plan.tensorflow
    if options.package_id:
        labels[LABEL_PACKAGE] = options.package_id
    lock = lock_path(project)
    if lock.is_file():  # locked_plans checked it against the project before the build
        labels[LABEL_LOCK] = "sha256:" + hashlib.sha256(lock.read_bytes()).hexdigest()
    labels.update(git_labels(project.directory))
    return labels


def _label(work: Path, tag: str, labels: dict[str, str], options: BuildOptions, log) -> None:
    """Add labels without touching layers: a FROM-only build of the image just built."""
    dockerfile = work / "Dockerfile.labels"
    dockerfile.write_text(f"FROM {tag}\n", encoding="utf-8")
    empty = work / "empty-context"
    empty.mkdir(exist_ok=True)
    docker.build(
        context=empty, dockerfile=dockerfile, contexts={}, platforms=list(options.platforms), tags=[tag],
        load=not options.push, push=options.push, labels=labels, builder=options.builder, progress="quiet", log=log,
        source_date_epoch=SOURCE_DATE_EPOCH,
    )


def _check_secrets(secrets: list[str]) -> None:
    for secret in secrets:
        fields = dict(part.split("=", 1) for part in secret.split(",") if "=" in part)
        if "id" not in fields:
            raise CogError(f"--secret {secret}: expected id=NAME,src=PATH")
        source = fields.get("src") or fields.get("source")
        if source and not Path(source).is_file():
            raise CogError(f"--secret {secret}: {source} not found")


def _new_warnings(plans: list[BuildPlan], already: tuple[ConfigWarning, ...]) -> list[ConfigWarning]:
    seen = set(already)
    fresh = []
    for plan in plans:
        for warning in plan.warnings:
            if warning not in seen:
                seen.add(warning)
                fresh.append(warning)
    return fresh


def _split_tag(reference: str) -> tuple[str, str]:
    name, _, tag = reference.rpartition(":")
    if not name or "/" in tag:
        return reference, "latest"
    return name, tag


def default_image_name(directory: Path) -> str:
    """cog-DIRECTORY, lowercased to what an image name may hold."""
    name = re.sub(r"[^a-z0-9._-]+", "-", directory.name.lower()).strip("-._") or "model"
    return f"cog-{name}"


def requested_progress() -> Progress | None:
    """What BUILDKIT_PROGRESS asks for (cog's --progress sets it too), as Cog reads it: tty is auto."""
    value = os.environ.get("BUILDKIT_PROGRESS", "").lower()
    value = "auto" if value == "tty" else value
    return value if value in ("auto", "plain", "quiet") else None  # type: ignore[return-value]


def default_progress() -> Progress:
    return requested_progress() or ("auto" if sys.stderr.isatty() else "plain")
