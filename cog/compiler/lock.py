"""cog.lock and the plans: what is asked of the resolver for an image, what it answered, and a plan made to
install exactly that. Pure: text and plans in, plans and locks out (cog.images.locking runs the resolver).
"""

from __future__ import annotations

import hashlib
import json
import re

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from cog.compiler.plan import BuildPlan
from cog.config.cog_lock import CogLock, LockedImage, LockedPackage
from cog.errors import CogError

_HASH = re.compile(r"--hash=(\S+)")


def seed_packages(plan: BuildPlan) -> tuple[str, ...]:
    """What `uv venv --seed` puts in the model's environment for build commands (pip; setuptools and wheel too
    below Python 3.12, as Python's own venv did) where the base image has no Python of its own (the GPU images;
    the CPU images' environment sees the pip of Python's image, which the base image's digest pins): a locked
    image installs them from cog.lock instead, so that no version in it depends on the day of the build."""
    if plan.python_from_base:
        return ()
    major, minor = (int(part) for part in plan.python_version.split(".")[:2])
    return ("pip",) if (major, minor) >= (3, 12) else ("pip", "setuptools", "wheel")


def requested(plan: BuildPlan, requirements_text: str, server_requirements: tuple[str, ...]) -> str:
    """The digest of everything the resolver is given for an image: its Python, platform, CUDA, the requirements
    file as the image installs it (index options included), constraints, overrides and the server's packages.
    A lock whose digest differs was made for other requirements."""
    asked = {
        "variant": plan.variant, "platform": plan.platform, "python": plan.python_version, "cuda": plan.cuda,
        "requirements": requirements_text, "constraints": list(plan.python_constraints),
        "overrides": list(plan.python_overrides), "pre": plan.install_options.pre,
        "server": list(server_requirements), "seed": list(seed_packages(plan)),
    }
    return "sha256:" + hashlib.sha256(json.dumps(asked, sort_keys=True).encode()).hexdigest()


def parse_compiled(text: str, source: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """`uv pip compile --generate-hashes` output → (name, version, hashes), one per pinned package.

    numpy==2.1.3 \\
        --hash=sha256:aaa
    → [("numpy", "2.1.3", ("sha256:aaa",))]"""
    pinned = []
    for entry in re.sub(r"\\\n", " ", text).splitlines():
        entry = entry.split("#", 1)[0].strip() if not entry.lstrip().startswith("--hash") else entry.strip()
        if not entry or entry.startswith("-"):
            continue
        head = _HASH.split(entry, 1)[0].strip()
        try:
            requirement = Requirement(head)
        except InvalidRequirement:
            raise CogError(f"{source}: the resolver answered `{head}`, which cog cannot read") from None
        specs = list(requirement.specifier)
        if requirement.url or len(specs) != 1 or specs[0].operator != "==":
            raise CogError(f"{source}: `{head}` is not pinned to one version from an index; cog.lock locks packages "
                           f"from indexes (put URL and path requirements in a package index, or leave cog.lock out)")
        pinned.append((canonicalize_name(requirement.name), specs[0].version, tuple(sorted(_HASH.findall(entry)))))
    return pinned


def make_lock(
    *,
    uv: str,
    inputs: dict[str, str],
    images: list[LockedImage],
    model: dict[str, list[tuple[str, str, tuple[str, ...]]]],
    server: dict[str, list[tuple[str, str, tuple[str, ...]]]],
    seed: dict[str, list[tuple[str, str, tuple[str, ...]]]] | None = None,
) -> CogLock:
    """One lock from each image's resolution (by image key): a package that several images install at the same
    version is written once, naming them, with the union of their hashes."""
    merged: dict[tuple[str, str], dict] = {}
    for environment, resolved in (("model", model), ("server", server), ("seed", seed or {})):
        for key, packages in resolved.items():
            for name, version, hashes in packages:
                entry = merged.setdefault((name, version), {"model": set(), "server": set(), "seed": set(),
                                                            "hashes": set()})
                entry[environment].add(key)
                entry["hashes"].update(hashes)
    order = [image.key for image in images]
    packages = tuple(
        LockedPackage(name=name, version=version, model=tuple(sorted(entry["model"], key=order.index)),
                      server=tuple(sorted(entry["server"], key=order.index)),
                      seed=tuple(sorted(entry["seed"], key=order.index)), hashes=tuple(sorted(entry["hashes"])))
        for (name, version), entry in sorted(merged.items(), key=lambda item: (item[0][0], _version_key(item[0][1])))
    )
    return CogLock(uv=uv, inputs=dict(sorted(inputs.items())), image=tuple(images), package=packages)


def _version_key(version: str):
    from packaging.version import InvalidVersion, Version

    try:
        return (0, Version(version), version)
    except InvalidVersion:
        return (1, None, version)


def locked_plan(plan: BuildPlan, lock: CogLock) -> BuildPlan:
    """The plan installing what cog.lock holds for its image: every package pinned with its hashes, nothing
    resolved in the build (--no-deps --require-hashes), the base image by its locked digest. The plan's index
    options stay: they say where the locked files are."""
    image = lock.for_image(plan.variant, plan.platform)
    assert image is not None, "locked_plan needs a lock with the plan's image (check_lock says when not)"
    key = image.key
    base_image = plan.base_image
    if image.base_image_digest and "@" not in base_image:
        base_image = f"{base_image}@{image.base_image_digest}"
    model_lines = lock.lines(key, "model")
    return plan.model_copy(update={
        "base_image": base_image,
        "python_requirements": model_lines,
        "python_constraints": (),
        "python_overrides": (),
        "server_requirements": lock.lines(key, "server"),
        "seed_requirements": lock.lines(key, "seed"),
        "install_options": plan.install_options.model_copy(update={
            "no_deps": True, "require_hashes": bool(model_lines),
        }),
    })
