"""Build figures for examples/hello-world: cold build, code-only and weights-only rebuilds, size, start-up, each
beside the anchor of the same run: the same model built with plain `docker buildx build` from a Dockerfile as Cog
writes it (COG_STYLE below: apt tini and pip with cache mounts, the PyPI `cog` package, `COPY . /src` last).

Targets (issue: real images, and issue 12): code-only rebuild ≤ 5 s, ≤ 10% of the cold build (beside it, the
anchor's rebuild as a share of our cold build: that floor) and ≤ 1.5x the anchor's; cold build ≤ 0.8x the
anchor's; image above base ≤ the anchor's and ≤ 40 MB; `docker run` → READY ≤ 1 s and ≤ 1.0x the anchor's.
Needs Docker (scripts/setup.sh). Behind a TLS-intercepting proxy set COG_CA_BUNDLE (both builds get it as a
secret). The cold builds use --no-cache (every layer rebuilt); --prune also empties BuildKit's
package caches before each. Cold builds, rebuilds and starts alternate between the two images: medians of --cold-runs
and --runs.

Run: python benchmarks/build.py [--prune] [--runs N] [--cold-runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "hello-world"
BASE_IMAGE = "python:3.11-slim"  # what examples/hello-world's python_version resolves to
COG_VERSION = "0.23.1"  # the PyPI cog the anchor installs, as Cog's own Dockerfile installs its SDK
# Cog's Dockerfile for a model without requirements (Cog writes no requirements step then), in Cog's order. Two
# lines are this machine's: the CA bundle as a secret for pip behind a TLS-intercepting proxy, and
# PIP_BREAK_SYSTEM_PACKAGES because the offline stand-in for python:3.11-slim is Debian's Python (PEP 668).
COG_STYLE = f"""FROM {BASE_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 PIP_BREAK_SYSTEM_PACKAGES=1
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked --mount=type=cache,target=/var/lib/apt,sharing=locked \\
    apt-get update -qq && apt-get install -qqy --no-install-recommends tini
RUN --mount=type=cache,target=/root/.cache/pip --mount=type=secret,id=ca \\
    if [ -f /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi; pip install cog=={COG_VERSION}
WORKDIR /src
EXPOSE 5000
ENV COG_PREDICT_TYPE_STUB=predict.py:Predictor
CMD ["python", "-m", "cog.server.http"]
COPY . /src
"""


# The CLI may write its .pyc files, as an installed wheel has them, whatever PYTHONDONTWRITEBYTECODE says.
CLI_ENVIRONMENT = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def cog(*args: str, cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "cog.cli", *args], cwd=cwd, env=CLI_ENVIRONMENT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SystemExit(f"cog {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - start


def buildx(project: Path, tag: str, *options: str) -> float:
    """`docker buildx build` of the Cog-style Dockerfile (kept outside the context) into the local image store."""
    dockerfile = project.parent / "Dockerfile.cog-style"
    dockerfile.write_text(COG_STYLE)
    secret = os.environ.get("COG_CA_BUNDLE")
    start = time.perf_counter()
    subprocess.run(["docker", "buildx", "build", "--load", "-t", tag, "-f", str(dockerfile), *options,
                    *(["--secret", f"id=ca,src={secret}"] if secret else []), str(project)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def edit(path: Path) -> None:
    with open(path, "a") as handle:
        handle.write(f"# edit {uuid.uuid4().hex}\n")


def layer_bytes(image: str) -> list[int]:
    sizes = subprocess.check_output(["docker", "history", "--human=false", "--format", "{{.Size}}", image], text=True)
    return [int(size) for size in sizes.split()]


def seconds_to_ready(image: str) -> float:
    start = time.perf_counter()
    container = subprocess.check_output(["docker", "run", "-d", "-p", "127.0.0.1::5000", image], text=True).strip()
    try:
        port = subprocess.check_output(["docker", "port", container, "5000"], text=True).split(":")[-1].strip()
        while time.perf_counter() - start < 60:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health-check", timeout=1).json().get("status") == "READY":
                    return time.perf_counter() - start
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.01)
        raise RuntimeError("not READY after 60 s")
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prune", action="store_true", help="empty BuildKit's caches first (a truly cold build)")
    parser.add_argument("--runs", type=int, default=5, help="rebuilds and starts to take the median of")
    parser.add_argument("--cold-runs", type=int, default=3, help="cold builds to take the median of")
    arguments = parser.parse_args()
    if arguments.runs < 1 or arguments.cold_runs < 1:
        parser.error("--runs and --cold-runs take 1 or more")
    tag = f"cog-bench-{uuid.uuid4().hex[:8]}"
    anchor_tag = f"{tag}-cog-style"
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "hello-world"
        shutil.copytree(EXAMPLE, project)
        anchor_project = Path(scratch) / "cog-style" / "hello-world"  # the same model, without weights
        shutil.copytree(EXAMPLE, anchor_project)
        (project / "weights").mkdir()
        (project / "weights" / "model.bin").write_bytes(os.urandom(1024 * 1024))
        def prune() -> None:
            if arguments.prune:
                subprocess.run(["docker", "buildx", "prune", "--all", "--force"], check=True, capture_output=True)
        try:
            cold, anchor_cold = [], []
            for _ in range(arguments.cold_runs):
                prune()
                cold.append(cog("build", "-t", tag, "--no-cache", cwd=project))
                prune()
                anchor_cold.append(buildx(anchor_project, anchor_tag, "--no-cache"))
            # Untimed: each with its caches as the last cold build left them (a prune empties both), and the
            # rebuilds' own command line built once (its recipe is that of `cog build -t TAG`, not of --no-cache).
            cog("build", "-t", tag, cwd=project)
            buildx(anchor_project, anchor_tag)
            code, anchor_code, weights = [], [], []
            for _ in range(arguments.runs):
                edit(project / "predict.py")
                code.append(cog("build", "-t", tag, cwd=project))
                edit(anchor_project / "predict.py")
                anchor_code.append(buildx(anchor_project, anchor_tag))
                (project / "weights" / "model.bin").write_bytes(os.urandom(1024 * 1024))
                weights.append(cog("build", "-t", tag, cwd=project))
            added = sum(layer_bytes(tag)) - sum(layer_bytes(BASE_IMAGE))
            anchor_added = sum(layer_bytes(anchor_tag)) - sum(layer_bytes(BASE_IMAGE))
            weights_bytes = 1024 * 1024
            ready, anchor_ready = [], []
            for _ in range(arguments.runs):
                ready.append(seconds_to_ready(tag))
                anchor_ready.append(seconds_to_ready(anchor_tag))
        finally:
            subprocess.run(["docker", "image", "rm", "-f", tag, anchor_tag], capture_output=True)
    cold, anchor_cold = statistics.median(cold), statistics.median(anchor_cold)
    code_median, weights_median = statistics.median(code), statistics.median(weights)
    anchor_code_median = statistics.median(anchor_code)
    ready_median, anchor_ready_median = statistics.median(ready), statistics.median(anchor_ready)
    added_mb, anchor_mb = (added - weights_bytes) / 1e6, anchor_added / 1e6
    rows = [
        ("cold build (--no-cache)", f"{cold:.1f} s", f"{anchor_cold:.1f} s", cold / anchor_cold, "≤ 0.8x Cog-style",
         cold <= 0.8 * anchor_cold),
        ("code-only rebuild", f"{code_median:.2f} s", f"{anchor_code_median:.2f} s", code_median / anchor_code_median,
         "≤ 5 s and ≤ 1.5x", code_median <= 5 and code_median <= 1.5 * anchor_code_median),
        # Beside it, the anchor's raw BuildKit rebuild as a share of our cold build: the floor of this one.
        ("code-only rebuild, share of cold build", f"{code_median / cold:.1%}", f"{anchor_code_median / cold:.1%}",
         None, "≤ 10%", code_median <= 0.1 * cold),
        ("weights-only rebuild", f"{weights_median:.2f} s", "", None, "", True),
        ("image above base (less 1 MB weights)", f"{added_mb:.1f} MB", f"{anchor_mb:.1f} MB", added_mb / anchor_mb,
         "≤ 40 MB and ≤ 1.0x", added_mb <= 40 and added_mb <= anchor_mb),
        ("docker run → READY", f"{ready_median:.2f} s", f"{anchor_ready_median:.2f} s", ready_median / anchor_ready_median,
         "≤ 1 s and ≤ 1.0x", ready_median <= 1 and ready_median <= anchor_ready_median),
    ]
    print(f"{'hello-world':<40}{'cog':>10}{'Cog-style':>11}{'ratio':>8}  {'target':<30}result")
    for name, value, anchor, ratio, target, ok in rows:
        shown = f"{ratio:.2f}x" if ratio is not None else ""
        print(f"{name:<40}{value:>10}{anchor:>11}{shown:>8}  {target:<30}{'ok' if ok else 'MISSED'}")
    print(f"(medians of {arguments.cold_runs} cold builds and {arguments.runs} of the rest, interleaved; cold builds "
          f"{'after pruning every cache' if arguments.prune else 'with warm package caches'}; Cog-style: "
          f"docker buildx build of a Cog-style Dockerfile with the PyPI cog=={COG_VERSION})")
    return 0 if all(ok for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
