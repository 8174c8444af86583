"""cog generate-manifests' pure stage: labels and options → Kubernetes and Swarm YAML. Every Kubernetes document is
validated offline, strictly, against Kubernetes' published OpenAPI schemas (kubernetes-validate), and every stack
file by the docker CLI's own Compose loader (docker stack config)."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading

import kubernetes_validate
import pytest
import yaml
from hypothesis import given, settings, strategies as st

from cog.deploy.manifests import (
    EXIT_MARGIN, LIVENESS_PATH, METRICS_PATH, PORT, READINESS_PATH, SERVER_PYTHON, EndpointMode, Target, deployment,
    options, render,
)
from cog.errors import CogError

COG = {"run.cog.version": "0.1.0", "org.opencontainers.image.title": "hello-world"}
GPU = {**COG, "run.cog.cuda": "12.4", "run.cog.cudnn": "9"}
# The oldest Kubernetes still in common support, and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())


def kubernetes(image="r.example/me/hello-world:v1", labels=COG, **chosen) -> tuple[dict, dict]:
    """The (Deployment, Service) rendered, each validated strictly against every Kubernetes version above."""
    documents = [d for d in yaml.safe_load_all(render(deployment(image, labels, options(**chosen)), Target.kubernetes)) if d]
    for document in documents:
        for version in KUBERNETES_VERSIONS:
            kubernetes_validate.validate(document, version, strict=True)
    assert [d["kind"] for d in documents] == ["Deployment", "Service"]
    return documents[0], documents[1]


def swarm(image="r.example/me/hello-world:v1", labels=COG, **chosen) -> dict:
    """The stack file rendered, checked by docker stack config (which rejects what Compose file format 3 does not
    allow), and the service in it."""
    text = render(deployment(image, labels, options(**chosen)), Target.swarm)
    checked = subprocess.run(["docker", "stack", "config", "-c", "-"], input=text, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    stack = yaml.safe_load(text)
    (service,) = stack["services"].values()
    return stack, service


def container(deployment_document: dict) -> dict:
    (only,) = deployment_document["spec"]["template"]["spec"]["containers"]
    return only


# --- Kubernetes -----------------------------------------------------------------------------------------------


def test_kubernetes_probes_use_the_runtime_endpoints_on_its_port():
    model = container(kubernetes()[0])
    assert model["ports"] == [{"name": "http", "containerPort": PORT, "protocol": "TCP"}]
    assert model["startupProbe"]["httpGet"] == {"path": READINESS_PATH, "port": "http"}
    assert model["readinessProbe"]["httpGet"] == {"path": READINESS_PATH, "port": "http"}
    assert model["livenessProbe"]["httpGet"] == {"path": LIVENESS_PATH, "port": "http"}


@pytest.mark.parametrize(("setup_timeout", "checks"), [(300, 60), (301, 61), (1, 1), (0.5, 1), (3600, 720)])
def test_the_startup_probe_allows_the_setup_timeout(setup_timeout, checks):
    probe = container(kubernetes(setup_timeout=setup_timeout)[0])["startupProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] >= setup_timeout
    assert probe["failureThreshold"] == checks


@pytest.mark.parametrize("grace", ["0", "30", "600"])
def test_the_pod_gets_the_drain_and_a_margin_to_exit(grace):
    deployment_document, _ = kubernetes(shutdown_grace=grace)
    assert deployment_document["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == int(grace) + EXIT_MARGIN
    assert {"name": "COG_SHUTDOWN_GRACE_SECONDS", "value": grace} in container(deployment_document)["env"]


def test_a_rollout_adds_a_pod_before_it_removes_one():
    strategy = kubernetes()[0]["spec"]["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}


def test_prometheus_finds_the_metrics_of_each_pod():
    annotations = kubernetes()[0]["spec"]["template"]["metadata"]["annotations"]
    assert annotations == {"prometheus.io/scrape": "true", "prometheus.io/port": str(PORT), "prometheus.io/path": METRICS_PATH}


def test_the_gpu_image_asks_for_a_gpu_and_the_cpu_image_for_none():
    assert container(kubernetes(labels=GPU)[0])["resources"] == {"limits": {"nvidia.com/gpu": 1}}
    assert "resources" not in container(kubernetes(labels=COG)[0])


def test_the_service_selects_the_pods_of_the_deployment():
    deployment_document, service = kubernetes(replicas="4")
    assert deployment_document["spec"]["replicas"] == 4
    pod_labels = deployment_document["spec"]["template"]["metadata"]["labels"]
    assert deployment_document["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]


@pytest.mark.parametrize(("version", "label"), [
    ("v1.2.0", "v1.2.0"), ("v1.2-3-gabc1234-dirty", "v1.2-3-gabc1234-dirty"), ("abc1234", "abc1234"),
    ("v1+build", None), ("x" * 64, None), (None, None),
])
def test_the_image_version_is_a_label_when_a_label_can_hold_it(version, label):
    labels = {**COG, "org.opencontainers.image.version": version} if version else COG
    metadata = kubernetes(labels=labels)[0]["metadata"]["labels"]
    assert metadata.get("app.kubernetes.io/version") == label


# --- Swarm ----------------------------------------------------------------------------------------------------


def test_swarm_stack_rolls_out_start_first_with_replicas_and_a_readiness_healthcheck():
    stack, service = swarm(replicas="3")
    assert stack["version"].startswith("3.")
    assert service["deploy"]["replicas"] == 3
    assert service["deploy"]["update_config"]["order"] == "start-first"
    assert service["deploy"]["rollback_config"]["order"] == "start-first"
    test = service["healthcheck"]["test"]
    assert test[0] == "CMD" and READINESS_PATH in test[-1]
    assert service["healthcheck"]["start_period"] == "300s"
    assert service["stop_grace_period"] == f"{30 + EXIT_MARGIN}s"
    assert service["environment"]["COG_SHUTDOWN_GRACE_SECONDS"] == "30"


class _Readiness(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        self.send_response(self.status if self.path == READINESS_PATH else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_the_swarm_healthcheck_passes_only_while_readyz_answers_200(status, healthy):
    """The stack's healthcheck command, run as Docker runs it (with this Python for the image's), against a
    server on loopback answering /readyz with `status` on $PORT."""
    _, service = swarm()
    kind, python, *arguments = service["healthcheck"]["test"]
    assert (kind, python) == ("CMD", SERVER_PYTHON)
    handler = type("Handler", (_Readiness,), {"status": status})
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            probe = subprocess.run([sys.executable, *arguments], env={"PORT": str(server.server_address[1])},
                                   capture_output=True, timeout=30)
        finally:
            server.shutdown()
    assert (probe.returncode == 0) == healthy, probe.stderr


def test_swarm_defaults_to_a_virtual_ip_published_on_the_runtime_port():
    _, service = swarm()
    assert service["deploy"]["endpoint_mode"] == "vip"
    assert service["ports"] == [{"target": PORT, "published": PORT, "protocol": "tcp"}]


def test_swarm_dnsrr_publishes_nothing_and_lets_a_load_balancer_join_the_network():
    stack, service = swarm(endpoint_mode=EndpointMode.dnsrr, name="hello")
    assert service["deploy"]["endpoint_mode"] == "dnsrr"  # the routing mesh needs a virtual IP: no ports
    assert "ports" not in service
    (network,) = stack["networks"].values()
    assert network == {"name": "hello", "driver": "overlay", "attachable": True}
    assert service["networks"] == list(stack["networks"])


def test_swarm_gpu_image_reserves_a_gpu():
    _, service = swarm(labels=GPU)
    assert service["deploy"]["resources"]["reservations"]["generic_resources"] == [
        {"discrete_resource_spec": {"kind": "NVIDIA-GPU", "value": 1}}]
    assert "resources" not in swarm(labels=COG)[1]["deploy"]


# --- names, options, bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(("image", "labels", "name"), [
    ("r.example/me/hello-world:v1", COG, "hello-world"),  # the title label
    ("r.example:5000/me/Hello_World:v1", {"run.cog.version": "0.1.0"}, "hello-world"),
    ("hello@sha256:" + "a" * 64, {"run.cog.version": "0.1.0"}, "hello"),
    ("localhost:5000/hello", {"run.cog.version": "0.1.0"}, "hello"),
    ("me/" + "a" * 80, {"run.cog.version": "0.1.0"}, "a" * 63),
    ("me/x", {**COG, "org.opencontainers.image.title": "__My.Model__"}, "my-model"),
])
def test_the_name_comes_from_the_image(image, labels, name):
    assert deployment(image, labels).name == name


def test_a_given_name_wins():
    assert deployment("r.example/me/hello-world:v1", COG, options(name="greeter")).name == "greeter"


@pytest.mark.parametrize(("chosen", "message"), [
    ({"replicas": "0"}, "--replicas 0: give a whole number of at least 1"),
    ({"replicas": "-2"}, "--replicas -2: give a whole number of at least 1"),
    ({"replicas": "three"}, "--replicas three: give a whole number of at least 1"),
    ({"replicas": "1.5"}, "--replicas 1.5: give a whole number of at least 1"),
    ({"replicas": ""}, "--replicas : give a whole number of at least 1"),
    ({"shutdown_grace": "-1"}, "--shutdown-grace -1: give a whole number of at least 0"),
    ({"shutdown_grace": "30s"}, "--shutdown-grace 30s: give a whole number of at least 0"),
    ({"setup_timeout": 0}, "--setup-timeout 0: give a number of seconds above 0"),
    ({"setup_timeout": float("nan")}, "--setup-timeout nan: give a number of seconds above 0"),
    ({"setup_timeout": float("inf")}, "--setup-timeout inf: give a number of seconds above 0"),
    ({"name": "Hello"}, "--name Hello: a name is lowercase letters, digits and '-'"),
    ({"name": "-hello"}, "--name -hello: a name is lowercase letters, digits and '-'"),
    ({"name": "a" * 64}, f"--name {'a' * 64}: a name is lowercase letters"),
])
def test_a_bad_option_is_one_line_naming_it(chosen, message):
    with pytest.raises(CogError) as error:
        options(**chosen)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_an_image_without_cog_labels_is_refused():
    with pytest.raises(CogError, match=r"^python:3.11-slim has no cog labels \(run.cog.version\): it was not built by cog build"):
        deployment("python:3.11-slim", {"maintainer": "someone"})


def test_an_image_no_name_can_be_made_of_needs_name():
    with pytest.raises(CogError, match="give one with --name NAME"):
        deployment("r.example/me/___:v1", {"run.cog.version": "0.1.0"})


# --- every combination, valid ---------------------------------------------------------------------------------

_names = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)
_images = st.from_regex(r"([a-z0-9.-]{1,12}(:[0-9]{2,5})?/)?[a-z0-9_.-]{1,30}(:[A-Za-z0-9_.-]{1,20})?", fullmatch=True)


@settings(max_examples=25, deadline=None)
@given(image=_images, gpu=st.booleans(), replicas=st.integers(1, 1000), grace=st.integers(0, 3600),
       setup=st.floats(0.1, 86400), name=st.none() | _names, version=st.none() | st.text(max_size=70))
def test_every_kubernetes_rendering_is_valid_and_matches_its_options(image, gpu, replicas, grace, setup, name, version):
    labels = {**(GPU if gpu else COG), **({"org.opencontainers.image.version": version} if version is not None else {})}
    labels.pop("org.opencontainers.image.title")  # the name comes from the reference, or --name
    try:
        deployment(image, labels, options(name=name))
    except CogError:
        return  # no name can be made of this reference: test_an_image_no_name_can_be_made_of_needs_name
    deployment_document, service = kubernetes(image, labels, replicas=str(replicas), shutdown_grace=str(grace),
                                              setup_timeout=setup, name=name)
    assert container(deployment_document)["image"] == image
    assert deployment_document["spec"]["replicas"] == replicas
    assert deployment_document["metadata"]["name"] == service["metadata"]["name"] == (name or deployment_document["metadata"]["name"])
    assert ("resources" in container(deployment_document)) == gpu


@settings(max_examples=15, deadline=None)
@given(image=_images, gpu=st.booleans(), replicas=st.integers(1, 1000), grace=st.integers(0, 3600),
       mode=st.sampled_from(EndpointMode))
def test_every_swarm_rendering_is_a_valid_stack(image, gpu, replicas, grace, mode):
    _, service = swarm(image, GPU if gpu else COG, replicas=str(replicas), shutdown_grace=str(grace), endpoint_mode=mode)
    assert service["image"] == image and service["deploy"]["replicas"] == replicas
