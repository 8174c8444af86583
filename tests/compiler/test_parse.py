"""cog.yaml → Config: both dialects normalize into one Config; every error names file:line:col and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from cog.matrix import load_matrix
from cog.errors import ConfigError, Location
from cog.config.parse import find_config_file, load_config, parse_config


def parse(text: str, project_dir: Path = Path("/nonexistent"), **files):
    return parse_config(text, file="cog.yaml", project_dir=project_dir)


SEED_CONFIG = """\
environment:
  python_version: "3.8"
  python_requirements: "requirements.txt"
  system_packages:
  - "ffmpeg"
  - "libavcodec-dev"
model: "model.py:JazzSoloComposerModel"
"""


def test_empty_file_is_a_valid_config_with_defaults():
    config = parse("")
    assert config.dialect == "cog"
    assert config.python_version == load_matrix().python.default
    assert config.variants == ("cpu",)
    assert config.predict is None and config.python_requirements.requirements == ()


def test_comment_only_file_is_valid():
    assert parse("# nothing yet\n").variants == ("cpu",)


def test_seed_readme_config_normalizes_to_both_variants(make_project):
    project = make_project({"requirements.txt": "numpy==1.26.4\n"})
    config = parse(SEED_CONFIG, project)
    assert config.dialect == "original"
    assert config.python_version == "3.8"
    assert config.variants == ("cpu", "gpu") and config.gpu
    assert config.system_packages == ("ffmpeg", "libavcodec-dev")
    assert config.predict == "model.py:JazzSoloComposerModel"
    assert [r.text for r in config.python_requirements.requirements] == ["numpy==1.26.4"]
    assert any("end of life" in w.message for w in config.warnings)


def test_original_dialect_every_key(make_project):
    config = parse(
        """\
environment:
  python_version: "3.11"
  python_packages: ["numpy==1.26.4", "pillow"]
  python_extra_index_urls: ["https://example.com/simple"]
  python_find_links: ["https://example.com/links"]
  system_packages: [git]
  pre_install: ["echo before"]
  architectures: [gpu]
  cuda: "12.1"
  cudnn: "8"
model: infer.py:Model
examples: examples/
workdir: /app
"""
    )
    assert config.variants == ("gpu",)
    assert config.cuda == "12.1" and config.cudnn == "8"
    assert config.python_requirements.extra_index_urls == ("https://example.com/simple",)
    assert config.python_requirements.find_links == ("https://example.com/links",)
    assert [r.name for r in config.python_requirements.requirements] == ["numpy", "pillow"]
    assert config.pre_install == ("echo before",)
    assert config.workdir == "/app" and config.examples == "examples/"


def test_cog_dialect_every_key(make_project):
    project = make_project({"requirements.txt": "torch==2.5.1\n"})
    config = parse(
        """\
build:
  python_version: "3.12"
  gpu: true
  cuda: "12.4"
  cudnn: "9"
  python_requirements: requirements.txt
  system_packages: [ffmpeg]
  run:
    - echo one
    - command: pip install private-package
      mounts:
        - type: secret
          id: pip-token
          target: /run/secrets/pip-token
image: registry.example.com/acme/model
predict: predict.py:Predictor
train: train.py:train
concurrency:
  max: 4
  default_target: 2
environment:
  - HF_HOME=/src/cache
  - GREETING=hello=world
""",
        project,
    )
    assert config.dialect == "cog" and config.variants == ("gpu",)
    assert config.run[0].command == "echo one" and config.run[0].secrets == ()
    assert config.run[1].secrets[0].id == "pip-token"
    assert config.environment == (("HF_HOME", "/src/cache"), ("GREETING", "hello=world"))
    assert config.concurrency.max == 4 and config.concurrency.default_target == 2
    assert config.image == "registry.example.com/acme/model"
    assert config.train == "train.py:train"
    assert config.where("build.cuda") == Location("cog.yaml", 4, 9)


def test_unquoted_numbers_are_read_as_versions():
    config = parse("build:\n  python_version: 3.11\n  gpu: true\n  cuda: 12.4\n")
    assert config.python_version == "3.11" and config.cuda == "12.4"


def test_unquoted_versions_mean_what_was_typed():
    # YAML reads 3.10 as the float 3.1; Cog (Go) reads it as the text "3.10", and so do we.
    config = parse("build:\n  python_version: 3.10\n  gpu: true\n  cuda: 12.10\n  cudnn: 9\n")
    assert (config.python_version, config.cuda, config.cudnn) == ("3.10", "12.10", "9")


def test_ignored_cog_keys_warn_instead_of_failing():
    from cog._version import __version__

    config = parse("build:\n  fast: true\n  cog_runtime: true\n  sdk_version: 0.16.8\n")
    assert [str(w) for w in config.warnings] == [  # in the order they are written
        "cog.yaml:2:3: `build.fast` is ignored: cog has one kind of build, which already caches every layer and "
        "installs packages with uv",
        "cog.yaml:3:3: `build.cog_runtime` is ignored: the image always runs this cog's own prediction server; there "
        "is no other runtime to choose",
        f"cog.yaml:4:3: `build.sdk_version` is ignored: the model's environment gets the SDK of the cog that builds "
        f"the image ({__version__}), not Cog's SDK 0.16.8 from PyPI",
    ]


@pytest.mark.parametrize("written", ["0.16.8", "'0.16.8'", "0.16", "'>=0.16,<0.17'", "'==0.16.*'", "'0.17.0a1'", "1"])
def test_sdk_version_is_a_version_or_a_specifier(written):
    config = parse(f"build:\n  sdk_version: {written}\n")
    assert any("`build.sdk_version` is ignored" in w.message for w in config.warnings)


def test_python_overrides_are_read_like_requirements(make_project):
    project = make_project({
        "requirements.txt": "transformers==4.44.2\n",
        "overrides.txt": "# why\ntokenizers==0.20.3\n-r more.txt\n",
        "more.txt": 'numpy>=2 ; python_version >= "3.10"\npkg @ https://example.com/pkg-1.0.tar.gz\n',
    })
    config = parse("build:\n  python_requirements: requirements.txt\n  python_overrides: overrides.txt\n", project)
    assert [(o.name, o.text, o.location) for o in config.python_overrides] == [
        ("tokenizers", "tokenizers==0.20.3", Location("overrides.txt", 2)),
        ("numpy", 'numpy>=2 ; python_version >= "3.10"', Location("more.txt", 1)),
        ("pkg", "pkg @ https://example.com/pkg-1.0.tar.gz", Location("more.txt", 2)),
    ]
    assert config.where("build.python_overrides") == Location("cog.yaml", 3, 21)
    assert not config.warnings


def test_python_overrides_options_are_ignored_with_a_warning(make_project):
    project = make_project({"overrides.txt": "--extra-index-url https://example.com/simple\nsix==1.17.0\n"})
    config = parse("build:\n  python_packages: [six]\n  python_overrides: overrides.txt\n", project)
    assert "cog.yaml:3:21: the installer options in `overrides.txt` are ignored: python_overrides holds versions " \
        "only; put index options in python_requirements" in [str(w) for w in config.warnings]


def test_todays_weights_are_parsed_checked_and_recorded_with_a_notice():
    from cog.config.model import Weight, completed_config

    config = parse(
        "weights:\n"
        "  - source: https://example.com/model.safetensors\n"
        "    target: /src/model.safetensors\n"
        "  - source: gs://bucket/other.bin\n"
        "  - name: base\n"
        "    source:\n"
        "      uri: hf://owner/repo\n"
        "      include: ['*.safetensors', '*.json']\n"
        "      exclude: ['*.bin']\n"
        "    target: /src/weights/base\n"
    )
    assert config.weights == (
        Weight(source="https://example.com/model.safetensors", target="/src/model.safetensors"),
        Weight(source="gs://bucket/other.bin"),
        Weight(name="base", source="hf://owner/repo", target="/src/weights/base",
               include=("*.safetensors", "*.json"), exclude=("*.bin",)),
    )
    assert [str(w) for w in config.warnings] == [
        "cog.yaml:1:1: `weights` is recorded but cog does not download or push weights yet; put weights files in "
        "the project directory, where they get their own image layer"]
    assert completed_config(config)["weights"][2] == {
        "source": "hf://owner/repo", "target": "/src/weights/base", "name": "base",
        "include": ["*.safetensors", "*.json"], "exclude": ["*.bin"]}


@pytest.mark.parametrize("text", [
    "model: r8.im/user/model\n",
    "model: localhost:5000/md/examples/managed-weights\npredict: predict.py:Predictor\n",
    "model: registry.example.com:443/team/sub_group/my-model\nbuild:\n  python_version: '3.12'\n",
    "model: mymodel\n",
])
def test_todays_model_is_a_registry_repository_and_names_the_image(text):
    config = parse(text)
    assert config.dialect == "cog" and config.repository == config.image == text.split()[1]
    assert not config.warnings


def test_image_wins_over_todays_model_with_a_notice():
    config = parse("image: r8.im/user/other\nmodel: r8.im/user/model\n")
    assert config.image == "r8.im/user/other" and config.repository == "r8.im/user/model"
    assert [str(w) for w in config.warnings] == [
        "cog.yaml:2:8: `model: r8.im/user/model` is not used as the image's name: image: (r8.im/user/other) names it"]
    assert not parse("image: r8.im/user/model:v2\nmodel: r8.im/user/model\n").warnings


def test_the_original_model_is_a_python_reference():
    config = parse("model: model.py:JazzSoloComposerModel\n")
    assert config.dialect == "original" and config.predict == "model.py:JazzSoloComposerModel"
    assert config.repository is None and config.image is None


@pytest.mark.parametrize(("text", "dialect"), [
    ("predict:\n", "cog"), ("run: ~\n", "cog"), ("model:\nenvironment:\n  python_version: '3.11'\n", "original"),
])
def test_a_predict_key_written_empty_asks_for_the_environment_alone(text, dialect):
    config = parse(text)
    assert config.dialect == dialect and config.environment_only and config.predict is None
    assert not parse("build:\n  gpu: false\n").environment_only


@pytest.mark.parametrize(("gpu", "variants"), [("true", ("gpu",)), ("false", ("cpu",))])
def test_the_later_original_dialect_says_gpu(gpu, variants):
    # The original Cog's docs of 2021: `environment: gpu: true` instead of architectures.
    config = parse(f"model: predict.py:Model\nenvironment:\n  python_version: '3.8'\n  gpu: {gpu}\n")
    assert config.dialect == "original" and config.variants == variants and config.gpu == (gpu == "true")
    assert config.where("build.gpu") == Location("cog.yaml", 4, 8)


def test_run_is_todays_name_for_predict():
    config = parse("build:\n  python_version: '3.11'\nrun: run.py:Runner\n")
    assert config.dialect == "cog" and config.predict == "run.py:Runner"


def test_a_build_command_may_start_with_run_options():
    config = parse('build:\n  run:\n    - "--mount=type=cache,target=/root/.cache/pip  --network=host pip install x"\n'
                   '    - "pip install --mount=not-an-option"\n')
    first, second = config.run
    assert first.options == ("--mount=type=cache,target=/root/.cache/pip", "--network=host")
    assert first.command == "pip install x"
    assert second.options == () and second.command == "pip install --mount=not-an-option"
    from cog.config.model import completed_config
    assert completed_config(config)["build"]["run"][0]["command"] == (
        "--mount=type=cache,target=/root/.cache/pip --network=host pip install x")


def test_secret_targets_may_be_relative_to_the_build_step():
    config = parse("build:\n  run:\n    - command: cat token\n      mounts:\n        - {type: secret, id: t, target: token}\n")
    assert config.run[0].secrets[0].target == "token"


def test_original_examples_are_a_file_or_a_list_of_inputs_and_outputs():
    listed = parse("model: m.py:M\nexamples:\n  - input: {text: hi}\n    output: HI\n  - input: {text: yo}\n")
    assert listed.examples == [{"input": {"text": "hi"}, "output": "HI"}, {"input": {"text": "yo"}, "output": None}]
    assert parse("model: m.py:M\nexamples: examples.json\n").examples == "examples.json"


def test_python_packages_warns_deprecated():
    config = parse("build:\n  python_packages:\n    - numpy==1.26.4\n")
    assert config.python_requirements.requirements[0].location == Location("cog.yaml", 3, 7)
    assert any("deprecated" in w.message for w in config.warnings)


def test_python_packages_may_carry_an_index_option_as_cog_reads_them():
    config = parse("build:\n  python_packages:\n    - numpy==1.26.4 --extra-index-url=https://example.com/simple\n"
                   "    - pkg==1.0 -f https://example.com/links\n    - six\n")
    requirements = config.python_requirements
    assert [(r.text, r.location) for r in requirements.requirements] == [
        ("numpy==1.26.4", Location("cog.yaml", 3, 7)), ("pkg==1.0", Location("cog.yaml", 4, 7)),
        ("six", Location("cog.yaml", 5, 7))]
    assert requirements.extra_index_urls == ("https://example.com/simple",)
    assert requirements.find_links == ("https://example.com/links",)


def test_requirements_file_with_includes_options_markers_and_urls(make_project):
    project = make_project({
        "requirements.txt": (
            "# pinned\n-r base.txt\n--extra-index-url https://example.com/simple\n"
            'torch==2.1.0+cu118 ; python_version >= "3.8"\nPillow[extra]>=9  # why\n'
            "https://example.com/pkg-1.0.tar.gz\n"
        ),
        "base.txt": "numpy==1.26.4\n",
    })
    config = parse("build:\n  python_requirements: requirements.txt\n", project)
    requirements = config.python_requirements
    assert [(r.name, r.location) for r in requirements.requirements] == [
        ("numpy", Location("base.txt", 1)),
        ("torch", Location("requirements.txt", 4)),
        ("pillow", Location("requirements.txt", 5)),
        (None, Location("requirements.txt", 6)),
    ]
    assert requirements.requirements[1].marker == 'python_version >= "3.8"'
    assert requirements.requirements[2].extras == ("extra",)
    assert requirements.requirements[3].url == "https://example.com/pkg-1.0.tar.gz"
    assert requirements.extra_index_urls == ("https://example.com/simple",)


def test_config_is_found_from_a_subdirectory(make_project):
    project = make_project({"cog.yaml": "build:\n  gpu: false\n", "src/deep/x.py": ""})
    assert find_config_file(project / "src" / "deep") == project / "cog.yaml"


def test_load_config_reads_the_file(make_project):
    project = make_project({"other.yaml": "predict: p.py:P\n"})
    assert load_config(project / "other.yaml", display="other.yaml").predict == "p.py:P"


# One case per error path: (cog.yaml text, files beside it, expected "file:line:col: message" prefix).
ERRORS = [
    ("yaml syntax", "build:\n  gpu: [true\n", {}, "cog.yaml:3:1: is not valid YAML"),
    ("a quote left open", 'build:\n  python_version: "3.11\n  gpu: false\npredict: "predict.py:Predictor"\n', {},
     "cog.yaml:2:19: is not valid YAML: the double quote that begins this value is not closed on its line"),
    ("a quote open to the end", "predict: 'predict.py:Predictor\n", {},
     "cog.yaml:1:10: is not valid YAML: the single quote that begins this value is not closed on its line"),
    ("an error after a value that spans lines on purpose", 'predict: "p.py:P"\ndescription: "two\n  lines"\nbuild: [\n', {},
     "cog.yaml:5:1: is not valid YAML: expected the node content"),
    ("tab indentation", "build:\n\tgpu: true\n", {}, "cog.yaml:2:1: YAML does not allow tabs"),
    ("duplicate key", "predict: a.py:A\npredict: b.py:B\n", {}, "cog.yaml:2:1: `predict` is set twice (first on line 1)"),
    ("merge key", "a: &x {gpu: true}\nbuild:\n  <<: *x\n", {}, "cog.yaml:3:3: YAML merge keys"),
    ("not a mapping", "- build\n", {}, "cog.yaml:1:1: must be a mapping"),
    ("unknown top key", "bulid:\n  gpu: true\n", {}, "cog.yaml:1:1: unknown key `bulid` at the top level; did you mean `build`?"),
    ("unknown build key", "build:\n  python_versoin: '3.11'\n", {}, "cog.yaml:2:3: unknown key `python_versoin` under `build`; did you mean `python_version`?"),
    ("unknown original key", "environment:\n  sytem_packages: [git]\n", {}, "cog.yaml:2:3: unknown key `sytem_packages` under `environment`; did you mean `system_packages`?"),
    ("unknown key no guess", "build:\n  zzz: 1\n", {}, "cog.yaml:2:3: unknown key `zzz` under `build`; known keys:"),
    ("wrong type bool", "build:\n  gpu: 'yes please'\n", {}, 'cog.yaml:2:8: `build.gpu` must be true or false, not the string "yes please"'),
    ("wrong type list", "build:\n  system_packages: ffmpeg\n", {}, 'cog.yaml:2:20: `build.system_packages` must be a list, not the string "ffmpeg"'),
    ("wrong type mapping", "build: true\n", {}, "cog.yaml:1:8: `build` must be a mapping, not `true`"),
    ("wrong type run item", "build:\n  run:\n    - 123\n", {}, "cog.yaml:3:7: `build.run[0]` must be a command string or a mapping"),
    ("secret mount type", "build:\n  run:\n    - command: x\n      mounts:\n        - type: cache\n          id: a\n          target: /a\n", {}, "cog.yaml:5:17: `build.run[0].mounts[0].type` must be one of 'secret'"),
    ("secret target empty", "build:\n  run:\n    - command: x\n      mounts:\n        - type: secret\n          id: a\n          target: ' '\n", {}, "cog.yaml:5:11: a secret's target is empty"),
    ("secret target misspelled", "build:\n  run:\n    - command: x\n      mounts:\n        - type: secret\n          id: a\n          targt: /a\n", {}, "cog.yaml:7:11: unknown key `targt` under `build.run.mounts`; did you mean `target`?"),
    ("secret mounted twice", "build:\n  run:\n    - command: x\n      mounts:\n        - {type: secret, id: a, target: /a}\n        - {type: secret, id: a, target: /b}\n", {}, "cog.yaml:6:11: secret `a` is mounted twice"),
    ("missing mount id", "build:\n  run:\n    - command: x\n      mounts:\n        - {type: secret, target: /a}\n", {}, "cog.yaml:5:11: `build.run[0].mounts[0].id` is required"),
    ("run newline", 'build:\n  run:\n    - "apt update\\napt install x"\n', {}, "cog.yaml:3:7: a build command must be one line"),
    ("run empty", 'build:\n  run:\n    - "  "\n', {}, "cog.yaml:3:7: a build command is empty"),
    ("run options alone", 'build:\n  run:\n    - "--mount=type=cache,target=/x "\n', {},
     "cog.yaml:3:7: a build command has RUN options (--mount=type=cache,target=/x) and no command after them"),
    ("pre_install newline", 'environment:\n  pre_install:\n    - "a\\nb"\n', {}, "cog.yaml:3:7: a build command must be one line"),
    ("unsupported python", "build:\n  python_version: '2.7'\n", {}, "cog.yaml:2:19: Python 2.7 is not supported; supported: 3.8,"),
    ("python not a version", "build:\n  python_version: latest\n", {}, "cog.yaml:2:19: `latest` is not a version number"),
    ("cuda too old", "build:\n  gpu: true\n  cuda: '10.2'\n", {}, "cog.yaml:3:9: CUDA 10.2 is too old; cog builds CUDA 11 and newer"),
    ("cuda not a version", "build:\n  gpu: true\n  cuda: twelve\n", {}, "cog.yaml:3:9: `twelve` is not a version number"),
    ("predict format", "predict: predict:Predictor\n", {}, 'cog.yaml:1:10: `predict: predict:Predictor` must name a Python file and a class or function in it, like predict: "predict.py:Predictor"'),
    ("run format", "run: run.py\n", {}, 'cog.yaml:1:6: `run: run.py` must name a Python file and a class or function in it, like run: "predict.py:Predictor"'),
    ("predict and run", "predict: p.py:P\nrun: r.py:R\n", {}, "cog.yaml:2:1: set predict: or run:, not both"),
    ("train format", "train: train.py\n", {}, 'cog.yaml:1:8: `train: train.py` must name a Python file and a class or function in it, like train: "train.py:train"'),
    ("model format", "model: 'model.py:'\n", {}, "cog.yaml:1:8: `model: model.py:` must name a Python file"),
    ("original example without input", "model: m.py:M\nexamples:\n  - output: 1\n", {}, "cog.yaml:3:5: `examples[0].input` is required"),
    ("env not name=value", "environment:\n  - FOO\n", {}, "cog.yaml:2:5: `FOO` must be NAME=value"),
    ("env invalid name", "environment:\n  - 1FOO=x\n", {}, "cog.yaml:2:5: `1FOO` is not a valid environment variable name"),
    ("env duplicate", "environment:\n  - FOO=a\n  - FOO=b\n", {}, "cog.yaml:3:5: `FOO` is set twice"),
    ("env deny PATH", "environment:\n  - PATH=/x\n", {}, "cog.yaml:2:5: `PATH` is set by cog and the image and cannot be overridden"),
    ("env deny prefix", "environment:\n  - CUDA_HOME=/x\n", {}, "cog.yaml:2:5: `CUDA_HOME` is set by cog"),
    ("env deny NVIDIA", "environment:\n  - NVIDIA_VISIBLE_DEVICES=all\n", {}, "cog.yaml:2:5: `NVIDIA_VISIBLE_DEVICES` is set by cog"),
    ("env deny LD_LIBRARY_PATH", "environment:\n  - LD_LIBRARY_PATH=/x\n", {}, "cog.yaml:2:5: `LD_LIBRARY_PATH` is set by cog"),
    ("both requirements and packages", "build:\n  python_requirements: requirements.txt\n  python_packages: [numpy]\n", {"requirements.txt": ""}, "cog.yaml:3:3: set python_requirements or python_packages, not both"),
    ("requirements file missing", "build:\n  python_requirements: reqs.txt\n", {}, "cog.yaml:2:24: python_requirements names `reqs.txt`, which does not exist"),
    ("requirements bad line", "build:\n  python_requirements: requirements.txt\n", {"requirements.txt": "numpy\nfoo bar baz\n"}, "requirements.txt:2: pip cannot read `foo bar baz`"),
    ("requirement outside the project", "build:\n  python_requirements: requirements.txt\n", {"requirements.txt": "numpy\n../sibling\n"}, "requirements.txt:2: `../sibling` is outside the project directory"),
    ("absolute file requirement", "build:\n  python_requirements: requirements.txt\n", {"requirements.txt": "file:///opt/pkg\n"}, "requirements.txt:1: `file:///opt/pkg` is outside the project directory"),
    ("python_packages bad entry", "build:\n  python_packages:\n    - 'numpy 1.0'\n", {}, "cog.yaml:3:7: pip cannot read `numpy 1.0`"),
    ("python_packages option", "build:\n  python_packages:\n    - '-r other.txt'\n", {}, "cog.yaml:3:7: `-r other.txt` must be one package requirement"),
    ("apt package name", "build:\n  system_packages:\n    - 'ffmpeg; rm -rf /'\n", {}, "cog.yaml:3:7: `ffmpeg; rm -rf /` is not an apt package name"),
    ("architectures value", "environment:\n  architectures: [tpu]\n", {}, "cog.yaml:2:19: `environment.architectures[0]` must be one of 'cpu' or 'gpu'"),
    ("architectures empty", "environment:\n  architectures: []\n", {}, "cog.yaml:2:18: environment.architectures is empty"),
    ("original gpu and architectures", "environment:\n  gpu: true\n  architectures: [cpu]\n", {},
     "cog.yaml:2:3: set environment.gpu or environment.architectures, not both"),
    ("mixed dialects", "environment:\n  python_version: '3.11'\npredict: p.py:P\n", {}, "cog.yaml:3:1: mixes two cog.yaml formats (`environment` and `predict`)"),
    ("mixed model and build", "model: m.py:M\nbuild:\n  gpu: true\n", {}, "cog.yaml:2:1: mixes two cog.yaml formats (`model` and `build`)"),
    ("concurrency below one", "concurrency:\n  max: 0\n", {}, "cog.yaml:2:8: `concurrency.max` must be at least 1, not 0"),
    ("concurrency target above max", "concurrency:\n  max: 2\n  default_target: 3\n", {}, "cog.yaml:3:19: concurrency.default_target (3) cannot exceed concurrency.max (2)"),
    ("image name", "image: My Model\n", {}, "cog.yaml:1:8: `My Model` is not an image name"),
    ("environment wrong type", "environment: FOO=bar\n", {}, 'cog.yaml:1:14: `environment` must be a list, not the string "FOO=bar"'),
    ("mapping key not a name", "build:\n  [a]: 1\n", {}, "cog.yaml:2:3: a mapping key must be a plain name"),
    ("tracing not a boolean", "build:\n  tracing: otlp\n", {}, "cog.yaml:2:12: `build.tracing` must be true or false, not the string \"otlp\""),
    # build.python_overrides
    ("overrides file missing", "build:\n  python_overrides: over.txt\n", {}, "cog.yaml:2:21: python_overrides names `over.txt`, which does not exist next to cog.yaml"),
    ("overrides is a directory", "build:\n  python_overrides: over\n", {"over/x.txt": ""}, "cog.yaml:2:21: python_overrides names `over`, which is a directory"),
    ("overrides empty name", "build:\n  python_overrides: ''\n", {}, "cog.yaml:2:21: python_overrides is empty"),
    ("overrides not a string", "build:\n  python_overrides: [a.txt]\n", {}, "cog.yaml:2:21: `build.python_overrides` must be a string, not a list"),
    ("overrides bad line", "build:\n  python_overrides: over.txt\n", {"over.txt": "six\nfoo bar baz\n"}, "over.txt:2: pip cannot read `foo bar baz`"),
    ("python_version with a local part", "build:\n  python_version: '3.11+local'\n", {}, "cog.yaml:2:19: `3.11+local` is not a Python version such as 3.12 or 3.12.4"),
    ("python_version with four parts", "build:\n  python_version: '3.11.4.5'\n", {}, "cog.yaml:2:19: `3.11.4.5` is not a Python version"),
    ("python_version with a v", "environment:\n  python_version: 'v3.11'\n", {}, "cog.yaml:2:19: `v3.11` is not a Python version"),
    ("workdir across lines", "model: m.py:M\nworkdir: \"/a\\nRUN x\"\n", {}, "cog.yaml:2:10: `workdir: /a\\nRUN x` must be an absolute path of letters, digits and . _ - / (such as /src)"),
    ("workdir relative", "model: m.py:M\nworkdir: src\n", {}, "cog.yaml:2:10: `workdir: src` must be an absolute path"),
    ("workdir cog's own", "model: m.py:M\nworkdir: /opt/cog\n", {}, "cog.yaml:2:10: `workdir: /opt/cog` must be an absolute path of letters, digits and . _ - / (such as /src), and not / or cog's /opt/cog"),
    ("extra index url across lines", "environment:\n  python_extra_index_urls: [\"http://x\\nRUN y\"]\n", {}, "cog.yaml:2:29: `environment.python_extra_index_urls[0]` must be one URL, without spaces or line breaks"),
    ("find links with a space", "environment:\n  python_find_links: ['a b']\n", {}, "cog.yaml:2:23: `environment.python_find_links[0]` must be one URL"),
    ("requirements outside the project", "build:\n  python_requirements: /etc/passwd\n", {}, "cog.yaml:2:24: python_requirements names `/etc/passwd`, which is outside the project directory; name a file in it"),
    ("requirements above the project", "build:\n  python_requirements: ../r.txt\n", {}, "cog.yaml:2:24: python_requirements names `../r.txt`, which is outside the project directory"),
    ("requirements a directory", "build:\n  python_requirements: reqs\n", {"reqs/a.txt": ""}, "cog.yaml:2:24: python_requirements names `reqs`, which is a directory, not a file"),
    ("a NUL in cog.yaml", "build:\n  gpu: fa\x00lse\n", {}, "cog.yaml:2:10: is not valid YAML: it holds the character U+0000, which YAML does not allow"),
    ("requirements not UTF-8", "build:\n  python_requirements: requirements.txt\n", {"requirements.txt": b"numpy\xff\xfe\n"}, "requirements.txt: is not UTF-8 text (byte 5)"),
    ("requirements include missing", "build:\n  python_requirements: requirements.txt\n", {"requirements.txt": "-r other.txt\n"}, "requirements.txt: includes other.txt (-r/-c), which cannot be opened: no such file or directory"),
    ("requirements include a directory", "build:\n  python_requirements: requirements.txt\n", {"requirements.txt": "-r sub\n", "sub/x.txt": ""}, "requirements.txt: includes sub (-r/-c), which cannot be opened: is a directory"),
    ("requirements include not UTF-8", "build:\n  python_requirements: requirements.txt\n", {"requirements.txt": "-c c.txt\n", "c.txt": b"six\xff\n"}, "requirements.txt: a file it includes (-r/-c) is not UTF-8 text (byte 3)"),
    ("overrides not UTF-8", "build:\n  python_overrides: over.txt\n", {"over.txt": b"six\xff\n"}, "over.txt: is not UTF-8 text (byte 3)"),
    ("overrides include missing", "build:\n  python_overrides: over.txt\n", {"over.txt": "-r nope.txt\n"}, "over.txt: includes nope.txt (-r/-c), which cannot be opened: no such file or directory"),
    ("overrides bare url", "build:\n  python_overrides: over.txt\n", {"over.txt": "https://example.com/pkg-1.0.tar.gz\n"}, "over.txt:1: `https://example.com/pkg-1.0.tar.gz`: an override must name its package"),
    ("overrides local path", "build:\n  python_overrides: over.txt\n", {"over.txt": "./wheels/x-1.0-py3-none-any.whl\n", "wheels/x-1.0-py3-none-any.whl": ""}, "over.txt:1: `./wheels/x-1.0-py3-none-any.whl`: an override cannot be a path or editable; pin a version or a URL"),
    ("overrides editable", "build:\n  python_overrides: over.txt\n", {"over.txt": "-e ./mylib\n", "mylib/setup.py": ""}, "over.txt:1: `-e ./mylib`: an override"),
    ("overrides named local path", "build:\n  python_overrides: over.txt\n", {"over.txt": "mylib @ file:./mylib\n", "mylib/setup.py": ""}, "over.txt:1: `mylib @ file:./mylib`: an override cannot be a path or editable"),
    ("overrides constraints", "build:\n  python_overrides: over.txt\n", {"over.txt": "-c c.txt\n", "c.txt": "six==1\n"}, "c.txt:1: `six==1`: python_overrides cannot include constraints (-c)"),
    ("overrides in the original dialect", "environment:\n  python_overrides: over.txt\n", {}, "cog.yaml:2:3: unknown key `python_overrides` under `environment`"),
    # build.fast, build.cog_runtime, build.sdk_version
    ("fast not a bool", "build:\n  fast: 'yes'\n", {}, 'cog.yaml:2:9: `build.fast` must be true or false, not the string "yes"'),
    ("cog_runtime not a bool", "build:\n  cog_runtime: 1\n", {}, "cog.yaml:2:16: `build.cog_runtime` must be true or false, not the number 1"),
    ("sdk_version not a version", "build:\n  sdk_version: latest\n", {}, "cog.yaml:2:16: `build.sdk_version: latest` is not a version (0.16.8) or a version specifier (>=0.16,<0.17)"),
    ("sdk_version package spec", "build:\n  sdk_version: cog==0.16.8\n", {}, "cog.yaml:2:16: `build.sdk_version: cog==0.16.8` is not a version"),
    ("sdk_version empty", "build:\n  sdk_version: ''\n", {}, "cog.yaml:2:16: `build.sdk_version: ` is not a version"),
    ("sdk_version a list", "build:\n  sdk_version: [1]\n", {}, "cog.yaml:2:16: `build.sdk_version`"),
    # weights:
    ("weights not a list", "weights: https://x\n", {}, 'cog.yaml:1:10: `weights` must be a list, not the string "https://x"'),
    ("weights item a string", "weights:\n  - https://x\n", {}, 'cog.yaml:2:5: `weights[0]` must be a mapping, {source: URL, target: PATH} or {name: NAME, source: {uri: URI}, target: PATH}, not the string "https://x"'),
    ("weights misspelled key", "weights:\n  - source: https://x\n    targt: /w\n", {}, "cog.yaml:3:5: unknown key `targt` under `weights`; did you mean `target`?"),
    ("weights old url key", "weights:\n  - url: https://x\n", {}, "cog.yaml:2:5: unknown key `url` under `weights`; known keys: source, target"),
    ("weights missing source", "weights:\n  - target: /w\n", {}, "cog.yaml:2:5: `weights[0].source` is required"),
    ("weights source not a string", "weights:\n  - source: 3\n", {}, "cog.yaml:2:13: `weights[0].source` must be a string, not the number 3"),
    ("weights source empty", "weights:\n  - source: ' '\n", {}, "cog.yaml:2:13: `weights[0].source` is empty"),
    ("weights duplicate target", "weights:\n  - {source: a, target: /w}\n  - {source: b, target: /w}\n", {}, "cog.yaml:3:25: weights[1] has the same target as weights[0] (`/w`); each needs its own"),
    ("managed weights source a string", "weights:\n  - name: base\n    source: hf://x\n    target: /w\n", {}, 'cog.yaml:3:13: `weights[0].source` must be a mapping, not the string "hf://x"'),
    ("managed weights missing uri", "weights:\n  - name: base\n    source: {include: ['*']}\n    target: /w\n", {}, "cog.yaml:3:13: `weights[0].source.uri` is required"),
    ("managed weights missing target", "weights:\n  - name: base\n    source: {uri: hf://x}\n", {}, "cog.yaml:2:5: `weights[0].target` is required"),
    ("managed weights missing name", "weights:\n  - source: {uri: hf://x}\n    target: /w\n", {}, "cog.yaml:2:5: `weights[0].name` is required"),
    ("managed weights misspelled key", "weights:\n  - name: base\n    source:\n      uri: hf://x\n      inclde: ['*']\n    target: /w\n", {}, "cog.yaml:5:7: unknown key `inclde` under `weights.source`; did you mean `include`?"),
    ("managed weights include a string", "weights:\n  - name: base\n    source: {uri: hf://x, include: '*.bin'}\n    target: /w\n", {}, 'cog.yaml:3:36: `weights[0].source.include` must be a list, not the string "*.bin"'),
    ("managed weights empty glob", "weights:\n  - name: base\n    source: {uri: hf://x, exclude: ['']}\n    target: /w\n", {}, "cog.yaml:3:37: `weights[0].source.exclude[0]` is empty"),
    ("managed weights empty name", "weights:\n  - name: ''\n    source: {uri: hf://x}\n    target: /w\n", {}, "cog.yaml:2:11: `weights[0].name` is empty"),
    ("managed weights duplicate name", "weights:\n  - {name: a, source: {uri: x}, target: /a}\n  - {name: a, source: {uri: y}, target: /b}\n", {}, "cog.yaml:3:12: weights[1] has the same name as weights[0] (`a`)"),
    ("weights in the original dialect", "environment:\n  python_version: '3.11'\nweights:\n  - source: x\n", {}, "cog.yaml:3:1: mixes two cog.yaml formats (`environment` and `weights`)"),
    # model: the original's Python reference or today's registry repository
    ("model neither form", "model: My Model\n", {}, 'cog.yaml:1:8: `model: My Model` must be the model\'s Python class, like model: "model.py:Model" (the original cog.yaml format), or its registry repository, like model: r8.im/owner/model (today\'s Cog; lowercase, no tag)'),
    ("model without .py", "model: model:Model\n", {}, "cog.yaml:1:8: `model: model:Model` must be the model's Python class"),
    ("model repository uppercase", "model: r8.im/User/Model\npredict: p.py:P\n", {}, "cog.yaml:1:8: `model: r8.im/User/Model` must be the model's Python class"),
    ("model repository with a tag", "model: r8.im/user/model:latest\n", {}, "cog.yaml:1:8: `model: r8.im/user/model:latest` must be the model's Python class"),
    ("model neither in the original dialect", "environment:\n  python_version: '3.11'\nmodel: my model\n", {}, "cog.yaml:3:8: `model: my model` must be the model's Python class"),
    ("model repository with environment mapping", "environment:\n  python_version: '3.11'\nmodel: r8.im/user/model\n", {}, "cog.yaml:3:1: mixes two cog.yaml formats (`environment` and `model`)"),
    ("model reference with image", "model: m.py:M\nimage: r8.im/user/model\n", {}, "cog.yaml:2:1: mixes two cog.yaml formats (`model` and `image`)"),
    ("model not a string", "model: 3\n", {}, "cog.yaml:1:8: `model` must be a string, not the number 3"),
]


@pytest.mark.parametrize(("text", "files", "expected"), [case[1:] for case in ERRORS], ids=[case[0] for case in ERRORS])
def test_error_names_location_and_fix(make_project, text, files, expected):
    project = make_project(files)
    with pytest.raises(ConfigError) as caught:
        parse(text, project)
    message = str(caught.value)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_error_for_unreadable_file(make_project):
    project = make_project({"cog.yaml": b"build:\n  gpu: \xff\n"})
    with pytest.raises(ConfigError, match=r"^cog.yaml: is not UTF-8 text"):
        load_config(project / "cog.yaml", display="cog.yaml")


def test_unsupported_pip_options_warn_with_their_line(make_project):
    project = make_project({"requirements.txt": "--trusted-host pypi.example.com\nnumpy\n"})
    config = parse("build:\n  python_requirements: requirements.txt\n", project)
    assert [str(w) for w in config.warnings] == [
        "requirements.txt:1: `--trusted-host pypi.example.com` is ignored: cog's installer (uv) has no such option"]


@pytest.mark.parametrize(("text", "expected"), [
    ("build:\n  cuda: '12.4'\n", "cog.yaml:2:9: build.cuda is set but no GPU image is built; set build.gpu: true"),
    ("environment:\n  architectures: [cpu]\n  cudnn: '9'\n",
     "cog.yaml:3:10: environment.cudnn is set but no GPU image is built; add gpu to environment.architectures"),
])
def test_cuda_without_gpu_warns(text, expected):
    assert expected in [str(w) for w in parse(text).warnings]


def test_completed_config_is_todays_dialect_with_defaults(make_project):
    from cog.config.model import completed_config

    project = make_project({"requirements.txt": "numpy==1.26.4\n"})
    config = parse(SEED_CONFIG, project)
    assert completed_config(config) == {
        "build": {"python_version": "3.8", "gpu": True, "python_packages": ["numpy==1.26.4"],
                  "system_packages": ["ffmpeg", "libavcodec-dev"], "run": []},
        "predict": "model.py:JazzSoloComposerModel",
        "concurrency": {"max": 1},
        "environment": [],
    }


def test_build_tracing_asks_for_the_sdk_and_is_recorded_in_the_completed_config():
    from cog.config.model import completed_config

    assert parse("build:\n  python_version: '3.11'\n").tracing is False
    config = parse("build:\n  python_version: '3.11'\n  tracing: true\n")
    assert config.tracing is True and completed_config(config)["build"]["tracing"] is True


def test_alias_bomb_is_refused_quickly():
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(ConfigError, match=r"^cog.yaml:\d+:\d+: expands to more than 100,000 values"):
        parse("\n".join(lines) + "\n")


@pytest.mark.parametrize("depth", [500, 5000])
def test_deep_nesting_is_a_located_error_not_a_crash(depth):
    with pytest.raises(ConfigError, match="nested too deeply|must be"):
        parse("build: " + "[" * depth + "]" * depth + "\n")


@pytest.mark.parametrize(("text", "variants"), [
    ("build:\n  gpu: false\n", ("cpu",)),
    ("build:\n  gpu: true\n", ("cpu", "gpu")),
    ("environment:\n  architectures: [gpu]\n", ("gpu",)),
    ("environment: {}\n", ("cpu", "gpu")),
])
def test_package_variants(text, variants):
    from cog.config.model import package_variants

    assert package_variants(parse(text)) == variants
