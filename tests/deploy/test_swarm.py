"""The stack cog generate-manifests prints, deployed on a real orchestrator: Docker Engine's swarm mode, with
HAProxy in front (cog-ci/haproxy, from Debian's package) resolving the service's tasks through Docker's DNS and
checking /readyz. Predictions flow through it all along, from a bounded load generator on loopback, while the
service rolls out a new version start-first and while one replica is killed.

Docker's routing mesh needs IPVS, which these machines lack, so the stack uses `--endpoint-mode dnsrr` and the
load balancer runs as a plain container on the stack's attachable network, published on loopback.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import httpx
import pytest
import yaml

from cog.deploy.manifests import METRICS_PATH, PORT, READINESS_PATH, SERVER_PYTHON
from tests.deploy.conftest import docker
from tests.loopback import free_port

pytestmark = pytest.mark.docker

REPLICAS = 3
LOAD_WORKERS = 4
LOAD_LIMIT = 100_000  # predictions at most, whatever happens
LOAD_SECONDS = 240  # and seconds at most
OUTPUTS = {"v1": "hello world", "v2": "bonjour world"}

HAPROXY_CFG = """\
global
    log stdout format raw local0
    stats socket /run/haproxy.sock mode 600 level admin
# One line per request, kept in memory (16 MB): a log to stdout drops lines under load, and each one counts here.
ring requests
    format raw
    size 16777216
resolvers docker
    nameserver dns 127.0.0.11:53
    hold valid 1s
    hold obsolete 1s
    timeout resolve 1s
    timeout retry 1s
defaults
    mode http
    log global
    timeout connect 2s
    timeout check 5s
    timeout client 60s
    timeout server 60s
    # What platform teams do in front of replicas that come and go: a request whose replica refused it, reset it
    # or answered 503 (draining) goes to another one.
    option http-buffer-request
    retries 5
    option redispatch 1
    retry-on all-retryable-errors
frontend predictions
    bind :8080
    log ring@requests local0
    # Per request: accept time (s.ms), time until the connection to the replica was made, status, retries, replica.
    log-format "%Ts.%ms %Th %Ti %Tw %Tc %ST %rc %si"
    default_backend replicas
backend replicas
    balance roundrobin
    option httpchk GET {readiness_path}
    http-check expect status 200
    default-server check inter 1s fall 2 rise 1 resolvers docker init-addr none resolve-prefer ipv4
    server-template replica 10 tasks.{service}:{port}
"""


@dataclass
class Load:
    """A bounded load generator: workers sending predictions to `url` until stopped, LOAD_LIMIT or LOAD_SECONDS.

    Each prediction is a PUT /predictions/{id} with an id of its own, as a careful client sends it: a kill can cut a
    response that has begun (no load balancer can retry that), and the client then sends the same PUT once more,
    which is idempotent. Those second tries are counted in `resent`; any answer but 200 is a failure."""

    url: str
    results: list = field(default_factory=list)  # (HTTP status, prediction JSON or error text)
    resent: list = field(default_factory=list)  # (monotonic time, error) of each first try a second one answered
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self):
        self.deadline = time.monotonic() + LOAD_SECONDS
        self.threads = [threading.Thread(target=self._work, daemon=True) for _ in range(LOAD_WORKERS)]
        for thread in self.threads:
            thread.start()

    def _work(self):
        with httpx.Client(base_url=self.url, timeout=60) as client:
            while not self.stop.is_set() and len(self.results) < LOAD_LIMIT and time.monotonic() < self.deadline:
                self.results.append(self._predict(client, uuid.uuid4().hex))

    def _predict(self, client: httpx.Client, prediction_id: str) -> tuple:
        for attempt in range(2):
            try:
                answer = client.put(f"/predictions/{prediction_id}", json={"input": {"text": "world"}})
                return answer.status_code, answer.json() if answer.status_code == 200 else answer.text
            except httpx.TransportError as exc:
                if attempt:
                    return None, repr(exc)
                self.resent.append((time.monotonic(), repr(exc)))

    def count(self) -> int:
        return len(self.results)

    def more(self, n: int = 20) -> None:
        """Wait until n more predictions were answered (the load goes on through whatever happens now)."""
        target = self.count() + n
        while self.count() < target and not self.finished():
            time.sleep(0.05)

    def finished(self) -> bool:
        return not any(thread.is_alive() for thread in self.threads)

    def end(self) -> list:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=90)
        return self.results


@dataclass(frozen=True)
class Replica:
    container: str
    version: str
    address: str
    started: float  # epoch seconds: the container's start
    set_up: float  # epoch seconds: its setup() finished (the runtime's /health-check says)


def _epoch(text: str) -> float:
    """An RFC 3339 time (Docker's, with nanoseconds; the runtime's, with microseconds) → epoch seconds."""
    text = text.replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # at most microseconds for fromisoformat
        digits = "".join(c for c in rest if c.isdigit())
        rest = digits[:6] + rest[len(digits):]
        text = f"{head}.{rest}"
    return datetime.fromisoformat(text).timestamp()


def _inside(container: str, path: str) -> str:
    """GET http://127.0.0.1:PORT/path inside a replica, with the server's own Python (the image has no curl)."""
    script = ("import urllib.request; "
              f"print(urllib.request.urlopen('http://127.0.0.1:{PORT}{path}', timeout=10).read().decode())")
    return docker("exec", container, SERVER_PYTHON, "-c", script).stdout


def _running_replicas(service: str, network: str) -> dict[str, Replica]:
    ids = docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}").stdout.split()
    replicas = {}
    for container in ids:
        (inspected,) = json.loads(docker("inspect", container).stdout)
        health = json.loads(_inside(container, "/health-check"))
        if health["status"] not in ("READY", "BUSY"):  # BUSY: set up, and running a prediction of the load
            continue  # still starting: seen again later
        replicas[container] = Replica(
            container=container,
            version=inspected["Config"]["Image"].rsplit(":", 1)[-1],
            address=inspected["NetworkSettings"]["Networks"][network]["IPAddress"],
            started=_epoch(inspected["State"]["StartedAt"]),
            set_up=_epoch(health["setup"]["completed_at"]),
        )
    return replicas


def _wait_converged(service: str, image: str, replicas: int, budget: float = 120) -> int:
    """Until the service runs `replicas` tasks of `image`, each healthy, and no other; the fewest healthy
    containers it had meanwhile, of any version (start-first keeps them at `replicas` or more)."""
    deadline = time.monotonic() + budget
    fewest = None
    while time.monotonic() < deadline:
        tasks = docker("service", "ps", service, "--filter", "desired-state=running",
                       "--format", "{{.Image}} {{.CurrentState}}").stdout.splitlines()
        containers = docker("ps", "--filter", f"label=com.docker.swarm.service.name={service}",
                            "--format", "{{.Image}} {{.Status}}").stdout.splitlines()
        healthy = [line for line in containers if "(healthy)" in line]
        fewest = len(healthy) if fewest is None else min(fewest, len(healthy))
        if (len(tasks) == len(containers) == len(healthy) == replicas
                and all(task.startswith(f"{image} Running") for task in tasks)
                and all(line.startswith(image) for line in healthy)):
            return fewest
        time.sleep(0.5)
    raise AssertionError(f"{service} did not converge on {replicas} healthy tasks of {image}:\n"
                         + docker("service", "ps", service, "--no-trunc").stdout)


def _wait_update_completed(service: str, budget: float = 120) -> None:
    """Until swarm calls the update done: past the monitor period of its last task (a replica lost before that
    would count as a failed update and roll it back)."""
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        state = docker("service", "inspect", "--format", "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}",
                       service).stdout.strip()
        if state == "completed":
            return
        assert "rollback" not in state, f"the update of {service} was rolled back ({state})"
        time.sleep(1)
    raise AssertionError(f"the update of {service} did not complete")


def _stack_file(cog, image: str, name: str) -> str:
    printed = cog("generate-manifests", "--target", "swarm", "--endpoint-mode", "dnsrr", "--replicas", str(REPLICAS),
                  "--shutdown-grace", "10", "--name", name, image).stdout
    stack = yaml.safe_load(printed)
    service = stack["services"][name]
    assert service["deploy"]["update_config"]["order"] == "start-first"
    assert READINESS_PATH in service["healthcheck"]["test"][-1]
    return printed


@pytest.fixture
def deployed(cog, hello_images, swarm_mode, run_id, tmp_path):
    """The v1 stack deployed with REPLICAS replicas and HAProxy in front: (service, network, load balancer URL)."""
    v1, _ = hello_images
    name = f"{run_id}-model"
    stack = f"{run_id}-stack"
    service = f"{stack}_{name}"
    stack_file = tmp_path / "stack.yml"
    stack_file.write_text(_stack_file(cog, v1, name), encoding="utf-8")
    config = tmp_path / "haproxy.cfg"
    config.write_text(HAPROXY_CFG.format(readiness_path=READINESS_PATH, service=service, port=PORT))
    balancer = f"{run_id}-lb"
    port = free_port()
    try:
        docker("stack", "deploy", "--resolve-image", "never", "-c", str(stack_file), stack)
        _wait_converged(service, v1, REPLICAS)
        docker("run", "-d", "--name", balancer, "--network", name, "-p", f"127.0.0.1:{port}:8080",
               "-v", f"{config}:/etc/haproxy/haproxy.cfg:ro", "cog-ci/haproxy")
        url = f"http://127.0.0.1:{port}"
        _wait_answering(url)
        yield service, name, balancer, url
    finally:
        docker("rm", "-f", balancer, check=False)
        docker("stack", "rm", stack, check=False)
        _wait_gone(service, name)


def _wait_answering(url: str, budget: float = 60) -> None:
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        try:
            if httpx.post(f"{url}/predictions", json={"input": {"text": "world"}}, timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"the load balancer at {url} did not answer a prediction")


def _wait_gone(service: str, network: str, budget: float = 60) -> None:
    """Until the stack's containers and network are gone (stack rm returns before they are)."""
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        left = docker("ps", "-aq", "--filter", f"label=com.docker.swarm.service.name={service}",
                      check=False).stdout.split()
        if not left and docker("network", "inspect", network, check=False).returncode != 0:
            return
        time.sleep(1)


def _requests_logged(balancer: str) -> str:
    """The request log of the load balancer: its ring, read through its admin socket."""
    script = ("import socket; s = socket.socket(socket.AF_UNIX); s.connect('/run/haproxy.sock'); "
              "s.sendall(b'show events requests\\n'); f = s.makefile('rb'); print(f.read().decode())")
    return docker("exec", balancer, "python3", "-c", script).stdout


def _served(log: str) -> list[tuple[float, int, int, str]]:
    """HAProxy's log lines → (when the connection to the replica was made, status, retries, replica address)."""
    lines = []
    for line in log.splitlines():
        parts = line.split()
        if len(parts) != 8 or "." not in parts[0]:
            continue  # HAProxy's own notices
        accepted, th, ti, tw, tc, status, retries, address = parts
        waited = sum(max(int(t), 0) for t in (th, ti, tw, tc)) / 1000
        lines.append((float(accepted) + waited, int(status), int(retries), address))
    return lines


def test_rollout_and_a_killed_replica_lose_no_prediction(deployed, hello_images):
    service, network, balancer, url = deployed
    v1, v2 = hello_images
    started = time.monotonic()
    replicas = _running_replicas(service, network)
    assert sorted(r.version for r in replicas.values()) == ["v1"] * REPLICAS

    load = Load(url)
    load.more()
    # The new version rolls out start-first while predictions flow.
    docker("service", "update", "--detach", "--no-resolve-image", "--image", v2, service)
    # Start-first: an old replica stops only once a new one is healthy, so there are never fewer than REPLICAS.
    assert _wait_converged(service, v2, REPLICAS) >= REPLICAS
    _wait_update_completed(service)
    replicas |= _running_replicas(service, network)
    load.more()
    # One replica dies mid-load; swarm replaces it.
    before_kill = dict(replicas)
    victim = next(r for r in replicas.values() if r.version == "v2")
    killed_at = time.monotonic()
    docker("kill", victim.container)
    load.more()
    _wait_converged(service, v2, REPLICAS)
    load.more(50)
    results = load.end()
    rolled = time.monotonic() - started
    replicas |= _running_replicas(service, network)

    log = _requests_logged(balancer)
    failed = [result for result in results if result[0] != 200 or result[1]["status"] != "succeeded"]
    if failed:
        notices = docker("logs", balancer)  # which replicas went down and came up, and why
        said = [line for line in (notices.stdout + notices.stderr + log).splitlines() if " 200 " not in line]
        raise AssertionError(f"{len(failed)} of {len(results)} predictions failed, e.g. {failed[:3]}; "
                             f"the load balancer said:\n" + "\n".join(said)[-6000:])
    outputs = [prediction["output"] for _, prediction in results]
    assert set(outputs) <= set(OUTPUTS.values()), set(outputs) - set(OUTPUTS.values())
    assert OUTPUTS["v1"] in outputs and outputs[-1] == OUTPUTS["v2"]  # both versions served, the new one last
    # Only the kill cut predictions short (those in flight on the killed replica, at most one per worker); the
    # rollout, with its drain, cut none.
    assert len(load.resent) <= LOAD_WORKERS and all(when >= killed_at for when, _ in load.resent), load.resent
    # The replacement of the killed replica is a replica of its own, set up after the kill.
    assert len([r for r in replicas.values() if r.version == "v2"]) == REPLICAS + 1

    # Readiness gated traffic: no request reached a replica before its setup had finished.
    served = _served(log)
    assert len(served) >= len(results)
    early = [(when, address) for when, _, _, address in served for r in replicas.values()
             if address == r.address and r.started <= when < r.set_up]
    assert not early, f"replicas got traffic before their setup finished: {early[:5]}"
    assert {address for *_, address in served} >= {r.address for r in before_kill.values()}  # each took traffic

    # Every replica running now answers /metrics in Prometheus' text format.
    for replica in _running_replicas(service, network).values():
        metrics = _inside(replica.container, METRICS_PATH)
        assert "# TYPE" in metrics and any(line.startswith("cog_") for line in metrics.splitlines()), metrics[:500]
    print(f"\n{len(results)} predictions through a rollout of {REPLICAS} replicas and a kill in {rolled:.0f} s; "
          f"{sum(retries for _, _, retries, _ in served)} retries by the load balancer, {len(load.resent)} by the client")
