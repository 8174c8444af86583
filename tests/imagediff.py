"""What differs between two images in the engine, layer by layer and file by file: for reproducibility checks.

`docker save` writes an image as an OCI layout (the containerd image store); its config and each layer's tar are
read from there. Two layers with the same digest are the same; in two that differ, each file is compared by its
type, mode, owner, time, size and content.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

# The layer media types that are gzip-compressed tars (the rest are plain tars).
_GZIP = ("application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.docker.image.rootfs.diff.tar.gzip")


@dataclass(frozen=True)
class SavedImage:
    chain: list[dict]  # index.json, then each index or manifest down to the platform's manifest
    config: dict
    layers: list[tuple[str, dict[str, tuple]]]  # (digest, {path: (type, mode, uid, gid, mtime, size, sha256)})


def saved_image(image: str, platform: str = "linux/amd64") -> SavedImage:
    with tempfile.TemporaryDirectory(prefix="cog-imagediff-") as scratch:
        archive = Path(scratch) / "image.tar"
        subprocess.run(["docker", "save", "--output", str(archive), image], check=True, capture_output=True)
        with tarfile.open(archive) as outer:
            def blob(digest: str) -> bytes:
                return outer.extractfile(f"blobs/{digest.replace(':', '/')}").read()

            chain = [json.loads(outer.extractfile("index.json").read())]
            manifest = _manifest(chain[0], blob, platform, chain)
            config = json.loads(blob(manifest["config"]["digest"]))
            layers = []
            for layer in manifest["layers"]:
                data = blob(layer["digest"])
                if layer["mediaType"] in _GZIP:
                    data = gzip.decompress(data)
                layers.append((layer["digest"], _files(data)))
    return SavedImage(chain=chain, config=config, layers=layers)


def _manifest(index: dict, blob, platform: str, chain: list[dict]) -> dict:
    """The image manifest for `platform`, through any nesting of indexes (each appended to `chain`)."""
    for entry in index["manifests"]:
        found = entry.get("platform")
        if found and f"{found['os']}/{found['architecture']}" != platform:
            continue
        document = json.loads(blob(entry["digest"]))
        chain.append(document)
        if "manifests" in document:
            return _manifest(document, blob, platform, chain)
        if "layers" in document:
            return document
    raise ValueError(f"no manifest for {platform}")


def _files(tar_bytes: bytes) -> dict[str, tuple]:
    files = {}
    with tempfile.TemporaryFile() as spool:
        spool.write(tar_bytes)
        spool.seek(0)
        with tarfile.open(fileobj=spool) as layer:
            for member in layer:
                content = layer.extractfile(member).read() if member.isfile() else member.linkname.encode()
                files[member.name] = (member.type, member.mode, member.uid, member.gid, member.mtime, member.size,
                                      hashlib.sha256(content).hexdigest()[:12])
    return files


def _changed(first: dict, second: dict, prefix: str):
    """(dotted key, one value, the other) for each value that differs, into nested objects."""
    for key in sorted({*first, *second}):
        a, b = first.get(key), second.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            yield from _changed(a, b, f"{prefix}{key}.")
        elif a != b:
            yield f"{prefix}{key}", a, b


_FIELDS = ("type", "mode", "uid", "gid", "mtime", "size", "content")


def differences(first: SavedImage, second: SavedImage, limit: int = 20) -> list[str]:
    """One line per difference: config keys, then per layer the files only in one or differing in a field."""
    lines = [f"config {key}: {json.dumps(a)[:200]} != {json.dumps(b)[:200]}"
             for key, a, b in _changed(first.config, second.config, "") if key != "rootfs.diff_ids"]
    if len(first.layers) != len(second.layers):
        lines.append(f"{len(first.layers)} layers != {len(second.layers)} layers")
    for number, ((digest_a, files_a), (digest_b, files_b)) in enumerate(zip(first.layers, second.layers), start=1):
        if digest_a == digest_b:
            continue
        found = []
        for path in sorted({*files_a, *files_b}):
            a, b = files_a.get(path), files_b.get(path)
            if a is None or b is None:
                found.append(f"{path} only in the {'second' if a is None else 'first'}")
            elif a != b:
                fields = ", ".join(f"{name} {x}≠{y}" for name, x, y in zip(_FIELDS, a, b) if x != y)
                found.append(f"{path}: {fields}")
        lines.append(f"layer {number}: {len(found)} files differ" + ("" if found else " (same files: tar order or headers)"))
        lines.extend(f"  {line}" for line in found[:limit])
    if not lines:  # the same config and layers: what differs is in the manifests or indexes that point to them
        for depth, (a, b) in enumerate(zip(first.chain, second.chain)):
            if a != b:
                what = "index.json" if depth == 0 else a.get("mediaType", "manifest").rsplit(".", 1)[-1]
                lines.append(f"{what}: {json.dumps(a, sort_keys=True)[:400]} != {json.dumps(b, sort_keys=True)[:400]}")
    return lines
