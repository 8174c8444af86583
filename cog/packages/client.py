"""The CLI's side of the cog server's HTTP API: every answer that is not a success becomes one CogError line."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Callable, ContextManager

import httpx

from cog.errors import CogError
from cog.packages.manifest import Entry, Manifest
from cog.packages.package import CHUNK, write_zip
from cog.packages.records import PackageDetail, PackageSummary


class MissingBlobs(CogError):
    def __init__(self, message: str, missing: list[str]) -> None:
        super().__init__(message)
        self.missing = missing


class ServerClient:
    def __init__(self, server: str, token: str | None = None) -> None:
        self.server = server
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # No read timeout: a blob upload's answer comes only once the store has the whole blob.
        self._http = httpx.Client(base_url=f"{server}/v1", headers=headers, timeout=httpx.Timeout(30.0, read=None))

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
