"""The segment table equals tshark's view of the same file, field by field."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.capture import read_capture
from tests.tshark_reference import read_reference

DATA = Path(__file__).parent / "data"
# Tunnels the reader does not decapsulate (documented in docs/reader.md):
# tshark sees the inner TCP, the reader counts these frames as non-TCP.
# Value: how many segments outside any tunnel the capture has (the reader's).
TUNNELLED = {"Teredo.pcap": 33, "gtp2_different_udp_port.pcap": 0, "dpkt__nb6-http.pcap": 20}
CAPTURES = sorted(
    p
    for p in DATA.glob("**/*")
    if p.with_name(p.name + ".tshark.tsv").exists() and "broken" not in p.parts
)


def _int(text: str) -> int:
    return int(text, 16) if text.startswith("0x") else int(text)


def _expected(row: dict[str, str]) -> dict:
    v6 = row["ip.version"] == "6" or (not row["ip.version"] and row["ipv6.src"])
    return {
        "frame": int(row["frame.number"]),
        # Simple Packet Blocks have no timestamp: tshark shows none, the reader 0.
        "time": row["frame.time_epoch"] or "0.000000000",
        "src": row["ipv6.src"] if v6 else row["ip.src"],
        "dst": row["ipv6.dst"] if v6 else row["ip.dst"],
        "sport": int(row["tcp.srcport"]),
        "dport": int(row["tcp.dstport"]),
        "flags": _int(row["tcp.flags"]),
        "seq": int(row["tcp.seq_raw"]),
        "ack": int(row["tcp.ack_raw"]),
        "window": int(row["tcp.window_size_value"]),
        "payload_len": int(row["tcp.len"]),
        "ttl": int(row["ipv6.hlim"] if v6 else row["ip.ttl"]),
        "ip_id": -1 if v6 else _int(row["ip.id"]),
        "tsval": int(row["tcp.options.timestamp.tsval"] or -1),
        "tsecr": int(row["tcp.options.timestamp.tsecr"] or -1),
        "mss": int(row["tcp.options.mss_val"] or -1),
        "wscale": int(row["tcp.options.wscale.shift"] or -1),
        "sack_perm": bool(row["tcp.options.sack_perm"]),
        "interface": int(row["frame.interface_id"] or 0),
    }


def _mine(row: dict) -> dict:
    seconds, ns = divmod(row["ts_ns"], 1_000_000_000)
    row = {k: row[k] for k in row if k not in ("ts_ns", "ip_version")}
    row["time"] = f"{seconds}.{ns:09d}"
    return row


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: str(p.relative_to(DATA)))
def test_segments_equal_tshark(path: Path) -> None:
    reference = read_reference(path.with_name(path.name + ".tshark.tsv"))
    capture = read_capture(str(path))
    mine = [_mine(r) for r in capture.segments.rows()]
    if path.name in TUNNELLED:
        # Every segment the reader reports must be one tshark reports too.
        expected = {e["frame"]: e for e in map(_expected, reference)}
        assert len(mine) == TUNNELLED[path.name]
        assert all(expected[m["frame"]] == m for m in mine)
        return
    # tshark lists a TCP header that snaplen cut, or one with a bogus data
    # offset, without its flags; the reader rejects such headers and counts them.
    broken = [r for r in reference if not r["tcp.flags"]]
    assert capture.info.undecodable == len(broken)
    expected = [_expected(r) for r in reference if r["tcp.flags"]]
    unfragmented = path.with_name(path.name + ".tshark-nodefrag.tsv")
    if unfragmented.exists():
        # tshark shows a reassembled segment at its last fragment, and with
        # reassembly off, the TCP header in the first fragment. The reader
        # reports fragments as such, so the segments to compare are those
        # tshark shows either way: the ones that were never fragmented.
        both = {int(r["frame.number"]) for r in read_reference(unfragmented)}
        expected = [e for e in expected if e["frame"] in both]
    assert [m["frame"] for m in mine] == [e["frame"] for e in expected]
    for m, e in zip(mine, expected):
        assert m == e, f"frame {e['frame']}"
