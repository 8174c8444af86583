"""The CLI's side of the cog server's HTTP API: every answer that is not a success becomes one CogError line.

Besides one method a request, the two steps of `cog build` with a repo: `push` (upload the files the server
lacks, commit the package) and `wait_for_builds` (until the server has built its images). They say what they do
through the callbacks they are given, so that the CLI decides how it looks.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from typing import BinaryIO, Callable, ContextManager

import httpx
from pydantic import ValidationError

from cog.errors import CogError
from cog.http_errors import HTTPX_ERRORS, describe_answer, http_failure
from cog.packages.manifest import Entry, Manifest
from cog.packages.package import CHUNK, LocalPackage, write_zip
from cog.packages.records import Build, PackageDetail, PackageSummary

# How often wait_for_builds asks about the server's builds: soon at first (a code-only rebuild takes about a
# second), then less often, for builds that take minutes.
FIRST_POLL_SECONDS, MAX_POLL_SECONDS = 0.2, 2.0
LOG_TAIL = 30  # the lines of a failed build's log shown with its error
# Blobs sent at once: one stream rarely fills a link (per-connection windows, the server's hashing of each body).
PARALLEL_UPLOADS = 4

# How a transfer is shown: progress("Uploading 3 files", total bytes) is entered around it and gives advance(bytes).
Progress = Callable[[str, int], ContextManager[Callable[[int], None]]]


class MissingBlobs(CogError):
    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing


class ServerUnreachable(CogError):
    """No HTTP answer from the server; `reason` says why in a few words ("connection refused: ...")."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class ServerClient:
    def __init__(self, server: str, token: str | None = None, *, transport: httpx.BaseTransport | None = None) -> None:
        self.server = server
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # No read timeout: a blob upload's answer comes only once the store has the whole blob. A plain http://
        # server (redirects are not followed) needs no TLS: not loading the CA certificates saves ~0.2 s a command.
        try:
            self._http = httpx.Client(base_url=f"{server}/v1", headers=headers, timeout=httpx.Timeout(30.0, read=None),
                                      transport=transport, verify=not server.startswith("http://"))
        except HTTPX_ERRORS:
            raise CogError(f"{server} is not a valid server URL; expected http://HOST[:PORT]") from None

    def health(self) -> dict:
        return self._parse(self._call("GET", "/health"), _health)

    def identify(self, timeout: float = 5.0) -> str | None:
        """None when a cog server answers here (its storage up); else a clause saying what answered instead: "no cog
        server answers there (connection refused: ...)", "what answers there is not a cog server (GET /v1/health
        answered HTTP 404 with text/html, from nginx)"."""
        try:
            answer = self._http.get("/health", timeout=timeout)
        except HTTPX_ERRORS as exc:
            return f"no cog server answers there ({http_failure(exc)})"
        body = _json_or_none(answer)
        detail = body.get("detail") if isinstance(body, dict) else None
        if answer.status_code == 503 and isinstance(detail, str) and detail.startswith("the storage "):
            return f"the cog server there answers that {detail}"
        if answer.is_success and isinstance(body, dict) and body.get("status") == "ok" and "version" in body:
            return None
        return f"what answers there is not a cog server (GET /v1/health answered {describe_answer(answer)})"

    def check_token(self) -> None:
        self._parse(self._call("GET", "/auth"), _health)

    def missing_blobs(self, digests: list[str]) -> list[str]:
        return self._parse(self._call("POST", "/blobs/missing", json={"digests": digests}), _missing)

    def upload_blob(self, entry: Entry, open_entry: Callable[[Entry], ContextManager[BinaryIO]],
                    advance: Callable[[int], None]) -> None:
        def body():
            with open_entry(entry) as source:
                while chunk := source.read(CHUNK):
                    yield chunk
                    advance(len(chunk))

        self._call("PUT", f"/blobs/{entry.sha256}", content=body(), headers={"Content-Length": str(entry.size)})

    def commit(self, model: str, manifest: Manifest) -> PackageDetail:
        body = {"manifest": manifest.model_dump()}
        return self._parse(self._call("POST", f"/models/{model}/packages", json=body), PackageDetail.model_validate)

    def packages(self, model: str | None = None, prefix: str = "") -> list[PackageSummary]:
        if model is None:
            answer = self._call("GET", "/packages", params={"prefix": prefix})
        else:
            answer = self._call("GET", f"/models/{model}/packages")
        return self._parse(answer, _summaries)

    def package(self, model: str, prefix: str) -> PackageDetail:
        return self._parse(self._call("GET", f"/models/{model}/packages/{prefix}"), PackageDetail.model_validate)

    def build_log(self, model: str, package_id: str, variant: str) -> str:
        return self._call("GET", f"/models/{model}/packages/{package_id}/builds/{variant}/log").text

    def download(self, model: str, package_id: str, destination: Path, advance: Callable[[int], None]) -> None:
        def chunks():
            with self._http.stream("GET", f"/models/{model}/packages/{package_id}/zip") as answer:
                self._check(answer)
                for chunk in answer.iter_bytes(CHUNK):
                    advance(len(chunk))
                    yield chunk

        try:
            write_zip(chunks(), destination)
        except HTTPX_ERRORS as exc:
            raise self._unreachable(exc) from None
        except OSError as exc:
            raise CogError(f"cannot write {destination}: {exc.strerror or type(exc).__name__}") from None

    def delete(self, model: str, package_id: str) -> None:
        self._call("DELETE", f"/models/{model}/packages/{package_id}")

    def push(self, model: str, local: LocalPackage, *, log: Callable[[str], None], progress: Progress) -> PackageDetail:
        """Upload the files of `local` that the server lacks, then commit it; the server starts its builds."""
        self._upload(local, self.missing_blobs(local.manifest.digests()), log, progress)
        try:
            return self.commit(model, local.manifest)
        except MissingBlobs as exc:  # collected between our question and our commit: send them, once more
            self._upload(local, exc.missing, log, progress)
            return self.commit(model, local.manifest)

    def wait_for_builds(self, model: str, package_id: str, *, log: Callable[[str], None],
                        show_log: Callable[[str], None]) -> list[Build]:
        """The package's builds once all have succeeded; each change of status is logged ("CPU image: building").
        A failed build is a CogError, after the end of its log has gone to `show_log`."""
        seen: dict[str, str] = {}
        pause = FIRST_POLL_SECONDS
        while True:
            builds = self.package(model, package_id).builds
            for build in builds:
                if seen.get(build.variant) != build.status:
                    seen[build.variant] = build.status
                    log(f"{build.variant.upper()} image: {build.status}")
            failed = [build for build in builds if build.status == "failed"]
            if failed:
                for line in self.build_log(model, package_id, failed[0].variant).rstrip().splitlines()[-LOG_TAIL:]:
                    show_log(line)
                raise CogError(f"the {failed[0].variant} build of {package_id[:12]} failed: {failed[0].error}; "
                               f"run cog build again to retry it")
            if all(build.status == "succeeded" for build in builds):
                return builds
            time.sleep(pause)
            pause = min(pause * 1.5, MAX_POLL_SECONDS)

    def _upload(self, local: LocalPackage, missing: list[str], log: Callable[[str], None], progress: Progress) -> None:
        wanted = set(missing)
        entries = list({entry.sha256: entry for entry in local.manifest.files if entry.sha256 in wanted}.values())
        if not entries:
            log("Nothing to upload: the server has every file")
            return
        with progress(f"Uploading {len(entries)} files", sum(entry.size for entry in entries)) as advance, \
                ThreadPoolExecutor(PARALLEL_UPLOADS) as pool:
            # Largest first, so that the last one to finish is a small one.
            uploads = [pool.submit(self.upload_blob, entry, local.open, advance)
                       for entry in sorted(entries, key=lambda entry: entry.size, reverse=True)]
            done, _ = wait(uploads, return_when=FIRST_EXCEPTION)
            for upload in uploads:
                upload.cancel()  # after a failure, the ones not yet started; each stored blob stays stored
            for upload in done:
                upload.result()

    def _call(self, method: str, path: str, **arguments) -> httpx.Response:
        try:
            answer = self._http.request(method, path, **arguments)
        except HTTPX_ERRORS as exc:
            raise self._unreachable(exc) from None
        self._check(answer)
        return answer

    def _check(self, answer: httpx.Response) -> None:
        if answer.is_success:
            return
        answer.read()
        body = _json_or_none(answer)
        detail = body.get("detail") if isinstance(body, dict) else None
        if not isinstance(detail, str):
            raise self._not_a_cog_server(answer)  # a proxy's page, another program: say what answered, not its text
        detail = detail.strip().replace("\n", " ")
        if answer.status_code == 401:
            raise CogError(f"{self.server}: {detail}")
        if answer.status_code == 409 and isinstance(body.get("missing"), list):
            raise MissingBlobs(detail, body["missing"])
        raise CogError(f"{self.server} answered {answer.status_code}: {detail}")

    def _parse(self, answer: httpx.Response, read: Callable):
        """A successful answer's JSON, read by `read`; an answer that is not a cog server's is a CogError."""
        try:
            return read(answer.json())
        except (ValueError, KeyError, TypeError, ValidationError):  # pydantic's ValidationError is a ValueError
            raise self._not_a_cog_server(answer) from None

    def _not_a_cog_server(self, answer: httpx.Response) -> CogError:
        return CogError(f"what answers at {self.server} is not a cog server ({answer.request.method} "
                        f"{answer.request.url.path} answered {describe_answer(answer)}); check the address, and set "
                        f"the right one with cog remote set http://HOST:PORT")

    def _unreachable(self, exc: Exception) -> CogError:
        reason = http_failure(exc)
        return ServerUnreachable(f"cannot reach the cog server at {self.server} ({reason}); check that cog server "
                                 f"runs there, or set another address with cog remote set http://HOST:PORT", reason)


def _json_or_none(answer: httpx.Response):
    try:
        return answer.json()
    except ValueError:
        return None


def _health(body) -> dict:
    """GET /v1/health's and /v1/auth's answer: {"status": "ok", ...}."""
    if not isinstance(body, dict) or body.get("status") != "ok":
        raise ValueError("not a cog server's answer")
    return body


def _missing(body) -> list[str]:
    missing = body["missing"]
    if not isinstance(missing, list) or not all(isinstance(digest, str) for digest in missing):
        raise ValueError("not a list of digests")
    return missing


def _summaries(body) -> list[PackageSummary]:
    if not isinstance(body, list):
        raise ValueError("not a list of packages")
    return [PackageSummary.model_validate(item) for item in body]
