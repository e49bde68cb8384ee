"""The segment table: one row per TCP segment, as numpy columns.

This is the boundary between reading a capture and analysing it. Everything
downstream works on these columns; nothing downstream knows which container or
link layer a segment came from.

Column vocabulary (each documented once, here):

frame        1-based record number in the file, as Wireshark's ``frame.number``
ts_ns        capture timestamp, integer nanoseconds since the epoch (no float
             rounding: a float64 cannot hold nanoseconds at today's epoch)
interface    pcapng interface id (0 for classic pcap)
ip_version   4 or 6
src, dst     address codes: indexes into ``SegmentTable.addresses`` (text)
sport, dport TCP ports
flags        TCP flag bits as in the header (FIN=0x01 ... CWR=0x80, AE/NS=0x100)
seq, ack     raw (absolute) sequence and acknowledgment numbers
window       raw window field, not scaled
payload_len  TCP payload bytes, from the IP header's length fields (not caplen)
ttl          IPv4 TTL or IPv6 hop limit
ip_id        IPv4 identification; -1 for IPv6
tsval, tsecr TCP timestamps option; -1 when the option is absent
mss          MSS option; -1 when absent
wscale       window scale shift; -1 when absent
sack_perm    SACK-permitted option present
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
URG = 0x20
ECE = 0x40
CWR = 0x80

# name -> dtype, in the order columns are shown.
COLUMNS: dict[str, np.dtype] = {
    "frame": np.dtype(np.int64),
    "ts_ns": np.dtype(np.int64),
    "interface": np.dtype(np.int32),
    "ip_version": np.dtype(np.uint8),
    "src": np.dtype(np.int32),
    "dst": np.dtype(np.int32),
    "sport": np.dtype(np.uint16),
    "dport": np.dtype(np.uint16),
    "flags": np.dtype(np.uint16),
    "seq": np.dtype(np.uint32),
    "ack": np.dtype(np.uint32),
    "window": np.dtype(np.uint16),
    "payload_len": np.dtype(np.int32),
    "ttl": np.dtype(np.uint8),
    "ip_id": np.dtype(np.int32),
    "tsval": np.dtype(np.int64),
    "tsecr": np.dtype(np.int64),
    "mss": np.dtype(np.int32),
    "wscale": np.dtype(np.int16),
    "sack_perm": np.dtype(np.bool_),
}

_FLAG_LETTERS = (
    (SYN, "S"),
    (FIN, "F"),
    (RST, "R"),
    (PSH, "P"),
    (ACK, "."),
    (URG, "U"),
    (ECE, "E"),
    (CWR, "W"),
)


def _letters(flags: int) -> str:
    return "".join(letter for bit, letter in _FLAG_LETTERS if flags & bit) or "none"


# Every 12-bit flag combination, spelled once (events spell flags very often).
FLAG_TEXTS = tuple(_letters(f) for f in range(1 << 12))


def flags_text(flags: int) -> str:
    """tcpdump-style flag letters: S, F, R, P, '.' for ACK, U, E, W."""
    return FLAG_TEXTS[flags & 0xFFF]


@dataclass
class SegmentTable:
    """Columns of equal length, one row per TCP segment (see module doc)."""

    columns: dict[str, np.ndarray]
    addresses: Sequence[str] = field(default_factory=list)  # by code

    def __post_init__(self) -> None:
        lengths = {len(a) for a in self.columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"segment columns differ in length: {lengths}")

    def __len__(self) -> int:
        return len(self.columns["frame"])

    def __getattr__(self, name: str) -> np.ndarray:
        columns = self.__dict__.get("columns")
        if columns is not None and name in columns:
            return columns[name]
        raise AttributeError(name)

    @property
    def time(self) -> np.ndarray:
        """Timestamps as float seconds (for display and plots)."""
        return self.columns["ts_ns"] / 1e9

    def endpoints(self) -> tuple[np.ndarray, np.ndarray]:
        """Each segment's sender and receiver as one number: address code << 16 | port."""
        src = self.src.astype(np.int64) << 16 | self.sport
        dst = self.dst.astype(np.int64) << 16 | self.dport
        return src, dst

    def four_tuples(self) -> tuple[np.ndarray, np.ndarray]:
        """Each segment's sender (``endpoints``) and its 4-tuple as a row of its
        lower and higher endpoint: the same whichever way the segment went."""
        src, dst = self.endpoints()
        return src, np.stack([np.minimum(src, dst), np.maximum(src, dst)], axis=1)

    @classmethod
    def empty(cls) -> SegmentTable:
        return cls({name: np.empty(0, dtype) for name, dtype in COLUMNS.items()}, [])

    @classmethod
    def concat(cls, tables: Iterable[SegmentTable]) -> SegmentTable:
        """Join tables that share one address list (as the reader's batches do)
        and the columns of the first."""
        tables = list(tables)
        if not tables:
            return cls.empty()
        addresses = max((t.addresses for t in tables), key=len)
        names = tables[0].columns
        columns = {name: np.concatenate([t.columns[name] for t in tables]) for name in names}
        return cls(columns, addresses)

    def only(self, names: Iterable[str]) -> SegmentTable:
        """The same rows with only the named columns (the others can be freed)."""
        return SegmentTable({n: self.columns[n] for n in names}, self.addresses)

    def take(self, rows: np.ndarray) -> SegmentTable:
        """The rows selected by an index array or boolean mask, same addresses."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            # A mask is turned into positions once: numpy scans a mask again
            # for every column, which took six times as long.
            if len(rows) != len(self):
                raise IndexError(f"a mask of {len(rows)} rows for a table of {len(self)}")
            rows = np.flatnonzero(rows)
        return SegmentTable({n: a[rows] for n, a in self.columns.items()}, self.addresses)

    def with_own_addresses(self) -> tuple[SegmentTable, np.ndarray]:
        """The same rows with a list of the texts of only the addresses they use,
        and the codes those addresses had (new code -> old code).

        Codes keep their order (a code's rank among those used), so whatever
        compares endpoints by code compares them the same way. A slice sent to
        another process carries its own few addresses, not the capture's
        hundreds of thousands.
        """
        n = len(self)
        both = np.concatenate([self.src, self.dst])
        if len(self.addresses) <= 4 * len(both):
            # A mark per address of the capture costs less than sorting the
            # codes (a tenth, for a slice of a capture of 300,000 addresses).
            seen = np.zeros(len(self.addresses), bool)
            seen[both] = True
            used = np.flatnonzero(seen)
            codes = (np.cumsum(seen, dtype=np.int64) - 1)[both]
        else:
            used, codes = np.unique(both, return_inverse=True)
        columns = dict(self.columns)
        codes = codes.astype(self.src.dtype)
        columns["src"], columns["dst"] = codes[:n], codes[n:]
        addresses = self.addresses
        take = getattr(addresses, "take", None)  # the capture's (``capture.addresses``)
        own = take(used) if take else [addresses[i] for i in used.tolist()]
        return SegmentTable(columns, own), used

    def rows(self) -> Iterable[dict]:
        """Rows as plain dicts with addresses as text (for CSV/JSON output)."""
        names = list(COLUMNS)
        lists = [self.columns[n].tolist() for n in names]
        for values in zip(*lists):
            row = dict(zip(names, values))
            row["src"] = self.addresses[row["src"]]
            row["dst"] = self.addresses[row["dst"]]
            yield row


class SegmentTableBuilder:
    """Grows one segment table batch by batch.

    With a capacity (an upper bound on the rows), each column is allocated
    once and batches are written into place: the operating system backs only
    the pages written, so the unused tail costs address space, not memory, and
    no final copy is needed. Past the capacity (or without one) batches are
    kept and joined at the end.
    """

    def __init__(self, capacity: int | None = None) -> None:
        self.filled = 0
        self.columns = (
            {name: np.empty(capacity, dtype) for name, dtype in COLUMNS.items()}
            if capacity
            else None
        )
        self.overflow: list[SegmentTable] = []

    def append(self, batch: SegmentTable) -> None:
        n = len(batch)
        if self.columns is None or self.overflow or self.filled + n > len(self.columns["frame"]):
            self.overflow.append(batch)
            return
        for name, column in self.columns.items():
            column[self.filled : self.filled + n] = batch.columns[name]
        self.filled += n

    def table(self, addresses: Sequence[str]) -> SegmentTable:
        parts = []
        if self.columns is not None:
            parts.append(
                SegmentTable({k: v[: self.filled] for k, v in self.columns.items()}, addresses)
            )
        table = SegmentTable.concat(parts + self.overflow) if self.overflow else None
        if table is None:
            table = parts[0] if parts else SegmentTable.empty()
        table.addresses = addresses
        return table
