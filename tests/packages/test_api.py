"""The cog server's HTTP API on real HTTP (uvicorn on loopback), and the CLI against `cog server` processes."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from cog.packages.api import ServerState
from cog.packages.package import scan, zip_chunks
from cog.packages.store import Store

from tests.packages.conftest import S3_FAST_FAILURE, LiveServer, free_port

COG_YAML = b"build:\n  python_version: '3.11'\npredict: predict.py:Predictor\n"
PREDICT = b"from cog import BasePredictor\n\nclass Predictor(BasePredictor):\n    def predict(self, text: str) -> str:\n        return text\n"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest(files: dict[str, bytes], mode: int = 0o100644) -> dict:
    return {"files": [{"path": p, "mode": mode, "size": len(d), "sha256": sha(d)} for p, d in sorted(files.items())]}


def push(http: httpx.Client, files: dict[str, bytes], model: str = "alice/hello") -> httpx.Response:
    for data in files.values():
        assert http.put(f"/blobs/{sha(data)}", content=data).status_code in (200, 201)
    return http.post(f"/models/{model}/packages", json={"manifest": manifest(files)})


def test_health_and_docs(live_server):
    health = live_server.http(None).get("/health")
    assert health.status_code == 200 and health.json()["status"] == "ok" and health.json()["builds"] is False
    assert httpx.get(f"{live_server.url}/docs").status_code == 200
    assert "/v1/models/{owner}/{name}/packages" in httpx.get(f"{live_server.url}/openapi.json").json()["paths"]


def test_metrics_count_requests_by_route_template(live_server):
    http = live_server.http(None)
    assert http.get("/models/alice/hello/packages").status_code == 200
    assert http.get(f"/models/alice/hello/packages/{'a' * 12}").status_code == 404
    scrape = httpx.get(f"{live_server.url}/metrics")
    assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")
    assert ('cog_http_requests_total{code="200",endpoint="/v1/models/{owner}/{name}/packages",method="GET"} 1.0'
            in scrape.text)
    assert ('cog_http_requests_total{code="404",endpoint="/v1/models/{owner}/{name}/packages/{package_id}",'
            'method="GET"} 1.0' in scrape.text)
    assert "alice" not in scrape.text


@pytest.mark.parametrize("token", [None, "cog_wrong"])
def test_writes_need_a_valid_token(live_server, token):
    http = live_server.http(token)
    for answer in (http.put(f"/blobs/{sha(b'x')}", content=b"x"), http.post("/blobs/missing", json={"digests": []}),
                   http.post("/models/a/b/packages", json={"manifest": manifest({"cog.yaml": COG_YAML})}),
                   http.delete(f"/models/a/b/packages/{'0' * 64}"), http.get("/auth")):
        assert answer.status_code == 401, answer.text
        assert "token" in answer.json()["detail"]
    assert not live_server.state.store.has_blob(sha(b"x"))
    assert live_server.http().get("/auth").status_code == 200


def test_upload_is_checked_against_its_hash(live_server):
    http = live_server.http()
    answer = http.put(f"/blobs/{sha(b'right')}", content=b"wrong")
    assert answer.status_code == 400 and answer.json()["detail"].startswith("body: the content's sha256 is")
    assert http.post("/blobs/missing", json={"digests": [sha(b"right")]}).json() == {"missing": [sha(b"right")]}
    assert http.put(f"/blobs/{sha(b'right')}", content=b"right").status_code == 201
    assert http.put(f"/blobs/{sha(b'right')}", content=b"right").status_code == 200
    assert http.post("/blobs/missing", json={"digests": [sha(b"right")]}).json() == {"missing": []}


def test_upload_size_limit(live_server):
    big = b"x" * (10 * 1024 * 1024 + 1)
    answer = live_server.http().put(f"/blobs/{sha(big)}", content=big)
    assert answer.status_code == 413 and "limit" in answer.json()["detail"]

    def unsized():
        yield big

    answer = live_server.http().put(f"/blobs/{sha(big)}", content=unsized())  # chunked: no Content-Length to go by
    assert answer.status_code == 413 and not live_server.state.store.has_blob(sha(big))


@pytest.mark.parametrize("path, detail", [
    ("../etc/passwd", "manifest.files.0.path: Value error, '../etc/passwd' has a '..' component; paths must be plain and relative"),
    ("/etc/passwd", "manifest.files.0.path: Value error, '/etc/passwd' is an absolute path"),
])
def test_a_manifest_with_unsafe_paths_is_refused(live_server, path, detail):
    answer = live_server.http().post("/models/alice/hello/packages", json={"manifest": manifest({path: b"x"})})
    assert answer.status_code == 400 and answer.json() == {"detail": detail}


@pytest.mark.parametrize("files, detail", [
    ({"predict.py": PREDICT}, "manifest: the package has no cog.yaml at its root"),
    ({"cog.yaml": b"build:\n  python_versoin: '3.11'\n"}, "manifest: cog.yaml:2:3: unknown key"),
])
def test_a_package_needs_a_valid_cog_yaml(live_server, files, detail):
    answer = push(live_server.http(), files)
    assert answer.status_code == 400 and answer.json()["detail"].startswith(detail)


def test_a_link_out_of_the_package_is_refused(live_server):
    http = live_server.http()
    http.put(f"/blobs/{sha(b'../../etc/passwd')}", content=b"../../etc/passwd")
    document = manifest({"cog.yaml": COG_YAML})
    document["files"].append({"path": "passwd", "mode": 0o120000, "size": 16, "sha256": sha(b"../../etc/passwd")})
    push(http, {"cog.yaml": COG_YAML})
    answer = http.post("/models/alice/hello/packages", json={"manifest": document})
    assert answer.status_code == 400 and "'passwd' links to '../../etc/passwd', outside the project" in answer.json()["detail"]


def test_bad_names_are_refused_naming_the_field(live_server):
    answer = live_server.http().get("/models/Alice/hello/packages")
    assert answer.status_code == 400 and answer.json()["detail"].startswith("owner 'Alice' is not a valid name")
    answer = live_server.http().get("/models/alice/hello/packages/xyz")
    assert answer.status_code == 400 and "package id 'xyz'" in answer.json()["detail"]


def test_commit_waits_for_every_blob(live_server):
    http = live_server.http()
    http.put(f"/blobs/{sha(COG_YAML)}", content=COG_YAML)
    answer = http.post("/models/alice/hello/packages", json={"manifest": manifest({"cog.yaml": COG_YAML, "predict.py": PREDICT})})
    assert answer.status_code == 409 and answer.json()["missing"] == [sha(PREDICT)]
    assert http.get("/models/alice/hello/packages").json() == []


def test_commit_list_show_download_delete(live_server, make_project):
    http = live_server.http()
    first = push(http, {"cog.yaml": COG_YAML, "predict.py": PREDICT})
    assert first.status_code == 201
    package = first.json()
    assert package["model"] == "alice/hello" and package["builds"] == [] and package["config"]["predict"] == "predict.py:Predictor"
    assert push(http, {"cog.yaml": COG_YAML, "predict.py": PREDICT}).status_code == 200
    second = push(http, {"cog.yaml": COG_YAML, "predict.py": PREDICT + b"# v2\n"}).json()
    assert [p["id"] for p in http.get("/models/alice/hello/packages").json()] == [second["id"], package["id"]]
    assert [p["id"] for p in http.get("/packages", params={"prefix": second["id"][:8]}).json()] == [second["id"]]
    assert http.get(f"/models/alice/hello/packages/{package['id'][:10]}").json()["id"] == package["id"]
    assert http.get(f"/models/alice/hello/packages/{'f' * 64}").status_code == 404

    directory = make_project({"cog.yaml": COG_YAML.decode(), "predict.py": PREDICT.decode()})
    local = scan(directory)
    assert local.id == package["id"]
    download = http.get(f"/models/alice/hello/packages/{package['id'][:12]}/zip")
    assert download.content == b"".join(zip_chunks(local.manifest.files, local.open))

    live_server.state.gc_grace = timedelta(seconds=-1)
    assert http.delete(f"/models/alice/hello/packages/{second['id']}").status_code == 204
    store = live_server.state.store
    assert store.missing_blobs([sha(COG_YAML), sha(PREDICT), sha(PREDICT + b"# v2\n")]) == [sha(PREDICT + b"# v2\n")]
    assert [p["id"] for p in http.get("/models/alice/hello/packages").json()] == [package["id"]]
    assert http.delete(f"/models/alice/hello/packages/{second['id']}").status_code == 404


def test_an_ambiguous_id_prefix_is_refused(live_server):
    http = live_server.http()
    first_characters: dict[str, str] = {}
    for version in range(17):  # 17 packages: two ids must start alike
        package_id = push(http, {"cog.yaml": COG_YAML, "predict.py": PREDICT + f"# {version}\n".encode()}).json()["id"]
        if package_id[0] in first_characters:
            break
        first_characters[package_id[0]] = package_id
    answer = http.get(f"/models/alice/hello/packages/{package_id[0]}")
    assert answer.status_code == 409 and "give more of it" in answer.json()["detail"]


def test_two_clients_pushing_the_same_package_at_once_make_one_package(live_server):
    files = {"cog.yaml": COG_YAML, "predict.py": PREDICT, "weights.bin": os.urandom(4 * 1024 * 1024)}
    barrier = threading.Barrier(2)

    def client(_):
        with live_server.http() as http:
            barrier.wait()
            return push(http, files).status_code

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(pool.map(client, range(2)))
    assert codes == [200, 201]
    assert len(live_server.http().get("/models/alice/hello/packages").json()) == 1


def test_an_unreachable_store_answers_503_and_loses_nothing(s3_endpoint):
    """The S3 server goes away under a running cog server, then comes back on the same port (s3_endpoint: for
    its credentials)."""
    port = free_port()
    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    s3.start()
    boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}").create_bucket(Bucket="flaky")
    store = Store("s3://flaky/store", client_kwargs={"endpoint_url": f"http://127.0.0.1:{port}"}, **S3_FAST_FAILURE)
    with LiveServer(ServerState(store=store, builds=None)) as server:
        http = server.http()
        assert push(http, {"cog.yaml": COG_YAML}).status_code == 201
        s3.stop()
        for answer in (http.get("/health"), http.get("/models/alice/hello/packages"),
                       http.put(f"/blobs/{sha(PREDICT)}", content=PREDICT)):
            assert answer.status_code == 503, answer.text
            assert answer.json()["detail"].startswith("the storage s3://flaky/store is unavailable: Could not connect")
        s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        s3.start()
        try:
            assert len(http.get("/models/alice/hello/packages").json()) == 1
            assert push(http, {"cog.yaml": COG_YAML, "predict.py": PREDICT}).status_code == 201
        finally:
            s3.stop()


def kill_during_an_upload(server, data: bytes, uploads: Path) -> Path:
    """Send half of a blob to the server, SIGKILL it meanwhile; the partial file it left under uploads/."""
    token = server.token_file.read_text().strip()
    half = len(data) // 2
    sent = threading.Event()

    def body():
        yield data[:half]
        sent.set()
        time.sleep(30)  # the server dies meanwhile
        yield data[half:]

    def upload():
        try:
            httpx.put(f"{server.url}/v1/blobs/{sha(data)}", content=body(), timeout=60,
                      headers={"Authorization": f"Bearer {token}", "Content-Length": str(len(data))})
        except httpx.HTTPError:
            pass

    threading.Thread(target=upload, daemon=True).start()
    assert sent.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(f.stat().st_size for f in uploads.glob("*")):
        time.sleep(0.02)  # until the server has written some of it (it writes a mebibyte at a time)
    os.kill(server.process.pid, signal.SIGKILL)
    server.process.wait(10)
    partial = list(uploads.iterdir())
    assert len(partial) == 1 and 0 < partial[0].stat().st_size < len(data), partial
    return partial[0]


def test_a_server_killed_during_an_upload_leaves_nothing_partial(start_server, tmp_path):
    storage = (tmp_path / "store").as_uri()
    server = start_server("--storage", storage)
    token = server.token_file.read_text().strip()
    data = os.urandom(8 * 1024 * 1024)
    kill_during_an_upload(server, data, tmp_path / "store" / "uploads")

    again = start_server("--storage", storage)
    http = httpx.Client(base_url=f"{again.url}/v1", headers={"Authorization": f"Bearer {token}"})
    assert http.post("/blobs/missing", json={"digests": [sha(data)]}).json() == {"missing": [sha(data)]}
    assert http.get("/packages").json() == []
    assert http.put(f"/blobs/{sha(data)}", content=data).status_code == 201
    files = {"cog.yaml": COG_YAML, "weights.bin": data}
    assert push(http, files).status_code == 201


def test_the_cli_against_a_server(start_server, run_cog, make_project, tmp_path_factory):
    server = start_server("--storage", (tmp_path_factory.mktemp("store") / "s").as_uri())
    directory = make_project({"cog.yaml": COG_YAML.decode(), "predict.py": PREDICT.decode(), "weights.bin": b"w" * 5000})
    run_cog("repo", "set", f"{server.url}/alice/hello", cwd=directory)
    refused = run_cog("build", cwd=directory, check=False)
    assert refused.returncode == 1 and refused.stderr.splitlines()[-1].startswith(f"error: {server.url}: this request needs a token")
    assert run_cog("login", server.url, "--password-stdin", input="cog_wrong\n", cwd=directory, check=False).returncode == 1
    run_cog("login", server.url, "--password-stdin", input=server.token_file.read_text(), cwd=directory)

    built = run_cog("build", cwd=directory)
    package_id = scan(directory).id
    assert built.stdout == f"{package_id}\n"
    assert "Uploading 3 files" in built.stderr or "Pushed" in built.stderr
    assert "Nothing to upload" in run_cog("build", cwd=directory).stderr

    listed = run_cog("list", cwd=directory).stdout
    assert package_id[:12] in listed and "5.2 kB" in listed
    shown = run_cog("show", package_id[:7], cwd=directory).stdout
    assert f"Package  {package_id}" in shown and "Model    alice/hello" in shown and "predict: predict.py:Predictor" in shown

    elsewhere = tmp_path_factory.mktemp("elsewhere")
    run_cog("remote", "set", server.url, cwd=elsewhere)
    assert "alice/hello" in run_cog("list", cwd=elsewhere).stdout
    run_cog("download", package_id[:8], "-o", str(elsewhere / "p.zip"), cwd=elsewhere)
    local = scan(directory)
    assert (elsewhere / "p.zip").read_bytes() == b"".join(zip_chunks(local.manifest.files, local.open))
    run_cog("delete", package_id[:8], cwd=elsewhere)
    assert run_cog("list", cwd=directory).stderr.startswith("No packages")
    missing = run_cog("show", package_id[:8], cwd=directory, check=False)
    assert missing.returncode == 1 and missing.stderr.strip() == f"error: there is no package {package_id[:8]} on {server.url}/alice/hello"
