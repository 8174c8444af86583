"""Build figures for examples/hello-world: cold build, code-only and weights-only rebuilds, size, start-up.

Targets (issue: real images): code-only rebuild ≤ 5 s and ≤ 10% of the cold build; image ≤ base + 40 MB;
`docker run` → READY ≤ 1 s. Needs Docker (scripts/setup.sh). Behind a TLS-intercepting proxy set COG_CA_BUNDLE.
The cold build uses --no-cache (every layer rebuilt); --prune also empties BuildKit's package caches first.

Run: python benchmarks/build.py [--prune] [--runs N]
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


def cog(*args: str, cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cog.cli", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


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
    arguments = parser.parse_args()
    tag = f"cog-bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "hello-world"
        shutil.copytree(EXAMPLE, project)
        (project / "weights").mkdir()
        (project / "weights" / "model.bin").write_bytes(os.urandom(1024 * 1024))
        if arguments.prune:
            subprocess.run(["docker", "buildx", "prune", "--all", "--force"], check=True, capture_output=True)
        try:
            cold = cog("build", "-t", tag, "--no-cache", cwd=project)
            code, weights = [], []
            for _ in range(arguments.runs):
                with open(project / "predict.py", "a") as handle:
                    handle.write(f"# edit {uuid.uuid4().hex}\n")
                code.append(cog("build", "-t", tag, cwd=project))
                (project / "weights" / "model.bin").write_bytes(os.urandom(1024 * 1024))
                weights.append(cog("build", "-t", tag, cwd=project))
            added = sum(layer_bytes(tag)) - sum(layer_bytes(BASE_IMAGE))
            weights_bytes = 1024 * 1024
            ready = statistics.median(seconds_to_ready(tag) for _ in range(arguments.runs))
        finally:
            subprocess.run(["docker", "image", "rm", "-f", tag], capture_output=True)
    code_median, weights_median = statistics.median(code), statistics.median(weights)
    added_mb = (added - weights_bytes) / 1e6
    rows = [
        ("cold build (--no-cache)", f"{cold:.1f} s", "", True),
        ("code-only rebuild", f"{code_median:.2f} s", "≤ 5 s and ≤ 10% of cold", code_median <= 5 and code_median <= 0.1 * cold),
        ("weights-only rebuild", f"{weights_median:.2f} s", "", True),
        ("image above base (less 1 MB weights)", f"{added_mb:.1f} MB", "≤ 40 MB", added_mb <= 40),
        ("docker run → READY", f"{ready:.2f} s", "≤ 1 s", ready <= 1),
    ]
    print(f"{'hello-world':<40}{'measured':>12}  {'target':<26}result")
    for name, value, target, ok in rows:
        print(f"{name:<40}{value:>12}  {target:<26}{'ok' if ok else 'MISSED'}")
    print(f"(medians of {arguments.runs}; cold build {'after pruning every cache' if arguments.prune else 'with warm package caches'})")
    return 0 if all(ok for *_, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
