"""Pushing to a real cog server on loopback (uvicorn in this process, a file:// store): the missing blobs go up at
once, and a push killed in the middle sends only what did not arrive when it is run again.

The store is the real one, with a gate in front of put_blob that the test opens, so that what overlaps and when
the client dies are decided by the test, not by timing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

from cog.packages.api import ServerState
from cog.packages.client import PARALLEL_UPLOADS, ServerClient
from cog.packages.package import scan
from cog.packages.store import Store
from tests.packages.conftest import LiveServer

HELLO = {"cog.yaml": "build:\n  python_version: '3.11'\npredict: predict.py:Predictor\n", "predict.py": "print('hi')\n"}


class GatedStore(Store):
    """A file:// store that records each blob it is sent, and runs `before_put(sha256)` before storing it."""

    def __init__(self, url: str, before_put) -> None:
        super().__init__(url)
        self.before_put = before_put
        self.sent: list[str] = []

    def put_blob(self, sha256: str, chunks, *, max_size: int) -> bool:
        self.sent.append(sha256)
        self.before_put(sha256)
        return super().put_blob(sha256, chunks, max_size=max_size)


@contextmanager
def no_progress(description: str, total: int):
    yield lambda done: None


def test_missing_blobs_are_uploaded_at_once(make_project, tmp_path_factory):
    files = {**HELLO, **{f"weights/{index}.bin": os.urandom(1024) for index in range(PARALLEL_UPLOADS - 2)}}
    local = scan(make_project(files))
    # Each upload waits until PARALLEL_UPLOADS of them are in the server together: one at a time would break it.
    together = threading.Barrier(PARALLEL_UPLOADS, timeout=30)
    store = GatedStore(tmp_path_factory.mktemp("store").as_uri(), lambda sha256: together.wait())
    with LiveServer(ServerState(store=store, builds=None)) as server:
        detail = ServerClient(server.url, server.token).push("alice/hello", local, log=print, progress=no_progress)
    assert detail.id == local.id
    assert sorted(store.sent) == sorted(local.manifest.digests())
    assert store.missing_blobs(local.manifest.digests()) == []


def test_a_push_killed_during_its_upload_sends_only_the_rest_when_run_again(make_project, tmp_path_factory, run_cog,
                                                                              cli_env):
    big = os.urandom(4 * 1024 * 1024)
    project = make_project({**HELLO, "weights/big.bin": big, "weights/small.bin": b"small"})
    local = scan(project)
    big_digest = local.manifest.entry("weights/big.bin").sha256
    held = {big_digest}
    entered, release = threading.Event(), threading.Event()

    def hold_the_big_one(sha256: str) -> None:
        if sha256 in held:
            entered.set()
            release.wait(60)

    store = GatedStore(tmp_path_factory.mktemp("store").as_uri(), hold_the_big_one)
    others = [digest for digest in local.manifest.digests() if digest not in held]
    with LiveServer(ServerState(store=store, builds=None)) as server:
        run_cog("repo", "set", f"{server.url}/alice/hello", cwd=project)
        run_cog("login", server.url, "--password-stdin", input=server.token, cwd=project)
        push = subprocess.Popen([sys.executable, "-m", "cog.cli", "build"], cwd=project, env=cli_env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            assert entered.wait(60), push.stderr.read() if push.poll() is not None else "the big upload never began"
            deadline = time.monotonic() + 60
            while store.missing_blobs(others) and time.monotonic() < deadline:
                time.sleep(0.02)  # the other uploads run beside the held one
            assert store.missing_blobs(others) == []
        finally:
            push.send_signal(signal.SIGKILL)
            push.wait(10)
            held.clear()
            release.set()
        # Released, the held upload either fails (its body was cut) or lands (the whole body had reached the
        # server's socket before the kill): either way, only the big blob may be missing now.
        missing = store.missing_blobs(local.manifest.digests())
        assert missing in ([big_digest], [])

        store.sent.clear()
        result = run_cog("build", cwd=project)
    assert result.stdout.strip() == local.id
    assert store.sent in (missing, [])  # only what had not arrived (it may have landed in the meantime)
    assert store.missing_blobs(local.manifest.digests()) == []
