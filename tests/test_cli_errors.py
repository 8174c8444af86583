"""What the CLI says when a server it talks to is not there, or not what it should be: one line in our words, never
httpx's text or a traceback. Through the real CLI, against servers on loopback (tests/loopback.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import httpx
import pytest

from cog.http_errors import describe_answer, http_failure
from cog.images.buildx import passing_registry_status, registry_of, registry_problem, unpulled_base_image
from tests.loopback import answering, free_port


@pytest.fixture
def cog(tmp_path):
    """The CLI in a fresh home (no cog server set), in an empty directory."""
    home = tmp_path / "home"
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "config"), "XDG_DATA_HOME": str(home / "data"),
           "COLUMNS": "200", "NO_COLOR": "1"}
    work = tmp_path / "work"
    work.mkdir()

    def run(*args: str, input: str | None = None, extra_env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cog.cli", *args], cwd=work, env={**env, **(extra_env or {})},
                              capture_output=True, text=True, timeout=120, input=input)

    return run


def one_error_line(result: subprocess.CompletedProcess) -> str:
    """The error: non-zero exit, and exactly one line on stderr that starts with error: (after any progress)."""
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and result.stderr.rstrip().endswith(errors[0]), result.stderr
    assert "Traceback" not in result.stderr and "httpx" not in result.stderr
    return errors[0]


# --- cog predict --url ------------------------------------------------------------------------------------


def test_predict_url_where_nothing_listens(cog):
    url = f"http://127.0.0.1:{free_port()}"
    assert one_error_line(cog("predict", "--url", url, "-i", "text=x")) == (
        f"error: cannot reach a model server at {url} (connection refused: nothing listens on that port); "
        f"check --url, and that the model's server runs there")


@pytest.mark.parametrize(("kind", "said"), [
    ("garbage", None),
    ("500", "answered HTTP 500 with text/plain"),
    ("html", "answered HTTP 200 with text/html, from nginx/1.25.3"),
    ("json", "answered HTTP 200 with application/json"),
])
def test_predict_url_where_something_else_answers(cog, kind, said):
    with answering(kind) as url:
        line = one_error_line(cog("predict", "--url", url, "-i", "text=x"))
    if said is None:  # not HTTP at all
        assert line == (f"error: cannot reach a model server at {url} (it closed the connection without an HTTP "
                        f"answer); check --url, and that the model's server runs there")
    else:
        assert line == f"error: what answers at {url} is not a Cog model server (GET /health-check {said}); check --url"
    assert "Traceback" not in line and "boom" not in line


@pytest.mark.parametrize("url", ["127.0.0.1:5000", "http://127.0.0.1:99999", "http://127.0.0.1:port", "ftp://x"])
def test_predict_url_that_is_not_a_url(cog, url):
    assert one_error_line(cog("predict", "--url", url, "-i", "text=x")) == (
        f"error: {url} is not the URL of a model server; expected http://HOST:PORT")


# --- the commands of a cog server: list, show, login ----------------------------------------------------------


def test_server_commands_where_nothing_listens(cog):
    url = f"http://127.0.0.1:{free_port()}"
    cog("remote", "set", url)
    expected = (f"error: cannot reach the cog server at {url} (connection refused: nothing listens on that port); "
                f"check that cog server runs there, or set another address with cog remote set http://HOST:PORT")
    assert one_error_line(cog("list")) == expected
    assert one_error_line(cog("show", "abcd")) == expected


@pytest.mark.parametrize(("kind", "said"), [
    ("500", "HTTP 500 with text/plain"),
    ("html", "HTTP 200 with text/html, from nginx/1.25.3"),
    ("json", "HTTP 200 with application/json"),
])
def test_server_commands_where_something_else_answers(cog, kind, said):
    with answering(kind) as url:
        cog("remote", "set", url)
        for args, request in ((["list"], "GET /v1/packages"), (["show", "abcd"], "GET /v1/packages"),
                              (["download", "abcd"], "GET /v1/packages")):
            assert one_error_line(cog(*args)) == (
                f"error: what answers at {url} is not a cog server ({request} answered {said}); check the address, "
                f"and set the right one with cog remote set http://HOST:PORT")
        assert one_error_line(cog("login", url, "--password-stdin", input="cog_x\n")) == (
            f"error: what answers at {url} is not a cog server (GET /v1/auth answered {said}); check the address, "
            f"and set the right one with cog remote set http://HOST:PORT")


def test_server_commands_where_a_non_http_program_answers(cog):
    with answering("garbage") as url:
        cog("remote", "set", url)
        assert one_error_line(cog("list")) == (
            f"error: cannot reach the cog server at {url} (it closed the connection without an HTTP answer); check "
            f"that cog server runs there, or set another address with cog remote set http://HOST:PORT")


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999", "http://127.0.0.1:port"])
def test_a_server_url_with_a_bad_port(cog, url):
    assert one_error_line(cog("remote", "set", url)) == (
        f"error: {url} is not a server URL: its port is not a number from 1 to 65535; expected http://HOST[:PORT]")


# --- the words, one kind of failure at a time ----------------------------------------------------------------


def test_http_failures_in_our_words():
    port = free_port()
    with pytest.raises(httpx.ConnectError) as refused:
        httpx.get(f"http://127.0.0.1:{port}/")
    assert http_failure(refused.value) == "connection refused: nothing listens on that port"
    with answering("garbage") as url, pytest.raises(httpx.RemoteProtocolError) as garbage:
        httpx.get(url)
    assert http_failure(garbage.value) == "it closed the connection without an HTTP answer"
    with pytest.raises(httpx.UnsupportedProtocol) as protocol:
        httpx.get("ftp://127.0.0.1/")
    assert http_failure(protocol.value) == "not an http:// or https:// URL"
    with pytest.raises(httpx.InvalidURL) as invalid:
        httpx.get("http://127.0.0.1:port/")
    assert http_failure(invalid.value) == "not a valid URL"
    with pytest.raises(UnicodeError) as label:
        httpx.get(f"http://{'a' * 64}.invalid/")
    assert http_failure(label.value) == "not a valid host name"
    with answering("html") as url:
        assert describe_answer(httpx.get(url)) == "HTTP 200 with text/html, from nginx/1.25.3"


@pytest.mark.parametrize(("reason", "reference", "expected"), [
    ('failed to do request: Head "https://registry-1.docker.io/v2/library/python/manifests/3.12-slim": dial tcp: '
     "lookup registry-1.docker.io on 10.0.0.53:53: no such host", "docker.io/library/python:3.12-slim",
     "docker.io (not reachable from here: no such host registry-1.docker.io)"),
    ('failed to do request: Head "https://127.0.0.1:5999/v2/x/manifests/latest": dial tcp 127.0.0.1:5999: connect: '
     "connection refused", "127.0.0.1:5999/x", "127.0.0.1:5999 (not reachable from here: connection refused)"),
    ("127.0.0.1:5000/astral-sh/uv:0.13.8: not found", "127.0.0.1:5000/astral-sh/uv:0.13.8", "127.0.0.1:5000 (it has no such image)"),
    ("pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: "
     "authorization failed", "docker.io/library/pythn:3.11-slim",
     "docker.io (access denied: it has no such image, or it needs docker login docker.io)"),
    ("unexpected status from HEAD request to https://ghcr.io/v2/a/b/manifests/1: 401 Unauthorized", "ghcr.io/a/b:1",
     "ghcr.io (it needs credentials: docker login ghcr.io)"),
    ("toomanyrequests: You have reached your pull rate limit.", "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04",
     "docker.io (it refused: too many requests; try again later, or docker login docker.io)"),
])
def test_registry_problems_in_our_words(reason, reference, expected):
    assert registry_problem(reason, reference) == expected


@pytest.mark.parametrize("error, status", [
    ("unexpected status from HEAD request to http://127.0.0.1:5000/v2/cog-test/hello/manifests/be8970b4: "
     "500 Internal Server Error", "500 Internal Server Error"),
    ("failed to push 127.0.0.1:5000/a/b:c: unexpected status from PUT request to "
     "http://127.0.0.1:5000/v2/a/b/manifests/c: 503 Service Unavailable", "503 Service Unavailable"),
    ("received unexpected HTTP status: 502 Bad Gateway", "502 Bad Gateway"),
    ("unexpected status from PUT request to https://ghcr.io/v2/a/b/blobs/uploads/: 429 Too Many Requests",
     "429 Too Many Requests"),
    # What pushing again does not cure: denied, not found, a bad request, no network.
    ("unexpected status from HEAD request to https://ghcr.io/v2/a/b/manifests/c: 401 Unauthorized", None),
    ("unexpected status from PUT request to http://127.0.0.1:5000/v2/a/b/manifests/c: 400 Bad Request", None),
    ("failed to push ghcr.io/a/b:c: denied: permission_denied: write_package", None),
    ('dial tcp 127.0.0.1:5999: connect: connection refused', None),
])
def test_a_registrys_passing_failure_is_told_from_the_rest(error, status):
    assert passing_registry_status(error) == status


def test_the_registry_of_a_reference():
    assert [registry_of(r) for r in ("python:3.12-slim", "nvidia/cuda:12.8", "ghcr.io/astral-sh/uv:0.13.8",
                                     "localhost/x", "127.0.0.1:5000/a/b")] == [
        "docker.io", "docker.io", "ghcr.io", "localhost", "127.0.0.1:5000"]


def test_a_build_that_cannot_pull_its_base_image_says_which_and_what_to_do():
    lines = [
        "#2 [internal] load metadata for docker.io/library/python:3.12-slim",
        "#2 ERROR: failed to do request: ...",
        "ERROR: failed to solve: python:3.12-slim: failed to resolve source metadata for docker.io/library/python:3.12-slim: "
        'failed to do request: Head "https://registry-1.docker.io/v2/library/python/manifests/3.12-slim": dial tcp: '
        "lookup registry-1.docker.io on 10.0.0.53:53: no such host",
    ]
    assert unpulled_base_image(lines) == (
        "the base image python:3.12-slim could not be pulled from its registry docker.io (not reachable from here: no "
        "such host registry-1.docker.io); take base images from a registry this machine reaches with "
        "--base-image-mirror HOST[:PORT] (or COG_BASE_IMAGE_MIRROR), or pre-load it: docker pull python:3.12-slim on a "
        "connected machine, docker save python:3.12-slim -o image.tar there, then docker load -i image.tar here")
    assert unpulled_base_image(["ERROR: process \"/bin/sh -c pip install x\" did not complete successfully"]) is None


# --- flags and messages ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("arguments", "environment", "said"), [
    (["--base-image-mirror", "http://mirror"], {}, "--base-image-mirror http://mirror"),
    (["--base-image-mirror", "not a host!"], {}, "--base-image-mirror not a host!"),
    ([], {"COG_BASE_IMAGE_MIRROR": "x\nRUN echo injected"}, "COG_BASE_IMAGE_MIRROR x\\nRUN echo injected"),
])
def test_a_base_image_mirror_that_is_no_registry_is_one_line_naming_where_it_came_from(cog, tmp_path, arguments,
                                                                                      environment, said):
    (tmp_path / "work" / "cog.yaml").write_text("build:\n  python_version: '3.11'\npredict: predict.py:Predictor\n")
    line = one_error_line(cog("generate-dockerfile", *arguments, extra_env=environment))
    assert line == f"error: {said} is not a registry HOST[:PORT][/PREFIX], such as mirror.example.com:5000/hub"


def test_an_error_that_holds_brackets_is_printed_as_it_is(cog, tmp_path):
    # rich would read [/PREFIX] or [bold] in a message as its markup: an error of its own, or a message restyled
    (tmp_path / "work" / "cog.yaml").write_text("build:\n  python_packages: ['[bold]x']\n")
    assert one_error_line(cog("generate-dockerfile")).startswith("error: cog.yaml:2:21: pip cannot read `[bold]x`")
