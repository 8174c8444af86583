"""The cog wheel that images carry, so the runtime in an image is exactly the version of the CLI that built it.

From a checkout it is built with hatchling; from an installed cog it is repacked from the installed files
(the wheel's RECORD). Both are reproducible and need no network.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import zipfile
from importlib import metadata
from pathlib import Path

import cog
from cog._version import __version__
from cog.errors import CogError

WHEEL_NAME = f"cog-{__version__}-py3-none-any.whl"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold: same files, same bytes


def source_checkout() -> Path | None:
    root = Path(cog.__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    return root if pyproject.is_file() and 'name = "cog"' in pyproject.read_text(encoding="utf-8") else None


def build_runtime_wheel(directory: Path) -> Path:
    """Write the cog wheel into `directory` and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    checkout = source_checkout()
    if checkout is not None:
        try:
            from hatchling.builders.wheel import WheelBuilder
        except ImportError:
            raise CogError("building images from a cog checkout needs hatchling: pip install -e '.[test]'") from None
        for existing in directory.glob("cog-*.whl"):
            existing.unlink()
        return Path(next(iter(WheelBuilder(str(checkout)).build(directory=str(directory), versions=["standard"]))))
    return _repack_installed(directory / WHEEL_NAME)


def _repack_installed(target: Path) -> Path:
    distribution = metadata.distribution("cog")
    # What the installer added (INSTALLER, REQUESTED, direct_url.json) was never part of the wheel.
    added_by_installer = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json", ".pyc")
    files = sorted(str(path) for path in distribution.files or () if not str(path).endswith(added_by_installer))
    record_name = next(str(path) for path in distribution.files if str(path).endswith(".dist-info/RECORD"))
    rows = []
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in files:
            if name.startswith("..") or "/__pycache__/" in name:
                continue  # console scripts and caches live outside the package
            data = Path(distribution.locate_file(name)).read_bytes()
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            rows.append((name, f"sha256={digest}", str(len(data))))
        rows.append((record_name, "", ""))
        record = io.StringIO()
        csv.writer(record, lineterminator="\n").writerows(rows)
        info = zipfile.ZipInfo(record_name, date_time=_FIXED_TIME)
        info.external_attr = 0o644 << 16
        archive.writestr(info, record.getvalue())
    return target
