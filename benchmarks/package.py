"""Package figures, on loopback only: hashing speed, upload speed, what an unchanged re-push sends, peak memory.

Targets (issue: packages and the central store):
  hashing a 1 GB file            >= 0.8x sha256sum
  re-pushing an unchanged 1 GB package sends < 1 MB
  upload over loopback           >= 200 MB/s
  client and server peak RSS     < 200 MB while pushing a 2 GB package

A `cog server` (no image builds) runs on a loopback port over a file:// store in a temporary directory; the pushes
are `cog build` in a project with a repo set, as users run it. Needs about 4x --size-mb of free disk.

Run: python benchmarks/package.py [--size-mb 1024]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from cog.packages.package import hash_stream

MB = 1000 * 1000
HELLO = {"cog.yaml": "build:\n  python_version: '3.11'\npredict: predict.py:Predictor\n", "predict.py": "print('hi')\n"}


def random_file(path: Path, size: int) -> None:
    with path.open("wb") as out:
        for _ in range(size // (8 * 1024 * 1024)):
            out.write(os.urandom(8 * 1024 * 1024))
        out.write(os.urandom(size % (8 * 1024 * 1024)))


def hashing(path: Path) -> tuple[float, float]:
    """Seconds for ours and for sha256sum, best of three each, the file in the page cache."""
    ours, theirs = [], []
    for _ in range(3):
        start = time.perf_counter()
        with path.open("rb") as stream:
            hash_stream(stream)
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run(["sha256sum", str(path)], check=True, stdout=subprocess.DEVNULL)
        theirs.append(time.perf_counter() - start)
    return min(ours), min(theirs)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / MB
    return float("nan")


class Server:
    def __init__(self, work: Path, env: dict[str, str]) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        token_file = work / "token"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cog.cli", "server", "--port", str(self.port), "--storage", (work / "store").as_uri(),
             "--token-file", str(token_file)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            try:
                httpx.get(f"{self.url}/v1/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        self.token = token_file.read_text().strip()

    def received_bytes(self) -> int:
        """Bytes the server process has read from its sockets and files: from /proc, as the kernel counts them."""
        fields = dict(line.split(": ") for line in Path(f"/proc/{self.process.pid}/io").read_text().splitlines())
        return int(fields["rchar"])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def push(project: Path, env: dict[str, str]) -> tuple[float, float]:
    """`cog build` to the server: seconds, and the client's peak RSS in MB."""
    start = time.perf_counter()
    client = subprocess.Popen([sys.executable, "-m", "cog.cli", "build"], cwd=project, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0.0
    while client.poll() is None:
        peak = max(peak, peak_rss_mb(client.pid))
        time.sleep(0.05)
    if client.returncode != 0:
        raise SystemExit(f"cog build failed: {client.stderr.read()}")
    return time.perf_counter() - start, peak


def project_with(directory: Path, weights: list[Path], server: Server, env: dict[str, str]) -> Path:
    directory.mkdir()
    for name, text in HELLO.items():
        (directory / name).write_text(text)
    for index, path in enumerate(weights):
        os.link(path, directory / f"weights-{index}.bin")
    subprocess.run([sys.executable, "-m", "cog.cli", "repo", "set", f"{server.url}/bench/model"], cwd=directory, env=env,
                   check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "cog.cli", "login", server.url, "--password-stdin"], cwd=directory, env=env,
                   input=server.token, text=True, check=True, capture_output=True)
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the big file (the 2 GB package is twice it)")
    args = parser.parse_args()
    size = args.size_mb * 1024 * 1024
    rows = []
    with tempfile.TemporaryDirectory(prefix="cog-bench-") as scratch:
        work = Path(scratch)
        env = {**os.environ, "XDG_CONFIG_HOME": str(work / "config"), "XDG_DATA_HOME": str(work / "data")}
        first, second = work / "a.bin", work / "b.bin"
        random_file(first, size)
        ours, theirs = hashing(first)
        rows.append((f"hash {size / MB:.0f} MB", f"{size / MB / ours:.0f} MB/s vs sha256sum {size / MB / theirs:.0f} MB/s "
                     f"= {theirs / ours:.2f}x", ">= 0.8x", theirs / ours >= 0.8))

        (work / "one").mkdir()
        server = Server(work / "one", env)
        project = project_with(work / "project-one", [first], server, env)
        seconds, _ = push(project, env)
        upload = size / MB / (seconds - ours)  # the push hashes the file first, then uploads it
        rows.append((f"first push of {size / MB:.0f} MB", f"{seconds:.1f} s; upload {upload:.0f} MB/s (after {ours:.1f} s hashing)",
                     ">= 200 MB/s", upload >= 200))
        before = server.received_bytes()
        seconds, _ = push(project, env)
        sent = server.received_bytes() - before
        rows.append(("re-push unchanged", f"{seconds:.1f} s; server read {sent / MB:.3f} MB", "< 1 MB", sent < MB))
        server.stop()
        shutil.rmtree(work / "one")

        random_file(second, size)
        (work / "two").mkdir()
        server = Server(work / "two", env)
        project = project_with(work / "project-two", [first, second], server, env)
        seconds, client_peak = push(project, env)
        server_peak = peak_rss_mb(server.process.pid)
        server.stop()
        rows.append((f"push {2 * size / MB:.0f} MB: client peak RSS", f"{client_peak:.0f} MB", "< 200 MB", client_peak < 200))
        rows.append((f"push {2 * size / MB:.0f} MB: server peak RSS", f"{server_peak:.0f} MB", "< 200 MB", server_peak < 200))

    width = max(len(row[0]) for row in rows)
    print(f"{'measure':<{width}}  {'result':<62}  {'target':<12}  ok")
    for name, result, target, ok in rows:
        print(f"{name:<{width}}  {result:<62}  {target:<12}  {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
