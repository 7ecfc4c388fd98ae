"""The TFRecord framing of TensorBoard event files, read incrementally from a byte offset.

Each record is ``<Q length> <I masked CRC32C of the length> payload <I masked
CRC32C of the payload>``, the mask being ``((c >> 15 | c << 17) + 0xA282EAD8)``.
:class:`RecordTail` returns the payloads appended since its last call and
keeps its offset, so a growing file is read once, in pieces; a record whose
bytes are not all written yet (a torn tail) is held back until they are. With
``google-crc32c`` installed (the ``tensorboard`` extra) both checksums are
verified and a corrupt record ends the read with a problem message; without
it the framing is trusted. This is the layer tensorboard's own loaders use,
minus their per-record Python overhead.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_crc: Any
try:
    import google_crc32c as _crc
except ImportError:  # checked framing needs the tensorboard extra; the data still reads
    _crc = None

_HEADER = struct.Struct("<QI")
_FOOTER = struct.Struct("<I")
_READ_SLICE = 16 * 1024 * 1024
_MAX_RECORD = 1 << 30  # a length beyond this is corruption, not a record


def masked_crc(data: bytes) -> int:
    """TensorBoard's masked CRC32C of ``data`` (needs ``google-crc32c``)."""
    if _crc is None:
        raise RuntimeError("checking records needs google-crc32c: pip install 'workbench[tensorboard]'")
    c = _crc.value(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(payload: bytes) -> bytes:
    """One record as TensorBoard writes it (used by tests to tear records on purpose)."""
    header = struct.pack("<Q", len(payload))
    return header + struct.pack("<I", masked_crc(header)) + payload + struct.pack("<I", masked_crc(payload))


@dataclass
class RecordTail:
    """Reads the records appended to one event file since the last call."""

    path: Path
    offset: int = 0
    check_crc: bool = True
    problems: list[str] = field(default_factory=list)
    broken: bool = False  # a corrupt record was met: nothing after it is trusted

    def read_new(self) -> list[bytes]:
        """Every complete record written since the last call, in file order."""
        out: list[bytes] = []
        if self.broken:
            return out
        check = self.check_crc and _crc is not None
        try:
            with open(self.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size < self.offset:  # replaced or truncated: start again
                    self.offset = 0
                while self.offset < size:
                    f.seek(self.offset)
                    chunk = f.read(min(_READ_SLICE, size - self.offset))
                    used = self._split(chunk, out, check)
                    if used == 0:
                        if len(chunk) >= _READ_SLICE:  # one record larger than a slice
                            used = self._read_large(f, out, check)
                        if used == 0:
                            break  # a torn last record: wait for the rest of it
                    self.offset += used
                    if self.broken:
                        break
        except FileNotFoundError:
            pass
        return out

    def _split(self, chunk: bytes, out: list[bytes], check: bool) -> int:
        pos, n = 0, len(chunk)
        unpack = _HEADER.unpack_from
        while pos + 12 <= n:
            length, length_crc = unpack(chunk, pos)
            if length > _MAX_RECORD or (check and masked_crc(chunk[pos : pos + 8]) != length_crc):
                self._corrupt(pos, "bad length checksum")
                return pos
            end = pos + 12 + length + 4
            if end > n:
                break
            payload = chunk[pos + 12 : end - 4]
            if check and masked_crc(payload) != _FOOTER.unpack_from(chunk, end - 4)[0]:
                self._corrupt(pos, "bad data checksum")
                return pos
            out.append(payload)
            pos = end
        return pos

    def _read_large(self, f, out: list[bytes], check: bool) -> int:
        f.seek(self.offset)
        header = f.read(12)
        length = _HEADER.unpack(header)[0] if len(header) == 12 else 0
        if length > _MAX_RECORD:
            self._corrupt(0, "record length out of range")
            return 0
        body = f.read(length + 4)
        if len(body) < length + 4:
            return 0
        return self._split(header + body, out, check)

    def _corrupt(self, position: int, why: str) -> None:
        self.broken = True
        self.problems.append(f"{self.path.name}: {why} at byte {self.offset + position}; "
                             "the records after it are not read")
