"""cog generate-manifests through the real CLI, against images in the engine: what it prints for a cog image, and
the one line it says for an image that is not there or was not built by cog."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml

pytestmark = pytest.mark.docker


def test_a_cog_image_gets_valid_kubernetes_manifests_named_after_it(cog, hello_images):
    v1, _ = hello_images
    printed = cog("generate-manifests", "--replicas", "2", v1)
    assert printed.stderr == ""
    deployment, service = yaml.safe_load_all(printed.stdout)
    for document in (deployment, service):
        kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)
    assert deployment["metadata"]["name"] == service["metadata"]["name"] == v1.split(":")[0]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == v1 and deployment["spec"]["replicas"] == 2
    assert "resources" not in container  # hello-world's is a CPU image


def _one_error_line(result) -> str:
    assert result.returncode == 1 and result.stdout == "", result
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
    return result.stderr.rstrip("\n")


def test_an_image_not_built_by_cog_is_one_line(cog):
    # The python:3.11-slim stand-in is in every test engine (scripts/make-base-images.sh), without cog's labels.
    line = _one_error_line(cog("generate-manifests", "python:3.11-slim", check=False))
    assert line == ("error: python:3.11-slim has no cog labels (run.cog.version): it was not built by cog build; "
                    "build it with cog build -t python:3.11-slim")


def test_an_unknown_image_is_one_line(cog, run_id):
    image = f"127.0.0.1:5000/{run_id}/nothing:here"  # the open test registry on loopback: nothing to pull
    line = _one_error_line(cog("generate-manifests", image, check=False))
    assert line.startswith(f"error: cannot make manifests for {image}: there is no image {image} here and it "
                           f"could not be pulled from 127.0.0.1:5000")


def test_a_bad_option_is_one_line_before_any_image_is_looked_for(cog):
    line = _one_error_line(cog("generate-manifests", "--replicas", "none", "no-such-image", check=False))
    assert line == "error: --replicas none: give a whole number of at least 1"
    line = _one_error_line(cog("generate-manifests", "--endpoint-mode", "dnsrr", "no-such-image", check=False))
    assert line == "error: --endpoint-mode is for --target swarm (a Kubernetes Service has no endpoint mode)"
