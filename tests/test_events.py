"""Packed events (``model.Events``): what the walk records, given back as
``Event`` objects when asked, written to JSON from the packed rows."""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import analyzer
from analyzer import analyze
from analyzer.model import EVENT_ROW, Event, Events
from analyzer.output.document import connection_dict, connection_json
from analyzer.segments import FLAG_TEXTS
from analyzer.vocabulary import EventKind, Side, State

ROOT = Path(__file__).parent.parent

_events = st.lists(
    st.builds(
        Event,
        frame=st.integers(-(2**63), 2**63 - 1),
        time=st.floats(allow_nan=False),
        sender=st.sampled_from(Side),
        flags=st.sampled_from(FLAG_TEXTS),
        seq=st.integers(-(2**63), 2**63 - 1),
        ack=st.integers(0, 2**32 - 1),
        length=st.integers(0, 2**16),
        kind=st.sampled_from(EventKind),
        client_state=st.sampled_from(State),
        server_state=st.sampled_from(State),
    ),
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(events=_events)
def test_packed_events_give_back_the_same_events(events):
    packed = Events.of(events)
    assert len(packed) == len(events)
    assert list(packed) == events
    assert packed == events and packed == Events.of(list(packed))
    assert [packed[i] for i in range(-len(events), len(events))] == events + events
    assert packed[1:3] == events[1:3] and packed[::-1] == events[::-1]
    assert pickle.loads(pickle.dumps(packed)) == packed
    assert Events.of(packed) is packed


def test_events_refuse_what_is_not_rows():
    with pytest.raises(ValueError, match="not rows"):
        Events(b"x" * (EVENT_ROW.size + 1))
    with pytest.raises(IndexError):
        Events()[0]
    with pytest.raises(ValueError, match="unknown word"):
        Events.of([Event(1, 0.0, Side.CLIENT, "XYZ", 0, 0, 0, EventKind.FIN, State.CLOSED,
                         State.CLOSED)])  # fmt: skip


@pytest.mark.parametrize("bad", [(4096, 0, 0, 0), (-1, 0, 0, 0), (0, 3, 0, 0), (0, 0, 99, 0),
                                 (0, 0, 0, 200)])  # fmt: skip
def test_json_refuses_a_packed_code_out_of_range(bad):
    flags, sender, kind, state = bad
    row = EVENT_ROW.pack(1, 0.5, 2, 3, 4, flags, sender, kind, state, 0)
    c = analyze(str(ROOT / "captures" / "graceful-client-close.pcap")).connections[0]
    c.events = Events(row)
    with pytest.raises(ValueError, match="out of range"):
        connection_json(c)


def test_walked_events_are_written_as_their_objects_would_be():
    # The JSON from the packed rows against json's own text of the objects,
    # on every bundled capture (crossing FINs correct the packed states).
    seen = 0
    for path in sorted((ROOT / "captures").glob("*.pcap")):
        for c in analyze(str(path)).connections:
            assert isinstance(c.events, analyzer.Events)
            d = connection_dict(c)
            del d["id"]
            assert connection_json(c) == json.dumps(d, separators=(",", ":"))
            c.events = list(c.events)  # a list of objects is packed on the way
            assert connection_json(c) == json.dumps(d, separators=(",", ":"))
            seen += len(d["events"])
    assert seen > 100


@pytest.mark.parametrize("first_fin", ["server", "client"])
def test_crossing_fins_correct_the_recorded_close_wait(tmp_path, first_fin):
    # The side whose FIN crosses the peer's was never in CLOSE_WAIT: the
    # packed events already written say so once the crossing is seen.
    from scapy.all import IP, TCP, Ether, wrpcap

    c, s = ("10.0.0.1", 40000, 100), ("10.0.0.2", 80, 500)

    def seg(sender, flags, seq, ack):
        a, b = (c, s) if sender == "client" else (s, c)
        return Ether() / IP(src=a[0], dst=b[0]) / TCP(sport=a[1], dport=b[1], flags=flags,
                                                      seq=a[2] + seq, ack=b[2] + ack)  # fmt: skip

    other = "client" if first_fin == "server" else "server"
    packets = [seg("client", "S", 0, 0), seg("server", "SA", 0, 1), seg("client", "A", 1, 1),
               seg(first_fin, "FA", 1, 1), seg(other, "FA", 1, 1),  # neither acks the other FIN
               seg(first_fin, "A", 2, 2), seg(other, "A", 2, 2)]  # fmt: skip
    for k, p in enumerate(packets):
        p.time = 1_700_000_000 + k / 1000
    wrpcap(str(tmp_path / "crossing.pcap"), packets)
    (conn,) = analyze(str(tmp_path / "crossing.pcap")).connections
    assert conn.close.value == "simultaneous"
    states = [(e.client_state, e.server_state) for e in conn.events]
    assert not any(State.CLOSE_WAIT in pair for pair in states), states


def test_packed_events_are_equal_when_their_events_are():
    # Flag bits no letter spells (NS, AE) and -0.0 change the rows, not the events.
    plain = Events(EVENT_ROW.pack(1, 0.0, 2, 3, 0, 0x010, 0, 0, 0, 0))
    spelled_alike = Events(EVENT_ROW.pack(1, -0.0, 2, 3, 0, 0x110, 0, 0, 0, 0))
    assert plain == spelled_alike == Events.of(list(spelled_alike)) == list(plain)
    assert plain != Events(EVENT_ROW.pack(1, 0.0, 2, 3, 0, 0x011, 0, 0, 0, 0))
    with pytest.raises(ValueError, match="out of range"):
        Events.of([dataclasses.replace(plain[0], frame=2**63)])


def test_zeek_words_of_any_str_kind_are_written():
    from analyzer.vocabulary import Side as S

    c = analyze(str(ROOT / "captures" / "graceful-client-close.pcap")).connections[0]
    c.zeek = {"conn_state": S.CLIENT, "history": 'Sh\u00e9"d'}
    d = connection_dict(c)
    del d["id"]
    assert connection_json(c) == json.dumps(d, separators=(",", ":"))


@settings(max_examples=2000, deadline=None)
@given(
    ns=st.one_of(
        st.integers(-(2**63) + 1, 2**63 - 1),
        st.integers(-(2**63) // 1000 + 1, (2**63 - 1) // 1000).map(lambda us: us * 1000),
        st.integers(-(2**20), 2**20).map(lambda d: 2**53 + d),
        st.integers(-(2**20), 2**20).map(lambda d: (2**53 + d) * 1000),
    )
)
def test_event_times_are_the_nanoseconds_divided_as_python_divides(ns):
    # The walk divides in C where that is exact; every stamp gets the double
    # Python's int division gives.
    from analyzer.walk import seconds

    assert seconds(ns) == ns / 10**9
