"""Config + cuda_matrix/ → a BuildPlan for each variant and platform. Pure: no I/O but reading the data files.

The rules, in order:
- explicit choices in cog.yaml (cuda, cudnn, python_version) win when they are compatible;
- tensorflow pins CUDA and cuDNN to the configuration it was built and tested with;
- a torch requirement narrows CUDA to the versions torch publishes wheels for;
- among what is left, the newest CUDA, then the newest cuDNN for it, then the preferred Ubuntu;
- torch/torchvision/torchaudio/tensorflow requirement lines are rewritten to the matching CPU or CUDA builds;
- a package Cog's SDK brought along (implied_packages/) that the project imports and its requirements do not name
  is added to the same install, so the user's own pins still win.
A clash is an error that names both sides; a guess is a warning that says what was chosen and why.
"""

from __future__ import annotations

import os.path
from dataclasses import dataclass, field

from packaging.requirements import Requirement as PackagingRequirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from cog.matrix import PLATFORMS, CudaImage, Matrix, Platform, TensorflowRelease, TorchBuild, TorchRelease, load_matrix
from cog.compiler.imports import ModuleImport
from cog.compiler.plan import BuildPlan, InstallOptions, LocalPath
from cog.implied_packages import ImpliedPackages, load_implied_packages
from cog.errors import ConfigError, ConfigWarning, Location
from cog.config.model import Config, Variant
from cog.config.requirements import Requirement

TORCH_FAMILY = ("torch", "torchvision", "torchaudio")
LOCAL_PATHS_DIR = "/opt/cog/local"  # where requirements that are project paths are copied for the install
TENSORFLOW_NAMES = ("tensorflow", "tensorflow-cpu", "tensorflow-gpu")
# torch_index: where torch comes from. None: PyTorch's own wheel indexes, as cuda_matrix/ names them. TORCH_FROM_PYPI:
# PyPI (or the project's own index): no PyTorch index, no +cpu/+cuXXX labels. Any other value: the URL of a mirror of
# PyTorch's index, in place of each of its URLs (the project's own too); "{index}" in it stands for the path after
# PyTorch's https://download.pytorch.org/whl/ (cpu, cu124, ...), for a mirror of the whole tree.
TORCH_FROM_PYPI = "pypi"


def resolve(
    config: Config,
    variant: Variant,
    platform: Platform = "linux/amd64",
    *,
    base_image_mirror: str | None = None,
    matrix: Matrix | None = None,
    imports: tuple[ModuleImport, ...] = (),
    implied: ImpliedPackages | None = None,
    torch_index: str | None = None,
) -> BuildPlan:
    """`imports`: the top-level modules the project's code imports (cog.images.imports reads them), from which
    the packages Cog's SDK brought along are added when the requirements lack them."""
    return _Resolver(
        config, variant, platform, matrix or load_matrix(), base_image_mirror,
        imports=imports, implied=implied or load_implied_packages(), torch_index=torch_index,
    ).plan()


def resolve_all(
    config: Config,
    variants: tuple[Variant, ...] | None = None,
    platforms: tuple[Platform, ...] = ("linux/amd64",),
    *,
    base_image_mirror: str | None = None,
    imports: tuple[ModuleImport, ...] = (),
    torch_index: str | None = None,
) -> list[BuildPlan]:
    return [
        resolve(config, variant, platform, base_image_mirror=base_image_mirror, imports=imports, torch_index=torch_index)
        for variant in (variants or config.variants)
        for platform in platforms
    ]


def implied_requirements(
    config: Config, imports: tuple[ModuleImport, ...], implied: ImpliedPackages
) -> tuple[list[str], list[ConfigWarning]]:
    """The requirement lines for packages Cog's SDK brought along that the project imports and its requirements do
    not name (by canonical name, in any form: pinned, with a marker, as a URL), each with a one-line notice at the
    import. Skipped too: a package whose `via` the requirements name (it comes with that one), and a module that
    the requirements name as a distribution of its own (`attr`, say, rather than attrs)."""
    named = {
        canonicalize_name(requirement.name)
        for requirement in config.python_requirements.requirements
        if requirement.name
    }
    chosen: dict[str, ModuleImport] = {}
    for found in imports:
        package = implied.for_module(found.module)
        if package is None or package.name in named or canonicalize_name(found.module) in named:
            continue
        if package.via is not None and canonicalize_name(package.via) in named:
            continue
        chosen.setdefault(package.name, found)
    lines, notices = [], []
    for package in implied.packages:  # in the data's order, so plans do not depend on the order of files
        found = chosen.get(package.name)
        if found is None:
            continue
        through = f" (through {package.via})" if package.via else ""
        if config.python_requirements.locked:  # installed as locked: nothing is added to a lock
            lock = config.python_requirements.file
            notices.append(ConfigWarning(
                f"imports {found.module}, which Cog's SDK brought along{through}, and {lock} does not lock "
                f"{PackagingRequirement(package.requirement).name}; add it to the project's dependencies and lock "
                "again",
                found.location,
            ))
            continue
        lines.append(package.requirement)
        notices.append(ConfigWarning(
            f"imports {found.module}, which Cog's SDK brought along{through}; adding {package.requirement} to the "
            f"model's requirements (list it in requirements.txt to pin it)",
            found.location,
        ))
    return lines, notices


def mirror_image(reference: str, mirror: str | None) -> str:
    """Rewrite an official image name to a registry mirror: python:3.11-slim → MIRROR/library/python:3.11-slim.

    Docker Hub names gain their implicit `library/` prefix; names on other registries (ghcr.io/astral-sh/uv)
    keep their path without the registry host, as pull-through caches and `crane copy` mirrors lay them out.
    """
    if not mirror:
        return reference
    first, _, rest = reference.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        path = rest  # strip the registry host
    elif not rest:
        path = f"library/{reference}"
    else:
        path = reference
    return f"{mirror.rstrip('/')}/{path}"


def pytorch_index_prefix(matrix: Matrix) -> str:
    """What every PyTorch wheel index in the data starts with: https://download.pytorch.org/whl/."""
    common = os.path.commonprefix([build.index_url for row in matrix.torch for build in row.builds])
    return common[: common.rfind("/") + 1]


def python_minor(version: str) -> str:
    release = Version(version).release
    return f"{release[0]}.{release[1]}" if len(release) > 1 else version


def _specifier(requirement: Requirement) -> SpecifierSet:
    try:
        return SpecifierSet(requirement.specifier)
    except InvalidSpecifier:
        raise ConfigError(f"`{requirement.text}` has a version specifier cog cannot read", requirement.location) from None


def _nearest_build(builds: list[TorchBuild], image: CudaImage) -> list[TorchBuild]:
    """The torch build whose CUDA is nearest the image's: the newest not above it, else the oldest above it."""
    cuda = Version(image.cuda_minor)
    below = [build for build in builds if Version(build.cuda) <= cuda]
    if below:
        return [max(below, key=lambda build: Version(build.cuda))]
    return [min(builds, key=lambda build: Version(build.cuda))] if builds else []


def _pinned_local(requirement: Requirement) -> str | None:
    """The local label of an exact pin: torch==2.1.0+cu118 → "cu118"."""
    for spec in _specifier(requirement):
        if spec.operator in ("==", "===") and "+" in spec.version:
            return spec.version.split("+", 1)[1]
    return None


def _pinned_version(requirement: Requirement) -> Version | None:
    for spec in _specifier(requirement):
        if spec.operator in ("==", "===") and "*" not in spec.version:
            return Version(spec.version.split("+", 1)[0])
    return None


def _matches(requirement: Requirement, version: str) -> bool:
    specifier = SpecifierSet(",".join(s.operator + s.version.split("+", 1)[0] for s in _specifier(requirement)))
    return specifier.contains(version, prereleases=True)


def _rewrite(requirement: Requirement, name: str, version: str | None) -> str:
    """A requirement line for `name` (with the user's extras and marker), pinned to `version` if given."""
    extras = f"[{','.join(requirement.extras)}]" if requirement.extras else ""
    pin = f"=={version}" if version else requirement.specifier
    marker = f"; {requirement.marker}" if requirement.marker else ""
    return f"{name}{extras}{pin}{marker}"


def _local_destination(local_path: str) -> str:
    return LOCAL_PATHS_DIR if local_path == "." else f"{LOCAL_PATHS_DIR}/{local_path}"


def _span(versions) -> str:
    ordered = sorted(versions, key=Version)
    return ", ".join(ordered) if len(ordered) <= 4 else f"{ordered[0]} to {ordered[-1]}"


@dataclass
class _Resolver:
    config: Config
    variant: Variant
    platform: Platform
    matrix: Matrix
    base_image_mirror: str | None
    warnings: list[ConfigWarning] = field(default_factory=list)
    imports: tuple[ModuleImport, ...] = ()
    implied: ImpliedPackages | None = None
    torch_index: str | None = None
    cuda_as_asked: bool = False  # cog.yaml's CUDA has no torch build of its own: the nearest build is taken

    def __post_init__(self) -> None:
        self.python = python_minor(self.config.python_version)
        by_name: dict[str, Requirement] = {}
        for requirement in self.config.python_requirements.requirements:
            if requirement.platforms is not None and self.platform not in requirement.platforms:
                continue  # a lock's line for another platform
            if requirement.name and requirement.url is None:
                by_name.setdefault(requirement.name, requirement)
        self.requirements = by_name

    @property
    def section(self) -> str:
        """Where this config's build settings live: build: or, in the original dialect, environment:."""
        return "environment" if self.config.dialect == "original" else "build"

    def warn(self, message: str, location: Location | None = None) -> None:
        self.warnings.append(ConfigWarning(message, location))

    # --- the plan ---------------------------------------------------------------------------------

    def plan(self) -> BuildPlan:
        if self.platform not in PLATFORMS:
            raise ConfigError(f"platform {self.platform} is not supported; use one of {', '.join(PLATFORMS)}")
        gap = self.config.python_requirements.gap(self.platform)
        if gap is not None:
            raise ConfigError(gap.message, gap.location)
        if self.config.python_requirements.locked:
            self.check_locked_builds()
        tensorflow = self.tensorflow_release()
        torch = self.torch_releases()
        image = self.cuda_image(tensorflow, torch) if self.variant == "gpu" else None
        torch_release, torch_build = self.choose_torch(torch, image)
        lines, extra_index_urls = self.requirement_lines(tensorflow, torch_release, torch_build, image)
        if self.implied is not None:
            added, notices = implied_requirements(self.config, self.imports, self.implied)
            lines.extend(added)
            self.warnings.extend(notices)
        index = self.config.python_requirements
        overrides = tuple(override.text for override in self.config.python_overrides)
        if overrides and not lines:
            self.warn("python_overrides has nothing to override: the model has no Python requirements",
                      self.config.where("build.python_overrides"))
        if image is None:
            base = self.matrix.base_images.cpu.format(python_version=self.config.python_version)
        else:
            base = f"{self.matrix.cuda.repository}:{image.tag}"
        return BuildPlan(
            variant=self.variant,
            platform=self.platform,
            base_image=mirror_image(base, self.base_image_mirror),
            python_from_base=image is None,
            uv_image=mirror_image(self.matrix.base_images.uv, self.base_image_mirror),
            python_version=self.config.python_version,
            cuda=image.cuda if image else None,
            cudnn=image.cudnn if image else None,
            torch=torch_release.torch if torch_release else self.unknown_torch_version(),
            tensorflow=(tensorflow.version if tensorflow else None),
            system_packages=self.config.system_packages,
            python_requirements=tuple(lines),
            python_constraints=tuple(constraint.text for constraint in index.constraints),
            python_overrides=overrides if lines else (),
            install_options=InstallOptions(
                index_url=self.torch_source_url(index.index_url) if index.index_url else None,
                extra_index_urls=tuple(dict.fromkeys(filter(None, (
                    *map(self.torch_source_url, index.extra_index_urls),
                    *(self.torch_source_url(url, quiet=True) for url in extra_index_urls),
                )))),
                find_links=tuple(dict.fromkeys(filter(None, (self.torch_source_url(url, links=True) for url in index.find_links)))),
                pre=index.pre,
                flags=index.options,
                no_deps=index.locked,
                require_hashes=index.locked and all(r.hashes for r in index.requirements),
            ),
            local_paths=tuple(dict.fromkeys(
                LocalPath(source=r.local_path, destination=_local_destination(r.local_path))
                for r in index.requirements if r.local_path is not None
            )),
            pre_install=self.config.pre_install,
            run=self.config.run,
            environment=self.config.environment,
            predict=self.config.predict,
            train=self.config.train,
            concurrency=self.config.concurrency,
            workdir=self.config.workdir or "/src",
            warnings=(*self.config.warnings, *self.warnings),
        )

    # --- tensorflow -----------------------------------------------------------------------------------

    def tensorflow_requirement(self) -> Requirement | None:
        for name in TENSORFLOW_NAMES:
            if name in self.requirements:
                return self.requirements[name]
        return None

    def tensorflow_release(self) -> TensorflowRelease | None:
        requirement = self.tensorflow_requirement()
        if requirement is None:
            return None
        rows = [row for row in self.matrix.tensorflow if _matches(requirement, row.latest) or self._minor_pinned(requirement, row)]
        if not rows:
            known = _span(row.version for row in self.matrix.tensorflow)
            raise ConfigError(
                f"`{requirement.text}` matches no tensorflow release cog knows ({known}); pin one of those",
                requirement.location,
            )
        row = self.for_this_python(rows, "tensorflow", lambda row: row.version, requirement)[-1]
        if _pinned_version(requirement) is None:
            self.warn(
                f"`{requirement.text}` does not pin a version; using tensorflow {row.latest}, the newest release cog "
                f"knows for Python {self.python}",
                requirement.location,
            )
        return row

    def for_this_python(self, rows: list, framework: str, version_of, requirement: Requirement) -> list:
        """The rows with wheels for the configured Python; none is an error that names what the newest supports."""
        supported = [row for row in rows if self.python in row.pythons]
        if not supported:
            row = rows[-1]
            raise ConfigError(
                f"{framework} {version_of(row)} has no wheels for Python {self.python} (it supports "
                f"{_span(row.pythons)}); change python_version or the {framework} version",
                requirement.location,
            )
        return supported

    @staticmethod
    def _minor_pinned(requirement: Requirement, row: TensorflowRelease) -> bool:
        pinned = _pinned_version(requirement)
        return pinned is not None and f"{pinned.major}.{pinned.minor}" == row.version

    # --- torch -----------------------------------------------------------------------------------------

    def torch_releases(self) -> list[TorchRelease]:
        """torch releases that the requirement allows and that have wheels for this Python, oldest first."""
        requirement = self.requirements.get("torch")
        if requirement is None:
            return []
        rows = [row for row in self.matrix.torch if _matches(requirement, row.torch)]
        if not rows:
            return []  # older or newer than the data: handled by unknown_torch_version
        return self.for_this_python(rows, "torch", lambda row: row.torch, requirement)

    def unknown_torch_version(self) -> str | None:
        requirement = self.requirements.get("torch")
        if requirement is None or self.torch_releases():
            return None
        pinned = _pinned_version(requirement)
        return str(pinned) if pinned else None

    def torch_builds(self, row: TorchRelease, gpu: bool) -> list[TorchBuild]:
        return [
            build
            for build in row.builds
            if (build.cuda != "cpu") == gpu and self.platform in build.platforms
        ]

    def choose_torch(self, rows: list[TorchRelease], image: CudaImage | None) -> tuple[TorchRelease | None, TorchBuild | None]:
        requirement = self.requirements.get("torch")
        if requirement is None:
            return None, None
        if not rows:
            return None, self.fallback_torch_build(requirement, image)
        for row in reversed(rows):
            builds = self.torch_builds(row, gpu=image is not None)
            if image is not None:
                same = [build for build in builds if build.cuda == image.cuda_minor]
                builds = same or (_nearest_build(builds, image) if self.cuda_as_asked else [])
            if builds:
                if _pinned_version(requirement) is None:
                    self.warn(
                        f"`{requirement.text}` does not pin one version; using torch {row.torch}, the newest that "
                        f"fits Python {self.python}" + (f" and CUDA {image.cuda_minor}" if image else ""),
                        requirement.location,
                    )
                return row, builds[-1]
        row = rows[-1]
        kind = f"CUDA {image.cuda_minor}" if image else "CPU"
        raise ConfigError(
            f"torch {row.torch} publishes no {kind} wheels for {self.platform}", requirement.location
        )

    def fallback_torch_build(self, requirement: Requirement, image: CudaImage | None) -> TorchBuild | None:
        """torch outside the data: newer ones get the newest known release's index; older ones are left alone."""
        pinned = _pinned_version(requirement)
        newest = self.matrix.torch[-1]
        if pinned is None or pinned < Version(self.matrix.torch[0].torch):
            self.warn(
                f"`{requirement.text}` is outside cog's torch data ({self.matrix.torch[0].torch} to {newest.torch}); "
                f"installing it as written, without a CPU/CUDA-specific wheel index",
                requirement.location,
            )
            return None
        builds = self.torch_builds(newest, gpu=image is not None)
        if image is not None:
            builds = [build for build in builds if build.cuda == image.cuda_minor] or builds
        self.warn(
            f"torch {pinned} is newer than cog's data (newest {newest.torch}); assuming it ships the same "
            f"{'CUDA ' + image.cuda_minor if image else 'CPU'} builds",
            requirement.location,
        )
        return builds[-1] if builds else None

    # --- CUDA base image -------------------------------------------------------------------------------

    def cuda_image(self, tensorflow: TensorflowRelease | None, torch_rows: list[TorchRelease]) -> CudaImage:
        where_cuda = self.config.where("build.cuda")
        flavour = "devel" if self.needs_cuda_toolkit() else "runtime"
        images = [image for image in self.matrix.cuda.images if image.flavour == flavour and self.platform in image.platforms]
        if not images:
            raise ConfigError(f"no CUDA base image is published for {self.platform}")
        if self.config.cuda:
            wanted = Version(self.config.cuda).release
            images = [image for image in images if Version(image.cuda).release[: len(wanted)] == wanted]
            if not images:
                known = _span({image.cuda_minor for image in self.matrix.cuda.images if self.platform in image.platforms})
                raise ConfigError(
                    f"no CUDA {self.config.cuda} base image for {self.platform}; known: {known}", where_cuda
                )
        if self.config.cudnn:
            wanted_cudnn = str(Version(self.config.cudnn).major)
            matching = [image for image in images if image.cudnn == wanted_cudnn]
            if not matching:
                offered = _span({image.cudnn for image in images})
                raise ConfigError(
                    f"cuDNN {self.config.cudnn} is not available with CUDA {self.config.cuda or 'images'} "
                    f"(cuDNN {offered} are)",
                    self.config.where("build.cudnn"),
                )
            images = matching
        if tensorflow is not None:
            images = self.narrow_for_tensorflow(images, tensorflow)
        if torch_rows:
            images = self.narrow_for_torch(images, torch_rows)
        elif self.config.cuda is None and tensorflow is None:
            newest = max(images, key=lambda image: Version(image.cuda))
            self.warn(
                f"no CUDA version is set; using CUDA {newest.cuda}, the newest cog knows (set {self.section}.cuda "
                f"to match older NVIDIA drivers)",
                self.config.where("build.gpu"),
            )
        return self.best_image(images)

    def needs_cuda_toolkit(self) -> bool:
        """Whether the build may compile CUDA code: build commands, or a package that does (cuda_matrix/base_images.yaml)."""
        if self.config.run or self.config.pre_install:
            return True
        compiling = set(self.matrix.base_images.cuda_toolkit_packages)
        return any(requirement.name in compiling for requirement in self.config.python_requirements.requirements)

    def narrow_for_tensorflow(self, images: list[CudaImage], row: TensorflowRelease) -> list[CudaImage]:
        requirement = self.tensorflow_requirement()
        if self.platform not in row.gpu_platforms:
            raise ConfigError(f"tensorflow {row.version} publishes no GPU wheels for {self.platform}", requirement.location)
        cudnn_major = str(Version(row.cudnn).major)
        same_cuda = [image for image in images if image.cuda_minor == row.cuda]
        matching = [image for image in same_cuda if image.cudnn == cudnn_major]
        if not matching and "and-cuda" in row.gpu_package:
            # tensorflow[and-cuda] installs its own cuDNN from PyPI, so the image's cuDNN need not match.
            matching = same_cuda
        if not matching:
            asked = self.config.cuda or self.config.cudnn
            if asked:
                what = f"CUDA {self.config.cuda}" if self.config.cuda else f"cuDNN {self.config.cudnn}"
                raise ConfigError(
                    f"`{requirement.text}` needs CUDA {row.cuda} with cuDNN {row.cudnn}; cog.yaml asks for {what}",
                    self.config.where("build.cuda" if self.config.cuda else "build.cudnn"),
                )
            raise ConfigError(
                f"no CUDA {row.cuda} / cuDNN {cudnn_major} base image for {self.platform}, which tensorflow {row.version} needs",
                requirement.location,
            )
        return matching

    def narrow_for_torch(self, images: list[CudaImage], rows: list[TorchRelease]) -> list[CudaImage]:
        requirement = self.requirements["torch"]
        label = _pinned_local(requirement)
        offered = {build.cuda for row in rows for build in self.torch_builds(row, gpu=True)}
        if label:
            if label == "cpu":
                raise ConfigError(
                    f"`{requirement.text}` is a CPU build, but this is the GPU image; drop the +cpu suffix",
                    requirement.location,
                )
            offered = {cuda for cuda in offered if "cu" + cuda.replace(".", "") == label}
        matching = [image for image in images if image.cuda_minor in offered]
        if not matching:
            versions = _span({row.torch for row in rows})
            if not offered:
                raise ConfigError(f"torch {versions} publishes no CUDA wheels for {self.platform}", requirement.location)
            asked = []
            if self.config.cuda:
                asked.append(f"CUDA {self.config.cuda}")
            if self.config.cudnn:
                asked.append(f"cuDNN {self.config.cudnn}")
            if self.tensorflow_requirement() is not None:
                asked.append("tensorflow's CUDA")
            clash = " and ".join(asked) or "the available base images"
            if asked == [f"CUDA {self.config.cuda}"] and not label:
                # As Cog does: warn, and build on the CUDA cog.yaml asks for with the torch build nearest it, whose
                # wheels bring their own CUDA libraries (what the driver must support is the newer of the two).
                self.cuda_as_asked = True
                self.warn(
                    f"`{requirement.text}` has wheels for CUDA {_span(offered)}, not CUDA {self.config.cuda}; building "
                    f"on CUDA {self.config.cuda} as {self.section}.cuda asks, with the torch build nearest it (its "
                    f"wheels bring their own CUDA libraries)",
                    self.config.where("build.cuda"),
                )
                return images
            raise ConfigError(
                f"`{requirement.text}` has wheels for CUDA {_span(offered)}; that clashes with {clash}",
                self.config.where("build.cuda") if self.config.cuda else requirement.location,
            )
        return matching

    def best_image(self, images: list[CudaImage]) -> CudaImage:
        preference = self.matrix.base_images.gpu_ubuntu_preference

        def rank(image: CudaImage):
            ubuntu_rank = preference.index(image.ubuntu) if image.ubuntu in preference else len(preference)
            return (Version(image.cuda), int(image.cudnn), -ubuntu_rank)

        return max(images, key=rank)

    # --- requirement lines ---------------------------------------------------------------------------

    def requirement_lines(self, tensorflow, torch_release, torch_build, image) -> tuple[list[str], list[str]]:
        lines: list[str] = []
        extra_index_urls: list[str] = []
        torch_companions = self.torch_companion_versions(torch_release)
        for requirement in self.config.python_requirements.requirements:
            name = requirement.name if requirement.url is None else None
            if self.config.python_requirements.locked:  # as locked: checked by check_locked_builds, not rewritten
                text = requirement.line()
                if requirement.local_path is not None:
                    text = text.replace(requirement.url, _local_destination(requirement.local_path), 1)
                lines.append(text)
            elif name in TENSORFLOW_NAMES and tensorflow is not None and requirement is self.tensorflow_requirement():
                lines.append(self.tensorflow_line(requirement, tensorflow))
            elif requirement.local_path is not None:
                lines.append(requirement.text.replace(requirement.url, _local_destination(requirement.local_path), 1))
            elif name in TORCH_FAMILY and torch_build is not None:
                version = torch_companions.get(name) if torch_release else None
                lines.append(self.torch_line(requirement, name, version, torch_build, torch_release))
            else:
                lines.append(requirement.text)
        if torch_build is not None and not self.config.python_requirements.locked:
            extra_index_urls.append(torch_build.index_url)
        return lines, extra_index_urls

    def check_locked_builds(self) -> None:
        """A lock's torch (and CUDA libraries) as locked, against the image: a CPU build in the GPU image is an
        error (it would never use the GPU); CUDA builds in the CPU image are a warning (they run, several GB
        larger), since a GPU model's CPU image installs the same lock."""
        requirements = self.config.python_requirements
        torch = self.requirements.get("torch")
        label = _pinned_local(torch) if torch is not None else None
        if self.variant == "gpu" and label == "cpu":
            raise ConfigError(
                f"{requirements.file} locks torch {torch.specifier.lstrip('=')}, a CPU build, but this is the GPU image; lock torch from "
                f"a CUDA index (https://download.pytorch.org/whl/cu124, say)",
                torch.location,
            )
        if self.variant != "cpu":
            return
        nvidia = sorted(name for name in self.requirements if name.startswith("nvidia-"))
        if label and label.startswith("cu"):
            self.warn(
                f"{requirements.file} locks torch {torch.specifier.lstrip('=')}, a CUDA build, for the CPU image too: it runs on the "
                f"CPU, with CUDA's libraries (several GB); lock torch from https://download.pytorch.org/whl/cpu "
                f"for a small CPU image",
                torch.location,
            )
        elif nvidia:
            what = f"torch {torch.specifier.lstrip('=')} with " if torch is not None else ""
            first = self.requirements[nvidia[0]]
            self.warn(
                f"{requirements.file} locks {what}CUDA's libraries ({nvidia[0]} and {len(nvidia) - 1} more "
                f"nvidia-* packages, several GB) for the CPU image on {self.platform}; lock torch from "
                f"https://download.pytorch.org/whl/cpu for a small CPU image",
                (torch or first).location,
            )

    def torch_source_url(self, url: str, links: bool = False, quiet: bool = False) -> str | None:
        """A PyTorch index URL (cog's, or the project's with a notice when left out) for the chosen torch_index:
        itself, the mirror's, or None (left out). A find-links page on PyTorch's site has no counterpart on PyPI
        or on a mirror of one index."""
        prefix = pytorch_index_prefix(self.matrix)
        if self.torch_index is None or not (url.startswith(prefix) or url.rstrip("/") + "/" == prefix):
            return url
        if self.torch_index != TORCH_FROM_PYPI and (not links or "{index}" in self.torch_index):
            return self.torch_index.replace("{index}", url[len(prefix):].strip("/"))
        requirements = self.config.python_requirements
        if requirements.locked:  # a lock's packages come from where it says, or not at all
            torch = self.requirements.get("torch")
            raise ConfigError(
                f"{requirements.file} locks packages from {url}, and this build takes torch from PyPI "
                f"(COG_TORCH_INDEX=pypi, or auto when that index does not answer); set COG_TORCH_INDEX to a mirror "
                f"of that index",
                torch.location if torch is not None else Location(requirements.file or self.config.file),
            )
        if not quiet:
            self.warn(f"leaving {url} out of the install: torch comes from "
                      f"{'PyPI' if self.torch_index == TORCH_FROM_PYPI else self.torch_index} in this build")
        return None

    def torch_companion_versions(self, release: TorchRelease | None) -> dict[str, str | None]:
        if release is None:
            return {}
        versions = {"torch": release.torch, "torchvision": release.torchvision, "torchaudio": release.torchaudio}
        for name in ("torchvision", "torchaudio"):
            requirement = self.requirements.get(name)
            if requirement is None:
                continue
            expected = versions[name]
            if expected is None:
                raise ConfigError(
                    f"torch {release.torch} has no matching {name} release; remove `{requirement.text}` or pin another torch",
                    requirement.location,
                )
            if not _matches(requirement, expected):
                raise ConfigError(
                    f"`{requirement.text}` does not fit torch {release.torch}, which needs {name}=={expected}",
                    requirement.location,
                )
        return versions

    def torch_line(self, requirement: Requirement, name: str, version: str | None, build: TorchBuild,
                   release: TorchRelease | None) -> str:
        if version is None:  # torch outside the data: keep the user's specifier, the index picks the build
            return _rewrite(requirement, name, None)
        # aarch64 CPU wheels carry no +cpu label on PyTorch's index; an exact version matches either spelling.
        # PyPI's wheels carry no label at all.
        labelled = not (build.cuda == "cpu" and self.platform == "linux/arm64") and self.torch_index != TORCH_FROM_PYPI
        if name == "torchaudio" and release is not None and release.torchaudio_unlabelled:
            labelled = False  # one torchaudio wheel for every CUDA build
        return _rewrite(requirement, name, f"{version}+{build.local_version}" if labelled else version)

    def tensorflow_line(self, requirement: Requirement, row: TensorflowRelease) -> str:
        pinned = _pinned_version(requirement)
        version = str(pinned) if pinned else row.latest
        if self.variant == "gpu":
            package, _, extras = row.gpu_package.partition("[")
            merged = sorted({*requirement.extras, *(extras.rstrip("]").split(",") if extras else [])})
            marker = f"; {requirement.marker}" if requirement.marker else ""
            return f"{package}{'[' + ','.join(merged) + ']' if merged else ''}=={version}{marker}"
        package = row.cpu_packages.get(self.platform)
        if package is None:
            raise ConfigError(
                f"tensorflow {row.version} publishes no CPU wheels for {self.platform}", requirement.location
            )
        return _rewrite(requirement.model_copy(update={"extras": ()}), package, version)
