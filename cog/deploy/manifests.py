"""An image's labels → the manifests that run it on an orchestrator: a Kubernetes Deployment + Service, or a Docker
Swarm stack file. Pure: labels and options in, YAML text out, through templates/deploy/.

The manifests rely on the contract of the runtime in every image (docs/http.md): it listens on 0.0.0.0:$PORT
(5000), `GET /livez` is 200 while it is alive, `GET /readyz` is 200 only while it can accept predictions (503 while
setup runs, after setup failed, while it drains), `GET /metrics` is Prometheus text, and on SIGTERM it drains for
COG_SHUTDOWN_GRACE_SECONDS before it exits.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from enum import Enum
from functools import cache

from cog.errors import CogError
from cog.resources import templates_dir

# What builds label images with (cog.images.builder); kept here so that this stage imports no build code.
LABEL_VERSION = "run.cog.version"
LABEL_CUDA = "run.cog.cuda"
LABEL_TITLE = "org.opencontainers.image.title"
LABEL_IMAGE_VERSION = "org.opencontainers.image.version"

PORT = 5000
LIVENESS_PATH = "/livez"
READINESS_PATH = "/readyz"
METRICS_PATH = "/metrics"
# The server's interpreter in every image (templates/Dockerfile.j2): Swarm's healthcheck runs inside the container,
# and the image has no curl.
SERVER_PYTHON = "/opt/cog/server/bin/python"
DEFAULT_SHUTDOWN_GRACE = 30  # seconds: the runtime's default, and Kubernetes' default grace period
DEFAULT_SETUP_TIMEOUT = 300  # seconds
# Beyond the drain: time to cancel what is still running, send its webhooks and exit, before the orchestrator kills.
EXIT_MARGIN = 5
PROBE_PERIOD = 5  # seconds between readiness checks; also the unit of the startup allowance

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")  # a Kubernetes label's value


class Target(str, Enum):
    kubernetes = "kubernetes"
    swarm = "swarm"


class EndpointMode(str, Enum):
    """How Swarm exposes a service: one virtual IP balancing over its tasks, or DNS answering every task's address
    (for a load balancer of your own, and on hosts without IPVS, where the virtual IP does not work)."""

    vip = "vip"
    dnsrr = "dnsrr"


@dataclass(frozen=True)
class Options:
    """What the user asked for, checked (options()), before any image is looked at."""

    replicas: int = 1
    name: str | None = None  # a DNS-1123 label; None: the image's name
    shutdown_grace: int = DEFAULT_SHUTDOWN_GRACE  # seconds the runtime drains on SIGTERM
    setup_timeout: int = DEFAULT_SETUP_TIMEOUT  # seconds setup() may take before the orchestrator restarts it
    endpoint_mode: EndpointMode = EndpointMode.vip


@dataclass(frozen=True)
class Deployment:
    """What the manifests say: the options, and what the image's labels decide."""

    image: str
    name: str  # a DNS-1123 label: Kubernetes object names, Swarm service names, DNS names of both
    gpu: bool
    version: str | None  # the image's version label, when the build had one that a Kubernetes label can hold
    options: Options

    @property
    def stop_grace(self) -> int:
        """Seconds between SIGTERM and SIGKILL: the drain and the margin to exit after it."""
        return self.options.shutdown_grace + EXIT_MARGIN

    @property
    def startup_checks(self) -> int:
        """How many failed readiness checks, PROBE_PERIOD apart, cover the setup timeout (Kubernetes'
        startupProbe.failureThreshold): 300 s → 60."""
        return max(1, math.ceil(self.options.setup_timeout / PROBE_PERIOD))


def options(*, replicas: str = "1", name: str | None = None, shutdown_grace: str = str(DEFAULT_SHUTDOWN_GRACE),
            setup_timeout: float = DEFAULT_SETUP_TIMEOUT, endpoint_mode: EndpointMode = EndpointMode.vip) -> Options:
    """The options as typed, checked: a CogError names the one that is wrong."""
    if name is not None and not _DNS_LABEL.match(name):
        raise CogError(f"--name {name}: a name is lowercase letters, digits and '-', starts and ends with a letter "
                       f"or digit, at most 63 characters")
    if not setup_timeout > 0 or math.isinf(setup_timeout):
        raise CogError(f"--setup-timeout {setup_timeout:g}: give a number of seconds above 0")
    return Options(
        replicas=_whole_number("--replicas", replicas, least=1),
        name=name,
        shutdown_grace=_whole_number("--shutdown-grace", shutdown_grace, least=0),
        setup_timeout=math.ceil(setup_timeout),
        endpoint_mode=endpoint_mode,
    )


def deployment(image: str, labels: dict[str, str], chosen: Options = Options()) -> Deployment:
    """The deployment of `image` from its labels: r.example/me/hello:v2 is named hello, a CUDA image asks for a GPU."""
    if LABEL_VERSION not in labels:
        raise CogError(f"{image} has no cog labels ({LABEL_VERSION}): it was not built by cog build; "
                       f"build it with cog build -t {image}")
    return Deployment(image=image, name=chosen.name or _name(image, labels), gpu=LABEL_CUDA in labels,
                      version=_version(labels.get(LABEL_IMAGE_VERSION)), options=chosen)


def render(deployment: Deployment, target: Target) -> str:
    """The manifests of `deployment` for `target`, as YAML: for Kubernetes a Deployment and a Service, for Swarm a
    stack file (Compose file format 3)."""
    template = _environment().get_template(f"deploy/{target.value}.yaml.j2")
    return template.render(
        d=deployment, port=PORT, livez=LIVENESS_PATH, readyz=READINESS_PATH, metrics=METRICS_PATH,
        probe_period=PROBE_PERIOD, healthcheck=_swarm_healthcheck(),
    )


def _name(image: str, labels: dict[str, str]) -> str:
    # The title builds give (the image's name), else the last part of the reference: r.example/me/hello:v2 → hello.
    source = labels.get(LABEL_TITLE) or _repository(image).rsplit("/", 1)[-1]
    name = re.sub(r"[^a-z0-9]+", "-", source.lower()).strip("-")[:63].rstrip("-")
    if not name:
        raise CogError(f"cannot make a name from {image}; give one with --name NAME")
    return name


def _repository(image: str) -> str:
    """The reference without tag or digest: r.example:5000/me/hello:v2 → r.example:5000/me/hello."""
    image = image.split("@", 1)[0]
    head, _, last = image.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]


def _version(text: str | None) -> str | None:
    """The image's version (git describe) when a label value can hold it: v1.2-3-gabc123 stays, v1+x does not."""
    return text if text and _LABEL_VALUE.match(text) else None


def _whole_number(flag: str, text: str, *, least: int) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        value = None
    if value is None or value < least:
        raise CogError(f"{flag} {text}: give a whole number of at least {least}")
    return value


def _swarm_healthcheck() -> list[str]:
    """Docker's healthcheck command: exit 0 when /readyz answers 200 (urlopen raises on 503)."""
    probe = (f"import os, urllib.request; urllib.request.urlopen("
             f"'http://127.0.0.1:' + os.environ.get('PORT', '{PORT}') + '{READINESS_PATH}', timeout=4)")
    return ["CMD", SERVER_PYTHON, "-c", probe]


@cache
def _environment():
    import jinja2  # here: the CLI imports this module for its option types, and its --help stays instant

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # A JSON string is a YAML scalar: any name or reference is quoted safely.
    environment.filters["yaml"] = lambda value: json.dumps(value, ensure_ascii=False)
    return environment
