"""The streaming engine gives the straightforward answer, however the capture is cut.

The straightforward path is the engine with the whole capture in one batch:
every segment in memory, every 4-tuple settled at the end. The streaming path
reads small batches and settles 4-tuples as they fall silent. On every capture
in the tests both must write the same JSON document, byte for byte, also with
the silence limits shrunk so that settling happens all the time.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from scapy.all import IP, TCP, Ether, wrpcap

from analyzer import blocks, engine, grouping
from analyzer.analysis import analyze, stream_analysis
from analyzer.output.document import connection_json, numbered_json, write_json
from analyzer.output.spool import ConnectionSpool
from analyzer.parameters import Parameters
from analyzer.segments import ACK, COLUMNS, SegmentTable

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = sorted(
    p
    for folder in (ROOT / "captures", ROOT / "tests" / "data" / "corpus")
    for p in folder.rglob("*")
    if p.suffix in (".pcap", ".pcapng")
)
WHOLE_FILE = 1 << 40
SMALL_BATCHES = 200  # bytes: a record or two per batch


def document(path: Path, chunk_bytes: int, time_wait: float = 60.0, workers: int = 0) -> str:
    spool = ConnectionSpool(connection_json)
    params = Parameters(time_wait=time_wait)
    a, outcome = stream_analysis(str(path), spool, params, workers=workers, chunk_bytes=chunk_bytes)
    out = io.StringIO()
    write_json(a, out, numbered_json(spool.numbered(outcome.first_frames)))
    spool.close()
    return out.getvalue()


def test_the_corpus_is_there():
    assert len(CAPTURES) > 60


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_small_batches_give_the_whole_file_answer(path, monkeypatch):
    assert document(path, SMALL_BATCHES) == document(path, WHOLE_FILE)
    # Silences of a fraction of a second: groups settle, start afresh and are
    # forgotten all the time, and the answer still cannot depend on the batches.
    monkeypatch.setattr(engine, "MIN_OPEN_SILENCE", 0.3)
    monkeypatch.setattr(engine, "ESTABLISHED_SILENCE", 0.5)
    monkeypatch.setattr(engine, "CLOSED_MARGIN", 0.05)
    monkeypatch.setattr(grouping, "_COMPACT_FROM", 1)  # and forgets settled groups early
    whole = document(path, WHOLE_FILE, time_wait=0.1)
    assert document(path, SMALL_BATCHES, time_wait=0.1) == whole


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_segments_made_into_objects_a_few_at_a_time_give_the_same_answer(path, monkeypatch):
    # Blocks of 3 segments: most connections' walks (ours and Zeek's) cross
    # block boundaries, as a bulk transfer of millions of segments does.
    whole = document(path, WHOLE_FILE)
    monkeypatch.setattr(blocks, "BLOCK", 3)
    assert document(path, WHOLE_FILE) == whole


def walked_ahead(path: Path, monkeypatch, *, by_budget=False) -> tuple[str, list[int]]:
    """The document when every group is walked ahead after every batch of a
    record or two (as a connection of millions of segments is every
    AHEAD_SEGMENTS; ``by_budget``: as many long-lived ones are, each time
    WAITING_AHEAD_SEGMENTS more wait), and the sizes of the parts walked ahead."""
    parts = []
    walk_ahead = engine.walk_ahead

    def counted(seg, *args, **kwargs):
        parts.append(len(seg))
        return walk_ahead(seg, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(engine, "walk_ahead", counted)
        if by_budget:
            patch.setattr(engine, "WAITING_AHEAD_SEGMENTS", 1)
            patch.setattr(engine, "AHEAD_MIN_SEGMENTS", 1)
        else:
            patch.setattr(engine, "AHEAD_SEGMENTS", 1)
        return document(path, SMALL_BATCHES), parts


@pytest.mark.parametrize("by_budget", [False, True], ids=["long", "budget"])
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_connections_walked_ahead_a_part_at_a_time_give_the_same_answer(
    path, by_budget, monkeypatch
):
    whole = document(path, WHOLE_FILE)
    doc, parts = walked_ahead(path, monkeypatch, by_budget=by_budget)
    assert doc == whole
    assert parts or not json.loads(whole)["connections"]


@pytest.mark.parametrize("after_idle", [2, 3, 4])
def test_a_connection_zeek_splits_walked_ahead_gives_the_same_answer(
    tmp_path, after_idle, monkeypatch
):
    # An hour idle: Zeek's inactivity timeout ends its record, ours goes on
    # (an established connection may idle for two hours). Walked ahead a few
    # segments at a time, the part where Zeek's second record begins is not
    # the last: the replay must go on from the right position in each part.
    path = tmp_path / "idle-then-close.pcap"
    c, s = CLIENT, SERVER
    pkts = _packets(1000.0, 100, close=False)
    seq, t = 104, 1000.0 + 3600.0
    for k in range(after_idle):
        pkts.append(_data(t + 0.001 * k, seq, 9001))
        seq += 1
    for src, dst, dt, flags, sq, ack in [(c, s, 0.010, "FA", seq, 9001),
                                         (s, c, 0.011, "FA", 9001, seq + 1),
                                         (c, s, 0.012, "A", seq + 1, 9002)]:  # fmt: skip
        p = Ether() / IP(src=src[0], dst=dst[0])
        p = p / TCP(sport=src[1], dport=dst[1], flags=flags, seq=sq, ack=ack)
        p.time = t + dt
        pkts.append(p)
    wrpcap(str(path), pkts)
    whole = document(path, WHOLE_FILE)
    assert json.loads(whole)["connections"][0]["zeek"] == {"conn_state": "SF", "history": "DFfA"}
    for ahead in range(1, 7):
        with monkeypatch.context() as patch:
            patch.setattr(engine, "AHEAD_SEGMENTS", ahead)
            for chunk in (SMALL_BATCHES, 300, 400):
                assert document(path, chunk) == whole, (ahead, chunk)


@pytest.mark.parametrize(
    "name",
    ["port-reuse-client-time-wait.pcap", "timewait-pileup.pcap", "duplicate-frames.pcap"],
)
@pytest.mark.parametrize("cap", ["SLICE_SEGMENTS", "SLICE_GROUPS", "WAITING_BATCH_SEGMENTS"])
def test_worker_processes_give_the_same_document(name, cap, monkeypatch):
    # Slices of a few segments (or groups; or the last settle in parts), so
    # that many go to the workers and come back in any order.
    monkeypatch.setattr(engine, cap, 8)
    path = ROOT / "captures" / name
    assert document(path, WHOLE_FILE, workers=2) == document(path, WHOLE_FILE)
    assert document(path, SMALL_BATCHES, workers=2) == document(path, WHOLE_FILE)


@pytest.mark.parametrize("early", [False, True], ids=["at the first slice", "before reading"])
def test_workers_start_before_a_large_capture_is_read(early, monkeypatch):
    # A large capture's workers are forked before it is read (with nothing
    # waiting in this process for them to hold a copy of), a small one's when
    # its first slice is ready; the document is the same either way.
    # Either way the reading thread stops before the first slice is shipped.
    from analyzer.read_ahead import ReadAhead

    path = ROOT / "captures" / "timewait-pileup.pcap"
    monkeypatch.setattr(engine, "SLICE_SEGMENTS", 8)
    monkeypatch.setattr(engine, "EARLY_WORKERS_BYTES", 1 if early else path.stat().st_size + 1)
    events = []
    start, alone = engine.Engine._start_workers, ReadAhead.alone

    def start_workers(self):
        events.append("started before reading" if self._reading is None else "started")
        start(self)

    def stop_reading(self):
        events.append("reading alone")
        alone(self)

    monkeypatch.setattr(engine.Engine, "_start_workers", start_workers)
    monkeypatch.setattr(ReadAhead, "alone", stop_reading)
    assert document(path, SMALL_BATCHES, workers=2) == document(path, WHOLE_FILE)
    if early:
        assert events == ["started before reading", "reading alone"]
    else:
        assert events == ["reading alone", "started"]


def test_streamed_document_equals_the_in_memory_one(tmp_path):
    from analyzer.output.document import analysis_document

    path = ROOT / "captures" / "port-reuse-client-time-wait.pcap"
    streamed = json.loads(document(path, SMALL_BATCHES))
    assert streamed == json.loads(json.dumps(analysis_document(analyze(str(path)))))


@pytest.mark.parametrize("name", ["timewait-pileup.pcap", "syn-meets-time-wait.pcap"])
@pytest.mark.parametrize("show_all", [False, True])
def test_streamed_text_equals_the_in_memory_one(name, show_all, monkeypatch):
    from analyzer.output.spool import ConnectionSpool as Spool
    from analyzer.output.text import table_line, write_text, write_text_from

    path = str(ROOT / "captures" / name)
    limit = None if show_all else 1
    expected = io.StringIO()
    write_text(analyze(path), expected, limit=limit)
    monkeypatch.setattr(engine, "SLICE_SEGMENTS", 8)
    spool = Spool(table_line)
    a, outcome = stream_analysis(path, spool, Parameters(), workers=2)
    streamed = io.StringIO()
    write_text_from(a, streamed, lambda: spool.numbered(outcome.first_frames), limit=limit)
    assert streamed.getvalue() == expected.getvalue()
    assert ("more connections" in expected.getvalue()) is not show_all


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("name", ["timewait-pileup.pcap", "port-reuse-client-time-wait.pcap"])
def test_streamed_csv_and_ladders_equal_the_in_memory_ones(name, workers, monkeypatch):
    import pickle

    from analyzer.output.ladder import ladder
    from analyzer.output.spool import pickled
    from analyzer.output.table import connection_row, csv_line, csv_text

    monkeypatch.setattr(engine, "SLICE_SEGMENTS", 64)  # many slices, some to the workers
    path = str(ROOT / "captures" / name)
    reference = analyze(path)
    params = Parameters()

    spool = ConnectionSpool(csv_line)
    _, outcome = stream_analysis(path, spool, params, workers=workers, chunk_bytes=SMALL_BATCHES)
    streamed = [f"{i},{line}" for i, line in spool.numbered(outcome.first_frames)]
    spool.close()
    assert streamed == [csv_text(list(connection_row(c).values())) for c in reference.connections]

    spool = ConnectionSpool(pickled, as_text=False)
    _, outcome = stream_analysis(path, spool, params, workers=workers, chunk_bytes=SMALL_BATCHES)
    wanted = [1, 2, len(reference.connections)]
    for i in wanted:
        (new_id, data), *_ = spool.numbered(outcome.first_frames, start=i)
        conn = pickle.loads(data)
        conn.id = new_id
        assert ladder(conn) == ladder(reference.connection(i))
    spool.close()


@pytest.mark.parametrize(("workers", "ahead"), [(0, False), (2, False), (0, True)])
def test_streamed_conn_log_equals_the_in_memory_one(workers, ahead, monkeypatch):
    from analyzer.output.zeek import ConnLogSpool, write_conn_log, write_conn_log_from

    paths = [
        str(ROOT / "captures" / name)
        for name in ("timewait-pileup.pcap", "port-reuse-client-time-wait.pcap", "lost-fin.pcap")
    ]
    limits = (100, 1_000_000)  # the connection limit leaves records out too
    expected = {limit: io.StringIO() for limit in limits}
    for limit in limits:
        records = [r for p in paths for r in analyze(p, max_connections=limit).zeek_records]
        write_conn_log(records, expected[limit])
    monkeypatch.setattr(engine, "SLICE_SEGMENTS", 64)  # many slices, some to the workers
    monkeypatch.setattr(engine, "PART_CONNECTIONS", 2)  # each in parts
    if ahead:
        monkeypatch.setattr(engine, "AHEAD_SEGMENTS", 1)  # every group, every batch
    for limit in limits:
        params = Parameters(max_connections=limit)
        streamed = io.StringIO()
        spools = []
        for p in paths:
            spool = ConnLogSpool()
            _, outcome = stream_analysis(p, spool, params, workers=workers, chunk_bytes=4096)
            spools.append((spool, spool.kept(outcome.left_out_from)))
        write_conn_log_from(spools, streamed)
        for spool, _ in spools:
            spool.close()
        assert streamed.getvalue() == expected[limit].getvalue()


# A crafted 4-tuple: handshake, a request, a close by the client; then the
# same 4-tuple again after a silence. Times in seconds from the start.
CLIENT, SERVER = ("10.9.0.1", 40000), ("10.9.0.2", 80)


def _packets(t0: float, isn: int, *, close: bool) -> list:
    c, s = CLIENT, SERVER

    def seg(src, dst, t, flags, seq, ack, data=b""):
        p = (
            Ether()
            / IP(src=src[0], dst=dst[0])
            / TCP(sport=src[1], dport=dst[1], flags=flags, seq=seq, ack=ack)
            / data
        )
        p.time = t0 + t
        return p

    pkts = [
        seg(c, s, 0.000, "S", isn, 0),
        seg(s, c, 0.001, "SA", 9000, isn + 1),
        seg(c, s, 0.002, "A", isn + 1, 9001),
        seg(c, s, 0.003, "PA", isn + 1, 9001, b"GET"),
        seg(s, c, 0.004, "A", 9001, isn + 4),
    ]
    if close:
        pkts += [
            seg(c, s, 0.010, "FA", isn + 4, 9001),
            seg(s, c, 0.011, "FA", 9001, isn + 5),
            seg(c, s, 0.012, "A", isn + 5, 9002),
        ]
    return pkts


@pytest.mark.parametrize(
    ("gap", "close", "connections", "incarnations", "reuse_findings"),
    [
        # A closed 4-tuple reused inside 2*MSL + margin: a second incarnation.
        (30.0, True, 2, [1, 2], 1),
        # Reused later: the 4-tuple starts afresh; reuse that late is what TIME_WAIT is for.
        (75.0, True, 2, [1, 1], 0),
    ],
)
def test_silence_after_a_close(tmp_path, gap, close, connections, incarnations, reuse_findings):
    path = tmp_path / "reuse.pcap"
    wrpcap(str(path), _packets(1000.0, 100, close=close) + _packets(1000.0 + gap, 5000, close=True))
    for chunk in (SMALL_BATCHES, WHOLE_FILE):
        doc = json.loads(document(path, chunk))
        assert [c["incarnation"] for c in doc["connections"]] == incarnations
        assert len(doc["connections"]) == connections
        reuse = [f for f in doc["findings"] if f["kind"] == "port_reuse"]
        assert len(reuse) == reuse_findings


def _data(t: float, seq: int, ack: int):
    p = Ether() / IP(src=CLIENT[0], dst=SERVER[0])
    p = p / TCP(sport=CLIENT[1], dport=SERVER[1], flags="PA", seq=seq, ack=ack) / b"x"
    p.time = t
    return p


@pytest.mark.parametrize(
    ("gap", "connections"),
    [
        (130.0, 1),  # an idle keep-alive or pooled connection is one connection
        (3600.0, 1),
        (3 * 3600.0, 2),  # longer than Linux's keepalive would wait: afresh
    ],
)
def test_an_established_connection_may_idle_for_two_hours(tmp_path, gap, connections):
    path = tmp_path / "idle.pcap"
    wrpcap(str(path), [*_packets(1000.0, 100, close=False), _data(1000.0 + gap, 104, 9001)])
    for chunk in (SMALL_BATCHES, WHOLE_FILE):
        doc = json.loads(document(path, chunk))
        assert len(doc["connections"]) == connections
        assert doc["connections"][0]["first_frame"] == 1
        if connections == 2:
            # The part after the silence is a connection seen from the middle.
            assert doc["connections"][1]["roles_inferred"]
            assert doc["connections"][1]["first_frame"] == 6


@pytest.mark.parametrize("gap", [60.0, 3 * 3600.0])
def test_a_side_still_in_close_wait_is_judged_at_the_capture_end(tmp_path, gap):
    # The server acks the client's FIN and never sends its own; the capture
    # goes on ``gap`` seconds (another 4-tuple's SYN). Its 4-tuple settles
    # when the capture has been read, and the side is judged where it is
    # walked; or, after three hours of silence, in the middle of the capture,
    # and it is judged at the end: either way it waited until the capture ended.
    path = tmp_path / "close-wait.pcap"
    closing = [
        _segment(CLIENT, SERVER, 1000.010, "FA", 104, 9001),
        _segment(SERVER, CLIENT, 1000.011, "A", 9001, 105),
        _segment((CLIENT[0], CLIENT[1] + 1), SERVER, 1000.011 + gap, "S", 7, 0),
    ]
    wrpcap(str(path), [*_packets(1000.0, 100, close=False), *closing])
    docs = [document(path, chunk) for chunk in (SMALL_BATCHES, WHOLE_FILE)]
    assert docs[0] == docs[1]
    (stall,) = [f for f in json.loads(docs[0])["findings"] if f["kind"] == "close_wait_stall"]
    assert stall["detail"]["still_in_close_wait"] and stall["connection"] == 1
    assert stall["detail"]["seconds"] == pytest.approx(gap, abs=1e-6)


@pytest.mark.parametrize(("gap", "connections"), [(100.0, 1), (130.0, 2)])
def test_a_one_way_capture_is_not_established(tmp_path, gap, connections):
    # Only the client's segments (asymmetric routing): nothing shows the
    # connection is alive, so the short limit applies and memory stays bounded.
    path = tmp_path / "one-way.pcap"
    client_only = [p for p in _packets(1000.0, 100, close=False) if p[IP].src == CLIENT[0]]
    wrpcap(str(path), [*client_only, _data(1000.0 + gap, 104, 9001)])
    for chunk in (SMALL_BATCHES, WHOLE_FILE):
        doc = json.loads(document(path, chunk))
        assert len(doc["connections"]) == connections


@pytest.mark.parametrize(("gap", "connections"), [(100.0, 1), (130.0, 2)])
def test_an_unanswered_syn_is_forgotten_after_two_minutes(tmp_path, gap, connections):
    # The same SYN again: a retransmission within the limit, afresh after it.
    path = tmp_path / "syn.pcap"
    syn = _packets(1000.0, 100, close=False)[0]
    again = syn.copy()
    again.time = syn.time + gap
    wrpcap(str(path), [syn, again])
    for chunk in (SMALL_BATCHES, WHOLE_FILE):
        doc = json.loads(document(path, chunk))
        assert [c["close"] for c in doc["connections"]] == ["attempt"] * connections
        assert [c["packets"]["client"] for c in doc["connections"]] == [
            2 // connections
        ] * connections


@pytest.mark.parametrize("name", ["timewait-pileup.pcap", "syn-meets-time-wait.pcap"])
def test_the_walk_leaves_no_reference_cycles(name):
    # walk_slice runs without the cyclic garbage collector: anything it left
    # in a cycle would stay in memory until some later collection.
    import gc

    from analyzer.capture import read_segments

    seg = read_segments(str(ROOT / "captures" / name)).only(engine.ANALYSED_COLUMNS)
    spool = ConnectionSpool(connection_json)  # renders into its spill: open while walked
    gc.collect()
    collecting = gc.isenabled()
    gc.disable()
    try:
        for render, records in ((None, True), (spool.render, False)):
            products = engine.walk_slice(seg, 1e10, Parameters(), render, records)
            assert products.first_frames.size
            del products
            assert gc.collect() == 0
    finally:
        if collecting:
            gc.enable()
        spool.close()


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_a_slice_with_its_own_addresses_is_walked_the_same(path):
    """What goes to a worker carries only its own addresses, renumbered in order."""
    from analyzer.capture import read_segments

    seg = read_segments(str(path)).only(engine.ANALYSED_COLUMNS)
    if not len(seg):
        return
    # Only the addresses of the slice's later half: codes change, their order does not.
    part = seg.take(np.arange(len(seg) // 2, len(seg)))
    own, codes = part.with_own_addresses()
    assert len(own.addresses) <= len(part.addresses)
    assert own.addresses == [part.addresses[c] for c in codes]
    assert [own.addresses[c] for c in own.src] == [part.addresses[c] for c in part.src]
    spool = ConnectionSpool(connection_json)
    expected = engine.walk_slice(part, 1e10, Parameters(), spool.render, False)
    got = engine.walk_slice(own, 1e10, Parameters(), spool.render, False)
    assert _rendered(spool, got) == _rendered(spool, expected)
    spool.close()
    # TIME_WAIT rows name addresses by the slice's codes: the capture's through ``codes``.
    for table, want in zip(got.time_wait, expected.time_wait):
        table["client"], table["server"] = codes[table["client"]], codes[table["server"]]
        assert table.tolist() == want.tolist()
    assert got.findings == expected.findings


def test_own_addresses_keep_the_order_that_picks_the_client(tmp_path):
    """Mid-stream, with equal ports, the client is the endpoint of the higher code."""
    from analyzer.capture import read_segments

    a, b, c = "10.0.0.9", "10.0.0.5", "10.0.0.7"
    packets = [
        Ether() / IP(src=src, dst=dst) / TCP(sport=5000, dport=5000, flags="A", seq=100 + i)
        for i, (src, dst) in enumerate([(a, b), (b, a), (c, b), (b, c)])
    ]
    for i, p in enumerate(packets):
        p.time = 1_700_000_000 + i
    wrpcap(str(tmp_path / "equal-ports.pcap"), packets)
    seg = read_segments(str(tmp_path / "equal-ports.pcap")).only(engine.ANALYSED_COLUMNS)
    part = seg.take(np.arange(2, 4))  # b and c: codes 1 and 2 become 0 and 1
    spool = ConnectionSpool(connection_json)
    expected = engine.walk_slice(part, 1e10, Parameters(), spool.render, False)
    got = engine.walk_slice(part.with_own_addresses()[0], 1e10, Parameters(), spool.render, False)
    assert _rendered(spool, got) == _rendered(spool, expected)
    assert b'"client":{"ip":"10.0.0.7"' in _rendered(spool, expected)[0]
    spool.close()


def _rendered(spool: ConnectionSpool, products: engine.SliceProducts) -> list[bytes]:
    """A slice's connections as its render spilled them, read back by the spool's spill."""
    spill = spool._spill
    before = len(spill)
    for part in products.documents:
        spill.add(part)
    return list(spill.read(np.arange(before, len(spill))))


def _segment(src, dst, t, flags, seq, ack, data=b""):
    p = Ether() / IP(src=src[0], dst=dst[0])
    p = p / TCP(sport=src[1], dport=dst[1], flags=flags, seq=seq, ack=ack) / data
    p.time = t
    return p


def test_roles_named_late_in_a_connection_walked_ahead(tmp_path, monkeypatch):
    # Seen from the middle, then a SYN-ACK from the higher port: its receiver
    # is the client, not the side with the higher port the walk ahead assumed
    # until then (it walks both ways while the roles can change).
    a, b = ("10.9.0.3", 50000), ("10.9.0.4", 33000)
    path = tmp_path / "late-roles.pcap"
    pkts = [_segment(b, a, 1000.0, "PA", 500, 7000, b"xx")]
    pkts += [_segment(a, b, 1000.1, "A", 7000, 502)]
    pkts += [_segment(a, b, 1000.2, "SA", 6999, 502)]
    pkts += [_segment(b, a, 1000.3, "FA", 502, 7000), _segment(a, b, 1000.4, "FA", 7000, 503)]
    pkts += [_segment(b, a, 1000.5, "A", 503, 7001)]
    wrpcap(str(path), pkts)
    whole = document(path, WHOLE_FILE)
    (conn,) = json.loads(whole)["connections"]
    assert (conn["client"]["port"], conn["roles_inferred"]) == (33000, False)
    doc, parts = walked_ahead(path, monkeypatch)
    assert doc == whole
    assert len(parts) > 2


def test_zeek_record_of_a_close_walked_ahead(tmp_path, monkeypatch):
    # A segment of the connection after Zeek's close delay: Zeek starts another
    # record for it, and the connection's record stays the one with its FINs,
    # which were walked ahead.
    path = tmp_path / "late-ack.pcap"
    pkts = _packets(1000.0, 100, close=True)
    pkts.append(_segment(CLIENT, SERVER, 1010.0, "A", 105, 9002))
    wrpcap(str(path), pkts)
    whole = document(path, WHOLE_FILE)
    (conn,) = json.loads(whole)["connections"]
    assert conn["zeek"]["conn_state"] == "SF"
    doc, parts = walked_ahead(path, monkeypatch)
    assert doc == whole
    assert len(parts) > 2

    # Both records are in conn.log, the one ended in a part walked ahead too.
    from analyzer.output.zeek import ConnLogSpool, write_conn_log, write_conn_log_from

    expected, streamed = io.StringIO(), io.StringIO()
    records = analyze(str(path)).zeek_records
    assert len(records) == 2
    write_conn_log(records, expected)
    monkeypatch.setattr(engine, "AHEAD_SEGMENTS", 1)
    spool = ConnLogSpool()
    _, outcome = stream_analysis(str(path), spool, Parameters(), chunk_bytes=SMALL_BATCHES)
    write_conn_log_from([(spool, spool.kept(outcome.left_out_from))], streamed)
    spool.close()
    assert streamed.getvalue() == expected.getvalue()


def _acks(ports: list[int], first_frame: int) -> SegmentTable:
    """ACKs from 10.0.0.1:port to 10.0.0.2:80, one per port listed, a millisecond apart."""
    n = len(ports)
    columns = {name: np.zeros(n, dtype) for name, dtype in COLUMNS.items()}
    columns["frame"] = np.arange(first_frame, first_frame + n, dtype=np.int64)
    columns["ts_ns"] = 10**18 + columns["frame"] * 1_000_000
    columns["src"][:], columns["dst"][:] = 0, 1
    columns["sport"][:], columns["dport"][:] = ports, 80
    columns["flags"][:] = ACK
    return SegmentTable(columns, ["10.0.0.1", "10.0.0.2"])


def test_long_groups_are_walked_ahead_together():
    groups = grouping.TupleGroups(engine.silence_for(60.0))
    first = groups.assign(_acks([1000] * 20 + [2000] * 3 + [3000], 1))
    a, b = first[0], first[20]
    # a reached 16: b, with an eighth of that, goes with it; c, with less, waits.
    assert groups.long(16).tolist() == [a, b]
    groups.walked_ahead(np.array([a, b]))
    groups.assign(_acks([1000] * 5, 25))
    assert not len(groups.long(16))  # none reached 16 since
    assert groups.holding(3).tolist() == [a]  # what the waiting budget would walk ahead
    groups.no_ahead(a)
    groups.assign(_acks([1000] * 20 + [2000] * 20, 30))
    assert groups.long(16).tolist() == [b]


def test_waiting_segments_are_copied_only_while_small(monkeypatch):
    # Settle rounds split the waiting batches; a part of a quarter batch or
    # more stays as it is, small neighbours are joined, and the segments and
    # their order never change.
    from analyzer.capture import read_segments

    seg = read_segments(str(ROOT / "captures" / "timewait-pileup.pcap"))
    monkeypatch.setattr(engine, "WAITING_BATCH_SEGMENTS", 40)
    sizes = [3, 12, 5, 30, 2, 2, 15, 40, 1]
    bounds = np.cumsum([0, *sizes])
    assert bounds[-1] <= len(seg)
    parts = [(seg.take(np.arange(a, b)), np.arange(a, b)) for a, b in zip(bounds, bounds[1:])]
    joined = engine._joined_while_small(parts)
    # 12, 30, 15 and 40 (a quarter batch or more) stay as they are, not
    # copied; the small ones between them are joined with small neighbours only.
    assert [len(g) for _, g in joined] == [3, 12, 5, 30, 4, 15, 40, 1]
    for at, part in ((1, 1), (3, 3), (5, 6), (6, 7)):
        assert joined[at][0] is parts[part][0]
    rows = np.concatenate([g for _, g in joined])
    assert rows.tolist() == list(range(bounds[-1]))
    frames = np.concatenate([t.frame for t, _ in joined])
    assert frames.tolist() == seg.frame[: bounds[-1]].tolist()
    with pytest.raises(IndexError, match="mask"):
        seg.take(np.ones(len(seg) + 1, bool))


class _Groups:
    """What ``engine._slices`` asks of ``TupleGroups``: the groups so far and their endpoints."""

    def __init__(self, ends: np.ndarray) -> None:
        self.count, self._ends = len(ends), ends

    def endpoints(self, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._ends[groups, 0], self._ends[groups, 1]


def plain_slices(group: list[int], ends: np.ndarray, max_segments: int, max_groups: int):
    """``engine._slices`` written plainly: groups by their rank among their
    4-tuple's (then by id), a slice closed after the group that fills it or
    before the rank changes."""
    settled = sorted(set(group))
    rank = {g: sum(1 for h in settled if h < g and (ends[h] == ends[g]).all()) for g in settled}
    rows = {g: [i for i, h in enumerate(group) if h == g] for g in settled}
    slices, current, groups_in = [], [], 0
    ordered = sorted(settled, key=lambda g: (rank[g], g))
    for k, g in enumerate(ordered):
        current += rows[g]
        groups_in += 1
        last = k == len(ordered) - 1
        if (
            last
            or rank[ordered[k + 1]] != rank[g]
            or len(current) >= max_segments
            or (groups_in >= max_groups)
        ):
            slices.append(sorted(current))
            current, groups_in = [], 0
    return slices


@pytest.mark.parametrize("seed", range(40))
def test_slices_are_whole_groups_one_per_4_tuple_in_frame_order(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    n_groups = int(rng.integers(1, 60))
    # Few 4-tuples (lo, hi endpoints): many of them have several groups.
    tuples = rng.integers(0, 4, (int(rng.integers(1, 12)), 2))
    ends = tuples[rng.integers(0, len(tuples), n_groups)]
    group = rng.integers(0, n_groups, int(rng.integers(1, 400)))
    max_segments, max_groups = int(rng.integers(1, 80)), int(rng.integers(1, 12))
    monkeypatch.setattr(engine, "SLICE_SEGMENTS", max_segments)
    monkeypatch.setattr(engine, "SLICE_GROUPS", max_groups)
    seg = SegmentTable({name: np.zeros(len(group), dtype) for name, dtype in COLUMNS.items()}, [])
    seg.columns["frame"] = np.arange(1, len(group) + 1, dtype=COLUMNS["frame"])
    got = [rows.tolist() for rows in engine._slices(seg, group, _Groups(ends))]
    assert got == plain_slices(group.tolist(), ends, max_segments, max_groups)


def test_more_slices_than_a_16_bit_number_counts(monkeypatch):
    # 70,000 groups of one segment each, a slice each: their slice numbers
    # no longer fit the radix-sorted 16 bits.
    monkeypatch.setattr(engine, "SLICE_GROUPS", 1)
    n = 70_000
    seg = SegmentTable({name: np.zeros(n, dtype) for name, dtype in COLUMNS.items()}, [])
    seg.columns["frame"] = np.arange(1, n + 1, dtype=COLUMNS["frame"])
    group = np.arange(n)[::-1].copy()  # the last segment's group first
    ends = np.stack([np.arange(n), np.zeros(n, np.int64)], axis=1)  # every group its own 4-tuple
    got = [rows.tolist() for rows in engine._slices(seg, group, _Groups(ends))]
    assert got == [[n - 1 - g] for g in range(n)]


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_a_slice_walked_a_few_connections_at_a_time_gives_the_same_document(path, monkeypatch):
    # Parts of one or three connections (whole 4-tuples: a 4-tuple's
    # incarnations are judged together), as a slice of thousands is cut.
    whole = document(path, WHOLE_FILE)
    for part in (1, 3):
        monkeypatch.setattr(engine, "PART_CONNECTIONS", part)
        assert document(path, WHOLE_FILE) == whole


@pytest.mark.parametrize("name", ["port-reuse-client-time-wait.pcap", "timewait-pileup.pcap"])
@pytest.mark.parametrize("size", [1, 2, 5, 1000])
def test_index_parts_are_whole_4_tuples_in_order_of_their_first_frame(name, size):
    from analyzer.capture.reader import read_segments
    from analyzer.connections import index_connections

    seg = read_segments(str(ROOT / "captures" / name))
    index = index_connections(seg)
    parts = list(index.parts(seg.frame, size))

    # Each connection once: named by its segments (rows) and what the index says of it.
    def connections(ix):
        return [
            (
                tuple(ix.order[ix.starts[c] : ix.starts[c + 1]].tolist()),
                tuple(ix.from_server[ix.starts[c] : ix.starts[c + 1]].tolist()),
                *(int(getattr(ix, k)[c]) for k in ("client_addr", "client_port", "server_addr",
                                                   "server_port", "roles_inferred", "incarnation",
                                                   "tuple_id")),
            )
            for c in range(len(ix))
        ]  # fmt: skip

    assert sorted(c for p in parts for c in connections(p)) == sorted(connections(index))
    tuples = [p.tuple_id.tolist() for p in parts]
    assert len({t for ids in tuples for t in set(ids)}) == sum(len(set(ids)) for ids in tuples)
    for ids in tuples:
        assert ids == sorted(ids, key=ids.index)  # a 4-tuple's incarnations in a row
        # A part closes at the first 4-tuple's end that reaches ``size``.
        assert len(ids) - ids.count(ids[-1]) < size
    firsts = [int(seg.frame[p.order[p.starts[k]]]) for p in parts for k in range(len(p))
              if k == 0 or p.tuple_id[k] != p.tuple_id[k - 1]]  # fmt: skip
    assert firsts == sorted(firsts)
    if len(index) > size and len(set(index.tuple_id.tolist())) > 1:
        assert len(parts) > 1
