"""Small wheels made on the spot and a package index of them on loopback: for resolving without the network."""

from __future__ import annotations

import base64
import hashlib
import http.server
import zipfile
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Iterator

from tests.loopback import running


def make_wheel(directory: Path, name: str, version: str, tag: str = "py3-none-any", requires: tuple[str, ...] = ()) -> Path:
    """A wheel that installs an empty module `name` and declares `requires`; its file name carries `tag`."""
    dist = f"{name.replace('-', '_')}-{version}"
    files = {
        f"{name.replace('-', '_')}/__init__.py": "",
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                      + "".join(f"Requires-Dist: {requirement}\n" for requirement in requires),
        f"{dist}.dist-info/WHEEL": f"Wheel-Version: 1.0\nGenerator: cog-tests\nRoot-Is-Purelib: {str(tag.endswith('any')).lower()}\nTag: {tag}\n",
    }
    record = "".join(
        f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b'=').decode()},{len(text.encode())}\n"
        for path, text in files.items()
    ) + f"{dist}.dist-info/RECORD,,\n"
    directory.mkdir(parents=True, exist_ok=True)
    wheel = directory / f"{dist}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in {**files, f"{dist}.dist-info/RECORD": record}.items():
            archive.writestr(zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0)), text)
    return wheel


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextmanager
def serving(root: Path) -> Iterator[str]:
    """http://127.0.0.1:PORT serving `root`; a folder ROOT/simple/NAME/ of wheels is a PEP 503 index page."""
    with running(http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))) as port:
        yield f"http://127.0.0.1:{port}"
