"""``--format zeek``: the connections as Zeek's conn.log (TSV with Zeek's header lines).

The records are those ``analyzer.zeek`` replays: where Zeek's timers or a
reused 4-tuple make several records of one of our incarnations, all of them
are written (docs/zeek.md). Columns Zeek fills from application analyzers
(service, local_orig, ...) are unset (``-``); missed_bytes is 0 and the IP
byte counts are not computed (``-``).
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Iterable, Iterator
from functools import partial
from typing import TextIO

import numpy as np

from ..engine import SliceProducts
from ..model import Connection
from ..spill import Spill, SpillWriter
from ..zeek import ZeekRecord

FIELDS = (
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("proto", "enum"),
    ("service", "string"),
    ("duration", "interval"),
    ("orig_bytes", "count"),
    ("resp_bytes", "count"),
    ("conn_state", "string"),
    ("local_orig", "bool"),
    ("local_resp", "bool"),
    ("missed_bytes", "count"),
    ("history", "string"),
    ("orig_pkts", "count"),
    ("orig_ip_bytes", "count"),
    ("resp_pkts", "count"),
    ("resp_ip_bytes", "count"),
    ("tunnel_parents", "set[string]"),
)


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime(t))


def header(opened: float) -> list[str]:
    return [
        "#separator \\x09",
        "#set_separator\t,",
        "#empty_field\t(empty)",
        "#unset_field\t-",
        "#path\tconn",
        f"#open\t{_stamp(opened)}",
        "#fields\t" + "\t".join(name for name, _ in FIELDS),
        "#types\t" + "\t".join(kind for _, kind in FIELDS),
    ]


def row(r: ZeekRecord) -> list[str]:
    values = {
        "ts": f"{r.ts:.6f}",
        "uid": r.uid,
        "id.orig_h": r.orig_h,
        "id.orig_p": str(r.orig_p),
        "id.resp_h": r.resp_h,
        "id.resp_p": str(r.resp_p),
        "proto": "tcp",
        "duration": f"{r.duration:.6f}",
        "orig_bytes": str(r.orig_bytes),
        "resp_bytes": str(r.resp_bytes),
        "conn_state": r.conn_state,
        "missed_bytes": "0",
        "history": r.history or "-",
        "orig_pkts": str(r.orig_pkts),
        "resp_pkts": str(r.resp_pkts),
    }
    return [values.get(name, "-") for name, _ in FIELDS]


def line(r: ZeekRecord) -> str:
    return "\t".join(row(r)) + "\n"


def write_conn_log(records: Iterable[ZeekRecord], out: TextIO) -> None:
    """One conn.log: header, a row per record in order of first packet, #close."""
    records = sorted(records, key=lambda r: r.ts)
    opened = records[0].ts if records else 0.0
    closed = max((r.ts + r.duration for r in records), default=opened)
    _write(out, opened, closed, (line(r) for r in records))


def _write(out: TextIO, opened: float, closed: float, lines: Iterable[str]) -> None:
    for text in header(opened):
        out.write(text + "\n")
    for text in lines:
        out.write(text)
    out.write(f"#close\t{_stamp(closed)}\n")


def _render_lines(
    write: SpillWriter, _connections: list[Connection], records: list[ZeekRecord], _named
):
    """A slice's conn.log lines, spilled where they were made, and what orders them."""
    texts = [line(r).encode() for r in records]
    keys = np.array([(r.ts, r.first_frame, r.ts + r.duration) for r in records], float)
    return write.each(texts), keys.reshape(-1, 3)


class ConnLogSpool:
    """A sink that spools a capture's conn.log lines to temporary files as
    slices settle (``analyzer.engine``), with what orders them."""

    zeek_records = True

    def __init__(self) -> None:
        self._spill = Spill()
        self.render = partial(_render_lines, self._spill.writer)
        self._ts, self._first_frame, self._end = array("d"), array("q"), array("d")

    def add(self, products: SliceProducts) -> None:
        for lines, keys in products.documents:
            self._spill.add(lines)
            self._ts.extend(keys[:, 0].tolist())
            self._first_frame.extend(keys[:, 1].astype(np.int64).tolist())
            self._end.extend(keys[:, 2].tolist())

    def kept(self, left_out_from: int | None) -> np.ndarray:
        """Positions of the lines to write: records of connections left out by
        the connection limit are left out too (``engine.Outcome.left_out_from``)."""
        first_frames = np.frombuffer(self._first_frame, np.int64)
        if left_out_from is None:
            return np.arange(len(first_frames))
        return np.flatnonzero(first_frames < left_out_from)

    def columns(self, kept: np.ndarray) -> dict[str, np.ndarray]:
        """Start time, end time and first frame of the lines at ``kept``."""
        return {
            "ts": np.frombuffer(self._ts, np.float64)[kept],
            "end": np.frombuffer(self._end, np.float64)[kept],
            "first_frame": np.frombuffer(self._first_frame, np.int64)[kept],
        }

    def read(self, positions: np.ndarray) -> Iterator[str]:
        return (data.decode() for data in self._spill.read(positions))

    def close(self) -> None:
        self._spill.close()


def write_conn_log_from(spools: list[tuple[ConnLogSpool, np.ndarray]], out: TextIO) -> None:
    """``write_conn_log`` of one or more captures' spooled lines, each with the
    positions to write (``ConnLogSpool.kept``), read back from disk in the
    same order: by start time, then capture, then first frame."""
    parts = []
    for i, (spool, kept) in enumerate(spools):
        part = spool.columns(kept)
        part["capture"] = np.full(len(kept), i, np.int64)
        part["position"] = kept.astype(np.int64)
        parts.append(part)
    c = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    capture = c["capture"]
    order = np.lexsort((c["first_frame"], capture, c["ts"]))
    opened = float(c["ts"][order[0]]) if len(order) else 0.0
    closed = float(c["end"].max()) if len(order) else opened
    # Each spool is read in the order its own lines take in the merged order.
    readers = [
        spool.read(c["position"][order[capture[order] == i]]) for i, (spool, _) in enumerate(spools)
    ]
    lines = (next(readers[i]) for i in capture[order].tolist())
    _write(out, opened, closed, lines)
