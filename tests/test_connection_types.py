"""The result types made for every connection (``Connection``, ``TimeWait``,
``SideFacts``) are compiled, and must still behave as the dataclasses they
were: fields in order, keywords and defaults, ``replace``, ``asdict``,
equality, repr, pickling and copying, no hash, no stray attributes."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from pathlib import Path

import pytest

from analyzer import analyze
from analyzer.model import Connection, Endpoint, Events, SideFacts, TimeWait
from analyzer.vocabulary import CloseKind, Side, State, TimeWaitEnd

ROOT = Path(__file__).resolve().parent.parent
CONNECTION_FIELDS = (
    "id", "client", "server", "roles_inferred", "incarnation", "first_frame", "last_frame",
    "first_time", "last_time", "isn_client", "isn_server", "close", "active_closer",
    "rst_sender", "half_close", "fin_retransmissions", "end_states", "time_wait", "events",
    "packets", "payload_bytes", "fin_seq", "next_seq", "last_tsval", "first_tsval",
    "fin_resends", "resets", "duplicate_frames", "missed_frames", "facts", "zeek",
)  # fmt: skip


def _by_hand(**changes) -> Connection:
    fields = dict(
        id=7, client=Endpoint("10.0.0.1", 40000), server=Endpoint("10.0.0.2", 80),
        roles_inferred=False, incarnation=1, first_frame=7, last_frame=9, first_time=1.5,
        last_time=2.0, isn_client=100, isn_server=None, close=CloseKind.OPEN,
        active_closer=None, rst_sender=None, half_close=False,
        fin_retransmissions={Side.CLIENT: 0, Side.SERVER: 0},
        end_states={Side.CLIENT: State.ESTABLISHED, Side.SERVER: State.ESTABLISHED},
        time_wait=None,
    )  # fmt: skip
    return Connection(**{**fields, **changes})


def test_fields_keywords_and_defaults():
    assert tuple(f.name for f in dataclasses.fields(Connection)) == CONNECTION_FIELDS
    c = _by_hand()
    assert c.events == Events() and isinstance(c.events, Events) and c.zeek is None
    # Each default container is the connection's own.
    other = _by_hand()
    c.packets[Side.CLIENT] = 3
    c.resets.append("x")
    assert other.packets == {} and other.resets == []
    assert (c.four_tuple, c.duration) == ((c.client, c.server), 0.5)
    assert SideFacts() == SideFacts(ttls={}, keepalive_frames=[])
    assert TimeWait(Side.CLIENT, 1.0, 61.0, None).start_estimated is False
    with pytest.raises(TypeError):
        Connection(id=1)  # (required fields missing)


def test_replace_asdict_equality_and_repr():
    c = _by_hand(time_wait=TimeWait(Side.CLIENT, 1.0, 61.0, TimeWaitEnd.SYN))
    moved = dataclasses.replace(c, id=8, isn_client=None)
    assert (moved.id, moved.isn_client, moved.server) == (8, None, c.server)
    assert moved != c and dataclasses.replace(moved, id=7, isn_client=100) == c
    d = dataclasses.asdict(c)
    assert list(d) == list(CONNECTION_FIELDS)
    assert d["time_wait"] == {"side": Side.CLIENT, "start": 1.0, "end": 61.0,
                              "ended_by": TimeWaitEnd.SYN, "start_estimated": False}  # fmt: skip
    assert repr(c).startswith("Connection(id=7, client=Endpoint(ip='10.0.0.1', port=40000), ")
    assert "time_wait=TimeWait(side=" in repr(c)


def test_no_hash_and_no_stray_attributes():
    c = _by_hand()
    for value in (c, SideFacts(), TimeWait(Side.SERVER, 1.0, 2.0, None)):
        with pytest.raises(TypeError):
            hash(value)
    c.zeek = {"conn_state": "SF", "history": "ShADadFf"}  # fields can be set
    assert c.zeek["conn_state"] == "SF"
    with pytest.raises(AttributeError):
        c.colour = "red"


@pytest.mark.parametrize("name", ["timewait-pileup.pcap", "rst-data-loss.pcap", "half-close.pcap"])
def test_walked_connections_pickle_and_copy_as_they_are(name):
    # (Connections are pickled to wait on disk for ``--conn`` and the report.)
    connections = analyze(str(ROOT / "captures" / name)).connections
    assert connections
    assert pickle.loads(pickle.dumps(connections, pickle.HIGHEST_PROTOCOL)) == connections
    assert copy.deepcopy(connections) == connections
    for c in connections:
        assert dataclasses.replace(c) == c
        assert all(isinstance(f, SideFacts) for f in c.facts.values())
        assert c.time_wait is None or isinstance(c.time_wait, TimeWait)
