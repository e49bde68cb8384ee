"""Write a segment table as a readable table, CSV or JSON lines."""

from __future__ import annotations

import csv
import json
from typing import TextIO

from ..segments import SegmentTable, flags_text

TABLE_COLUMNS = (
    ("frame", 7),
    ("time", 18),
    ("src", 22),
    ("dst", 22),
    ("flags", 6),
    ("seq", 10),
    ("ack", 10),
    ("len", 6),
    ("win", 6),
    ("ttl", 4),
    ("tsval", 10),
)


def _endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def write_table(table: SegmentTable, out: TextIO) -> None:
    out.write(" ".join(name.rjust(width) for name, width in TABLE_COLUMNS).rstrip() + "\n")
    for row in table.rows():
        cells = (
            row["frame"],
            f"{row['ts_ns'] / 1e9:.6f}",
            _endpoint(row["src"], row["sport"]),
            _endpoint(row["dst"], row["dport"]),
            flags_text(row["flags"]),
            row["seq"],
            row["ack"],
            row["payload_len"],
            row["window"],
            row["ttl"],
            "" if row["tsval"] < 0 else row["tsval"],
        )
        out.write(
            " ".join(str(c).rjust(w) for c, (_, w) in zip(cells, TABLE_COLUMNS)).rstrip() + "\n"
        )


def _exact_seconds(ts_ns: int) -> str:
    seconds, ns = divmod(ts_ns, 1_000_000_000)
    return f"{seconds}.{ns:09d}"


def write_csv(table: SegmentTable, out: TextIO) -> None:
    writer = None
    for row in table.rows():
        row["time"] = _exact_seconds(row["ts_ns"])
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(row), lineterminator="\n")
            writer.writeheader()
        writer.writerow(row)


def write_jsonl(table: SegmentTable, out: TextIO) -> None:
    for row in table.rows():
        row["time"] = row["ts_ns"] / 1e9
        out.write(json.dumps(row) + "\n")


WRITERS = {"table": write_table, "csv": write_csv, "jsonl": write_jsonl}
