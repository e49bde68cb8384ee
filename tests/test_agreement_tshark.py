"""Agreement with tshark's TCP analysis on what both tell about each connection's close.

Per connection (tshark stream): the sender of the first FIN (tshark's
``tcp.connection.fin_active``) against our active closer, and the number of
FIN and RST segments each side sent. Deliberate difference: tshark calls the
first FIN in capture order the active one; when the FINs crossed (the second
FIN does not acknowledge the first) we say both sides closed actively.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from analyzer import analyze
from analyzer.vocabulary import EventKind, Side
from tests.tshark_reference import read_reference

ROOT = Path(__file__).parent.parent
CAPTURES = sorted((ROOT / "captures").glob("*.pcap")) + sorted(
    (ROOT / "tests/data/corpus/public").glob("*.pcap")
)
FIN_KINDS = {EventKind.FIN, EventKind.FIN_RETRANSMISSION}
# Streams tshark decodes inside tunnels the reader does not open (L2TP here).
TUNNELLED_STREAMS = {"dpkt__nb6-http.pcap": 1}


def _tshark_streams(path: Path) -> dict[int, dict]:
    streams: dict[int, dict] = defaultdict(lambda: {"frames": [], "flags": []})
    for row in read_reference(path.with_name(path.name + ".tshark-teardown.tsv")):
        s = streams[int(row["tcp.stream"])]
        sender = f"{row['ip.src'] or row['ipv6.src']}:{row['tcp.srcport']}"
        frame = int(row["frame.number"])
        s["frames"].append(frame)
        fin, rst = (row[f] in ("1", "True") for f in ("tcp.flags.fin", "tcp.flags.reset"))
        s["flags"].append((frame, sender, fin, rst))
        if row["tcp.connection.fin_active"] and "active" not in s:
            s["active"] = sender
    return streams


def _counts(flags: list[tuple], skip: set[int]) -> tuple[dict, dict]:
    """FINs and RSTs per sender; frames in ``skip`` (duplicate captures) not counted."""
    fins: dict[str, int] = {}
    rsts: dict[str, int] = {}
    for frame, sender, fin, rst in flags:
        if frame in skip:
            continue
        if fin:
            fins[sender] = fins.get(sender, 0) + 1
        if rst:
            rsts[sender] = rsts.get(sender, 0) + 1
    return fins, rsts


def _endpoint(c, side: Side) -> str:
    e = c.client if side is Side.CLIENT else c.server
    return f"{e.ip}:{e.port}"


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_close_agrees_with_tshark(path: Path) -> None:
    streams = _tshark_streams(path)
    conns = {c.first_frame: c for c in analyze(str(path)).connections}
    compared = 0
    for stream in streams.values():
        c = conns.get(stream["frames"][0])
        if c is None:
            continue  # tshark split the 4-tuple elsewhere: counted below
        compared += 1
        mine_fin = {}
        mine_rst = {}
        for e in c.events:
            who = _endpoint(c, e.sender)
            if e.kind in FIN_KINDS or (e.kind is EventKind.RST and "F" in e.flags):
                mine_fin[who] = mine_fin.get(who, 0) + 1
            if e.kind is EventKind.RST:
                mine_rst[who] = mine_rst.get(who, 0) + 1
        # tshark counts a frame captured twice twice; we report it as a duplicate.
        fins, rsts = _counts(stream["flags"], set(c.duplicate_frames))
        assert mine_fin == fins, f"FINs per side, stream at frame {c.first_frame}"
        assert mine_rst == rsts, f"RSTs per side, stream at frame {c.first_frame}"
        active = stream.get("active")
        if c.active_closer is Side.BOTH:
            assert active in (_endpoint(c, Side.CLIENT), _endpoint(c, Side.SERVER))
        elif c.active_closer is None:
            assert active is None
        else:
            assert active == _endpoint(c, c.active_closer)
    assert compared == len(conns)
    assert len(streams) - compared == TUNNELLED_STREAMS.get(path.name, 0)
