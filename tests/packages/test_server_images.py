"""End to end with Docker: `cog build` pushes a package to a cog server, which builds and pushes its image; another
server on the same s3:// store lists, shows and serves it; `cog infer ID` runs it from a directory with no checkout.
A build that fails is visible with its log, and `cog build` again retries it."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from cog.packages.package import scan

from tests.packages.conftest import S3_CREDENTIALS

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REGISTRY = "127.0.0.1:5000"
SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")

pytestmark = pytest.mark.docker


def test_build_on_one_server_infer_through_another(start_server, run_cog, s3_url, s3_endpoint, tmp_path_factory):
    env = {**S3_CREDENTIALS, "FSSPEC_S3_ENDPOINT_URL": s3_endpoint}
    if SYSTEM_CA_BUNDLE.is_file():
        env["COG_CA_BUNDLE"] = str(SYSTEM_CA_BUNDLE)
    registry = f"{REGISTRY}/cog-test-{uuid.uuid4().hex[:10]}"
    builder = start_server("--storage", s3_url, "--docker-registry", registry, env=env)
    token = builder.token_file.read_text()

    project = tmp_path_factory.mktemp("checkout") / "hello-world"
    shutil.copytree(EXAMPLES / "hello-world", project)
    run_cog("repo", "set", f"{builder.url}/alice/hello", cwd=project)
    run_cog("login", builder.url, "--password-stdin", input=token, cwd=project)
    built = run_cog("build", cwd=project, env=env)
    package_id = scan(project).id
    assert built.stdout == f"{package_id}\n"
    assert f"Built and pushed {package_id}" in built.stderr
    assert f"CPU image: {registry}/alice/hello@sha256:" in built.stderr

    reader = start_server("--storage", s3_url, env=env)  # a second replica, no builds of its own
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    run_cog("remote", "set", reader.url, cwd=elsewhere)
    assert f"alice/hello  {package_id[:12]}" in run_cog("list", cwd=elsewhere).stdout
    shown = run_cog("show", package_id[:10], cwd=elsewhere).stdout
    assert f"cpu  succeeded  {registry}/alice/hello@sha256:" in shown
    # How the image was made, from its labels: the base image and the epoch its files carry (no cog.lock here).
    assert "from python:3.11-slim, epoch 315532800\n" in shown
    inferred = run_cog("infer", package_id[:10], "-i", "text=world", cwd=elsewhere)
    assert inferred.stdout == "hello world\n", inferred.stderr

    (project / "cog.yaml").write_text((project / "cog.yaml").read_text().replace("build:\n", "build:\n  run:\n    - exit 3\n"))
    failed = run_cog("build", cwd=project, env=env, check=False)
    broken_id = scan(project).id
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines()[-1].startswith(f"error: the cpu build of {broken_id[:12]} failed: the image build failed")
    assert "exit 3" in failed.stderr  # the end of the build log
    shown = run_cog("show", broken_id[:12], "--logs", cwd=elsewhere).stdout
    assert "cpu  failed" in shown and "--- cpu build log ---" in shown and "exit code: 3" in shown
    retried = run_cog("build", cwd=project, env=env, check=False)
    assert retried.returncode == 1
    assert "CPU image: queued" in retried.stderr or "CPU image: building" in retried.stderr  # built again, not just reported
