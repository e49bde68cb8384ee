"""Classic pcap (libpcap) files: the 24-byte file header and 16-byte records.

Both byte orders, microsecond (0xa1b2c3d4) and nanosecond (0xa1b23c4d) magic,
and Kuznetsov's modified format (0xa1b2cd34, 24-byte records).
"""

from __future__ import annotations

import struct

import numpy as np

from .errors import CaptureProblem
from .pcap_records import record_fields, record_starts
from .records import MAX_RECORD_BYTES, RecordBatch

MAGICS = {
    # magic as read little-endian -> (little_endian, ns_per_tick, record header size)
    0xA1B2C3D4: (True, 1000, 16),
    0xD4C3B2A1: (False, 1000, 16),
    0xA1B23C4D: (True, 1, 16),
    0x4D3CB2A1: (False, 1, 16),
    0xA1B2CD34: (True, 1000, 24),
    0x34CDB2A1: (False, 1000, 24),
}
FILE_HEADER_BYTES = 24


def is_pcap(head: bytes) -> bool:
    return len(head) >= 4 and struct.unpack_from("<I", head)[0] in MAGICS


class PcapParser:
    """Turns buffers of a pcap file into record batches."""

    format = "pcap"

    def __init__(self, path: str, header: bytes) -> None:
        magic = struct.unpack_from("<I", header)[0]
        self.little, self.ns_per_tick, self.record_header = MAGICS[magic]
        endian = "<" if self.little else ">"
        _, major, minor, _, _, snaplen, linktype = struct.unpack_from(endian + "IHHiIII", header)
        self.path = path
        self.byte_order = "little" if self.little else "big"
        self.time_resolutions = {"ns" if self.ns_per_tick == 1 else "us"}
        # The upper bits of the link-type field carry FCS information (pcap spec).
        self.linktype = linktype & 0xFFFF
        self.snaplen = snaplen
        self.version = f"{major}.{minor}"
        self.link_types = {self.linktype}
        self.header_bytes = FILE_HEADER_BYTES

    def parse(self, buf: bytes, base: int) -> tuple[RecordBatch, int, CaptureProblem | None]:
        """Whole records of ``buf`` (which starts at file offset ``base``).

        Returns the batch, how many bytes it consumed and, when a record header
        is impossible, the problem (reading must stop there).
        """
        starts, off, bad, caplen = record_starts(
            buf, self.record_header, self.little, MAX_RECORD_BYTES
        )
        problem = None
        if bad >= 0:
            problem = CaptureProblem(
                self.path,
                base + bad,
                f"record header claims {caplen} captured bytes "
                f"(more than {MAX_RECORD_BYTES}); the file is damaged here",
            )
        return self._batch(buf, starts), off, problem

    def _batch(self, buf: bytes, starts: np.ndarray) -> RecordBatch:
        view = np.frombuffer(buf, np.uint8)
        sec, frac, caplen, origlen = record_fields(view, starts, self.little)
        return RecordBatch(
            buf=view,
            data_off=starts + self.record_header,
            caplen=caplen,
            origlen=origlen,
            ts_ns=sec * 1_000_000_000 + frac * self.ns_per_tick,
            linktype=np.full(len(starts), self.linktype, np.int32),
            interface=np.zeros(len(starts), np.int32),
        )
