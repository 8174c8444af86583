"""The HTTP API of `cog server` (see docs/server-api.md): packages of models over the store, and their builds.

Stateless apart from the store, so several servers can share one bucket. Reads are open; writes need a token.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from urllib.parse import quote
from typing import Annotated, AsyncIterator, BinaryIO, Callable, Iterator, Literal

from anyio import from_thread, to_thread
from fastapi import Depends, FastAPI, Path as PathParam, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry, generate_latest
from pydantic import BaseModel, Field
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from cog._version import __version__
from cog.images.context import WEIGHT_MIN_BYTES, WEIGHT_SUFFIXES
from cog.errors import CogError
from cog.config.model import completed_config, package_variants
from cog.config.parse import CONFIG_FILE_NAME, load_config
from cog.packages import ui
from cog.packages.builds import BuildQueue
from cog.packages.manifest import Manifest, UnsafePath, check_link
from cog.packages.package import CHUNK, zip_chunks
from cog.packages.records import ID_PREFIX, MODEL_PART, MODEL_PART_RULE, Build, Package, PackageDetail, PackageSummary, check_model_part
from cog.server.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE, RequestMetrics, instrument
from cog.packages.store import BlobMismatch, BlobTooLarge, StorageUnavailable, Store, UploadDiscarded

DEFAULT_MAX_BLOB_SIZE = 200 * 1024**3
LOG_FOLLOW_INTERVAL = 0.5  # seconds between looks at a followed build's log
GC_GRACE = timedelta(hours=1)  # uploaded blobs a client has not committed yet are that long safe from collection


class UploadCollector:
    """Deletes the partial files of uploads that were never finished (a server killed mid-upload, a client gone),
    once they are older than the grace: at start (`collect`), then every `interval` seconds in a thread
    (`start`, `stop`), so that a store never grows from interrupted pushes. Servers sharing a store may each run
    one: what one deletes, the others skip."""

    def __init__(self, store: Store, grace: timedelta, log: Callable[[str], None], interval: float | None = None) -> None:
        self.store, self.grace, self.log = store, grace, log
        # Often enough that nothing stays much past its grace, rarely enough to cost nothing (a listing of uploads/).
        self.interval = interval if interval is not None else min(max(grace.total_seconds() / 4, 1.0), 300.0)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def collect(self) -> int:
        deleted = self.store.collect_abandoned_uploads(self.grace)
        if deleted:
            self.log(f"Deleted {deleted} unfinished uploads older than {_duration(self.grace)}")
        return deleted

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="cog-upload-collector", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self.collect()
            except StorageUnavailable:
                pass  # the storage is down for now: the next round tries again, and requests say so meanwhile


def _duration(span: timedelta) -> str:
    seconds = span.total_seconds()
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:.0f} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:g} s"


class ApiError(Exception):
    def __init__(self, status: int, detail: str, **extra) -> None:
        self.status, self.detail, self.extra = status, detail, extra


@dataclass
class ServerState:
    store: Store
    builds: BuildQueue | None
    max_blob_size: int = DEFAULT_MAX_BLOB_SIZE
    gc_grace: timedelta = GC_GRACE
    # One commit or collection at a time in this process: a package is written once, its builds queued once,
    # and a collection never runs between a commit's check of its blobs and its record.
    lock: threading.Lock = field(default_factory=threading.Lock)


class MissingRequest(BaseModel):
    digests: list[Annotated[str, Field(json_schema_extra={"pattern": "^[0-9a-f]{64}$"})]]  # checked by hand, below


class MissingAnswer(BaseModel):
    missing: list[str]


class CommitRequest(BaseModel):
    manifest: Manifest


# Owner, name and id prefix are checked by hand, for messages that say the rule; the document states the same rule.
_MODEL_PART_SCHEMA = {"pattern": MODEL_PART.pattern, "maxLength": 64}
Owner = Annotated[str, PathParam(description=f"the model's owner: {MODEL_PART_RULE}",
                                 json_schema_extra=_MODEL_PART_SCHEMA)]
Name = Annotated[str, PathParam(description=f"the model's name: {MODEL_PART_RULE}",
                                json_schema_extra=_MODEL_PART_SCHEMA)]
IdPrefixQuery = Annotated[str, Query(json_schema_extra={"pattern": "^[0-9a-f]{0,64}$"})]
Digest = Annotated[str, PathParam(pattern=r"^[0-9a-f]{64}$", description="sha256, 64 lowercase hex characters")]
IdPrefix = Annotated[str, PathParam(description="a package id, or a unique prefix of one",
                                    json_schema_extra={"pattern": ID_PREFIX.pattern})]
VariantParam = Annotated[Literal["cpu", "gpu"], PathParam()]


class Sha256Convertor(Convertor[str]):
    regex = "[0-9a-f]{64}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("sha256", Sha256Convertor())
BEARER = HTTPBearer(auto_error=False, description="the token cog server wrote at its first start, or one it issued")


class ErrorAnswer(BaseModel):
    """Every error: one line saying what is wrong (and, for a commit with blobs not uploaded, which)."""

    detail: str
    missing: list[str] | None = None


ERRORS = {
    400: "A parameter or the body is invalid; `detail` names it",
    401: "No token, or not a valid one",
    404: "No such package, build log or path",
    408: "The upload took longer than the grace of unfinished uploads",
    409: "An id prefix that fits several packages, blobs still missing (`missing`), or a build that cannot be retried",
    413: "Larger than the server's limit",
    503: "The storage cannot be reached",
}


def errors(*statuses: int) -> dict:
    """The `responses` of a route that may answer `statuses`, besides 400 and 503 (every route may)."""
    return {status: {"model": ErrorAnswer, "description": ERRORS[status]} for status in (400, *statuses, 503)}


def _document_errors(app: FastAPI) -> None:
    """Errors are JSON whatever a route answers when it succeeds (a zip, a log), and never 422: FastAPI documents
    422 for every route with parameters, where this app answers 400."""
    generate = app.openapi
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorAnswer"}}}

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = generate()
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    responses = operation.get("responses", {})
                    responses.pop("422", None)
                    for status, answer in responses.items():
                        if int(status) >= 400:
                            answer["content"] = error
            for unused in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(unused, None)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(state: ServerState) -> FastAPI:
    app = FastAPI(
        title="cog server", version=__version__,
        description="Content-addressed packages of models, their blobs, and the Docker images built from them.",
    )
    store = state.store
    registry = CollectorRegistry(auto_describe=True)
    app.add_middleware(instrument, metrics=RequestMetrics(registry))

    def require_token(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> None:
        if credentials is None:
            raise ApiError(401, "this request needs a token (Authorization: Bearer TOKEN); log in with cog login SERVER_URL")
        if not store.token_valid(credentials.credentials.strip()):
            raise ApiError(401, "the token is not valid on this server")

    def model_of(owner: str, name: str) -> str:
        try:
            return f"{check_model_part(owner, 'owner')}/{check_model_part(name, 'name')}"
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None

    def package_of(model: str, prefix: str) -> Package:
        if not ID_PREFIX.match(prefix):
            raise ApiError(400, f"package id {prefix[:70]!r} is not a sha256 hex digest or a prefix of one")
        found = store.find_packages(prefix, model=model)
        if not found:
            raise ApiError(404, f"{model} has no package {prefix}")
        if len(found) > 1:
            raise ApiError(409, f"{prefix} is the start of {len(found)} package ids of {model}; give more of it")
        package = store.load_package(model, found[0][1])
        if package is None:  # deleted since it was listed
            raise ApiError(404, f"{model} has no package {prefix}")
        return package

    def summary(package: Package) -> PackageSummary:
        return PackageSummary(
            id=package.id, model=package.model, created_at=package.created_at, size=package.manifest.size,
            files=len(package.manifest.files), builds=store.load_builds(package.model, package.id),
        )

    def detail(package: Package) -> PackageDetail:
        return PackageDetail(**summary(package).model_dump(), config=package.config, manifest=package.manifest)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"detail": exc.detail, **exc.extra}, status_code=exc.status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Starlette's Allow names one route's methods; a path may have several routes
            headers["Allow"] = ", ".join(sorted({
                method for route in request.app.router.routes if isinstance(route, APIRoute)
                and route.matches(request.scope)[0] != Match.NONE for method in route.methods}))
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(StorageUnavailable)
    async def storage_unavailable(request: Request, exc: StorageUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        """One line naming the field, e.g. `manifest.files.0.path: Value error, '../x' has a '..' component`."""
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"] if part != "body")
        return JSONResponse({"detail": f"{where}: {first['msg']}"}, status_code=400)

    @app.get("/v1/health", responses=errors())
    def health() -> dict:
        store.check()
        return {"status": "ok", "version": __version__, "builds": state.builds is not None}

    @app.get("/metrics", response_class=PlainTextResponse,
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
    def metrics() -> Response:
        """Prometheus text: requests by route template, method and status code (cog_http_requests_total, ...)."""
        return Response(generate_latest(registry), headers={"Content-Type": METRICS_CONTENT_TYPE})

    @app.get("/v1/auth", dependencies=[Depends(require_token)], responses=errors(401))
    def check_token() -> dict:
        """200 when the bearer token is valid: what `cog login` asks before it stores a token."""
        return {"status": "ok"}

    @app.post("/v1/blobs/missing", dependencies=[Depends(require_token)], responses=errors(401))
    def missing_blobs(request: MissingRequest) -> MissingAnswer:
        """Which of these blobs the store lacks: the client uploads only those."""
        for digest in request.digests:
            if not ID_PREFIX.match(digest) or len(digest) != 64:
                raise ApiError(400, f"digests: {digest[:70]!r} is not a sha256 hex digest")
        return MissingAnswer(missing=store.missing_blobs(dict.fromkeys(request.digests)))

    # {digest:sha256}: a path that is no digest (PUT /v1/blobs/missing) is not this route's, so it answers 405 or 404.
    @app.put("/v1/blobs/{digest:sha256}", dependencies=[Depends(require_token)], status_code=201,
             responses={200: {"description": "The store had the blob already"}, **errors(401, 404, 408, 413)})
    async def upload_blob(digest: Digest, request: Request, response: Response) -> dict:
        """The blob's bytes as the body, streamed to the store; the sha256 is checked before it is published."""
        content_length = request.headers.get("content-length", "")  # read here: a parameter would be documented
        if content_length.isdigit() and int(content_length) > state.max_blob_size:
            raise ApiError(413, f"content-length: {content_length} bytes is over this server's limit of {state.max_blob_size}")
        body = request.stream()

        async def next_block() -> bytes:
            block = bytearray()
            async for chunk in body:
                block += chunk
                if len(block) >= CHUNK:
                    break
            return bytes(block)

        def blocks():
            while block := from_thread.run(next_block):
                yield block

        try:
            created = await to_thread.run_sync(partial(store.put_blob, digest, blocks(), max_size=state.max_blob_size))
        except BlobMismatch as exc:
            raise ApiError(400, f"body: {exc}") from None
        except BlobTooLarge as exc:
            raise ApiError(413, f"body: {exc}") from None
        except UploadDiscarded as exc:
            raise ApiError(408, f"body: {exc} (after {_duration(state.gc_grace)})") from None
        if not created:
            response.status_code = 200
        return {"sha256": digest, "created": created}

    @app.post("/v1/models/{owner}/{name}/packages", dependencies=[Depends(require_token)], status_code=201,
              responses={200: {"description": "The package was committed before"}, **errors(401, 409)})
    def commit_package(owner: Owner, name: Name, request: CommitRequest, response: Response) -> PackageDetail:
        """Commit a package whose blobs are all uploaded; queue its builds. 409 with `missing` if some are not."""
        model = model_of(owner, name)
        manifest = request.manifest
        with state.lock:
            existing = store.load_package(model, manifest.id)
            if existing is not None:
                response.status_code = 200
                if state.builds is not None:
                    state.builds.retry_failed(model, existing.id)
                return detail(existing)
            missing = store.missing_blobs(manifest.digests())
            if missing:
                raise ApiError(409, f"{len(missing)} blobs of this package are not uploaded yet", missing=missing)
            package = Package(id=manifest.id, model=model, manifest=manifest, **_read_config(store, manifest))
            store.save_package(package)
            if state.builds is not None:
                state.builds.queue(model, package.id, package.variants)
        return detail(package)

    @app.get("/v1/packages", responses=errors())
    def all_packages(prefix: IdPrefixQuery = "") -> list[PackageSummary]:
        """Packages of every model whose id starts with `prefix`, newest first."""
        if prefix and not ID_PREFIX.match(prefix):
            raise ApiError(400, f"prefix: {prefix[:70]!r} is not the start of a sha256 hex digest")
        return [summary(package) for package in store.list_packages() if package.id.startswith(prefix)]

    @app.get("/v1/models/{owner}/{name}/packages", responses=errors())
    def list_packages(owner: Owner, name: Name) -> list[PackageSummary]:
        """The model's packages, newest first."""
        return [summary(package) for package in store.list_packages(model_of(owner, name))]

    @app.get("/v1/models/{owner}/{name}/packages/{package_id}", responses=errors(404, 409))
    def show_package(owner: Owner, name: Name, package_id: IdPrefix) -> PackageDetail:
        return detail(package_of(model_of(owner, name), package_id))

    @app.get("/v1/models/{owner}/{name}/packages/{package_id}/zip", response_class=StreamingResponse,
             responses={200: {"content": {"application/zip": {}}}, **errors(404, 409)})
    def download_package(owner: Owner, name: Name, package_id: IdPrefix) -> StreamingResponse:
        """The package as a zip, streamed; the same package always gives the same bytes (`cog package -o`'s)."""
        package = package_of(model_of(owner, name), package_id)
        filename = f"{name}-{package.id[:12]}.zip"
        return StreamingResponse(
            zip_chunks(package.manifest.files, lambda entry: store.open_blob(entry.sha256)), media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{filename}"', "X-Cog-Package-Id": package.id},
        )

    @app.delete("/v1/models/{owner}/{name}/packages/{package_id}", dependencies=[Depends(require_token)], status_code=204,
                responses=errors(401, 404))
    def delete_package(owner: Owner, name: Name, package_id: Digest) -> Response:
        """Delete a package (its full id) and its build records; then collect blobs nothing references any more."""
        model = model_of(owner, name)
        if store.load_package(model, package_id) is None:
            raise ApiError(404, f"{model} has no package {package_id}")
        with state.lock:
            store.delete_package(model, package_id)
            store.collect_garbage(state.gc_grace)
        return Response(status_code=204)

    @app.get("/v1/models/{owner}/{name}/packages/{package_id}/files/{path:path}", responses=errors(404, 409))
    def package_file(owner: Owner, name: Name, package_id: IdPrefix, path: str) -> StreamingResponse:
        """One file of the package, streamed: as an attachment, never rendered by a browser as a page."""
        package = package_of(model_of(owner, name), package_id)
        entry = package.manifest.entry(path)
        if entry is None:
            raise ApiError(404, f"path: package {package.id[:12]} has no file {path[:200]!r}")
        return StreamingResponse(
            _chunks(store.open_blob(entry.sha256)), media_type="application/octet-stream",
            headers={"Content-Length": str(entry.size), "X-Content-Type-Options": "nosniff",
                     "Content-Security-Policy": "sandbox", "Content-Disposition": f"attachment; filename*=UTF-8''{quote(Path(path).name)}"},
        )

    @app.get("/v1/models/{owner}/{name}/packages/{package_id}/builds/{variant}/log", response_class=PlainTextResponse,
             responses=errors(404, 409))
    def build_log(owner: Owner, name: Name, package_id: IdPrefix, variant: VariantParam,
                  follow: bool = False) -> Response:
        """The build's log. With ?follow=true, streamed: what there is, then what the build writes while it
        runs, until it has finished."""
        package = package_of(model_of(owner, name), package_id)
        if follow:
            if not any(build.variant == variant for build in store.load_builds(package.model, package.id)):
                raise ApiError(404, f"no {variant} build of {package.id}")
            return StreamingResponse(_follow_log(package.model, package.id, variant), media_type="text/plain; charset=utf-8",
                                     headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})
        log = store.read_log(package.model, package.id, variant)
        if log is None:
            raise ApiError(404, f"no {variant} build log for {package.id}")
        return PlainTextResponse(log)

    async def _follow_log(model: str, package_id: str, variant: str) -> AsyncIterator[str]:
        sent = ""
        while True:
            # The build's state before its log: a build is saved finished only after its last log lines.
            build = await to_thread.run_sync(_build_of, model, package_id, variant)
            live = state.builds.live_log(model, package_id, variant) if state.builds is not None else None
            log = live if live is not None else await to_thread.run_sync(store.read_log, model, package_id, variant)
            log = log or ""
            if not log.startswith(sent):  # built again (a retry): its log starts over
                sent = ""
                yield "\n"
            if len(log) > len(sent):
                yield log[len(sent):]
                sent = log
            if build is None or build.status in ("succeeded", "failed"):
                return
            await asyncio.sleep(LOG_FOLLOW_INTERVAL)

    def _build_of(model: str, package_id: str, variant: str) -> Build | None:
        return next((build for build in store.load_builds(model, package_id) if build.variant == variant), None)

    @app.post("/v1/models/{owner}/{name}/packages/{package_id}/builds/{variant}/retry",
              dependencies=[Depends(require_token)], status_code=202, responses=errors(401, 404, 409))
    def retry_build(owner: Owner, name: Name, package_id: IdPrefix, variant: VariantParam) -> PackageDetail:
        """Build a failed variant again."""
        package = package_of(model_of(owner, name), package_id)
        if state.builds is None:
            raise ApiError(409, "this server builds no images: it was started without --docker-registry")
        if variant not in package.variants:
            raise ApiError(400, f"variant: {package.id[:12]} has no {variant} image (its variants: {', '.join(package.variants)})")
        if not state.builds.retry(package.model, package.id, variant):
            raise ApiError(409, f"the {variant} build of {package.id[:12]} has not failed; only a failed build is retried")
        return detail(package)

    _document_errors(app)
    app.router.routes.extend(ui.ROUTES)  # the web UI at /, over the routes above
    return app


def _chunks(opened: AbstractContextManager[BinaryIO]) -> Iterator[bytes]:
    with opened as blob:
        while block := blob.read(CHUNK):
            yield block


def _read_config(store: Store, manifest: Manifest) -> dict:
    """Check the package's links, and read its cog.yaml as a build would: with its source files (not its weights)
    around it, since the config may name a requirements file. Returns the package's config and variants."""
    if manifest.entry(CONFIG_FILE_NAME) is None:
        raise ApiError(400, f"manifest: the package has no {CONFIG_FILE_NAME} at its root")
    for entry in manifest.files:
        if entry.is_link:
            try:
                check_link(entry.path, store.read_blob(entry.sha256).decode("utf-8", "replace"))
            except UnsafePath as exc:
                raise ApiError(400, f"manifest: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="cog-config-") as scratch:
        sources = [entry for entry in manifest.files
                   if entry.size < WEIGHT_MIN_BYTES and Path(entry.path).suffix.lower() not in WEIGHT_SUFFIXES]
        store.unpack(Manifest.of(sources), Path(scratch))
        try:
            config = load_config(Path(scratch) / CONFIG_FILE_NAME, display=CONFIG_FILE_NAME)
        except CogError as exc:
            raise ApiError(400, f"manifest: {exc}") from None
    return {"config": completed_config(config), "variants": package_variants(config)}
