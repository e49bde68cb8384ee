"""Records: what a container parser hands to the link layers.

A batch holds whole records from one buffer of the file: where each record's
packet data starts in the buffer, how many bytes were captured and how long the
packet was on the wire, its timestamp, link type and interface.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Wireshark's largest packet for ordinary link types (WTAP_MAX_PACKET_SIZE_STANDARD).
# A record claiming more is damage, not data: never allocate for it.
MAX_RECORD_BYTES = 262_144
# Link type of a record that is a frame but not a packet (pcapng custom and
# systemd journal blocks): counted, never decoded.
NOT_A_PACKET = -1


@dataclass
class RecordBatch:
    buf: np.ndarray  # uint8 view of the buffer the offsets point into
    data_off: np.ndarray  # int64
    caplen: np.ndarray  # int64
    origlen: np.ndarray  # int64
    ts_ns: np.ndarray  # int64
    linktype: np.ndarray  # int32
    interface: np.ndarray  # int32

    def __len__(self) -> int:
        return len(self.data_off)


class RecordBuilder:
    """Collects per-record values in lists, then turns them into a batch."""

    def __init__(self) -> None:
        self.data_off: list[int] = []
        self.caplen: list[int] = []
        self.origlen: list[int] = []
        self.ts_ns: list[int] = []
        self.linktype: list[int] = []
        self.interface: list[int] = []

    def __len__(self) -> int:
        return len(self.data_off)

    def build(self, buf: bytes) -> RecordBatch:
        return RecordBatch(
            buf=np.frombuffer(buf, np.uint8),
            data_off=np.array(self.data_off, np.int64),
            caplen=np.array(self.caplen, np.int64),
            origlen=np.array(self.origlen, np.int64),
            ts_ns=np.array(self.ts_ns, np.int64),
            linktype=np.array(self.linktype, np.int32),
            interface=np.array(self.interface, np.int32),
        )
