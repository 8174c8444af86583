"""Does each example's image reproduce? Each is built twice with --no-cache, from two checkouts (the second in
another directory, its files owned by another user and dated otherwise), under the same name; the digests are
compared, and when they differ, what differs is listed layer by layer, file by file (tests/imagediff.py).

Needs Docker (scripts/setup.sh); behind a TLS-intercepting proxy set COG_CA_BUNDLE. examples/gpu-torch is left
out by default (torch's CUDA wheels are GBs); name examples to choose.

Run: python benchmarks/reproducible.py [EXAMPLE ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.imagediff

from tests.imagediff import differences, saved_image  # noqa: E402

EXAMPLES = REPO / "examples"
LEFT_OUT = {"gpu-torch"}
OTHER_USER = 12345


def build(directory: Path, tag: str) -> tuple[float, str | None]:
    """Seconds, and the error's last line when the build failed."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "cog.cli", "build", "-t", tag, "--no-cache", "--progress", "quiet"],
                            cwd=directory, capture_output=True, text=True)
    failed = (result.stderr.strip().splitlines() or ["no output"])[-1] if result.returncode else None
    return time.perf_counter() - start, failed


def exists(tag: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def image_id(tag: str) -> str:
    return subprocess.check_output(["docker", "image", "inspect", tag, "--format", "{{.Id}}"], text=True).strip()


def reproduce(example: str, scratch: Path) -> list[str]:
    first, second = scratch / example / "a", scratch / "elsewhere" / example
    shutil.copytree(EXAMPLES / example, first)
    shutil.copytree(EXAMPLES / example, second)
    for path in [second, *second.rglob("*")]:
        os.chown(path, OTHER_USER, OTHER_USER)
        os.utime(path, (1_700_000_000, 1_700_000_000))
    name = f"cog-reproducible-{example}-{uuid.uuid4().hex[:8]}"
    tags = {"cpu": f"{name}:latest", "gpu": f"{name}:latest-gpu"}  # what cog build -t NAME tags each variant
    kept = {variant: f"{name}:first-{variant}" for variant in tags}
    try:
        seconds_a, failed = build(first, name)
        if failed:
            return [f"{example}: the build failed: {failed}"]
        built = [variant for variant, tag in tags.items() if exists(tag)]
        for variant in built:
            subprocess.run(["docker", "tag", tags[variant], kept[variant]], check=True)
        seconds_b, failed = build(second, name)
        if failed:
            return [f"{example}: the second build failed: {failed}"]
        lines = []
        for variant in built:
            same = image_id(kept[variant]) == image_id(tags[variant])
            lines.append(f"{example} ({variant.upper()}): {'reproduces' if same else 'DIFFERS'} "
                         f"({image_id(tags[variant])[:19]}; builds {seconds_a:.0f} s, {seconds_b:.0f} s)")
            if not same:
                lines += [f"  {line}" for line in differences(saved_image(kept[variant]), saved_image(tags[variant]))]
        return lines
    finally:
        subprocess.run(["docker", "image", "rm", "-f", *kept.values(), *tags.values()], capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", nargs="*", help="examples/ folders (default: all but gpu-torch)")
    arguments = parser.parse_args()
    examples = arguments.examples or sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir() and p.name not in LEFT_OUT)
    images = reproduced = 0
    with tempfile.TemporaryDirectory(prefix="cog-reproducible-") as scratch:
        for example in examples:
            lines = reproduce(example, Path(scratch))
            images += sum(1 for line in lines if not line.startswith(" "))
            reproduced += sum(1 for line in lines if not line.startswith(" ") and ": reproduces" in line)
            print("\n".join(lines), flush=True)
    print(f"{reproduced} of {images} images reproduce")
    return 0 if reproduced == images else 1


if __name__ == "__main__":
    raise SystemExit(main())
