"""File inputs (URLs and data URIs to local temp files) and file outputs (to data URIs or uploads)."""

from __future__ import annotations

import base64
import mimetypes
import os
import re
import urllib.parse
from typing import TYPE_CHECKING, Any, Dict, Optional, Set

from cog.sdk.protocol import FILE_MARKER
from cog.sdk.signature import FILE, PATH, Signature

if TYPE_CHECKING:  # imported where a file is fetched or uploaded: a model without files never loads it
    import httpx


class FileInputError(Exception):
    """An input file could not be fetched; the message names the input."""


def _safe_name(name: str, fallback: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(name))[-128:]
    return name if name.strip("._") else fallback


def _decode_data_uri(uri: str) -> "tuple[bytes, str]":
    header, sep, payload = uri[len("data:"):].partition(",")
    if not sep:
        raise ValueError("a data URI needs a comma before its payload")
    media_type = header.split(";")[0] or "text/plain"
    if header.endswith(";base64"):
        return base64.b64decode(payload, validate=True), media_type
    return urllib.parse.unquote_to_bytes(payload), media_type


async def _fetch(client: httpx.AsyncClient, url: str, directory: str, index: int, max_bytes: int) -> str:
    folder = os.path.join(directory, str(index))  # one folder per file keeps the original names apart
    os.makedirs(folder)
    if url.startswith("data:"):
        data, media_type = _decode_data_uri(url)
        if len(data) > max_bytes:
            raise ValueError(f"it is larger than the limit of {max_bytes} bytes")
        path = os.path.join(folder, "input" + (mimetypes.guess_extension(media_type) or ""))
        with open(path, "wb") as f:
            f.write(data)
        return path
    path = os.path.join(folder, _safe_name(urllib.parse.urlparse(url).path, "input"))
    async with client.stream("GET", url, follow_redirects=True) as response:
        if response.status_code >= 400:
            raise ValueError(f"the server answered {response.status_code}")
        size = 0
        with open(path, "wb") as f:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ValueError(f"it is larger than the limit of {max_bytes} bytes")
                f.write(chunk)
    return path


async def download_inputs(
    arguments: Dict[str, Any], signature: Signature, directory: str, client: httpx.AsyncClient, max_bytes: int
) -> None:
    """Replace every URL among the file inputs with a local file under `directory`, in place."""
    import httpx  # for its errors; `client` is one of its own

    count = 0
    for f in signature.inputs:
        value = arguments.get(f.name)
        if f.kind not in (PATH, FILE) or value is None:
            continue
        values = value if f.array else [value]
        local = []
        for url in values:
            if not url.startswith(("http://", "https://", "data:")):  # a default that names a local file
                local.append(url)
                continue
            try:
                local.append(await _fetch(client, url, directory, count, max_bytes))
            except (ValueError, httpx.HTTPError, OSError) as exc:
                shown = url if not url.startswith("data:") else "data URI"
                raise FileInputError(f"input {f.name!r}: could not fetch {shown}: {exc}") from None
            count += 1
        arguments[f.name] = local if f.array else local[0]


def has_file_markers(value: Any) -> bool:
    if isinstance(value, dict):
        return FILE_MARKER in value or any(has_file_markers(v) for v in value.values())
    if isinstance(value, list):
        return any(has_file_markers(v) for v in value)
    return False


async def resolve_outputs(value: Any, upload_url: Optional[str], client: httpx.AsyncClient,
                          uploaded: Optional[Set[str]] = None) -> Any:
    """Replace the worker's file markers with data URIs, or with URLs after uploading to `upload_url`.

    `uploaded` holds the names already used by this job, so that files of the same name (an iterator that
    rewrites one temporary file, say) do not overwrite each other at the upload URL.
    """
    if uploaded is None:
        uploaded = set()
    if isinstance(value, list):
        return [await resolve_outputs(v, upload_url, client, uploaded) for v in value]
    if isinstance(value, dict):
        if FILE_MARKER in value and len(value) == 1:
            return await _file_output(value[FILE_MARKER], upload_url, client, uploaded)
        return {k: await resolve_outputs(v, upload_url, client, uploaded) for k, v in value.items()}
    return value


async def _file_output(path: str, upload_url: Optional[str], client: httpx.AsyncClient, uploaded: Set[str]) -> str:
    media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    with open(path, "rb") as f:
        data = f.read()
    if upload_url is None:
        return f"data:{media_type};base64,{base64.b64encode(data).decode()}"
    name = _unique_name(_safe_name(path, "output"), uploaded)
    url = upload_url.rstrip("/") + "/" + urllib.parse.quote(name)
    response = await client.put(url, files={"file": (name, data, media_type)})
    response.raise_for_status()
    # The upload target may answer with the file's final address; otherwise it is where we put it.
    return response.headers.get("location") or str(response.url)


def _unique_name(name: str, taken: Set[str]) -> str:
    """out.png, then out-1.png, out-2.png, ... within one job."""
    stem, dot, extension = name.partition(".")
    candidate, number = name, 0
    while candidate in taken:
        number += 1
        candidate = f"{stem}-{number}{dot}{extension}"
    taken.add(candidate)
    return candidate
