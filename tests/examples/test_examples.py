"""Every example end to end: run the commands its README shows, in a copy of the example, and check what they print.

Then check what the README cannot show: the files a model wrote, and tokens arriving one by one. gpu-torch is not
built here (it would download torch); its Dockerfiles are snapshot tests in tests/compiler/test_render.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cog.images import docker
from cog.cli.prediction import Runtime
from tests.examples.readme import shown_commands

pytestmark = pytest.mark.docker

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BUILT_EXAMPLES = ["hello-world", "jazz-composer", "colorize", "iris", "streaming"]


def retrained_same_weights(directory: Path, weights: str) -> bool:
    """The README's training command, run in the copy, wrote the very bytes the example commits."""
    return (directory / weights).read_bytes() == (EXAMPLES / directory.name / weights).read_bytes()


@pytest.fixture
def example(project, cog_env):
    """Copy an example, run its README's commands in the copy (checking their output), and return the copy."""
    copies = []

    def run_readme(name: str) -> Path:
        directory = project(name)
        copies.append(name)
        env = {**cog_env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{cog_env['PATH']}"}
        for shown in shown_commands(directory / "README.md"):
            result = subprocess.run(["bash", "-c", shown.command], cwd=directory, env=env, capture_output=True,
                                    text=True, timeout=900)
            context = f"$ {shown.command}\n--- stdout:\n{result.stdout}\n--- stderr:\n{result.stderr[-3000:]}"
            if shown.error:
                assert result.returncode == 1, context
                assert result.stderr.strip().splitlines()[-1] == shown.error, context
                continue
            assert result.returncode == 0, context
            if shown.output:
                assert result.stdout.splitlines() == shown.stdout, context
            for line in shown.stderr:
                assert line in result.stderr.splitlines(), context
        return directory

    yield run_readme
    for name in copies:  # the image `cog predict` built in the copy, named after its directory
        subprocess.run(["docker", "image", "rm", "-f", f"cog-{name}"], capture_output=True)


def test_every_example_is_tested_or_snapshotted():
    assert sorted(path.name for path in EXAMPLES.iterdir() if path.is_dir()) == sorted(BUILT_EXAMPLES + ["gpu-torch"])
    for name in BUILT_EXAMPLES:
        assert shown_commands(EXAMPLES / name / "README.md"), f"{name}'s README shows no command"


def test_hello_world(example):
    example("hello-world")


def test_jazz_composer(example):
    directory = example("jazz-composer")
    # abc2midi (the image's system package) read the ABC lead sheet and wrote a standard MIDI file.
    assert (directory / "solo.mid").read_bytes()[:4] == b"MThd"


def test_colorize(example, cog):
    directory = example("colorize")
    # Decoded by the model's own image, which has Pillow: rows 5, 100 and 150 are sky, hills and earth.
    probe = ("import json\n"
             "from PIL import Image\n"
             "for name in ('colorized.png', 'still-gray.png', 'landscape-gray.png'):\n"
             "    image = Image.open(name).convert('RGB')\n"
             "    print(json.dumps([image.size, [image.getpixel((20, y)) for y in (5, 100, 150)]]))\n")
    lines = cog("run", "python", "-c", probe, cwd=directory).stdout.splitlines()
    colorized, still_gray, gray = (json.loads(line) for line in lines)
    assert colorized[0] == gray[0] == [240, 160]
    (sky, hills, earth), gray_pixels = colorized[1], gray[1]
    assert sky[2] > sky[0] + 80, f"the sky is not blue: {sky}"
    assert hills[1] > hills[0] + 40 and hills[1] > hills[2] + 40, f"the hills are not green: {hills}"
    assert earth[0] > earth[1] > earth[2], f"the earth is not brown: {earth}"
    assert all(abs(channel - before[0]) <= 2 for after, before in zip(still_gray[1], gray_pixels) for channel in after)
    assert retrained_same_weights(directory, "weights/palette.npy")
    assert retrained_same_weights(directory, "landscape-gray.png")


def test_iris(example):
    directory = example("iris")
    assert retrained_same_weights(directory, "weights/iris.joblib")


def test_streaming_sends_each_token_as_it_comes(example):
    example("streaming")
    with docker.serving(docker.Container(image="cog-streaming")) as served:  # the image the README's `cog predict` built
        Runtime.at(served.url).wait_until_ready(60, served.exited)
        chunks, arrivals, final = [], [], None
        request = {"input": {"prompt": "The lighthouse", "seed": 3, "delay": 0.2}}
        with httpx.stream("POST", f"{served.url}/predictions", json=request, timeout=60,
                          headers={"Accept": "text/event-stream"}) as response:
            event = None
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "output":
                    chunks.append(json.loads(line[6:])["chunk"])
                    arrivals.append(time.monotonic())
                elif line.startswith("data: ") and event == "completed":
                    final = json.loads(line[6:])
    readme_answer = "The lighthouse stands on the rock is near and the bread feeds the keeper. The mainland for bread and oil."
    assert "".join(chunks) == readme_answer
    assert chunks[:3] == ["The lighthouse", " stands", " on"]
    assert final["status"] == "succeeded" and final["output"] == chunks
    # Tokens came while the model was still writing, not all at once at the end.
    assert arrivals[-1] - arrivals[0] > 0.2 * (len(chunks) - 2)
