"""The README's getting-started, command by command as written, against a fresh server, store and user settings.

`cog server` runs in the background (the README leaves it running in a terminal of its own); `cd` moves the
shell that runs the next commands; every other command runs as the README shows it, and prints what it shows.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.examples.readme import ShownCommand, shown_commands

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]


def getting_started(tmp_path: Path) -> list[ShownCommand]:
    """The console blocks of the README's "Getting started" section, up to the next section of its level."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Getting started\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL).group(1)
    extract = tmp_path / "getting-started.md"
    extract.write_text(section, encoding="utf-8")
    return shown_commands(extract)


def wait_for_health(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, f"cog server exited: {server.stdout.read() if server.stdout else ''}"
        try:
            if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"cog server did not answer at {url}")


def test_readme_getting_started(tmp_path, cog_env):
    commands = getting_started(tmp_path)
    assert [c.command.split()[:2] for c in commands] == [
        ["cog", "server"], ["cog", "remote"], ["cd", "examples/colorize"], ["cog", "build"], ["cog", "infer"],
        ["cog", "show"], ["cog", "list"]]
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", 8080)) != 0, "port 8080, which the README's server uses, is taken"
    checkout = tmp_path / "checkout"  # only what the README's commands touch; no .git, no settings
    shutil.copytree(REPO / "examples", checkout / "examples")
    env = {**cog_env, "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{cog_env['PATH']}"}
    server = None
    cwd = checkout
    outputs: dict[str, str] = {}
    try:
        for shown in commands:
            words = shown.command.split()
            if words[:2] == ["cog", "server"]:
                server = subprocess.Popen(["bash", "-c", f"exec {shown.command}"], cwd=cwd, env=env,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                wait_for_health("http://127.0.0.1:8080", server)
                continue
            if words[0] == "cd":
                cwd = cwd / words[1]
                continue
            result = subprocess.run(["bash", "-c", shown.command], cwd=cwd, env=env, capture_output=True, text=True,
                                    timeout=900)
            context = f"$ {shown.command}\n--- stdout:\n{result.stdout}\n--- stderr:\n{result.stderr[-3000:]}"
            assert result.returncode == 0, context
            if shown.output:
                assert result.stdout.splitlines() == shown.stdout, context
            for line in shown.stderr:
                assert line in result.stderr.splitlines(), context
            outputs[words[1]] = result.stdout
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)
    package_id = commands[3].stdout[0]
    assert (cwd / "output.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"Package  {package_id}" in outputs["show"] and "localhost:5000/cog/" in outputs["show"]
    assert package_id[:12] in outputs["list"]
