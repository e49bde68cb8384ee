"""Valid containers with nonsense TCP: the analysis must stay sane, never crash.

Property-based (hypothesis): random segment sequences on one or two 4-tuples,
with sequence numbers near the 2^32 wrap, random flag combinations, RSTs and
FINs everywhere, timestamps that go backwards. Plus the classic floods.
"""

from __future__ import annotations

import json
import struct
from importlib import resources

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer import analyze
from analyzer.output.document import analysis_document
from analyzer.vocabulary import CloseKind, State

SCHEMA = json.loads(resources.files("analyzer").joinpath("schema/analysis.schema.json").read_text())
ETH = b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00"
FLAG_CHOICES = [0x02, 0x12, 0x10, 0x18, 0x11, 0x01, 0x04, 0x14, 0x19, 0x06, 0x03, 0xFFF, 0]


def _packet(src: int, dst: int, sport: int, dport: int, flags, seq, ack, payload, ip_id):
    tcp = (
        struct.pack(
            ">HHIIBBHHH", sport, dport, seq, ack, 5 << 4 | flags >> 8, flags & 0xFF, 65535, 0, 0
        )
        + b"x" * payload
    )
    ip = struct.pack(
        ">BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(tcp),
        ip_id,
        0,
        64,
        6,
        0,
        src.to_bytes(4, "big"),
        dst.to_bytes(4, "big"),
    )
    return ETH + ip + tcp


def _pcap(packets: list[tuple[int, bytes]]) -> bytes:
    out = bytearray(struct.pack("<IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 262144, 1))
    for ts_ns, data in packets:
        out += struct.pack("<IIII", ts_ns // 10**9, ts_ns % 10**9, len(data), len(data)) + data
    return bytes(out)


segment = st.tuples(
    st.booleans(),  # from the server
    st.sampled_from(FLAG_CHOICES),
    st.integers(-3, 3),  # seq step class
    st.integers(0, 40),  # payload
    st.integers(-2_000_000_000, 90_000_000_000),  # time step in ns (may go backwards)
    st.integers(0, 1),  # which of two 4-tuples
)


def _build(segments, base_seq: int) -> bytes:
    packets, t = [], 1_700_000_000 * 10**9
    seqs = [[(base_seq + d) % 2**32 for d in pair] for pair in ((0, 7), (99, -5))]
    for i, (from_server, flags, step, payload, dt, which) in enumerate(segments):
        t = max(t + dt, 0)
        side = int(from_server)
        seqs[which][side] = (seqs[which][side] + step * 1000 + payload) % 2**32
        seq, ack = seqs[which][side], seqs[which][1 - side]
        ports = (40000 + which, 80)
        src, dst = (0x0A000001, 0x0A000002)
        sport, dport = ports
        if from_server:
            src, dst, sport, dport = dst, src, dport, sport
        packets.append((t, _packet(src, dst, sport, dport, flags, seq, ack, payload, i)))
    return _pcap(packets)


def _check(path: str) -> None:
    a = analyze(path)
    doc = json.loads(json.dumps(analysis_document(a)))
    doc["connections"] = doc["connections"][:200]  # schema validation is slow; a sample
    jsonschema.validate(doc, SCHEMA)
    frames = a.capture.frames
    for c in a.connections:
        assert c.close in CloseKind
        assert all(state in State for state in c.end_states.values())
        assert [e.frame for e in c.events] == sorted(e.frame for e in c.events)
        assert all(1 <= e.frame <= frames for e in c.events)
        if c.time_wait:
            assert c.time_wait.end >= c.time_wait.start
    for f in a.findings:
        assert all(1 <= x <= frames for x in f.frames)


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(segment, min_size=1, max_size=40), st.sampled_from([0, 2**32 - 3000, 2**31, 123456789])
)
def test_random_segments_never_break_the_analysis(tmp_path, segments, base_seq):
    path = tmp_path / "random.pcap"
    path.write_bytes(_build(segments, base_seq))
    _check(str(path))


def _flood(tmp_path, name, make) -> str:
    path = tmp_path / name
    path.write_bytes(_pcap([(1_700_000_000 * 10**9 + i * 1000, make(i)) for i in range(10000)]))
    return str(path)


def test_syn_flood_on_one_four_tuple(tmp_path):
    path = _flood(
        tmp_path, "synflood.pcap", lambda i: _packet(1, 2, 40000, 80, 0x02, i * 7919, 0, 0, i)
    )
    a = analyze(path)
    assert len(a.connections) == 10000  # each new ISN is a new incarnation (attempt)
    assert {c.close for c in a.connections} == {CloseKind.ATTEMPT}
    _check(path)


def test_fin_and_rst_storms(tmp_path):
    fins = _flood(
        tmp_path,
        "fins.pcap",
        lambda i: _packet(
            1 + i % 2,
            2 - i % 2,
            40000 + (i % 2) * -39920,
            80 + (i % 2) * 39920,
            0x11,
            5000 + i,
            9000,
            0,
            i,
        ),
    )
    _check(fins)
    rsts = _flood(
        tmp_path, "rsts.pcap", lambda i: _packet(1, 2, 1024 + i % 300, 80, 0x04, i, 0, 0, i)
    )
    a = analyze(rsts)
    assert len(a.connections) == 300 and {c.close for c in a.connections} == {CloseKind.ABORT}


def test_connection_limit_is_reported(tmp_path):
    path = _flood(
        tmp_path, "many.pcap", lambda i: _packet(1, 2, 1024 + i % 60000, 80, 0x02, i, 0, 0, i)
    )
    a = analyze(path, max_connections=1000)
    assert len(a.connections) == 1000
    assert [c.first_frame for c in a.connections] == list(range(1, 1001))
    assert any("connection limit reached" in w for w in a.capture.warnings)
