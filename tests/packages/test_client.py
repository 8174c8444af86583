"""The client's steps of `cog build` with a repo (push, wait for the builds) against a scripted server, in process."""

from __future__ import annotations

import json
from contextlib import contextmanager

import httpx
import pytest

from cog.errors import CogError
from cog.packages import client as client_module
from cog.packages.client import LOG_TAIL, ServerClient
from cog.packages.package import scan

SAME = b"the same bytes\n"


class Server:
    """Answers what a cog server answers, from scripts: which blobs it lacks, and the builds of each poll."""

    def __init__(self, local, missing: list[list[str]], polls: list[list[dict]] = (), log: str = "") -> None:
        self.local, self.missing, self.polls, self.log = local, list(missing), list(polls), log
        self.uploaded: list[str] = []
        self.commits = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/v1")
        if path == "/blobs/missing":
            return httpx.Response(200, json={"missing": self.missing.pop(0)})
        if path.startswith("/blobs/"):
            self.uploaded.append(path.removeprefix("/blobs/"))
            return httpx.Response(201, json={})
        if path.endswith("/log"):
            return httpx.Response(200, text=self.log)
        if request.method == "POST":
            self.commits += 1
            if self.missing:  # collected between the question and the commit
                return httpx.Response(409, json={"detail": "blobs are missing", "missing": self.missing.pop(0)})
            return httpx.Response(201, json=self.detail([]))
        return httpx.Response(200, json=self.detail(self.polls.pop(0)))

    def detail(self, builds: list[dict]) -> dict:
        manifest = self.local.manifest
        return {"id": manifest.id, "model": "alice/hello", "created_at": "2024-01-01T00:00:00Z",
                "size": manifest.size, "files": len(manifest.files), "builds": builds, "config": {},
                "manifest": json.loads(manifest.model_dump_json())}


@pytest.fixture
def local(make_project):
    return scan(make_project({"cog.yaml": "predict: predict.py:P\n", "a.txt": SAME, "b.txt": SAME, "c.txt": "c\n"}))


def client_of(server: Server) -> ServerClient:
    return ServerClient("http://cog.test", "token", transport=httpx.MockTransport(server.handle))


def progress_into(lines: list[str]):
    """A progress display that writes what it would show into `lines`."""

    @contextmanager
    def progress(description: str, total: int):
        lines.append(f"{description} ({total} bytes)")
        yield lambda done: None

    return progress


def test_push_uploads_each_missing_content_once_then_commits(local) -> None:
    digests = local.manifest.digests()
    server, lines = Server(local, missing=[digests]), []
    detail = client_of(server).push("alice/hello", local, log=lines.append, progress=progress_into(lines))
    assert detail.id == local.id and server.commits == 1
    assert sorted(server.uploaded) == sorted(digests) and len(digests) == 3
    assert lines == [f"Uploading 3 files ({local.manifest.size - len(SAME)} bytes)"]


def test_push_sends_what_was_collected_before_its_commit_and_commits_again(local) -> None:
    digests = local.manifest.digests()
    server, lines = Server(local, missing=[[], digests[:1]]), []
    client_of(server).push("alice/hello", local, log=lines.append, progress=progress_into(lines))
    assert server.uploaded == digests[:1] and server.commits == 2
    assert lines[0] == "Nothing to upload: the server has every file" and lines[1].startswith("Uploading 1 files")


def build(variant: str, status: str, **more) -> dict:
    return {"variant": variant, "status": status, **more}


def test_waiting_logs_each_change_of_status_and_polls_less_often(local, monkeypatch) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(client_module.time, "sleep", pauses.append)
    polls = [[build("cpu", "queued")]] * 3 + [[build("cpu", "building")]] * 6 + [[build("cpu", "succeeded")]]
    lines: list[str] = []
    builds = client_of(Server(local, [], polls)).wait_for_builds("alice/hello", local.id, log=lines.append,
                                                                 show_log=lines.append)
    assert [b.status for b in builds] == ["succeeded"]
    assert lines == ["CPU image: queued", "CPU image: building", "CPU image: succeeded"]
    assert pauses[:3] == pytest.approx([0.2, 0.3, 0.45]) and pauses[-1] == 2.0 and len(pauses) == 9


def test_a_failed_build_shows_the_end_of_its_log_and_says_how_to_retry(local, monkeypatch) -> None:
    monkeypatch.setattr(client_module.time, "sleep", lambda pause: None)
    log = "".join(f"line {n}\n" for n in range(100))
    polls = [[build("cpu", "building"), build("gpu", "failed", error="the image build failed: boom")]]
    lines, shown_log = [], []
    with pytest.raises(CogError) as failure:
        client_of(Server(local, [], polls, log)).wait_for_builds("alice/hello", local.id, log=lines.append,
                                                                 show_log=shown_log.append)
    assert str(failure.value) == (f"the gpu build of {local.id[:12]} failed: the image build failed: boom; "
                                  "run cog build again to retry it")
    assert lines == ["CPU image: building", "GPU image: failed"]
    assert shown_log == [f"line {n}" for n in range(100 - LOG_TAIL, 100)]
