"""``--format zeek``: the connections as Zeek's conn.log (TSV with Zeek's header lines).

The records are those ``analyzer.zeek`` replays: where Zeek's timers or a
reused 4-tuple make several records of one of our incarnations, all of them
are written (docs/zeek.md). Columns Zeek fills from application analyzers
(service, local_orig, ...) are unset (``-``); missed_bytes is 0 and the IP
byte counts are not computed (``-``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TextIO

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


def write_conn_log(records: Iterable[ZeekRecord], out: TextIO) -> None:
    """One conn.log: header, a row per record in order of first packet, #close."""
    records = sorted(records, key=lambda r: r.ts)
    opened = records[0].ts if records else 0.0
    closed = max((r.ts + r.duration for r in records), default=opened)
    for line in header(opened):
        out.write(line + "\n")
    for r in records:
        out.write("\t".join(row(r)) + "\n")
    out.write(f"#close\t{_stamp(closed)}\n")
