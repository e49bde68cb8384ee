"""Read a capture file, in bounded chunks, into segment tables.

read -> containers (pcap, pcapng; gzip detected by content) -> link layers ->
IP -> TCP -> SegmentTable batches. Memory is bounded by the chunk size and the
segment columns, whatever a record's length fields claim.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from ..segments import COLUMNS, SegmentTable, SegmentTableBuilder
from . import linklayer
from .addresses import AddressBook
from .errors import CaptureError, CaptureProblem
from .gzipstream import GzipDamage, GzipStream
from .ip import PROTO_TCP, decode_ip
from .pcap import PcapParser, is_pcap
from .pcapng import PcapngParser, is_pcapng
from .tcp import decode_tcp

CHUNK_BYTES = 8 * 1024 * 1024  # measured best on the 3M benchmark (4, 8, 16 MB tried)
GZIP_MAGIC = b"\x1f\x8b"
UNKNOWN_SIZE_START = 64 * 1024


@dataclass
class CaptureInfo:
    """What the reader learnt about a file besides its segments."""

    path: str
    format: str = ""
    compressed: bool = False
    byte_order: str = ""
    time_resolution: str = ""
    link_types: list[int] = field(default_factory=list)
    frames: int = 0
    tcp_segments: int = 0
    non_tcp_frames: int = 0
    fragments: int = 0
    undecodable: int = 0
    first_ns: int | None = None
    last_ns: int | None = None
    truncated: bool = False
    end_offset: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def first_time(self) -> float | None:
        return None if self.first_ns is None else self.first_ns / 1e9

    @property
    def last_time(self) -> float | None:
        return None if self.last_ns is None else self.last_ns / 1e9


def _size_hint(stream: BinaryIO | GzipStream) -> int:
    """One more than the file's size when it is a regular file, else 64 KiB.

    One more, so that the first read ending short of the buffer tells end of file.
    """
    try:
        st = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return UNKNOWN_SIZE_START
    return st.st_size + 1 if stat.S_ISREG(st.st_mode) else UNKNOWN_SIZE_START


def _open(path: str) -> tuple[BinaryIO | GzipStream, bool]:
    """Open a file or stdin ('-'); decompress gzip, recognised by its magic."""
    if path == "-" and sys.stdin is None:
        # Started with standard input closed (`teardown info - <&-`): Python sets
        # sys.stdin to None, and `.buffer` raised AttributeError.
        raise CaptureError(path, None, "standard input is closed")
    try:
        raw = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115
    except OSError as e:
        raise CaptureError(path, None, e.strerror or str(e)) from None
    if not isinstance(raw, io.BufferedReader):
        raw = io.BufferedReader(raw)
    if raw.peek(2)[:2] == GZIP_MAGIC:
        return GzipStream(raw), True
    return raw, False


class CaptureReader:
    """Iterate over a capture's segments in batches; ``info`` fills in as it goes.

    >>> reader = CaptureReader("x.pcap")
    >>> for batch in reader: ...
    >>> reader.info.frames
    """

    def __init__(self, path: str, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.path = path
        self.chunk_bytes = chunk_bytes
        self.info = CaptureInfo(path=path)
        self.addresses = AddressBook()
        self._unsupported: dict[int, int] = {}

    def __iter__(self) -> Iterator[SegmentTable]:
        stream, compressed = _open(self.path)
        self.info.compressed = compressed
        try:
            yield from self._read(stream)
        finally:
            if self.path != "-":
                stream.close()
        for linktype, count in sorted(self._unsupported.items()):
            self._warn(None, f"link type {linktype} is not supported: {count} frames skipped")

    def _fill(self, stream: BinaryIO, buf: bytearray, start: int, offset: int) -> int:
        """Read into ``buf[start:]``; returns the number of bytes now in ``buf``."""
        view = memoryview(buf)
        end = start
        try:
            while end < len(buf):
                got = stream.readinto(view[end:])
                if not got:
                    break
                end += got
        except (GzipDamage, OSError) as e:
            # A gzip stream cut short or corrupt: what came before is kept.
            self.info.truncated = True
            self._warn(offset + end - start, f"{e} (decompressed offset); reading stops here")
        finally:
            view.release()
        return end

    def _read(self, stream: BinaryIO) -> Iterator[SegmentTable]:
        # One buffer for the whole file: the unparsed tail of a chunk moves to
        # its front and the next chunk is read in behind it, with no copies.
        # The buffer starts no larger than the file (a 1 KB file allocated the
        # whole chunk); when the size is unknown (gzip, pipes) it starts
        # small and doubles while it keeps filling up.
        buf = bytearray(max(min(self.chunk_bytes, _size_hint(stream)), 64))
        filled = self._fill(stream, buf, 0, 0)
        head = bytes(buf[:24])
        where = " (decompressed)" if self.info.compressed else ""
        if is_pcap(head):
            if len(head) < 24 or filled < 24:
                raise CaptureError(self.path, 0, "pcap file header is cut short")
            parser: PcapParser | PcapngParser = PcapParser(self.path, head)
        elif is_pcapng(head):
            parser = PcapngParser(self.path, head)
        elif not filled:
            raise CaptureError(self.path, 0, "empty file" + where)
        else:
            raise CaptureError(self.path, 0, "not a pcap or pcapng capture (unknown magic number)")
        self.info.format = parser.format
        start = parser.header_bytes
        base = start  # file offset of buf[start]
        while True:
            eof = filled < len(buf)
            batch, consumed, problem = parser.parse(memoryview(buf)[start:filled], base)
            if len(batch):
                yield self._segments(batch)
            del batch
            base += consumed
            if problem:
                self.info.truncated = True
                self.info.warnings.append(str(problem) + where)
                break
            pending = filled - start - consumed
            if eof:
                if pending:
                    self.info.truncated = True
                    self._warn(
                        base,
                        f"file ends inside a record{where} ({pending} bytes of it); "
                        f"the {self.info.frames} whole frames before it were read",
                    )
                break
            if pending * 2 > len(buf):
                # A record (or pcapng block) larger than half the buffer: grow it.
                buf.extend(bytes(len(buf)))
            elif len(buf) < self.chunk_bytes:
                # Started small and filled up: more file follows, grow to a chunk.
                buf.extend(bytes(min(len(buf), self.chunk_bytes - len(buf))))
            buf[:pending] = buf[filled - pending : filled]
            start = 0
            filled = self._fill(stream, buf, pending, base + pending)
        self.info.end_offset = base
        self.info.byte_order = parser.byte_order
        self.info.time_resolution = ",".join(sorted(parser.time_resolutions))
        self.info.link_types = sorted(parser.link_types)
        untimed = getattr(parser, "untimed", 0)
        if untimed:
            self._warn(
                None,
                f"{untimed} packets have no timestamp (Simple Packet Blocks); "
                "they are given time 0",
            )

    def _warn(self, offset: int | None, message: str) -> None:
        self.info.warnings.append(str(CaptureProblem(self.path, offset, message)))

    def _segments(self, batch) -> SegmentTable:
        info = self.info
        first_frame = info.frames + 1
        info.frames += len(batch)
        if info.first_ns is None:
            info.first_ns = int(batch.ts_ns[0])
        info.last_ns = int(batch.ts_ns[-1])

        net, version, unsupported = linklayer.network_layer(batch)
        for linktype, count in unsupported.items():
            self._unsupported[linktype] = self._unsupported.get(linktype, 0) + count
        captured_end = batch.data_off + batch.caplen
        wire_len = batch.origlen - (net - batch.data_off)
        is_ip = np.flatnonzero(version > 0)
        ip = decode_ip(
            batch.buf, *(_rows_of(a, is_ip) for a in (net, version, captured_end, wire_len))
        )
        tcp_ip = ip.ok & (ip.proto == PROTO_TCP)
        info.fragments += int(np.count_nonzero(ip.ok & ip.fragment))
        whole = np.flatnonzero(tcp_ip & ~ip.fragment)
        rec = _rows_of(is_ip, whole)
        tcp = decode_tcp(
            batch.buf,
            _rows_of(ip.l4_off, whole),
            _rows_of(ip.l4_len, whole),
            _rows_of(captured_end, rec),
        )
        info.undecodable += int(np.count_nonzero(~tcp.ok))
        keep = np.flatnonzero(tcp.ok)
        rec, whole = _rows_of(rec, keep), _rows_of(whole, keep)
        info.tcp_segments += len(rec)
        info.non_tcp_frames = info.frames - info.tcp_segments - info.fragments - info.undecodable

        # Source and destination share one sort: most addresses are both.
        both = self.addresses.encode(
            np.concatenate([_rows_of(ip.src, whole), _rows_of(ip.dst, whole)])
        )
        values = {
            "frame": first_frame + rec,
            "ts_ns": _rows_of(batch.ts_ns, rec),
            "interface": _rows_of(batch.interface, rec),
            "ip_version": _rows_of(_rows_of(version, is_ip), whole),
            "src": both[: len(whole)],
            "dst": both[len(whole) :],
            "ttl": _rows_of(ip.ttl, whole),
            "ip_id": _rows_of(ip.ip_id, whole),
        }
        for name in [
            "sport",
            "dport",
            "flags",
            "seq",
            "ack",
            "window",
            "payload_len",
            "tsval",
            "tsecr",
            "mss",
            "wscale",
            "sack_perm",
        ]:
            values[name] = _rows_of(getattr(tcp, name), keep)
        columns = {name: values[name].astype(dtype, copy=False) for name, dtype in COLUMNS.items()}
        return SegmentTable(columns, self.addresses.texts)


def _rows_of(a: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``a[rows]`` for ascending ``rows`` (``np.flatnonzero``): ``a`` itself when
    they are all of its rows, as in a capture of TCP only (a copy of every
    column of every batch, several times, was a quarter of the reading's CPU)."""
    return a if len(rows) == len(a) else a[rows]


@dataclass
class Capture:
    segments: SegmentTable
    info: CaptureInfo


# The smallest record that can hold a TCP segment: a pcap record header and
# bare IPv4 and TCP headers. A file of N bytes holds at most N // this segments.
MIN_SEGMENT_RECORD_BYTES = 16 + 20 + 20


def read_capture(path: str) -> Capture:
    """Read a whole capture into one segment table (raises CaptureError)."""
    capacity = None
    if path != "-":
        with contextlib.suppress(OSError):
            capacity = os.path.getsize(path) // MIN_SEGMENT_RECORD_BYTES + 1
    reader = CaptureReader(path)
    builder = SegmentTableBuilder(capacity)
    for batch in reader:
        builder.append(batch)
    return Capture(builder.table(reader.addresses.texts), reader.info)


def read_segments(path: str) -> SegmentTable:
    return read_capture(path).segments
