"""cog build / predict / push against a real engine: images that build, serve and describe themselves."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import httpx

from cog.cli.prediction import Runtime
from cog.images.docker import registry_digest

from tests.docker import SYSTEM_CA_BUNDLE
from tests.images.conftest import OPEN_REGISTRY, mirror_with
from tests.loopback import failing_docker_manifests

REPO = Path(__file__).resolve().parents[2]


def labels(image: str) -> dict[str, str]:
    return json.loads(subprocess.check_output(["docker", "image", "inspect", image, "--format", "{{json .Config.Labels}}"]))


def build_steps(log: str) -> dict[str, str]:
    """Step name → CACHED or DONE, from BuildKit's plain progress output; FROM lines resolve images, build nothing."""
    names, states = {}, {}
    for line in log.splitlines():
        match = re.match(r"^#(\d+) \[(?:stage-\d+|\S+)\s+\d+/\d+\] (.+)$", line)
        if match:
            names[match.group(1)] = match.group(2).strip()
        match = re.match(r"^#(\d+) (CACHED|DONE [0-9.]+s)$", line)
        if match:
            states[match.group(1)] = "CACHED" if match.group(2) == "CACHED" else "DONE"
    return {name: states.get(step, "?") for step, name in names.items() if not name.startswith("FROM ")}


def test_hello_world_builds_and_predicts(cog, project, image_name):
    directory = project("hello-world")
    tag = image_name()
    cog("build", "-t", tag, cwd=directory)
    result = cog("predict", tag, "-i", "text=world", cwd=directory)
    assert result.stdout == "hello world\n"


def test_predict_in_a_project_builds_and_runs_it(cog, project):
    result = cog("predict", "-i", "text=there", cwd=project("hello-world"))
    assert result.stdout == "hello there\n"


def test_file_input_and_file_output(cog, project, tmp_path):
    directory = project("files")
    (tmp_path / "in.txt").write_text("a quiet sentence")
    result = cog("predict", "-i", f"document=@{tmp_path / 'in.txt'}", "-i", "shout=true", "-o", str(tmp_path / "out.txt"), cwd=directory)
    assert (tmp_path / "out.txt").read_text() == "A QUIET SENTENCE (from the weights file)"
    assert "Written" in result.stderr
    assert "read 16 characters" in result.stderr.splitlines()  # what the model printed just before it answered
    default = cog("predict", "-i", f"document=@{tmp_path / 'in.txt'}", cwd=directory)
    assert (directory / "output.txt").read_text() == "a quiet sentence (from the weights file)", default.stderr


def test_code_only_edit_rebuilds_only_the_code_layer(cog, project, image_name):
    directory = project("hello-world")
    tag = image_name()
    cog("build", "-t", tag, cwd=directory)
    # Unique content: BuildKit would rightly reuse a layer that an earlier run built from the same bytes.
    edited = (directory / "predict.py").read_text().replace('"hello"', '"hi"') + f"# {uuid.uuid4().hex}\n"
    (directory / "predict.py").write_text(edited)
    steps = build_steps(cog("build", "-t", tag, "--progress", "plain", cwd=directory).stderr)
    rebuilt = [name for name, state in steps.items() if state != "CACHED"]
    assert rebuilt == ["COPY --from=cog-code /* /"], steps
    assert cog("predict", tag, "-i", "text=you", cwd=directory).stdout == "hi you\n"


def test_pip_in_a_build_command_installs_into_the_models_environment(cog, project, image_name):
    """Cog's projects run `pip install` in build.run: the model's environment has a pip (the base image's, in a
    CPU image), and what it installs is the model's, not the base Python's."""
    directory = project("hello-world")
    (directory / "cog.yaml").write_text('build:\n  python_version: "3.11"\n  run:\n    - pip install six==1.16.0\n'
                                        'predict: "predict.py:Predictor"\n', encoding="utf-8")
    tag = image_name()
    cog("build", "-t", tag, cwd=directory)
    where = subprocess.run(["docker", "run", "--rm", tag, "python", "-c", "import six; print(six.__file__, six.__version__)"],
                           capture_output=True, text=True, check=True).stdout
    assert where == "/opt/cog/model/lib/python3.11/site-packages/six.py 1.16.0\n"


def test_weights_only_edit_does_not_reinstall_dependencies(cog, project, image_name):
    directory = project("files")
    tag = image_name()
    cog("build", "-t", tag, cwd=directory)
    (directory / "weights" / "model.bin").write_text(f"suffix: new weights {uuid.uuid4().hex}\n")
    steps = build_steps(cog("build", "-t", tag, "--progress", "plain", cwd=directory).stderr)
    install = [name for name in steps if "uv pip install" in name and "requirements.txt" in name]
    assert install and all(steps[name] == "CACHED" for name in install), steps
    assert steps["COPY --link --from=cog-weights /weights/ /src/"] == "DONE", steps


def test_labels_describe_the_image(cog, project, image_name):
    directory = project("hello-world")
    tag = image_name()
    cog("build", "-t", tag, cwd=directory)
    found = labels(tag)
    config = json.loads(found["run.cog.config"])
    assert config["predict"] == "predict.py:Predictor" and config["build"]["python_version"] == "3.11"
    assert found["run.cog.version"] == subprocess.check_output(["python", "-c", "import cog; print(cog.__version__)"], text=True).strip()
    container = subprocess.check_output(["docker", "run", "-d", "--rm", "-p", "127.0.0.1::5000", tag], text=True).strip()
    try:
        port = subprocess.check_output(["docker", "port", container, "5000"], text=True).split(":")[-1].strip()
        Runtime.at(f"http://127.0.0.1:{port}").wait_until_ready(60)
        served = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).json()
        assert served == json.loads(found["run.cog.openapi_schema"])
        # The playground's page and scripts travel inside the image, in the cog wheel of its server environment.
        page = httpx.get(f"http://127.0.0.1:{port}/playground", timeout=5)
        assert page.status_code == 200 and 'src="playground/static/playground.js"' in page.text
        for asset in ("common.js", "playground.js", "style.css"):
            shipped = httpx.get(f"http://127.0.0.1:{port}/playground/static/{asset}", timeout=5)
            assert shipped.status_code == 200 and shipped.content == (REPO / "cog" / "web" / asset).read_bytes(), asset
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)


def test_secrets_and_ca_bundle_never_reach_a_layer(cog, project, image_name, tmp_path):
    directory = project("secrets")
    token = f"secret-token-{uuid.uuid4().hex}"
    (tmp_path / "token").write_text(token)
    marker = f"cog-ca-marker-{uuid.uuid4().hex}"
    bundle = tmp_path / "ca.pem"
    bundle.write_text((SYSTEM_CA_BUNDLE.read_text() if SYSTEM_CA_BUNDLE.is_file() else "") + f"# {marker}\n")
    tag = image_name()
    # --no-cache: secrets are not part of BuildKit's cache key, so an earlier run's layer would be reused.
    cog("build", "-t", tag, "--no-cache", "--secret", f"id=token,src={tmp_path / 'token'}", "--ca-bundle", str(bundle), cwd=directory)
    # The build step saw the secret (it recorded its hash)...
    assert cog("predict", tag, cwd=directory).stdout.strip() == hashlib.sha256(token.encode()).hexdigest()
    # ...but no layer holds the secret or the CA bundle.
    archive = tmp_path / "image.tar"
    subprocess.run(["docker", "save", "-o", str(archive), tag], check=True)
    scanned = 0
    with tarfile.open(archive) as outer:
        for member in outer.getmembers():
            if not member.isfile():
                continue
            data = outer.extractfile(member).read()
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            scanned += 1
            assert token.encode() not in data, member.name
            assert marker.encode() not in data, member.name
    assert scanned > 5


def test_setup_failure_is_reported_with_its_logs(cog, project):
    result = cog("predict", cwd=project("broken-setup"), check=False)
    assert result.returncode == 1
    # The model's own output (its traceback too) streams by as Cog shows it; then one error line, the last.
    assert "the weights are missing" in result.stderr.split("error:")[0]
    assert result.stderr.splitlines()[-1].startswith("error: the model's setup failed: ")
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == result.stderr.splitlines()[-1:]
    left = subprocess.check_output(["docker", "ps", "-a", "--filter", "ancestor=cog-broken-setup", "--format", "{{.ID}}"], text=True)
    assert left.strip() == "", "cog predict left the failed model's container behind"


def test_unknown_input_names_the_inputs(cog, project, image_name):
    directory = project("hello-world")
    result = cog("predict", "-i", "txt=world", cwd=directory, check=False)
    assert result.returncode == 1
    assert "error: -i txt: the model has no input named txt (inputs: text)" in result.stderr


def test_gpu_image_builds_without_a_gpu_and_records_cuda(cog, project, image_name):
    directory = project("gpu")
    tag = image_name()
    cog("build", "-t", tag, "--variant", "gpu", cwd=directory)
    found = labels(tag)
    assert (found["run.cog.cuda"], found["run.cog.cudnn"]) == ("12.8.1", "9")
    assert cog("predict", tag, "-i", "n=7", cwd=directory).stdout.strip() == "49"


def test_gpu_build_commands_start_from_the_devel_image_and_keep_their_run_options(cog, project, image_name):
    # A build command may compile CUDA code (nvcc): the devel image, as Cog's. It starts with a RUN option, as
    # replicate/cog-flux writes its commands: the option is the step's, the command runs.
    directory = project("gpu")
    config = (directory / "cog.yaml").read_text()
    (directory / "cog.yaml").write_text(config.replace("build:\n", "build:\n  run:\n    - \"--mount=type=cache,target="
                                                       "/root/.cache/cog-test echo built > /opt/built.txt\"\n", 1))
    tag = image_name()
    cog("build", "-t", tag, "--variant", "gpu", cwd=directory)
    assert labels(tag)["run.cog.base_image"].startswith("nvidia/cuda:12.8.1-cudnn-devel-ubuntu22.04")
    built = subprocess.run(["docker", "run", "--rm", tag, "cat", "/opt/built.txt"], capture_output=True, text=True)
    assert built.stdout == "built\n", built.stderr


def test_amd64_and_arm64_join_in_one_index(cog, project):
    directory = project("hello-world")
    tag = f"{OPEN_REGISTRY}/cog-test/hello:{uuid.uuid4().hex[:8]}"
    cog("build", "-t", tag, "--platform", "linux/amd64,linux/arm64", "--push", cwd=directory)
    inspect = subprocess.check_output(["docker", "buildx", "imagetools", "inspect", tag], text=True)
    platforms = set(re.findall(r"Platform:\s+(linux/\w+)", inspect))
    assert platforms == {"linux/amd64", "linux/arm64"}, inspect
    arch = subprocess.check_output(["docker", "run", "--rm", "--platform", "linux/arm64", tag, "uname", "-m"], text=True)
    assert arch.strip() == "aarch64"


def test_a_registrys_passing_failure_is_pushed_again(cog, project, tmp_path):
    directory = project("hello-world")
    name = f"cog-test/hello:{uuid.uuid4().hex[:8]}"
    again = "the registry answered 500 Internal Server Error to the push; pushing again (try 2 of 3)"
    with failing_docker_manifests(OPEN_REGISTRY, failures=1) as registry:
        built = cog("build", "-t", f"{registry}/{name}", "--push", cwd=directory)
    assert again in built.stderr
    assert registry_digest(f"{OPEN_REGISTRY}/{name}") is not None
    # cog push of an image built here, outside a project: the docker CLI's push, pushed again in the same way.
    with failing_docker_manifests(OPEN_REGISTRY, failures=1) as other:
        subprocess.run(["docker", "tag", f"{registry}/{name}", f"{other}/{name}-again"], check=True)
        pushed = cog("push", f"{other}/{name}-again", cwd=tmp_path)
    assert again in pushed.stderr and f"Pushed {other}/{name}-again" in pushed.stderr
    assert registry_digest(f"{OPEN_REGISTRY}/{name}-again") is not None


def test_a_registry_that_keeps_failing_stops_after_three_tries_with_one_line(cog, project):
    directory = project("hello-world")
    with failing_docker_manifests(OPEN_REGISTRY, failures=None) as registry:
        failed = cog("build", "-t", f"{registry}/cog-test/hello:{uuid.uuid4().hex[:8]}", "--push", cwd=directory,
                     check=False)
    assert failed.returncode == 1
    assert failed.stderr.count("pushing again") == 2, failed.stderr[-2000:]
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the image build failed: ") and "500 Internal Server Error" in last, last


def registry_credentials() -> dict[str, str]:
    """The htpasswd registry that scripts/setup-registry.sh runs, and its test user."""
    state = Path(subprocess.check_output(["bash", "-c", ". scripts/lib.sh && echo $COG_CI_STATE"], text=True,
                                         cwd=Path(__file__).resolve().parents[2]).strip())
    return dict(line.split("=", 1) for line in (state / "registry-auth").read_text().split())


def test_login_and_push_to_a_registry_with_auth(cog, project, image_name, tmp_path):
    credentials = registry_credentials()
    registry = credentials["REGISTRY"]
    env = {"DOCKER_CONFIG": str(tmp_path / "docker-config")}
    wrong = cog("login", registry, "-u", credentials["USERNAME"], "--password-stdin", input="wrong\n", env=env, check=False)
    assert wrong.returncode == 1
    assert len(wrong.stderr.strip().splitlines()) == 1 and wrong.stderr.startswith(f"error: could not log in to {registry}")
    cog("login", registry, "-u", credentials["USERNAME"], "--password-stdin", input=credentials["PASSWORD"] + "\n", env=env)
    assert registry in (tmp_path / "docker-config" / "config.json").read_text()
    directory = project("hello-world")
    tag = f"{registry}/cog-test/hello:{uuid.uuid4().hex[:8]}"
    cog("build", "-t", tag, cwd=directory, env=env)
    pushed = cog("push", tag, cwd=directory, env=env)
    assert f"Pushed {tag}" in pushed.stderr
    subprocess.run(["docker", "image", "rm", tag], capture_output=True)
    # Without the stored credentials the registry refuses to serve it.
    anonymous = subprocess.run(["docker", "pull", tag], capture_output=True, text=True, env={**os.environ, "DOCKER_CONFIG": str(tmp_path / "empty")})
    assert anonymous.returncode != 0


def test_base_image_mirror_for_air_gapped_builds(cog, project, image_name):
    mirror = mirror_with(("python:3.11-slim", "library/python:3.11-slim"), ("ghcr.io/astral-sh/uv:0.13.8", "astral-sh/uv:0.13.8"))
    directory = project("hello-world")
    tag = image_name()
    generated = cog("generate-dockerfile", "--base-image-mirror", mirror, cwd=directory).stdout
    assert f"FROM {mirror}/library/python:3.11-slim" in generated and f"FROM {mirror}/astral-sh/uv:0.13.8 AS uv" in generated
    cog("build", "-t", tag, "--base-image-mirror", mirror, cwd=directory)
    assert cog("predict", tag, "-i", "text=offline", cwd=directory).stdout == "hello offline\n"


def test_builder_without_multi_platform_load_joins_platforms_in_the_registry(project, monkeypatch, cog_env):
    from cog.images import docker
    from cog.images.builder import BuildOptions, build_project
    from cog.config.project import load_project

    monkeypatch.setattr(docker, "capabilities", lambda builder: docker.Capabilities(driver="docker", multi_platform_build=False, multi_platform_load=False))
    directory = project("hello-world")
    tag = f"{OPEN_REGISTRY}/cog-test/joined:{uuid.uuid4().hex[:8]}"
    options = BuildOptions(tag=tag, variants=("cpu",), platforms=("linux/amd64", "linux/arm64"), push=True,
                           progress="quiet", ca_bundle=Path(cog_env["COG_CA_BUNDLE"]) if "COG_CA_BUNDLE" in cog_env else None)
    messages = []
    build_project(load_project(directory / "cog.yaml"), options, messages.append)
    assert any(message.startswith("Joined linux/amd64, linux/arm64 into") for message in messages)
    inspect = subprocess.check_output(["docker", "buildx", "imagetools", "inspect", tag], text=True)
    assert set(re.findall(r"Platform:\s+(linux/\w+)", inspect)) == {"linux/amd64", "linux/arm64"}


def test_train_writes_its_output_to_weights(cog, project):
    directory = project("trainer")
    result = cog("train", "-i", "steps=3", cwd=directory)
    assert (directory / "weights").read_text() == "trained for 3 steps", result.stderr


def test_run_executes_in_the_image_with_the_project_mounted(cog, project):
    directory = project("hello-world")
    (directory / "note.txt").write_text("mounted")
    result = cog("run", "python", "-c", "import sys, pathlib; print(sys.prefix, pathlib.Path('note.txt').read_text())", cwd=directory)
    assert result.stdout.strip() == "/opt/cog/model mounted"


def test_build_context_leaves_out_git_caches_and_ignored_files(cog, project, image_name):
    directory = project("hello-world")
    for relative in (".git/HEAD", "__pycache__/predict.cpython-311.pyc", "notes/private.txt", "scratch.log", "data/keep.txt"):
        (directory / relative).parent.mkdir(parents=True, exist_ok=True)
        (directory / relative).write_text("x")
    (directory / ".dockerignore").write_text("notes/\n")
    (directory / ".cogignore").write_text("*.log\n")
    tag = image_name()
    cog("build", "-t", tag, cwd=directory)
    listing = subprocess.check_output(["docker", "run", "--rm", tag, "find", "/src", "-mindepth", "1"], text=True).split()
    assert {"/src/cog.yaml", "/src/predict.py", "/src/data/keep.txt"} <= set(listing), listing
    left_out = [path for path in listing if any(part in path for part in (".git", "__pycache__", "notes", "scratch.log"))]
    assert left_out == [], listing


def test_serve_publishes_the_model_and_removes_its_container_when_stopped(project, cog_env):
    directory = project("hello-world")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "cog.cli", "serve", "--port", str(port)], cwd=directory,
                               env=cog_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        runtime = Runtime.at(f"http://127.0.0.1:{port}")
        runtime.wait_until_ready(300, lambda: None if process.poll() is None else f"cog serve exited: {process.stdout.read()}")
        assert runtime.predict({"text": "served"})["output"] == "hello served"
        running = subprocess.check_output(["docker", "ps", "--filter", f"publish={port}", "--format", "{{.ID}}"], text=True)
        assert running.strip()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    left = subprocess.check_output(["docker", "ps", "-a", "--filter", f"publish={port}", "--format", "{{.ID}}"], text=True)
    assert left.strip() == "", "cog serve left its container behind"
