"""The bytes of a package's zip around each entry's data, field by field as Python's zipfile writes stored entries
to an unseekable stream (APPNOTE.TXT 4.3.6): a local header without CRC or sizes, the data, a data descriptor that
gives them, and after the last entry the central directory and its end records.

Pure, like the manifest: the same members give the same bytes whatever writes them, so that `cog package -o` can
copy and hash each file in its own loop while the server streams the same zip (tests/packages/test_zips.py holds
both to zipfile's own bytes).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Protocol

# Every entry carries this time, so that the same tree gives the same bytes (zip cannot say 1970).
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
ZIP64_LIMIT = (1 << 31) - 1  # zipfile's: a size or an offset past it is written in zip64's 8-byte fields
ENTRIES_LIMIT = (1 << 16) - 1
_DOS_DATE = (ZIP_TIME[0] - 1980) << 9 | ZIP_TIME[1] << 5 | ZIP_TIME[2]
_DOS_TIME = ZIP_TIME[3] << 11 | ZIP_TIME[4] << 5 | ZIP_TIME[5] // 2
_VERSION, _ZIP64_VERSION = 20, 45  # the version needed to extract: 2.0, or 4.5 for zip64's fields
_UNIX = 3  # the system that made the entry, so that the mode in its external attributes is read
_DATA_DESCRIPTOR = 1 << 3  # the CRC and the sizes follow the data
_UTF8_NAME = 1 << 11
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
_CENTRAL_HEADER = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")
_END64 = struct.Struct("<4sQ2H2L4Q")
_END64_LOCATOR = struct.Struct("<4sLQL")
_DESCRIPTOR_SIGNATURE = 0x08074B50


class ZipMember(Protocol):
    """What the zip needs to know of a file before reading it; an `Entry` is one."""

    path: str
    mode: int
    size: int

    @property
    def is_link(self) -> bool: ...


@dataclass(frozen=True)
class _Written:
    """An entry as the central directory gives it."""

    name: bytes
    flags: int
    zip64_header: bool
    crc: int
    size: int
    offset: int
    external_attr: int


class ZipLayout:
    """A zip's bytes but the data, entry after entry: `header(member)`, then its data (written by the caller),
    `descriptor(crc, size)`, and `end()` after the last."""

    def __init__(self) -> None:
        self._offset = 0
        self._written: list[_Written] = []
        self._pending: tuple[ZipMember, bytes, int, bool, int] | None = None  # the entry whose data is being written

    def header(self, member: ZipMember) -> bytes:
        name, flags = _encoded(member.path)
        # zipfile's margin for data that grows when compressed: an entry near the limit gets zip64 fields already
        zip64 = member.size * 1.05 > ZIP64_LIMIT
        extra = struct.pack("<HHQQ", 1, 16, 0, 0) if zip64 else b""
        unknown_size = 0xFFFFFFFF if zip64 else 0
        header = _LOCAL_HEADER.pack(b"PK\003\004", _ZIP64_VERSION if zip64 else _VERSION, 0, flags, 0, _DOS_TIME,
                                    _DOS_DATE, 0, unknown_size, unknown_size, len(name), len(extra)) + name + extra
        self._pending = (member, name, flags, zip64, self._offset)
        self._offset += len(header)
        return header

    def descriptor(self, crc: int, size: int) -> bytes:
        """The data descriptor of the entry whose `size` bytes of data were just written."""
        member, name, flags, zip64, offset = self._pending
        attributes = (member.mode | (0o777 if member.is_link else 0)) << 16
        self._written.append(_Written(name, flags, zip64, crc, size, offset, attributes))
        descriptor = struct.pack("<LLQQ" if zip64 else "<LLLL", _DESCRIPTOR_SIGNATURE, crc, size, size)
        self._offset += size + len(descriptor)
        self._pending = None
        return descriptor

    def end(self) -> bytes:
        """The central directory, and the records that locate it (zip64's too when it lies past the limits)."""
        directory = b"".join(_central_header(entry) for entry in self._written)
        start, count = self._offset, len(self._written)
        records = [directory]
        if count > ENTRIES_LIMIT or start > ZIP64_LIMIT or len(directory) > ZIP64_LIMIT:
            end64_offset = start + len(directory)
            records.append(_END64.pack(b"PK\006\006", 44, _ZIP64_VERSION, _ZIP64_VERSION, 0, 0, count, count,
                                       len(directory), start))
            records.append(_END64_LOCATOR.pack(b"PK\006\007", 0, end64_offset, 1))
        records.append(_END.pack(b"PK\005\006", 0, 0, min(count, 0xFFFF), min(count, 0xFFFF),
                                 min(len(directory), 0xFFFFFFFF), min(start, 0xFFFFFFFF), 0))
        return b"".join(records)


def _encoded(path: str) -> tuple[bytes, int]:
    try:
        return path.encode("ascii"), _DATA_DESCRIPTOR
    except UnicodeEncodeError:
        return path.encode("utf-8"), _DATA_DESCRIPTOR | _UTF8_NAME


def _central_header(entry: _Written) -> bytes:
    zip64_fields = []
    size = offset = 0xFFFFFFFF
    if entry.size > ZIP64_LIMIT:
        zip64_fields += [entry.size, entry.size]
    else:
        size = entry.size
    if entry.offset > ZIP64_LIMIT:
        zip64_fields.append(entry.offset)
    else:
        offset = entry.offset
    extra = struct.pack(f"<HH{len(zip64_fields)}Q", 1, 8 * len(zip64_fields), *zip64_fields) if zip64_fields else b""
    version = _ZIP64_VERSION if zip64_fields or entry.zip64_header else _VERSION
    return _CENTRAL_HEADER.pack(b"PK\001\002", version, _UNIX, version, 0, entry.flags, 0, _DOS_TIME, _DOS_DATE,
                                entry.crc, size, size, len(entry.name), len(extra), 0, 0, 0, entry.external_attr,
                                offset) + entry.name + extra
