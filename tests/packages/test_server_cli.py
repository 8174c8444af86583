"""cog server and cog remote set through the real CLI, where something is wrong: the address answers nothing or
is not a cog server, the port is taken, the token file or the storage cannot be written, a server was killed in
the middle of an upload."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx

from tests.loopback import answering, free_port
from tests.packages.test_api import kill_during_an_upload, sha


def error_line(result: subprocess.CompletedProcess) -> str:
    """Exit 1, and stderr is exactly one line, the error (no banner before it, no traceback after)."""
    assert result.returncode == 1, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result.stderr.strip()


# --- cog remote set -----------------------------------------------------------------------------------------


def test_remote_set_where_nothing_listens_keeps_it_and_says_so(run_cog, tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    result = run_cog("remote", "set", url, cwd=tmp_path)
    assert result.returncode == 0
    assert result.stderr.strip() == (
        f"warning: Remote set to {url}, but no cog server answers there (connection refused: nothing listens on that "
        f"port); start cog server there, or run cog remote set again with the right address")
    listed = run_cog("list", cwd=tmp_path, check=False)  # it was kept
    assert error_line(listed).startswith(f"error: cannot reach the cog server at {url} (connection refused")


def test_remote_set_where_another_server_answers_says_what_answered(run_cog, tmp_path):
    with answering("html") as url:
        result = run_cog("remote", "set", url, cwd=tmp_path)
    assert result.returncode == 0
    assert result.stderr.strip() == (
        f"warning: Remote set to {url}, but what answers there is not a cog server (GET /v1/health answered HTTP 200 "
        f"with text/html, from nginx/1.25.3); start cog server there, or run cog remote set again with the right address")


def test_remote_set_and_repo_set_where_a_cog_server_answers(run_cog, start_server, tmp_path):
    server = start_server("--storage", (tmp_path / "store").as_uri())
    result = run_cog("remote", "set", server.url, cwd=tmp_path)
    assert result.stderr.strip() == f"✓ Remote set to {server.url}"
    result = run_cog("repo", "set", f"{server.url}/alice/hello", cwd=tmp_path)
    assert result.stderr.strip() == f"✓ Repo set to {server.url}/alice/hello"


# --- cog server: checks before the banner --------------------------------------------------------------------


def cog_server(run_cog, tmp_path: Path, *args: str, **options):
    return run_cog("server", "--storage", (tmp_path / "store").as_uri(), "--token-file", str(tmp_path / "token"),
                   *args, cwd=tmp_path, check=False, **options)


def test_server_on_a_port_in_use_says_so_first(run_cog, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cog_server(run_cog, tmp_path, "--port", str(port))
    assert error_line(result) == (f"error: port {port} on 127.0.0.1 is in use by another program (or another cog "
                                  f"server); stop it, or choose another port with --port")
    assert not (tmp_path / "token").exists()  # nothing was done before the check


def test_server_with_an_unwritable_token_file(run_cog, tmp_path):
    (tmp_path / "a-file").write_text("")
    result = run_cog("server", "--port", str(free_port()), "--storage", (tmp_path / "store").as_uri(),
                     "--token-file", str(tmp_path / "a-file" / "token"), cwd=tmp_path, check=False)
    assert error_line(result) == (f"error: --token-file {tmp_path}/a-file/token cannot be written ({tmp_path}/a-file "
                                  f"is a file, not a folder); give a path this user can write to with --token-file")
    result = run_cog("server", "--port", str(free_port()), "--storage", (tmp_path / "store").as_uri(),
                     "--token-file", str(tmp_path), cwd=tmp_path, check=False)
    assert error_line(result) == (f"error: --token-file {tmp_path} cannot be written (Is a directory); give a path "
                                  f"this user can write to with --token-file")


def test_server_with_unwritable_or_unknown_storage(run_cog, tmp_path):
    (tmp_path / "a-file").write_text("")
    storage = (tmp_path / "a-file" / "store").as_uri()
    result = run_cog("server", "--port", str(free_port()), "--storage", storage, cwd=tmp_path, check=False)
    assert error_line(result) == (f"error: --storage {storage} cannot be written to (Not a directory); give a place "
                                  f"this user can write to with --storage (file:///PATH, s3://BUCKET/PREFIX, ...)")
    result = run_cog("server", "--port", str(free_port()), "--storage", "nosuchfs://bucket/x", cwd=tmp_path, check=False)
    assert error_line(result) == (
        "error: --storage nosuchfs://bucket/x is not a storage URL cog can use; give file:///PATH, s3://BUCKET/PREFIX, "
        "gs://BUCKET/PREFIX or another fsspec URL whose package is installed")


def test_server_on_an_address_that_is_not_this_machines(run_cog, tmp_path):
    result = cog_server(run_cog, tmp_path, "--port", str(free_port()), "--host", "192.0.2.1")  # TEST-NET-1: never here
    assert error_line(result) == ("error: --host 192.0.2.1 is not an address of this machine; use 127.0.0.1 (this "
                                  "machine only) or 0.0.0.0 (every interface)")


# --- unfinished uploads --------------------------------------------------------------------------------------


def test_unfinished_uploads_are_deleted_at_start_and_while_serving(start_server, tmp_path):
    store = tmp_path / "store"
    uploads = store / "uploads"
    grace = 6.0
    server = start_server("--storage", store.as_uri(), "--gc-grace", str(grace))
    partial = kill_during_an_upload(server, os.urandom(4 * 1024 * 1024), uploads)

    # Restarted: the partial file is younger than the grace, so it is kept, then deleted while the server runs.
    again = start_server("--storage", store.as_uri(), "--gc-grace", str(grace))
    if time.time() - partial.stat().st_mtime < grace - 1:
        assert partial.exists()
    deadline = partial.stat().st_mtime + grace + 10
    while partial.exists() and time.time() < deadline:
        time.sleep(0.2)
    assert not partial.exists()
    assert again.process.poll() is None
    assert httpx.get(f"{again.url}/v1/health").json()["status"] == "ok"

    # Killed again mid-upload, and restarted with the default grace (an hour) once the file is older than that:
    # it is gone before the server answers.
    partial = kill_during_an_upload(again, os.urandom(4 * 1024 * 1024), uploads)
    an_hour_ago = time.time() - 3601
    os.utime(partial, (an_hour_ago, an_hour_ago))
    third = start_server("--storage", store.as_uri())
    assert not partial.exists() and list(uploads.iterdir()) == []
    assert "Deleted 1 unfinished uploads older than 1 h" in third.stop()


def test_the_grace_is_an_option_and_an_environment_variable(run_cog, tmp_path):
    help_text = run_cog("server", "--help", cwd=tmp_path).stdout
    assert "--gc-grace" in help_text and "COG_GC_GRACE" in help_text


def test_an_upload_that_stalls_past_the_grace_is_refused_and_can_be_sent_again(start_server, tmp_path):
    server = start_server("--storage", (tmp_path / "store").as_uri(), "--gc-grace", "1")
    token = server.token_file.read_text().strip()
    data = os.urandom(3 * 1024 * 1024)

    def stalling():
        yield data[:1024 * 1024 + 1]
        time.sleep(4)  # the collector runs every second, and takes what is older than a second
        yield data[1024 * 1024 + 1:]

    headers = {"Authorization": f"Bearer {token}", "Content-Length": str(len(data))}
    answer = httpx.put(f"{server.url}/v1/blobs/{sha(data)}", content=stalling(), headers=headers, timeout=60)
    assert answer.status_code == 408
    assert answer.json()["detail"] == ("body: the upload stalled for longer than unfinished uploads are kept, and was "
                                       "discarded; send it again (after 1 s)")
    assert httpx.put(f"{server.url}/v1/blobs/{sha(data)}", content=data, headers=headers).status_code == 201
