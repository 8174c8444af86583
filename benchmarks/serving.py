"""Serving throughput, latency and start-up: this project's runtime next to Cog's coglet and, as the ceiling, a bare
FastAPI async endpoint on uvicorn with uvloop and httptools, on the same trivial predictor.

    python benchmarks/serving.py [--duration SECONDS] [--rounds N] [--start-rounds N] [--rss-predictions N]
                                 [--baseline CHECKOUT]

The servers run on loopback on this machine serving `return "hello " + text` with their default concurrency (one
prediction at a time; the bare endpoint has no worker and no admission: it is what the HTTP stack alone can do).
"ours + uvloop" is our runtime in the ceiling's environment, where uvicorn picks uvloop and httptools by itself: it
shows what those two packages would give our server. Start-up is process start → GET /health-check answering
READY (polled every 5 ms), each server started and stopped in turn, median of --start-rounds. Scenarios:

  (a) one client sending requests back to back over one keep-alive connection;
  (b) 8 such clients at once, each in its own process.

Clients are stdlib http.client loops in separate processes, so the client is not what is measured. For each
scenario the table shows ok (2xx) predictions per second, 409 and 5xx answers, other failures, and the p50/p99
latency of the ok answers (a 409 takes coglet almost no time; counting it would hide the cost of a prediction).
The servers stay up side by side and each scenario runs in interleaved rounds (ours, coglet, ours, ...), so a
burst of unrelated load on the machine falls on both; latency percentiles are the median over the rounds. Then 20,000 predictions against our runtime measure the growth of its memory (RSS of
the server and its worker). Cog 0.23.1 is installed into its own venv under the user cache directory the first
time (its package owns the import name `cog`, so it never goes into this project's environment), and the ceiling's
FastAPI, uvicorn, uvloop and httptools into another (the same FastAPI and uvicorn versions as ours). Figures are
given as ratios to coglet and to the ceiling, measured in the same run. With --baseline, the runtime of another
checkout of this project (e.g. main's HEAD: `git worktree add /tmp/cog-main main`) is served the same way in the
same rounds, and ours must keep 95% of its ok/s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[1]
COGLET_VERSION = "0.23.1"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cog-bench"
PREDICTOR = '''from cog import BasePredictor, Input


class Predictor(BasePredictor):
    def predict(self, text: str = Input(description="Text")) -> str:
        return "hello " + text
'''
BARE_APP = '''from fastapi import FastAPI

app = FastAPI()


@app.get("/health-check")
async def health_check() -> dict:
    return {"status": "READY"}


@app.post("/predictions")
async def predictions(request: dict) -> dict:
    return {"status": "succeeded", "output": "hello " + request["input"]["text"]}
'''
BODY = json.dumps({"input": {"text": "world"}}).encode()
HEADERS = {"Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def coglet_python() -> Path:
    venv = CACHE / f"coglet-{COGLET_VERSION}"
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        print(f"installing cog=={COGLET_VERSION} into {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"cog=={COGLET_VERSION}"], check=True)
        (venv / ".complete").touch()
    return python


def ceiling_python() -> Path:
    """A venv with the server packages of ours at our versions (our runtime runs there too), plus uvloop and
    httptools."""
    from importlib import metadata

    pins = [f"fastapi=={metadata.version('fastapi')}", f"uvicorn=={metadata.version('uvicorn')}",
            f"pydantic=={metadata.version('pydantic')}", f"httpx=={metadata.version('httpx')}",
            f"prometheus-client=={metadata.version('prometheus-client')}", "uvloop", "httptools"]
    venv = CACHE / ("ceiling-" + "-".join(pin.split("==")[-1] for pin in pins[:5]))
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        print(f"installing {' '.join(pins)} into {venv} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *pins], check=True)
        (venv / ".complete").touch()
    return python


def installed_size(python: Path, *distributions: str) -> int:
    """Bytes on disk of the files of these distributions in that environment."""
    script = ("import sys; from importlib import metadata; print(sum(f.locate().stat().st_size "
              "for name in sys.argv[1:] for f in metadata.files(name) or ()))")
    return int(subprocess.run([str(python), "-c", script, *distributions], check=True, capture_output=True,
                              text=True).stdout)


class Server:
    def __init__(self, name: str, argv: List[str], env: Dict[str, str], cwd: str, port: int) -> None:
        self.name = name
        self.port = port
        started = time.perf_counter()
        self.process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if json.loads(request(port, "GET", "/health-check")[1])["status"] == "READY":
                    self.start_seconds = time.perf_counter() - started  # process start -> READY
                    return
            except (OSError, ValueError, http.client.HTTPException):
                pass
            if self.process.poll() is not None:
                raise SystemExit(f"{name} exited with status {self.process.returncode} before it was ready")
            time.sleep(0.005)
        raise SystemExit(f"{name} was not ready within 60 s")

    def rss_bytes(self) -> int:
        """Resident memory of the server and all its descendants (the worker)."""
        pids = [self.process.pid]
        total = 0
        while pids:
            pid = pids.pop()
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except FileNotFoundError:
                continue
            total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) * 1024
            pids += [int(c) for c in children]
        return total

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def request(port: int, method: str, path: str, body: Optional[bytes] = None) -> "tuple[int, bytes]":
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body, HEADERS)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def client(port: int, seconds: float, max_requests: int, results: "multiprocessing.Queue[Dict]") -> None:
    """Back-to-back predictions over one keep-alive connection until the time or the count runs out."""
    statuses: Dict[int, int] = {}
    ok_latencies: List[float] = []
    errors = 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.perf_counter()
    deadline = started + seconds
    sent = 0
    while time.perf_counter() < deadline and sent < max_requests:
        sent += 1
        t0 = time.perf_counter()
        try:
            connection.request("POST", "/predictions", BODY, HEADERS)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            errors += 1
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        if 200 <= response.status < 300:
            ok_latencies.append(time.perf_counter() - t0)
        statuses[response.status] = statuses.get(response.status, 0) + 1
    results.put({"statuses": statuses, "ok_latencies": ok_latencies, "errors": errors,
                 "elapsed": time.perf_counter() - started})


def load(port: int, clients: int, seconds: float, max_requests: int = 10**9) -> List[Dict]:
    """Run `clients` client processes at once; their raw results."""
    results: "multiprocessing.Queue[Dict]" = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=client, args=(port, seconds, max_requests, results))
                 for _ in range(clients)]
    for p in processes:
        p.start()
    parts = [results.get() for _ in processes]
    for p in processes:
        p.join()
    return parts


def _percentile(sorted_values: List[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))] * 1000


def summarize(rounds: List[List[Dict]]) -> Dict[str, float]:
    """ok/s over the summed wall time and status counts over all rounds; latency percentiles of ok answers
    as the median over rounds (one round hit by unrelated load on the machine does not decide them)."""
    statuses: Dict[int, int] = {}
    errors = 0
    ok = 0
    elapsed = 0.0
    p50s: List[float] = []
    p99s: List[float] = []
    for parts in rounds:
        elapsed += max(part["elapsed"] for part in parts)
        latencies = sorted(x for part in parts for x in part["ok_latencies"])
        ok += len(latencies)
        if latencies:
            p50s.append(_percentile(latencies, 0.50))
            p99s.append(_percentile(latencies, 0.99))
        for part in parts:
            errors += part["errors"]
            for code, count in part["statuses"].items():
                statuses[code] = statuses.get(code, 0) + count
    return {
        "requests": sum(statuses.values()) + errors,
        "ok_per_s": ok / elapsed,
        "conflict": statuses.get(409, 0),
        "server_error": sum(count for code, count in statuses.items() if code >= 500),
        "other_failure": errors + sum(count for code, count in statuses.items()
                                      if not 200 <= code < 300 and code != 409 and code < 500),
        "p50_ms": statistics.median(p50s) if p50s else float("nan"),
        "p99_ms": statistics.median(p99s) if p99s else float("nan"),
    }


def start_ours(project: str, python: Path = Path(sys.executable), name: str = "ours", checkout: Path = REPO) -> Server:
    port = free_port()
    env = dict(os.environ, COG_PREDICT="predict.py:Predictor", PYTHONPATH=str(checkout))
    argv = [str(python), "-m", "cog.server.http", "--host", "127.0.0.1", "--port", str(port)]
    return Server(name, argv, env, project, port)


def start_ceiling(project: str) -> Server:
    port = free_port()
    argv = [str(ceiling_python()), "-m", "uvicorn", "bare:app", "--host", "127.0.0.1", "--port", str(port),
            "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return Server("bare FastAPI", argv, env, project, port)


def start_coglet(project: str) -> Server:
    port = free_port()
    python = coglet_python()
    env = dict(os.environ, PATH=f"{python.parent}:{os.environ.get('PATH', '')}", PORT=str(port),
               COG_PREDICT_TYPE_STUB="predict.py:Predictor")
    env.pop("PYTHONPATH", None)
    return Server(f"coglet {COGLET_VERSION}", [str(python), "-m", "cog.server.http"], env, project, port)


def http_stack() -> str:
    found = []
    for module in ("httptools", "uvloop"):
        try:
            __import__(module)
            found.append(module)
        except ImportError:
            pass
    return "uvicorn with " + (" + ".join(found) if found else "h11 + asyncio (no httptools/uvloop installed)")


def ratio(value: float, anchor: float) -> str:
    return f"{value / anchor:.2f}x" if anchor else "n/a"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per scenario and server")
    parser.add_argument("--rounds", type=int, default=8, help="interleaved rounds the duration is split into")
    parser.add_argument("--start-rounds", type=int, default=5, help="interleaved start-ups of each server (median)")
    parser.add_argument("--rss-predictions", type=int, default=20000)
    parser.add_argument("--baseline", type=Path, help="another checkout of cog whose runtime to compare with")
    args = parser.parse_args()

    project = tempfile.mkdtemp(prefix="cog-bench-")
    Path(project, "predict.py").write_text(PREDICTOR)
    Path(project, "bare.py").write_text(BARE_APP)
    ceiling = ceiling_python()
    starters = [start_ours, lambda where: start_ours(where, ceiling, "ours + uvloop"), start_coglet, start_ceiling]
    if args.baseline:
        baseline = args.baseline.resolve()
        starters.append(lambda where: start_ours(where, name="baseline", checkout=baseline))
    start_times: Dict[str, List[float]] = {}
    for _ in range(args.start_rounds):
        for start in starters:
            server = start(project)
            start_times.setdefault(server.name, []).append(server.start_seconds)
            server.stop()
    servers = [start(project) for start in starters]
    figures: Dict[str, Dict[str, Dict[str, float]]] = {server.name: {} for server in servers}
    try:
        for server in servers:
            load(server.port, 1, 1.0)  # warm-up
        for scenario, clients in (("(a) 1 client", 1), ("(b) 8 clients", 8)):
            # Interleaved rounds, so a burst of other load on the machine hits all servers alike.
            rounds: Dict[str, List[List[Dict]]] = {server.name: [] for server in servers}
            for _ in range(args.rounds):
                for server in servers:
                    rounds[server.name].append(load(server.port, clients, args.duration / args.rounds))
            for server in servers:
                figures[server.name][scenario] = summarize(rounds[server.name])
    finally:
        for server in servers:
            server.stop()

    starts = {name: statistics.median(times) for name, times in start_times.items()}
    coglet_name, bare = f"coglet {COGLET_VERSION}", "bare FastAPI"
    print(f"\nours: {http_stack()}, Python {sys.version.split()[0]}; {os.cpu_count()} CPUs; "
          f"{args.duration:g} s per scenario and server in {args.rounds} interleaved rounds; "
          "latencies of ok answers, median over rounds\n")
    header = f"{'server':<16}{'scenario':<15}{'requests':>9}{'ok/s':>9}{'409':>7}{'5xx':>6}{'other':>7}" \
             f"{'p50 ms':>9}{'p99 ms':>9}{'ok/s vs coglet':>16}{'vs bare':>9}{'p99 vs coglet':>15}"
    print(header)
    print("-" * len(header))
    for name, scenarios in figures.items():
        for scenario, r in scenarios.items():
            c, b = figures[coglet_name][scenario], figures[bare][scenario]
            print(f"{name:<16}{scenario:<15}{r['requests']:>9}{r['ok_per_s']:>9.0f}{r['conflict']:>7}"
                  f"{r['server_error']:>6}{r['other_failure']:>7}{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}"
                  f"{ratio(r['ok_per_s'], c['ok_per_s']):>16}{ratio(r['ok_per_s'], b['ok_per_s']):>9}"
                  f"{ratio(r['p99_ms'], c['p99_ms']):>15}")
    print(f"\nprocess start -> READY, median of {args.start_rounds} interleaved starts")
    for name, seconds in starts.items():
        print(f"{name:<16}{seconds:>8.3f} s  {ratio(seconds, starts[coglet_name]):>6} coglet  "
              f"{ratio(seconds, starts[bare]):>6} bare FastAPI")
    print(f"uvloop + httptools installed: {installed_size(ceiling, 'uvloop', 'httptools') / 1e6:.1f} MB")

    server = start_ours(project)
    try:
        load(server.port, 1, 60, max_requests=2000)  # warm-up: caches, allocator pools
        before = server.rss_bytes()
        memory = summarize([load(server.port, 1, 600, max_requests=args.rss_predictions)])
        after = server.rss_bytes()
    finally:
        server.stop()
    growth = (after - before) / before * 100

    ours, coglet, ceiling_figures = figures["ours"], figures[coglet_name], figures[bare]
    a, b, ca, cb = ours["(a) 1 client"], ours["(b) 8 clients"], coglet["(a) 1 client"], coglet["(b) 8 clients"]
    failures_a = a["conflict"] + a["server_error"] + a["other_failure"]
    failures_b = b["conflict"] + b["server_error"] + b["other_failure"]
    bare_a = ceiling_figures["(a) 1 client"]
    checks = [
        (f"(a) ok/s {a['ok_per_s']:.0f} >= 2.0 x coglet {ca['ok_per_s']:.0f}", a["ok_per_s"] >= 2.0 * ca["ok_per_s"]),
        (f"(a) ok/s {a['ok_per_s']:.0f} >= 0.85 x bare FastAPI {bare_a['ok_per_s']:.0f}",
         a["ok_per_s"] >= 0.85 * bare_a["ok_per_s"]),
        (f"(a) non-2xx answers: {failures_a}", failures_a == 0),
        (f"(b) ok/s {b['ok_per_s']:.0f} >= 3.0 x coglet {cb['ok_per_s']:.0f}", b["ok_per_s"] >= 3.0 * cb["ok_per_s"]),
        (f"(b) errors: {failures_b}", failures_b == 0),
        (f"(a) p99 {a['p99_ms']:.2f} ms <= 0.7 x coglet {ca['p99_ms']:.2f} ms", a["p99_ms"] <= 0.7 * ca["p99_ms"]),
        (f"start -> READY {starts['ours']:.3f} s <= coglet {starts[coglet_name]:.3f} s",
         starts["ours"] <= starts[coglet_name]),
        (f"RSS {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB over {memory['requests']} predictions: "
         f"{growth:+.1f}% < 10%", growth < 10 and memory["ok_per_s"] > 0 and memory["requests"] == args.rss_predictions),
    ]
    if args.baseline:
        ratios = {scenario: ours[scenario]["ok_per_s"] / figures["baseline"][scenario]["ok_per_s"]
                  for scenario in ours}
        checks += [(f"{scenario} ok/s {ratio:.3f} x the baseline's >= 0.95", ratio >= 0.95)
                   for scenario, ratio in ratios.items()]
    print()
    for text, passed in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {text}")
    return 0 if all(passed for _, passed in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
