"""What the orchestrator features cost a sequential client: ok predictions/s, this checkout next to an anchor.

    python benchmarks/probes.py [--anchor-ref main] [--duration SECONDS] [--rounds N]

Three servers on loopback, side by side, serving `return "hello " + text` one prediction at a time:

  anchor      the runtime of git ref --anchor-ref (default main), exported with `git archive`
  this        this checkout's runtime, nothing else going on
  probed      this checkout, with a predictor that defines healthcheck() (called every second) and a prober
              asking /livez and /readyz 20 times a second (kubelet asks every few seconds)

Each takes one back-to-back keep-alive client (benchmarks/serving.py's), in interleaved rounds whose order
rotates, so that a burst of unrelated load on the machine falls on all three. The table gives ok/s over all
rounds, the p50 latency (median over the rounds), its ok/s as a ratio to the anchor's, and the median over the
rounds of that ratio taken round by round.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).parent))
from serving import PREDICTOR, REPO, Server, free_port, load, request, summarize  # noqa: E402

HEALTHCHECK = PREDICTOR + '''
    def healthcheck(self) -> bool:
        return True
'''
PROBES_PER_SECOND = 20


def start(name: str, source: Path, project: str, **env: str) -> Server:
    port = free_port()
    environment = dict(os.environ, COG_PREDICT="predict.py:Predictor", PYTHONPATH=str(source), **env)
    argv = [sys.executable, "-m", "cog.server.http", "--host", "127.0.0.1", "--port", str(port)]
    return Server(name, argv, environment, project, port)


def prober(port: int, stop: "multiprocessing.Event") -> None:
    while not stop.is_set():
        for path in ("/livez", "/readyz"):
            request(port, "GET", path)
        time.sleep(2 / PROBES_PER_SECOND)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--anchor-ref", default="main", help="git ref whose runtime is the anchor (default main)")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per server")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cog-bench-probes-") as work:
        anchor = Path(work, "anchor")
        anchor.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.anchor_ref, "cog"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(anchor)], input=archive, check=True)
        plain, checked = Path(work, "plain"), Path(work, "checked")
        for directory, code in ((plain, PREDICTOR), (checked, HEALTHCHECK)):
            directory.mkdir()
            (directory / "predict.py").write_text(code)
        servers = [start(f"anchor ({args.anchor_ref})", anchor, str(plain)),
                   start("this", REPO, str(plain)),
                   start("probed", REPO, str(checked), COG_HEALTHCHECK_INTERVAL="1")]
        stop = multiprocessing.Event()
        probing = multiprocessing.Process(target=prober, args=(servers[2].port, stop))
        probing.start()
        rounds: Dict[str, List[List[Dict]]] = {server.name: [] for server in servers}
        try:
            for server in servers:
                load(server.port, 1, 0.5)  # warm-up
            for number in range(args.rounds):
                for server in servers[number % 3:] + servers[:number % 3]:
                    rounds[server.name].append(load(server.port, 1, args.duration / args.rounds))
        finally:
            stop.set()
            probing.join()
            for server in servers:
                server.stop()
    results = {name: summarize(parts) for name, parts in rounds.items()}
    anchor_rounds = [summarize([parts])["ok_per_s"] for parts in rounds[servers[0].name]]
    anchor_rate = results[servers[0].name]["ok_per_s"]
    print(f"{'server':<16} {'ok/s':>8} {'p50 ms':>8} {'ratio':>7} {'median ratio':>13} {'failed':>7}")
    for name, result in results.items():
        median_ratio = statistics.median(summarize([parts])["ok_per_s"] / anchor
                                         for parts, anchor in zip(rounds[name], anchor_rounds))
        failed = result["server_error"] + result["other_failure"] + result["conflict"]
        print(f"{name:<16} {result['ok_per_s']:>8.0f} {result['p50_ms']:>8.2f} {result['ok_per_s'] / anchor_rate:>7.3f}"
              f" {median_ratio:>13.3f} {failed:>7}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
