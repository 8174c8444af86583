"""Config + cuda_matrix → BuildPlan: table-driven over the real compatibility data."""

from __future__ import annotations


import pytest
from packaging.version import Version

from cog.matrix import load_matrix
from cog.compiler.resolve import mirror_image, resolve, resolve_all
from cog.errors import ConfigError
from cog.config.parse import parse_config


def plan_for(make_project, requirements: str = "", build: str = "", variant="gpu", platform="linux/amd64", **options):
    files = {"requirements.txt": requirements} if requirements else {}
    project = make_project(files)
    text = "build:\n" + (build or "  gpu: true\n")
    if requirements:
        text += "  python_requirements: requirements.txt\n"
    config = parse_config(text, file="cog.yaml", project_dir=project)
    return resolve(config, variant, platform, **options)


def newest_cuda_image(platform="linux/amd64", **where):
    images = [
        image for image in load_matrix().cuda.images
        if image.flavour == "runtime" and platform in image.platforms
        and all(getattr(image, key) == value for key, value in where.items())
    ]
    return max(images, key=lambda image: Version(image.cuda))


PY311 = '  gpu: true\n  python_version: "3.11"\n'
PY311_CPU = '  python_version: "3.11"\n'

# (id, requirements.txt, build section, variant, platform, expected base image, expected requirement lines)
CASES = [
    ("torch pinned picks its newest CUDA", "torch==2.5.1\n", PY311, "gpu", "linux/amd64",
     "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04", ["torch==2.5.1+cu124"]),
    # torch 1.7-1.10, as old Cog projects pin it: CUDA 11 builds; torchaudio before 0.10 has one unlabelled wheel.
    ("torch 1.9 picks CUDA 11.1", "torch==1.9.1\ntorchvision==0.10.1\ntorchaudio==0.9.1\n",
     '  gpu: true\n  python_version: "3.9"\n', "gpu", "linux/amd64", "nvidia/cuda:11.1.1-cudnn8-runtime-ubuntu20.04",
     ["torch==1.9.1+cu111", "torchvision==0.10.1+cu111", "torchaudio==0.9.1"]),
    ("torch 1.10 picks CUDA 11.3", "torch==1.10.2\ntorchaudio==0.10.2\n", '  gpu: true\n  python_version: "3.8"\n',
     "gpu", "linux/amd64", "nvidia/cuda:11.3.1-cudnn8-runtime-ubuntu20.04", ["torch==1.10.2+cu113", "torchaudio==0.10.2+cu113"]),
    ("torch 1.8 on the CPU", "torch==1.8.1\n", '  python_version: "3.8"\n', "cpu", "linux/amd64", "python:3.8-slim",
     ["torch==1.8.1+cpu"]),
    # The devel image (nvcc) where the build may compile CUDA code, as Cog's images always are.
    ("build commands start from the devel image", "torch==2.5.1\n", PY311 + "  run: [nvcc --version]\n", "gpu",
     "linux/amd64", "nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04", ["torch==2.5.1+cu124"]),
    ("flash-attn starts from the devel image", "torch==2.5.1\nflash_attn==2.7.4\n", PY311, "gpu", "linux/amd64",
     "nvidia/cuda:12.4.1-cudnn-devel-ubuntu22.04", ["torch==2.5.1+cu124", "flash_attn==2.7.4"]),
    ("explicit cuda 12.1 wins when torch has it", "torch==2.5.1\n", PY311 + '  cuda: "12.1"\n', "gpu", "linux/amd64",
     "nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04", ["torch==2.5.1+cu121"]),
    ("explicit cuda 11.8", "torch==2.5.1\n", PY311 + '  cuda: "11.8"\n', "gpu", "linux/amd64",
     "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04", ["torch==2.5.1+cu118"]),
    ("local label fixes CUDA", "torch==2.1.0+cu118\n", PY311, "gpu", "linux/amd64",
     "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04", ["torch==2.1.0+cu118"]),
    ("range picks newest release inside it", "torch>=2.0,<2.2\n", PY311, "gpu", "linux/amd64",
     "nvidia/cuda:12.1.1-cudnn8-runtime-ubuntu22.04", ["torch==2.1.2+cu121"]),
    ("torchvision unpinned follows torch", "torch==2.5.1\ntorchvision\n", PY311, "gpu", "linux/amd64",
     "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04", ["torch==2.5.1+cu124", "torchvision==0.20.1+cu124"]),
    ("torchaudio pinned right", "torch==2.4.1\ntorchaudio==2.4.1\n", PY311, "gpu", "linux/amd64",
     "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04", ["torch==2.4.1+cu124", "torchaudio==2.4.1+cu124"]),
    ("marker and extras survive the rewrite", 'torch[opt-einsum]==2.5.1 ; sys_platform == "linux"\n', PY311, "gpu",
     "linux/amd64", "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04",
     ['torch[opt-einsum]==2.5.1+cu124; sys_platform == "linux"']),
    ("other requirements untouched and in order", "numpy==1.26.4\ntorch==2.5.1\npillow>=10\n", PY311, "gpu",
     "linux/amd64", "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04",
     ["numpy==1.26.4", "torch==2.5.1+cu124", "pillow>=10"]),
    ("torch 1.13 on CUDA 11.7", "torch==1.13.1\n", '  gpu: true\n  python_version: "3.10"\n', "gpu", "linux/amd64",
     "nvidia/cuda:11.7.1-cudnn8-runtime-ubuntu22.04", ["torch==1.13.1+cu117"]),
    ("torch 2.7 cuda 12.8 on arm64", "torch==2.7.1\n", PY311, "gpu", "linux/arm64",
     "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04", ["torch==2.7.1+cu128"]),
    ("torch 2.0.1 cuda 11.8", "torch==2.0.1\n", PY311, "gpu", "linux/amd64",
     "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04", ["torch==2.0.1+cu118"]),
    ("a URL requirement named torch is left alone", "torch @ https://example.com/torch-2.5.1-cp311-linux_x86_64.whl\n",
     PY311 + '  cuda: "12.4"\n', "gpu", "linux/amd64", "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04",
     ["torch @ https://example.com/torch-2.5.1-cp311-linux_x86_64.whl"]),
    ("tensorflow 2.15 pins CUDA 12.2 cuDNN 8", "tensorflow==2.15.0\n", PY311, "gpu", "linux/amd64",
     "nvidia/cuda:12.2.2-cudnn8-runtime-ubuntu22.04", ["tensorflow[and-cuda]==2.15.0"]),
    ("tensorflow 2.11 pins CUDA 11.2", "tensorflow==2.11.0\n", '  gpu: true\n  python_version: "3.10"\n', "gpu",
     "linux/amd64", "nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04", ["tensorflow==2.11.0"]),
    ("tensorflow 2.13 on CUDA 11.8", "tensorflow==2.13.1\n", PY311, "gpu", "linux/amd64",
     "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04", ["tensorflow==2.13.1"]),
    ("legacy tensorflow-gpu name becomes tensorflow", "tensorflow-gpu==2.11.0\n", '  gpu: true\n  python_version: "3.10"\n',
     "gpu", "linux/amd64", "nvidia/cuda:11.2.2-cudnn8-runtime-ubuntu20.04", ["tensorflow==2.11.0"]),
    ("tensorflow and-cuda brings its own cuDNN", "tensorflow==2.16.1\n", PY311, "gpu", "linux/amd64",
     "nvidia/cuda:12.3.2-cudnn9-runtime-ubuntu22.04", ["tensorflow[and-cuda]==2.16.1"]),
    ("tensorflow with the explicit matching cuda", "tensorflow==2.15.1\n", PY311 + '  cuda: "12.2"\n', "gpu",
     "linux/amd64", "nvidia/cuda:12.2.2-cudnn8-runtime-ubuntu22.04", ["tensorflow[and-cuda]==2.15.1"]),
    ("explicit cuda 11.8 without frameworks", "", PY311 + '  cuda: "11.8"\n', "gpu", "linux/amd64",
     "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04", []),
    ("full cuda version", "", PY311 + '  cuda: "12.4.1"\n', "gpu", "linux/amd64",
     "nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04", []),
    ("an older cog.yaml's cuda 11.3 with torch 1.11", "torch==1.11.0\ntorchvision\n",
     '  gpu: true\n  python_version: "3.9"\n  cuda: "11.3"\n', "gpu", "linux/amd64",
     "nvidia/cuda:11.3.1-cudnn8-runtime-ubuntu20.04", ["torch==1.11.0+cu113", "torchvision==0.12.0+cu113"]),
    ("torch 1.12.1 takes its newest CUDA build", "torch==1.12.1\n", '  gpu: true\n  python_version: "3.10"\n', "gpu",
     "linux/amd64", "nvidia/cuda:11.6.2-cudnn8-runtime-ubuntu20.04", ["torch==1.12.1+cu116"]),
    ("cuda major only picks its newest minor", "", PY311 + '  cuda: "11"\n', "gpu", "linux/amd64",
     "nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04", []),
    ("cudnn 8 narrows the image", "", PY311 + '  cuda: "12"\n  cudnn: "8"\n', "gpu", "linux/amd64",
     "nvidia/cuda:12.2.2-cudnn8-runtime-ubuntu22.04", []),
    ("cpu torch gets the +cpu build", "torch==2.5.1\ntorchvision==0.20.1\n", PY311_CPU, "cpu", "linux/amd64",
     "python:3.11-slim", ["torch==2.5.1+cpu", "torchvision==0.20.1+cpu"]),
    ("cpu torch on arm64 has no label", "torch==2.5.1\n", PY311_CPU, "cpu", "linux/arm64",
     "python:3.11-slim", ["torch==2.5.1"]),
    ("cpu image of a gpu config", "torch==2.5.1\n", PY311, "cpu", "linux/amd64",
     "python:3.11-slim", ["torch==2.5.1+cpu"]),
    ("cpu tensorflow on amd64", "tensorflow==2.15.0\n", PY311_CPU, "cpu", "linux/amd64",
     "python:3.11-slim", ["tensorflow-cpu==2.15.0"]),
    ("cpu tensorflow on arm64", "tensorflow==2.15.0\n", PY311_CPU, "cpu", "linux/arm64",
     "python:3.11-slim", ["tensorflow==2.15.0"]),
    ("cpu drops the and-cuda extra", "tensorflow[and-cuda]==2.15.0\n", PY311_CPU, "cpu", "linux/amd64",
     "python:3.11-slim", ["tensorflow-cpu==2.15.0"]),
    ("cpu without frameworks keeps lines", "numpy==1.26.4\n", PY311_CPU, "cpu", "linux/amd64",
     "python:3.11-slim", ["numpy==1.26.4"]),
    ("full python version picks that image", "", '  python_version: "3.11.9"\n', "cpu", "linux/amd64",
     "python:3.11.9-slim", []),
    ("newer torch than the data keeps its pin", "torch==2.99.0\n", PY311_CPU, "cpu", "linux/amd64",
     "python:3.11-slim", ["torch==2.99.0"]),
    ("older torch than the data is left as written", "torch==1.6.0\n", '  python_version: "3.8"\n', "cpu",
     "linux/amd64", "python:3.8-slim", ["torch==1.6.0"]),
]


@pytest.mark.parametrize(
    ("requirements", "build", "variant", "platform", "base", "lines"),
    [case[1:] for case in CASES], ids=[case[0] for case in CASES],
)
def test_resolution(make_project, requirements, build, variant, platform, base, lines):
    plan = plan_for(make_project, requirements, build, variant, platform)
    assert plan.base_image == base
    assert list(plan.python_requirements) == lines
    assert plan.variant == variant and plan.platform == platform


# (id, requirements.txt, build section, variant, platform, start of the error, where)
ERRORS = [
    ("torch labelled for another CUDA than the asked", "torch==2.5.1+cu121\n", PY311 + '  cuda: "12.6"\n', "gpu",
     "linux/amd64", "`torch==2.5.1+cu121` has wheels for CUDA 12.1; that clashes with CUDA 12.6", "cog.yaml:4:9"),
    ("torch cpu label in the gpu image", "torch==2.1.0+cpu\n", PY311, "gpu", "linux/amd64",
     "`torch==2.1.0+cpu` is a CPU build, but this is the GPU image", "requirements.txt:1"),
    ("torch without wheels for the python", "torch==2.0.1\n", '  gpu: true\n  python_version: "3.12"\n', "gpu",
     "linux/amd64", "torch 2.0.1 has no wheels for Python 3.12 (it supports 3.8, 3.9, 3.10, 3.11)", "requirements.txt:1"),
    ("torchvision that does not fit torch", "torch==2.5.1\ntorchvision==0.19.0\n", PY311, "gpu", "linux/amd64",
     "`torchvision==0.19.0` does not fit torch 2.5.1, which needs torchvision==0.20.1", "requirements.txt:2"),
    ("torchaudio where torch has none", "torch==2.12.0\ntorchaudio\n", PY311, "gpu", "linux/amd64",
     "torch 2.12.0 has no matching torchaudio release", "requirements.txt:2"),
    ("torch without CUDA wheels on arm64", "torch==2.5.1\n", PY311, "gpu", "linux/arm64",
     "torch 2.5.1 publishes no CUDA wheels for linux/arm64", "requirements.txt:1"),
    ("tensorflow against the asked CUDA", "tensorflow==2.14.0\n", PY311 + '  cuda: "12.1"\n', "gpu", "linux/amd64",
     "`tensorflow==2.14.0` needs CUDA 11.8 with cuDNN 8.7; cog.yaml asks for CUDA 12.1", "cog.yaml:4:9"),
    ("tensorflow against the asked cuDNN", "tensorflow==2.15.0\n", PY311 + '  cudnn: "9"\n', "gpu", "linux/amd64",
     "`tensorflow==2.15.0` needs CUDA 12.2 with cuDNN 8.9; cog.yaml asks for cuDNN 9", "cog.yaml:4:10"),
    ("tensorflow without wheels for the python", "tensorflow==2.15.0\n", '  gpu: true\n  python_version: "3.12"\n',
     "gpu", "linux/amd64", "tensorflow 2.15 has no wheels for Python 3.12", "requirements.txt:1"),
    ("tensorflow unknown to the data", "tensorflow==1.15.0\n", PY311, "gpu", "linux/amd64",
     "`tensorflow==1.15.0` matches no tensorflow release cog knows", "requirements.txt:1"),
    ("tensorflow and torch want different CUDA", "tensorflow==2.15.0\ntorch==2.5.1\n", PY311, "gpu", "linux/amd64",
     "`torch==2.5.1` has wheels for CUDA 11.8, 12.1, 12.4; that clashes with tensorflow's CUDA", "requirements.txt:2"),
    ("tensorflow gpu on arm64", "tensorflow==2.15.0\n", PY311, "gpu", "linux/arm64",
     "tensorflow 2.15 publishes no GPU wheels for linux/arm64", "requirements.txt:1"),
    ("tensorflow cpu on arm64 without wheels", "tensorflow==2.11.0\n", '  python_version: "3.10"\n', "cpu",
     "linux/arm64", "tensorflow 2.11 publishes no CPU wheels for linux/arm64", "requirements.txt:1"),
    ("cuda without a base image", "", PY311 + '  cuda: "12.7"\n', "gpu", "linux/amd64",
     "no CUDA 12.7 base image for linux/amd64", "cog.yaml:4:9"),
    ("cudnn not offered with that cuda", "", PY311 + '  cuda: "12.4"\n  cudnn: "8"\n', "gpu", "linux/amd64",
     "cuDNN 8 is not available with CUDA 12.4 (cuDNN 9 are)", "cog.yaml:5:10"),
]


@pytest.mark.parametrize(
    ("requirements", "build", "variant", "platform", "message", "where"),
    [case[1:] for case in ERRORS], ids=[case[0] for case in ERRORS],
)
def test_resolution_error(make_project, requirements, build, variant, platform, message, where):
    with pytest.raises(ConfigError) as caught:
        plan_for(make_project, requirements, build, variant, platform)
    assert caught.value.message.startswith(message), caught.value.message
    assert str(caught.value.location) == where


def test_unsupported_platform_is_an_error(make_project):
    with pytest.raises(ConfigError, match="platform linux/s390x is not supported"):
        plan_for(make_project, "", PY311_CPU, "cpu", "linux/s390x")


def test_no_cuda_no_framework_takes_the_newest_cuda_and_says_so(make_project):
    plan = plan_for(make_project, "", PY311)
    newest = newest_cuda_image(ubuntu="22.04")
    assert plan.cuda == newest.cuda and plan.base_image == f"nvidia/cuda:{newest.tag}"
    assert any("no CUDA version is set" in w.message for w in plan.warnings)


def test_unpinned_torch_takes_the_newest_release_for_the_python_and_says_so(make_project):
    plan = plan_for(make_project, "torch\n", PY311)
    newest = [row for row in load_matrix().torch if "3.11" in row.pythons][-1]
    assert plan.torch == newest.torch
    assert plan.python_requirements[0].startswith(f"torch=={newest.torch}+cu")
    assert any("does not pin one version" in w.message and str(w.location) == "requirements.txt:1" for w in plan.warnings)


def test_unpinned_tensorflow_takes_the_newest_for_the_python_and_says_so(make_project):
    plan = plan_for(make_project, "tensorflow\n", PY311_CPU, "cpu")
    newest = [row for row in load_matrix().tensorflow if "3.11" in row.pythons][-1]
    assert plan.python_requirements == (f"tensorflow-cpu=={newest.latest}",)
    assert plan.tensorflow == newest.version
    assert any("does not pin a version" in w.message for w in plan.warnings)


@pytest.mark.parametrize(("cuda", "base", "line"), [
    ("12.6", "nvidia/cuda:12.6.3-cudnn-runtime-ubuntu22.04", "torch==2.5.1+cu124"),  # the newest below
    ("11.4", "nvidia/cuda:11.4.3-cudnn8-runtime-ubuntu20.04", "torch==2.5.1+cu118"),  # none below: the oldest above
])
def test_a_cuda_torch_has_no_build_for_warns_and_builds_on_it(make_project, cuda, base, line):
    # As Cog does ("Cog doesn't know if CUDA 12.6 is compatible with PyTorch 2.5.1"): the asked CUDA's base image,
    # the nearest torch build, whose wheels bring their own CUDA libraries.
    plan = plan_for(make_project, "torch==2.5.1\n", PY311 + f'  cuda: "{cuda}"\n')
    assert plan.base_image == base and list(plan.python_requirements) == [line]
    assert [str(w) for w in plan.warnings] == [
        f"cog.yaml:4:9: `torch==2.5.1` has wheels for CUDA 11.8, 12.1, 12.4, not CUDA {cuda}; building on CUDA "
        f"{cuda} as build.cuda asks, with the torch build nearest it (its wheels bring their own CUDA libraries)"]


def test_newer_torch_than_the_data_warns_and_uses_the_newest_index(make_project):
    plan = plan_for(make_project, "torch==2.99.0\n", PY311)
    newest = load_matrix().torch[-1]
    assert plan.python_requirements == ("torch==2.99.0",)
    assert any(url.startswith("https://download.pytorch.org/whl/cu") for url in plan.install_options.extra_index_urls)
    assert any(f"newer than cog's data (newest {newest.torch})" in w.message for w in plan.warnings)
    assert plan.torch == "2.99.0"


def test_torch_index_is_added_after_the_users_own(make_project):
    project = make_project({"requirements.txt": "--index-url https://mirror.example/simple\n--extra-index-url https://x.example/simple\ntorch==2.5.1\n"})
    config = parse_config("build:\n  gpu: true\n  python_version: '3.11'\n  python_requirements: requirements.txt\n", project_dir=project)
    plan = resolve(config, "gpu")
    assert plan.install_options.index_url == "https://mirror.example/simple"
    assert plan.install_options.extra_index_urls == ("https://x.example/simple", "https://download.pytorch.org/whl/cu124")


def test_gpu_plan_records_cuda_and_cudnn(make_project):
    plan = plan_for(make_project, "torch==2.5.1\n", PY311)
    assert (plan.cuda, plan.cudnn, plan.torch) == ("12.4.1", "9", "2.5.1")


def test_plan_carries_the_rest_of_the_config(make_project):
    project = make_project({})
    config = parse_config(
        "build:\n  system_packages: [git]\n  run: [echo hi]\n  pre_install: [echo pre]\npredict: p.py:P\ntrain: t.py:T\n"
        "concurrency: {max: 3}\nenvironment: [A=b]\n", project_dir=project)
    plan = resolve(config, "cpu")
    assert plan.system_packages == ("git",) and plan.run[0].command == "echo hi"
    assert plan.pre_install == ("echo pre",)
    assert (plan.predict, plan.train, plan.concurrency.max) == ("p.py:P", "t.py:T", 3)
    assert plan.environment == (("A", "b"),) and plan.workdir == "/src"


def test_resolve_all_covers_variants_and_platforms(make_project):
    project = make_project({})
    config = parse_config("environment:\n  python_version: '3.11'\n", project_dir=project)
    plans = resolve_all(config, platforms=("linux/amd64", "linux/arm64"))
    assert [(p.variant, p.platform) for p in plans] == [
        ("cpu", "linux/amd64"), ("cpu", "linux/arm64"), ("gpu", "linux/amd64"), ("gpu", "linux/arm64")]


@pytest.mark.parametrize(("reference", "mirror", "expected"), [
    ("python:3.11-slim", None, "python:3.11-slim"),
    ("python:3.11-slim", "mirror.local:5000", "mirror.local:5000/library/python:3.11-slim"),
    ("nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04", "mirror.local:5000/hub/", "mirror.local:5000/hub/nvidia/cuda:12.4.1-cudnn-runtime-ubuntu22.04"),
    ("ghcr.io/astral-sh/uv:0.13.8", "registry.corp", "registry.corp/astral-sh/uv:0.13.8"),
    ("localhost/x:1", "m.io", "m.io/x:1"),
])
def test_mirror_image(reference, mirror, expected):
    assert mirror_image(reference, mirror) == expected


def test_mirror_rewrites_every_base_image(make_project):
    plan = plan_for(make_project, "", PY311_CPU, "cpu", base_image_mirror="mirror.local:5000")
    assert plan.base_image == "mirror.local:5000/library/python:3.11-slim"
    assert plan.uv_image.startswith("mirror.local:5000/astral-sh/uv:")


def test_constraints_local_paths_and_flags_reach_the_plan(make_project):
    project = make_project({
        "requirements.txt": "-c constraints.txt\n--no-binary pillow\n-e .\n./wheels/foo-1.0-py3-none-any.whl\npillow\n",
        "constraints.txt": "numpy<2\n",
        "wheels/foo-1.0-py3-none-any.whl": "",
    })
    config = parse_config("build:\n  python_version: '3.11'\n  python_requirements: requirements.txt\n", project_dir=project)
    plan = resolve(config, "cpu")
    assert plan.python_requirements == ("-e /opt/cog/local", "/opt/cog/local/wheels/foo-1.0-py3-none-any.whl", "pillow")
    assert plan.python_constraints == ("numpy<2",)
    assert plan.install_options.flags == ("--no-binary pillow",)
    assert [(p.source, p.destination) for p in plan.local_paths] == [
        (".", "/opt/cog/local"), ("wheels/foo-1.0-py3-none-any.whl", "/opt/cog/local/wheels/foo-1.0-py3-none-any.whl")]


def test_original_dialect_warnings_name_its_own_keys(make_project):
    project = make_project({})
    config = parse_config("environment:\n  python_version: '3.11'\n  architectures: [gpu]\n", project_dir=project)
    warning = next(w for w in resolve(config, "gpu").warnings if "no CUDA version" in w.message)
    assert "set environment.cuda" in warning.message and str(warning.location) == "cog.yaml:3:18"


# --- where torch comes from (torch_index; COG_TORCH_INDEX at the CLI) -------------------------------------------


@pytest.mark.parametrize(("torch_index", "variant", "platform", "lines", "extra_index_urls"), [
    (None, "cpu", "linux/amd64", ("torch==2.5.1+cpu", "torchvision==0.20.1+cpu"), ("https://download.pytorch.org/whl/cpu",)),
    (None, "gpu", "linux/amd64", ("torch==2.5.1+cu124", "torchvision==0.20.1+cu124"), ("https://download.pytorch.org/whl/cu124",)),
    ("pypi", "cpu", "linux/amd64", ("torch==2.5.1", "torchvision==0.20.1"), ()),
    ("pypi", "cpu", "linux/arm64", ("torch==2.5.1", "torchvision==0.20.1"), ()),
    ("pypi", "gpu", "linux/amd64", ("torch==2.5.1", "torchvision==0.20.1"), ()),
    ("https://mirror.corp/pytorch-cpu/simple", "cpu", "linux/amd64", ("torch==2.5.1+cpu", "torchvision==0.20.1+cpu"),
     ("https://mirror.corp/pytorch-cpu/simple",)),
    ("https://mirror.corp/whl/{index}", "cpu", "linux/amd64", ("torch==2.5.1+cpu", "torchvision==0.20.1+cpu"),
     ("https://mirror.corp/whl/cpu",)),
    ("https://mirror.corp/whl/{index}", "gpu", "linux/amd64", ("torch==2.5.1+cu124", "torchvision==0.20.1+cu124"),
     ("https://mirror.corp/whl/cu124",)),
])
def test_torch_source(make_project, torch_index, variant, platform, lines, extra_index_urls):
    plan = plan_for(make_project, "torch==2.5.1\ntorchvision==0.20.1\n", PY311, variant, platform, torch_index=torch_index)
    assert plan.python_requirements == lines
    assert plan.install_options.extra_index_urls == extra_index_urls
    assert plan.install_options.index_url is None
    assert not [w for w in plan.warnings if "leaving" in w.message]


def test_torch_source_leaves_other_requirements_and_indexes_alone(make_project):
    requirements = "--extra-index-url https://x.example/simple\nnumpy==1.26.4\ntorch==2.5.1\n"
    for torch_index in ("pypi", "https://mirror.corp/whl/cpu"):
        plan = plan_for(make_project, requirements, PY311_CPU, "cpu", torch_index=torch_index)
        assert plan.python_requirements[0] == "numpy==1.26.4"
        assert plan.install_options.extra_index_urls[0] == "https://x.example/simple"


def test_torch_from_pypi_leaves_out_the_projects_own_pytorch_indexes_and_says_so(make_project):
    requirements = ("--index-url https://download.pytorch.org/whl/cu118\n--extra-index-url https://download.pytorch.org/whl/cpu\n"
                    "-f https://download.pytorch.org/whl/torch_stable.html\ntorch==2.1.0+cpu\n")
    plan = plan_for(make_project, requirements, PY311_CPU, "cpu", torch_index="pypi")
    assert plan.python_requirements == ("torch==2.1.0",)
    options = plan.install_options
    assert (options.index_url, options.extra_index_urls, options.find_links) == (None, (), ())
    left_out = sorted(w.message for w in plan.warnings if w.message.startswith("leaving "))
    assert left_out == [
        "leaving https://download.pytorch.org/whl/cpu out of the install: torch comes from PyPI in this build",
        "leaving https://download.pytorch.org/whl/cu118 out of the install: torch comes from PyPI in this build",
        "leaving https://download.pytorch.org/whl/torch_stable.html out of the install: torch comes from PyPI in this build",
    ]


def test_a_torch_mirror_replaces_the_projects_own_pytorch_indexes(make_project):
    requirements = "--extra-index-url https://download.pytorch.org/whl/cpu\n-f https://download.pytorch.org/whl/torch_stable.html\ntorch==2.5.1\n"
    plan = plan_for(make_project, requirements, PY311_CPU, "cpu", torch_index="https://mirror.corp/whl/{index}")
    assert plan.install_options.extra_index_urls == ("https://mirror.corp/whl/cpu",)
    assert plan.install_options.find_links == ("https://mirror.corp/whl/torch_stable.html",)
    # A mirror of one index has no find-links page: that is left out, with a notice.
    plan = plan_for(make_project, requirements, PY311_CPU, "cpu", torch_index="https://mirror.corp/cpu/simple")
    assert plan.install_options.extra_index_urls == ("https://mirror.corp/cpu/simple",)
    assert plan.install_options.find_links == ()
    assert any(w.message.startswith("leaving https://download.pytorch.org/whl/torch_stable.html out") for w in plan.warnings)


def test_torch_source_does_not_touch_a_project_without_torch(make_project):
    requirements = "--extra-index-url https://x.example/simple\nnumpy\n"
    plans = {index: plan_for(make_project, requirements, PY311_CPU, "cpu", torch_index=index)
             for index in (None, "pypi", "https://mirror.corp/whl/{index}")}
    assert len({plan.model_dump_json() for plan in plans.values()}) == 1


def test_resolve_all_passes_the_torch_source(make_project):
    project = make_project({"requirements.txt": "torch==2.5.1\n"})
    config = parse_config("build:\n  gpu: true\n  python_version: '3.11'\n  python_requirements: requirements.txt\n", project_dir=project)
    plans = resolve_all(config, ("cpu", "gpu"), torch_index="pypi")
    assert [plan.python_requirements for plan in plans] == [("torch==2.5.1",), ("torch==2.5.1",)]
    assert [plan.install_options.extra_index_urls for plan in plans] == [(), ()]


def test_python_overrides_go_with_the_install_of_the_requirements(make_project):
    project = make_project({"requirements.txt": "transformers==4.44.2\n", "overrides.txt": "tokenizers==0.20.3\n"})
    config = parse_config("build:\n  python_requirements: requirements.txt\n  python_overrides: overrides.txt\n",
                          file="cog.yaml", project_dir=project)
    plan = resolve(config, "cpu")
    assert plan.python_requirements == ("transformers==4.44.2",)
    assert plan.python_overrides == ("tokenizers==0.20.3",)
    assert not plan.warnings


def test_python_overrides_without_requirements_have_nothing_to_override(make_project):
    project = make_project({"overrides.txt": "tokenizers==0.20.3\n"})
    config = parse_config("build:\n  python_overrides: overrides.txt\n", file="cog.yaml", project_dir=project)
    plan = resolve(config, "cpu")
    assert plan.python_overrides == ()
    assert [str(w) for w in plan.warnings] == [
        "cog.yaml:2:21: python_overrides has nothing to override: the model has no Python requirements"]
