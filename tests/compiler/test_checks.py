"""The checks cog build makes before building (cog.config.model): a model to serve, and variants the config allows."""

from __future__ import annotations

from pathlib import Path

import pytest

from cog.config.model import check_buildable, chosen_variants
from cog.config.parse import parse_config
from cog.errors import CogError, ConfigError


def parse(text: str):
    return parse_config(text, file="cog.yaml", project_dir=Path("/nonexistent"))


@pytest.mark.parametrize(("text", "key"), [
    ("build:\n  python_version: '3.11'\n", "predict"),
    ("", "predict"),
    ("image: r8.im/user/model\n", "predict"),
    ("model: r8.im/user/model\n", "predict"),
    ("environment:\n  python_version: '3.11'\n", "model"),
])
def test_a_build_without_a_model_is_refused_with_the_fix(text, key):
    with pytest.raises(CogError) as caught:
        check_buildable(parse(text))
    assert str(caught.value) == (
        f'cog.yaml has no `{key}:`, so the image would have no model to run; add {key}: "predict.py:Predictor", '
        f"or write `{key}:` with no value to build only the model's environment (for cog exec and cog run)"
    )


@pytest.mark.parametrize("text", [
    "predict: predict.py:Predictor\n",
    "run: run.py:Runner\n",
    "train: train.py:train\n",
    "model: model.py:Model\n",
    "predict:\n",
    "build:\n  gpu: true\nrun:\n",
    "environment:\n  python_version: '3.11'\nmodel:\n",
])
def test_a_model_or_an_explicit_environment_only_image_builds(text):
    check_buildable(parse(text))


@pytest.mark.parametrize(("text", "choice", "variants"), [
    ("environment:\n  python_version: '3.11'\n  architectures: [cpu]\n", None, ("cpu",)),
    ("environment:\n  python_version: '3.11'\n  architectures: [cpu]\n", "cpu", ("cpu",)),
    ("environment:\n  architectures: [gpu]\n", "cpu", ("cpu",)),
    ("environment:\n  architectures: [gpu]\n", "gpu", ("gpu",)),
    ("environment:\n  architectures: [cpu, gpu]\n", "all", ("cpu", "gpu")),
    ("environment: {}\n", "gpu", ("gpu",)),
    ("build:\n  gpu: false\n", "gpu", ("gpu",)),
    ("build:\n  gpu: true\n", "cpu", ("cpu",)),
    ("build:\n  gpu: true\n", None, ("gpu",)),
    ("build:\n  gpu: false\n", "all", ("cpu", "gpu")),
])
def test_chosen_variants(text, choice, variants):
    assert chosen_variants(parse(text), choice) == variants


@pytest.mark.parametrize("choice", ["gpu", "all"])
def test_the_original_architectures_cpu_refuses_a_gpu_image(choice):
    config = parse("environment:\n  python_version: '3.11'\n  architectures: [cpu]\nmodel: model.py:Model\n")
    with pytest.raises(ConfigError) as caught:
        chosen_variants(config, choice)
    assert str(caught.value) == "cog.yaml:3:18: environment.architectures lists only cpu; add gpu to build a GPU image"
