"""The compatibility data in cuda_matrix/, loaded into typed rows.

The YAML files are the single source of facts (see cuda_matrix/README.md for where each fact comes from);
these models are their schema. `cuda_matrix/schema.json` is generated from them (`python -m cog.matrix`).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Literal

import yaml
from packaging.version import Version
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cog.resources import cuda_matrix_dir

Platform = Literal["linux/amd64", "linux/arm64"]
PLATFORMS: tuple[Platform, ...] = ("linux/amd64", "linux/arm64")


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_version(value: str) -> str:
    Version(value)  # raises InvalidVersion with the offending text
    return value


class PythonRelease(_Row):
    version: str = Field(description='"MAJOR.MINOR", e.g. "3.12"')
    end_of_life: str = Field(description="YYYY-MM when upstream support ends (or ended)")
    deprecated: bool = Field(False, description="past end of life: still built, with a warning")

    _v = field_validator("version")(_check_version)


class PythonData(_Row):
    default: str = Field(description="python_version used when cog.yaml names none")
    releases: tuple[PythonRelease, ...]


class CudaImage(_Row):
    """One nvidia/cuda base image."""

    tag: str = Field(description='tag within the repository, e.g. "12.4.1-cudnn-runtime-ubuntu22.04"')
    cuda: str = Field(description='full CUDA version, e.g. "12.4.1"')
    cudnn: str = Field(description='cuDNN major version, e.g. "9"')
    ubuntu: str = Field(description='Ubuntu release, e.g. "22.04"')
    flavour: Literal["runtime", "devel"]
    platforms: tuple[Platform, ...]

    _v = field_validator("cuda")(_check_version)

    @property
    def cuda_minor(self) -> str:
        """The "MAJOR.MINOR" CUDA that wheels are built against (12.4.1 → 12.4)."""
        release = Version(self.cuda).release
        return f"{release[0]}.{release[1]}"


class CudaImages(_Row):
    repository: str = Field(description='image repository, e.g. "nvidia/cuda"')
    images: tuple[CudaImage, ...]


class TorchBuild(_Row):
    """One wheel build of a torch release: for a CUDA "MAJOR.MINOR", or "cpu"."""

    cuda: str = Field(description='"cpu" or the CUDA "MAJOR.MINOR" the wheels are built for')
    index_url: str = Field(description="the PyTorch wheel index that serves this build")
    platforms: tuple[Platform, ...]

    @property
    def local_version(self) -> str:
        """The wheel's local version label: "cpu", "cu121", ..."""
        return "cpu" if self.cuda == "cpu" else "cu" + self.cuda.replace(".", "")


class TorchRelease(_Row):
    torch: str
    torchvision: str | None = None
    torchaudio: str | None = None
    torchaudio_unlabelled: bool = Field(
        False, description="torchaudio has one build for every CUDA, with no local version label (before 0.10)"
    )
    pythons: tuple[str, ...] = Field(description="Python MAJOR.MINOR versions with wheels")
    builds: tuple[TorchBuild, ...]

    _v = field_validator("torch")(_check_version)


class TensorflowRelease(_Row):
    version: str = Field(description='"MAJOR.MINOR", e.g. "2.15"')
    latest: str = Field(description="newest patch release, used when a requirement does not pin one")
    cpu_packages: dict[Platform, str] = Field(description="the CPU-only distribution name per platform")
    gpu_package: str = Field(description="the GPU distribution (with extras, e.g. tensorflow[and-cuda])")
    gpu_platforms: tuple[Platform, ...]
    cuda: str = Field(description='CUDA "MAJOR.MINOR" it was built and tested with')
    cudnn: str = Field(description='cuDNN "MAJOR.MINOR" it was built and tested with')
    pythons: tuple[str, ...]

    _v = field_validator("version", "latest")(_check_version)


class BaseImages(_Row):
    """The images a Dockerfile starts from, other than nvidia/cuda."""

    cpu: str = Field(description='the CPU base image, with {python_version} in it, e.g. "python:{python_version}-slim"')
    uv: str = Field(description="the image that carries the uv binary at /uv (pinned)")
    gpu_ubuntu_preference: tuple[str, ...] = Field(
        description="Ubuntu releases of nvidia/cuda images, most preferred first (apt package names differ per release)"
    )
    cuda_toolkit_packages: tuple[str, ...] = Field(
        (),
        description="Python packages (normalized names) that compile CUDA code as they install or load: a GPU image "
                    "whose requirements name one starts from the devel image, which has nvcc and CUDA's headers",
    )


class Matrix(BaseModel):
    """Everything in cuda_matrix/, loaded once."""

    model_config = ConfigDict(frozen=True)

    python: PythonData
    base_images: BaseImages
    cuda: CudaImages
    torch: tuple[TorchRelease, ...]
    tensorflow: tuple[TensorflowRelease, ...]


_FILES = {"python": "python.yaml", "base_images": "base_images.yaml", "cuda": "cuda_images.yaml", "torch": "torch.yaml", "tensorflow": "tensorflow.yaml"}


@cache
def load_matrix() -> Matrix:
    directory = cuda_matrix_dir()
    raw = {}
    for field_name, file_name in _FILES.items():
        with open(directory / file_name, encoding="utf-8") as handle:
            raw[field_name] = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return Matrix.model_validate(raw)


def json_schema() -> str:
    return json.dumps(Matrix.model_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # regenerate cuda_matrix/schema.json
    (cuda_matrix_dir() / "schema.json").write_text(json_schema(), encoding="utf-8")
