"""CLI start-up time: `cog --help` and `cog generate-dockerfile`, whole process, median of several interleaved runs,
beside the floor of the same run: the interpreter starting and importing typer and pydantic (what any CLI built on
them pays), given as ratios to it.

Targets (issue: the compiler): --help ≤ 0.3 s, generate-dockerfile ≤ 0.5 s. The commands run with
COG_TORCH_INDEX=pypi (the default's probe of download.pytorch.org is a network round trip, not start-up, and would
leave the machine) and may write .pyc files (as an installed wheel has them) whatever PYTHONDONTWRITEBYTECODE says.
Run: python benchmarks/cli_startup.py [--runs N]
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROJECT = REPO / "tests" / "compiler" / "corpus" / "gpu-torch-pinned"  # torch + CUDA resolution: the slow path
TARGETS = {"cog --help": 0.3, "cog generate-dockerfile": 0.5}
FLOOR = "python: import typer, pydantic"
ENVIRONMENT = {**{name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"},
               "COG_TORCH_INDEX": "pypi"}


def cog_command() -> list[str]:
    script = Path(sys.executable).parent / "cog"
    return [str(script)] if script.exists() else [sys.executable, "-m", "cog.cli"]


def median_seconds(commands: dict[str, list[str]], cwd: Path, runs: int) -> dict[str, float]:
    """Each command's median, the commands run in turn in each round so that the machine's noise falls on all."""
    timings: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, cwd=cwd, env=ENVIRONMENT, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            timings[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in timings.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    cog = cog_command()
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "project"
        shutil.copytree(PROJECT, project)
        subprocess.run([*cog, "generate-dockerfile"], cwd=project, env=ENVIRONMENT, check=True,
                       stdout=subprocess.DEVNULL)  # warm the page cache and write the .pyc files
        results = median_seconds({
            FLOOR: [sys.executable, "-c", "import typer, pydantic"],
            "cog --help": [*cog, "--help"],
            "cog generate-dockerfile": [*cog, "generate-dockerfile"],
        }, project, runs)
    failed = False
    print(f"{'command':<28}{'median s':>10}{'x floor':>9}{'target s':>10}  result   ({runs} interleaved runs each)")
    for name, seconds in results.items():
        ratio = seconds / results[FLOOR]
        if name == FLOOR:
            print(f"{name:<28}{seconds:>10.3f}{ratio:>9.2f}{'':>10}  floor")
            continue
        ok = seconds <= TARGETS[name]
        failed |= not ok
        print(f"{name:<28}{seconds:>10.3f}{ratio:>9.2f}{TARGETS[name]:>10.1f}  {'ok' if ok else 'SLOW'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
