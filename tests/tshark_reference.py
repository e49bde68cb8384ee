"""tshark's view of a capture's TCP segments, as the reader tests compare it.

The reference dumps (``*.tshark.tsv``) are made once with tshark and committed,
so the tests do not need tshark; ``python -m tests.tshark_reference FILE...``
makes them again (``--teardown FILE...`` for the ``*.tshark-teardown.tsv`` dumps
of tshark's TCP analysis).
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

FIELDS = [
    "frame.number",
    "frame.time_epoch",
    "frame.interface_id",
    "ip.version",
    "ip.src",
    "ipv6.src",
    "ip.dst",
    "ipv6.dst",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags",
    "tcp.seq_raw",
    "tcp.ack_raw",
    "tcp.window_size_value",
    "tcp.len",
    "ip.ttl",
    "ipv6.hlim",
    "ip.id",
    "tcp.options.timestamp.tsval",
    "tcp.options.timestamp.tsecr",
    "tcp.options.mss_val",
    "tcp.options.wscale.shift",
    "tcp.options.sack_perm",
]


# TCP headers quoted inside ICMP errors are not segments of a connection.
TCP_FILTER = "tcp and not icmp and not icmpv6"
TEARDOWN_FIELDS = [
    "frame.number",
    "tcp.stream",
    "ip.src",
    "ipv6.src",
    "tcp.srcport",
    "tcp.flags.fin",
    "tcp.flags.reset",
    "tcp.connection.fin_active",
]


def tshark_fields(
    capture: Path, fields: list[str], *, options: tuple = (), display_filter: str = TCP_FILTER
) -> str:
    """tshark's tab-separated field dump (with a header row) of the TCP frames."""
    cmd = ["tshark", "-r", str(capture), *options, "-T", "fields", "-E", "header=y"]
    cmd += ["-E", "separator=/t", "-E", "occurrence=f", "-Y", display_filter]
    for field in fields:
        cmd += ["-e", field]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def make_reference(capture: Path) -> Path:
    out = capture.with_name(capture.name + ".tshark.tsv")
    options = ("-o", "tcp.relative_sequence_numbers:FALSE")
    out.write_text(tshark_fields(capture, FIELDS, options=options))
    return out


def make_teardown_reference(capture: Path) -> Path:
    """tshark's own view of each TCP stream's close (its TCP analysis)."""
    out = capture.with_name(capture.name + ".tshark-teardown.tsv")
    out.write_text(tshark_fields(capture, TEARDOWN_FIELDS))
    return out


def read_reference(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


if __name__ == "__main__":
    if sys.argv[1] == "--teardown":
        for name in sys.argv[2:]:
            print(make_teardown_reference(Path(name)))
    else:
        for name in sys.argv[1:]:
            print(make_reference(Path(name)))
