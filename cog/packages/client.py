"""The CLI's side of the cog server's HTTP API: every answer that is not a success becomes one CogError line.

Besides one method a request, the two steps of `cog build` with a repo: `push` (upload the files the server
lacks, commit the package) and `wait_for_builds` (until the server has built its images). They say what they do
through the callbacks they are given, so that the CLI decides how it looks.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import BinaryIO, Callable, ContextManager

import httpx

from cog.errors import CogError
from cog.packages.manifest import Entry, Manifest
from cog.packages.package import CHUNK, LocalPackage, write_zip
from cog.packages.records import Build, PackageDetail, PackageSummary

# How often wait_for_builds asks about the server's builds: soon at first (a code-only rebuild takes about a
# second), then less often, for builds that take minutes.
FIRST_POLL_SECONDS, MAX_POLL_SECONDS = 0.2, 2.0
LOG_TAIL = 30  # the lines of a failed build's log shown with its error

# How a transfer is shown: progress("Uploading 3 files", total bytes) is entered around it and gives advance(bytes).
Progress = Callable[[str, int], ContextManager[Callable[[int], None]]]


class MissingBlobs(CogError):
    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing


class ServerClient:
    def __init__(self, server: str, token: str | None = None, *, transport: httpx.BaseTransport | None = None) -> None:
        self.server = server
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # No read timeout: a blob upload's answer comes only once the store has the whole blob.
        self._http = httpx.Client(base_url=f"{server}/v1", headers=headers, timeout=httpx.Timeout(30.0, read=None),
                                  transport=transport)

    def health(self) -> dict:
        return self._call("GET", "/health").json()

    def check_token(self) -> None:
        self._call("GET", "/auth")

    def missing_blobs(self, digests: list[str]) -> list[str]:
        return self._call("POST", "/blobs/missing", json={"digests": digests}).json()["missing"]

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
        return PackageDetail.model_validate_json(self._call("POST", f"/models/{model}/packages", json=body).content)

    def packages(self, model: str | None = None, prefix: str = "") -> list[PackageSummary]:
        if model is None:
            answer = self._call("GET", "/packages", params={"prefix": prefix})
        else:
            answer = self._call("GET", f"/models/{model}/packages")
        return [PackageSummary.model_validate(item) for item in answer.json()]

    def package(self, model: str, prefix: str) -> PackageDetail:
        return PackageDetail.model_validate_json(self._call("GET", f"/models/{model}/packages/{prefix}").content)

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
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None

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
        with progress(f"Uploading {len(entries)} files", sum(entry.size for entry in entries)) as advance:
            for entry in entries:
                self.upload_blob(entry, local.open, advance)

    def _call(self, method: str, path: str, **arguments) -> httpx.Response:
        try:
            answer = self._http.request(method, path, **arguments)
        except httpx.HTTPError as exc:
            raise self._unreachable(exc) from None
        self._check(answer)
        return answer

    def _check(self, answer: httpx.Response) -> None:
        if answer.is_success:
            return
        answer.read()
        try:
            body = answer.json()
        except ValueError:
            body = {"detail": answer.text.strip()[:200] or answer.reason_phrase}
        detail = body.get("detail") if isinstance(body, dict) else None
        detail = detail if isinstance(detail, str) else str(detail or answer.reason_phrase)
        if answer.status_code == 401:
            raise CogError(f"{self.server}: {detail}")
        if answer.status_code == 409 and "missing" in body:
            raise MissingBlobs(detail, body["missing"])
        raise CogError(f"{self.server} answered {answer.status_code}: {detail}")

    def _unreachable(self, exc: httpx.HTTPError) -> CogError:
        return CogError(f"cannot reach the cog server at {self.server} ({exc or type(exc).__name__})")
