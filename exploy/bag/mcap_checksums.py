"""Checksums of MCAP files: written after rosbags closes a bag, verified before a bag is read.

rosbags' MCAP writer leaves every CRC field of the file at 0 ("not computed"), so zeroed or
flipped bytes inside a bag went unnoticed and a corrupt bag could replay as a MATCH.
:func:`seal` fills in, in place, the three CRC-32 fields the MCAP format defines:

- each Chunk record's ``uncompressed_crc``: CRC of its (uncompressed) records;
- the DataEnd record's ``data_section_crc``: CRC of every byte from the start of the file up to
  the DataEnd record;
- the Footer's ``summary_crc``: CRC of the summary section and the Footer's fields before it.

:func:`verify` recomputes them (a 0 field means "not computed", as in the format, and is skipped)
and checks the record structure on the way; it raises :class:`~exploy.bag.errors.BagError`.
The reference ``mcap`` library checks the same fields (the tests read our bags with it).
Both functions stream over the file through ``mmap``: memory stays bounded for any bag size.
"""

from __future__ import annotations

import mmap
import pathlib
import struct
import zlib
from collections.abc import Iterator

from exploy.bag.errors import BagError

MAGIC = b"\x89MCAP0\r\n"
OP_CHUNK = 0x06
OP_DATA_END = 0x0F
OP_FOOTER = 0x02
_RECORD_HEADER = 9  # opcode u8 + length u64
_FOOTER_BODY = 20  # summary_start u64, summary_offset_start u64, summary_crc u32
_FOOTER_SIZE = _RECORD_HEADER + _FOOTER_BODY
_SLICE = 1 << 20


def _crc(view: memoryview, start: int, stop: int, crc: int = 0) -> int:
    for pos in range(start, stop, _SLICE):
        crc = zlib.crc32(view[pos : min(stop, pos + _SLICE)], crc)
    return crc


class _Layout:
    """Offsets of the CRC fields of one MCAP file, found by walking its records."""

    def __init__(self, view: memoryview, name: str) -> None:
        size = len(view)
        self.name = name
        if size < 2 * len(MAGIC) + _FOOTER_SIZE or bytes(view[: len(MAGIC)]) != MAGIC:
            raise self.error("it does not start with the MCAP magic or is too short")
        if bytes(view[size - len(MAGIC) :]) != MAGIC:
            raise self.error("it does not end with the MCAP magic (truncated?)")
        self.chunks: list[tuple[int, int, int, str]] = []  # (crc offset, records start, records end, compression)
        self.data_end: int | None = None
        pos = len(MAGIC)
        while pos + _RECORD_HEADER <= size:
            opcode = view[pos]
            (length,) = struct.unpack_from("<Q", view, pos + 1)
            body = pos + _RECORD_HEADER
            if length > size - body:
                raise self.error(f"the record at byte {pos} claims {length} bytes, past the end of the file")
            if opcode == OP_DATA_END:
                self.data_end = pos
                break
            if opcode == OP_CHUNK:
                self.chunks.append(self._chunk(view, body, body + length))
            pos = body + length
        if self.data_end is None:
            raise self.error("it has no DataEnd record (truncated?)")
        if length < 4:
            raise self.error(f"its DataEnd record at byte {self.data_end} is too short")
        self.data_crc_at = self.data_end + _RECORD_HEADER
        self.footer = size - len(MAGIC) - _FOOTER_SIZE
        (footer_length,) = struct.unpack_from("<Q", view, self.footer + 1)
        if view[self.footer] != OP_FOOTER or footer_length != _FOOTER_BODY:
            raise self.error("its Footer record is damaged")
        (summary_start,) = struct.unpack_from("<Q", view, self.footer + _RECORD_HEADER)
        if summary_start and not self.data_end < summary_start <= self.footer:
            raise self.error(f"its Footer points the summary at byte {summary_start}, outside the summary section")
        self.summary_from = summary_start or self.footer
        self.summary_crc_at = self.footer + _RECORD_HEADER + 16

    def _chunk(self, view: memoryview, body: int, end: int) -> tuple[int, int, int, str]:
        crc_at = body + 24
        if crc_at + 8 > end:
            raise self.error(f"the chunk at byte {body - _RECORD_HEADER} is too short")
        (comp_len,) = struct.unpack_from("<I", view, crc_at + 4)
        records_len_at = crc_at + 8 + comp_len
        if records_len_at + 8 > end:
            raise self.error(f"the chunk at byte {body - _RECORD_HEADER} is damaged")
        compression = bytes(view[crc_at + 8 : records_len_at]).decode("utf-8", "replace")
        (records_len,) = struct.unpack_from("<Q", view, records_len_at)
        start = records_len_at + 8
        if records_len != end - start:
            raise self.error(f"the chunk at byte {body - _RECORD_HEADER} has inconsistent lengths")
        return crc_at, start, end, compression

    def error(self, what: str) -> BagError:
        return BagError(f"{self.name} is corrupt or truncated: {what}. Re-record the bag.")

    def summary_crc(self, view: memoryview) -> int:
        return _crc(view, self.summary_from, self.footer + _RECORD_HEADER + 16)


def _mcap_files(path: pathlib.Path) -> Iterator[pathlib.Path]:
    if path.is_dir():
        yield from sorted(path.glob("*.mcap"))
    elif path.suffix == ".mcap":
        yield path


def seal(path: str | pathlib.Path) -> None:
    """Write the CRCs of the MCAP file(s) at ``path`` (a bag directory or one ``.mcap`` file).

    Chunks must be uncompressed (as exploy writes them); the file is changed in place.

    Raises:
        BagError: when a file is not a well-formed MCAP file or has compressed chunks.
    """
    for file in _mcap_files(pathlib.Path(path)):
        with open(file, "r+b") as handle, mmap.mmap(handle.fileno(), 0) as mapped:
            view = memoryview(mapped)
            try:
                layout = _Layout(view, str(file))
                for crc_at, start, stop, compression in layout.chunks:
                    if compression:
                        raise BagError(f"{file}: cannot checksum a {compression!r}-compressed chunk")
                    struct.pack_into("<I", view, crc_at, _crc(view, start, stop))
                struct.pack_into("<I", view, layout.data_crc_at, _crc(view, 0, layout.data_end))  # type: ignore[arg-type]  # set: _Layout raises otherwise
                struct.pack_into("<I", view, layout.summary_crc_at, layout.summary_crc(view))
                mapped.flush()
            finally:
                view.release()


_VERIFIED: set[tuple[str, int, int, int]] = set()
"""Files that passed, by (path, size, mtime, inode): any write changes the key, so it is checked again."""
_MAX_VERIFIED = 256


def verify(path: str | pathlib.Path) -> None:
    """Check the structure and the CRCs of the MCAP file(s) at ``path``; a 0 CRC is skipped.

    Raises:
        BagError: naming the first damaged part (chunk, data section, summary).
    """
    for file in _mcap_files(pathlib.Path(path)):
        try:
            stat = file.stat()
        except OSError as err:
            raise BagError(f"Cannot read bag file {file}: {err.strerror or err}") from err
        key = (str(file.resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino)
        if key in _VERIFIED:  # this very file (unchanged since) passed already: a replay opens a bag twice
            continue
        try:
            with open(file, "rb") as handle:
                if not handle.seek(0, 2):
                    raise BagError(f"{file} is corrupt or truncated: it is empty. Re-record the bag.")
                mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        except OSError as err:
            raise BagError(f"Cannot read bag file {file}: {err.strerror or err}") from err
        with mapped:
            view = memoryview(mapped)
            try:
                _verify(view, str(file))
            finally:
                view.release()
        if len(_VERIFIED) >= _MAX_VERIFIED:
            _VERIFIED.clear()
        _VERIFIED.add(key)


def _verify(view: memoryview, name: str) -> None:
    layout = _Layout(view, name)
    for crc_at, start, stop, compression in layout.chunks:
        (stored,) = struct.unpack_from("<I", view, crc_at)
        if stored and not compression and _crc(view, start, stop) != stored:
            raise layout.error(f"the checksum of the chunk at byte {crc_at - 24 - _RECORD_HEADER} does not match")
    (stored,) = struct.unpack_from("<I", view, layout.data_crc_at)
    if stored and _crc(view, 0, layout.data_end) != stored:  # type: ignore[arg-type]  # set: _Layout raises otherwise
        raise layout.error("the checksum of its data section does not match")
    (stored,) = struct.unpack_from("<I", view, layout.summary_crc_at)
    if stored and layout.summary_crc(view) != stored:
        raise layout.error("the checksum of its summary section does not match")
