"""cog server's web UI (GET /) in a real browser, against cog servers in this process on loopback, with packages
pushed by the CLI: models, packages, files and cog.yaml, login with a token, delete; with Docker, a build watched
from queued to succeeded while its log streams, and a failed build retried. Markup in a package never runs."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import httpx
import pytest

from cog.packages.api import ServerState
from cog.packages.builds import BuildQueue, BuildSettings
from cog.packages.package import scan
from cog.packages.records import Build, now
from cog.packages.store import Store
from tests.docker import docker_engine  # noqa: F401 (a fixture)
from tests.packages.conftest import LiveServer, cli_env, run_cog  # noqa: F401 (fixtures)
from tests.web.fixtures.models import HOSTILE

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REGISTRY = "127.0.0.1:5000"
HOSTILE_FILE = '<img src=x onerror="window.__pwned = 1">.txt'


@pytest.fixture
def store_server(tmp_path_factory):
    """A cog server without image builds, over a file:// store."""
    state = ServerState(store=Store(tmp_path_factory.mktemp("store").as_uri()), builds=None)
    with LiveServer(state) as server:
        yield server


def project(tmp_path_factory, cog_yaml_extra: str = "", files: dict | None = None) -> Path:
    directory = tmp_path_factory.mktemp("checkout") / "hello"
    shutil.copytree(EXAMPLES / "hello-world", directory)
    config = directory / "cog.yaml"
    config.write_text(config.read_text().replace("build:\n", f"build:\n{cog_yaml_extra}"))
    for name, content in (files or {}).items():
        (directory / name).write_text(content)
    return directory


def push(run_cog, server, directory: Path, model: str = "alice/hello") -> str:  # noqa: F811
    run_cog("repo", "set", f"{server.url}/{model}", cwd=directory)
    run_cog("login", server.url, "--password-stdin", input=server.token, cwd=directory)
    pushed = run_cog("build", "--no-wait", cwd=directory)
    return pushed.stdout.strip()


def no_markup_ran(browser) -> None:
    assert browser.js("return document.querySelectorAll('script:not([src]), [onerror], img[src=\"x\"]').length") == 0
    assert browser.js("return window.__pwned") is None


def test_browse_a_package_log_in_and_delete_it(browser, store_server, run_cog, tmp_path_factory):  # noqa: F811
    directory = project(tmp_path_factory, f"  # {HOSTILE}\n", {HOSTILE_FILE: HOSTILE})
    package_id = push(run_cog, store_server, directory)
    assert package_id == scan(directory).id
    # A build record as another server would have left it, with markup in its error and its log.
    store_server.state.store.save_log("alice/hello", package_id, "cpu", f"step 1\n{HOSTILE}\n")
    store_server.state.store.save_build("alice/hello", package_id, Build(
        variant="cpu", image=f"r/alice/hello:{package_id}", status="failed", finished_at=now(), error=HOSTILE))

    browser.open(f"{store_server.url}/")
    browser.until(lambda: browser.find_all('a[href$="#/models/alice/hello"]'), "the model in the list")
    browser.screenshot("server-models")
    browser.find('a[href$="#/models/alice/hello"]').click()
    browser.until(lambda: browser.find_all(f'tr[data-package="{package_id}"]'), "the package in the model's list")
    browser.find(f'tr[data-package="{package_id}"] a').click()
    browser.until(lambda: browser.text("#package-id") == package_id, "the package page")
    browser.until(lambda: HOSTILE in browser.text("#cog-yaml"), "the cog.yaml, as written")
    paths = [cell.text for cell in browser.find_all('table[aria-label="Files"] tbody td:first-child')]
    assert paths == sorted(["cog.yaml", "predict.py", "README.md", HOSTILE_FILE])
    link = browser.js("return [...document.querySelectorAll('table[aria-label=Files] a')]"
                      ".find((a) => a.textContent === arguments[0]).href", HOSTILE_FILE)
    assert httpx.get(link).content == HOSTILE.encode()  # the file's bytes, as an attachment
    browser.until(lambda: HOSTILE in browser.text("#build-log"), "the build's log")
    assert browser.text('tr[data-variant="cpu"] .error') == HOSTILE
    assert f"cog download {package_id[:12]}" in browser.text("#view")
    assert not browser.find_all("#delete")  # reads are open; writes need a token
    no_markup_ran(browser)
    browser.screenshot("server-package")

    browser.find("#token").send_keys("not-the-token")
    browser.find("#login button").click()
    browser.until(lambda: browser.text("#login-error") == "the token is not valid on this server", "the refusal")
    browser.find("#token").clear()
    browser.find("#token").send_keys(store_server.token)
    browser.find("#login button").click()
    browser.until(lambda: browser.find_all("#delete"), "the delete button, once logged in")
    no_markup_ran(browser)
    browser.find('tr[data-variant="cpu"] button.retry').click()  # this server builds nothing: it says so
    browser.until(lambda: browser.text("#login-error") == "this server builds no images: it was started without "
                  "--docker-registry", "the refused retry")
    browser.find("#delete").click()
    browser.driver.switch_to.alert.accept()
    browser.until(lambda: browser.text("#view").endswith("No packages."), "the model's page without the package")
    assert store_server.http(None).get(f"/models/alice/hello/packages/{package_id}").status_code == 404
    assert browser.errors() == []


def test_unknown_pages_and_files_are_one_line_errors(browser, store_server, run_cog, tmp_path_factory):  # noqa: F811
    package_id = push(run_cog, store_server, project(tmp_path_factory))
    browser.open(f"{store_server.url}/#/nowhere")
    browser.until(lambda: browser.text("#view") == "There is no page #/nowhere", "the unknown page")
    browser.open(f"{store_server.url}/#/models/alice/hello/packages/{'0' * 12}")
    browser.until(lambda: browser.text("#view") == f"alice/hello has no package {'0' * 12}", "the unknown package")
    http = store_server.http(None)
    missing = http.get(f"/models/alice/hello/packages/{package_id}/files/nope.txt")
    assert missing.status_code == 404 and missing.json()["detail"] == f"path: package {package_id[:12]} has no file 'nope.txt'"
    assert httpx.get(f"{store_server.url}/ui/static/store.html").status_code == 404
    assert httpx.get(f"{store_server.url}/ui/static/nope.js").status_code == 404
    assert http.get(f"/models/alice/hello/packages/{package_id}/builds/cpu/log", params={"follow": "true"}).status_code == 404


def test_a_followed_log_of_a_finished_build_is_the_whole_log(store_server, run_cog, tmp_path_factory):  # noqa: F811
    package_id = push(run_cog, store_server, project(tmp_path_factory))
    store = store_server.state.store
    store.save_log("alice/hello", package_id, "cpu", "step 1\nstep 2\n")
    store.save_build("alice/hello", package_id, Build(variant="cpu", image="r/alice/hello:x", status="failed",
                                                      finished_at=now(), error="exit 3"))
    with store_server.http(None).stream("GET", f"/models/alice/hello/packages/{package_id}/builds/cpu/log",
                                        params={"follow": "true"}) as answer:
        assert answer.headers["content-type"] == "text/plain; charset=utf-8"
        assert answer.read() == b"step 1\nstep 2\n"  # and then it ends: the build has finished


@pytest.mark.docker
def test_watch_a_build_with_its_log_streaming_and_retry_a_failed_one(browser, docker_engine, run_cog,  # noqa: F811
                                                                     tmp_path_factory):
    marker = f"cog-web-{uuid.uuid4().hex[:10]}"
    store = Store(tmp_path_factory.mktemp("store").as_uri())
    builds = BuildQueue(store, BuildSettings(registry=f"{REGISTRY}/{marker}", ca_bundle=_ca_bundle()), lambda line: None)
    with LiveServer(ServerState(store=store, builds=builds)) as server:
        # A step that says something, then takes a while: the page must show the line before the build ends.
        # (The shell computes the line's end: the command itself, which the log shows first, does not contain it.)
        slow = project(tmp_path_factory, f"  run:\n    - echo {marker}-$((40 + 2)) && sleep 6\n")
        package_id = push(run_cog, server, slow)
        browser.open(f"{server.url}/#/models/alice/hello/packages/{package_id}")
        seen = []

        def building_with_the_line() -> bool:
            status = browser.text('tr[data-variant="cpu"] .badge')
            seen.append(status)
            return status == "building" and f"{marker}-42" in browser.text("#build-log")

        browser.until(building_with_the_line, "the log line while the build runs", timeout=300)
        browser.screenshot("server-building")
        browser.until(lambda: browser.text('tr[data-variant="cpu"] .badge') == "succeeded", "the build to succeed", timeout=300)
        # The first status the page showed (before its first render the badge is empty).
        assert next(status for status in seen if status) in ("queued", "building")
        browser.until(lambda: f"docker run -p 5000:5000 {REGISTRY}/{marker}/alice/hello@sha256:"
                      in browser.text("#view"), "the docker command of the built image")
        assert browser.text('tr[data-variant="cpu"] td:nth-child(4)') == "linux/amd64"  # the image's platforms
        assert store.load_builds("alice/hello", package_id)[0].platforms == ["linux/amd64"]

        failing = project(tmp_path_factory, "  run:\n    - exit 3\n")
        broken_id = push(run_cog, server, failing)
        browser.open(f"{server.url}/#/models/alice/hello/packages/{broken_id}")
        browser.find("#token").send_keys(server.token)
        browser.find("#login button").click()
        browser.until(lambda: browser.text('tr[data-variant="cpu"] .badge') == "failed", "the build to fail", timeout=300)
        browser.until(lambda: "exit code: 3" in browser.text("#build-log"), "the failed build's log")
        browser.find('tr[data-variant="cpu"] button.retry').click()
        browser.until(lambda: "attempt 2" in browser.text('tr[data-variant="cpu"]'), "the retry")
        browser.until(lambda: browser.text('tr[data-variant="cpu"] .badge') == "failed", "the retried build to fail", timeout=300)
        assert store.load_builds("alice/hello", broken_id)[0].attempt == 2
        assert browser.errors() == []
    builds.shutdown()


def _ca_bundle():
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    return bundle if bundle.is_file() else None
