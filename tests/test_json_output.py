"""The JSON document: its shape (validated against the shipped schema) and its vocabulary."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer import analyze
from analyzer.model import Connection, Endpoint, Event, TimeWait
from analyzer.output.document import analysis_document
from analyzer.vocabulary import (
    CloseKind,
    EventKind,
    FindingKind,
    Severity,
    Side,
    State,
    TimeWaitEnd,
)
from tests.cli import teardown

ROOT = Path(__file__).parent.parent
SCHEMA = json.loads(resources.files("analyzer").joinpath("schema/analysis.schema.json").read_text())
CAPTURES = sorted((ROOT / "captures").glob("*.pcap")) + sorted(
    (ROOT / "tests/data/corpus/public").glob("*.pcap")
)


def test_schema_enums_are_the_vocabulary():
    defs = SCHEMA["$defs"]
    assert defs["state"]["enum"] == [s.value for s in State]
    assert defs["event"]["properties"]["kind"]["enum"] == [k.value for k in EventKind]
    conn = defs["connection"]["properties"]
    assert conn["close"]["enum"] == [k.value for k in CloseKind]
    assert conn["time_wait"]["properties"]["ended_by"]["enum"] == [
        *(e.value for e in TimeWaitEnd),
        None,
    ]
    assert defs["finding"]["properties"]["kind"]["enum"] == [k.value for k in FindingKind]
    assert defs["finding"]["properties"]["severity"]["enum"] == [s.value for s in Severity]


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_document_is_valid(path):
    doc = json.loads(json.dumps(analysis_document(analyze(str(path)))))
    jsonschema.validate(doc, SCHEMA)
    assert doc["capture"]["frames"] > 0
    for conn in doc["connections"]:
        frames = [e["frame"] for e in conn["events"]]
        assert frames == sorted(frames)
        assert conn["first_frame"] <= conn["last_frame"]


def test_cli_json_matches_library():
    path = ROOT / "captures/lost-final-ack.pcap"
    run = teardown("analyze", str(path), "--format", "json")
    assert run.returncode == 0
    out = run.stdout
    doc = json.loads(out)
    jsonschema.validate(doc, SCHEMA)
    (conn,) = doc["connections"]
    assert conn["close"] == "graceful"
    assert conn["active_closer"] == "client"
    assert conn["fin_retransmissions"] == {"client": 0, "server": 1}
    assert conn["time_wait"]["side"] == "client"
    assert conn["time_wait"]["ended_by"] is None
    assert [e["kind"] for e in conn["events"]][-2:] == ["fin_retransmission", "time_wait_ack"]
    assert doc["findings"][0]["kind"] == "fin_retransmission"
    assert doc["findings"][0]["detail"]["cause"] == "lost_final_ack"


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_streamed_connection_text_is_the_encoders(path):
    # The streaming formats write each connection with connection_json, whose
    # events are filled into a template: byte for byte what json makes of
    # connection_dict.
    from analyzer.output.document import connection_dict, connection_json

    for c in analyze(str(path)).connections:
        d = connection_dict(c)
        del d["id"]
        assert connection_json(c) == json.dumps(d, separators=(",", ":"))


@pytest.mark.parametrize("limit", [None, 3], ids=["all", "limit 3"])
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_streamed_findings_text_is_the_encoders(path, limit):
    # Most findings' JSON is written as they are judged, all but the ids of
    # their connection and of the one their detail names; the rest at the
    # end. Either way, byte for byte what json makes of the findings of the
    # analysis in memory.
    from analyzer.analysis import stream_analysis
    from analyzer.output.spool import ConnectionSpool, pickled
    from analyzer.parameters import Parameters

    options = {} if limit is None else {"max_connections": limit}
    expected = [
        json.dumps(f.as_dict(), separators=(",", ":"))
        for f in analyze(str(path), **options).findings
    ]
    spool = ConnectionSpool(pickled, as_text=False)
    try:
        a, _ = stream_analysis(str(path), spool, Parameters(**options))
        assert ",".join(a.findings.json_texts()) == ",".join(expected)
        written_as_judged = a.findings._texts.locations(a.findings._order)[3] > 0
        names_another = a.findings._also > 0
    finally:
        spool.close()
    if path.name == "syn-meets-time-wait.pcap" and limit is None:
        # A reset's finding, and two that name two connections: all written as judged.
        assert written_as_judged.tolist() == [True, True, True]
        assert names_another.tolist() == [False, True, True]
    if path.name == "close-wait-stall.pcap":
        # A side still in CLOSE_WAIT, whose 4-tuple settles once the capture
        # has been read, is judged (and written) where it is walked; one that
        # settles before, at the end (tests/test_engine.py).
        assert written_as_judged.tolist() == [True]


@pytest.mark.parametrize("limit", [None, 3], ids=["all", "limit 3"])
@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_findings_read_back_from_their_json_are_the_findings(path, limit, monkeypatch):
    # A finding whose JSON is written as it is judged waits as that JSON
    # alone, and is made again from it when read back: the same finding as
    # one pickled (its detail's types, floats, and both connection ids).
    import analyzer.findings.judging as judging

    options = {} if limit is None else {"max_connections": limit}
    from_json = analyze(str(path), **options).findings
    monkeypatch.setattr(judging, "_json_before_numbering", lambda item: (b"", 0))
    assert from_json == analyze(str(path), **options).findings


@pytest.mark.parametrize("encoding", ["utf-8", "ascii", "latin-1", "utf-16"])
@pytest.mark.parametrize("as_bytes", [True, False], ids=["bytes", "str"])
def test_connection_runs_land_in_place_whatever_the_stream(encoding, as_bytes):
    # Runs of connections' JSON in ASCII bytes go to the binary stream beneath
    # a text stream that writes ASCII as it is (and through the text stream
    # otherwise): either way the document is the one written from objects.
    import io

    from analyzer.output.document import connection_dict, write_json

    a = analyze(str(ROOT / "captures" / "syn-meets-time-wait.pcap"))
    expected = io.StringIO()
    write_json(a, expected)
    texts = [json.dumps(connection_dict(c), separators=(",", ":")) for c in a.connections]
    runs = [",".join(texts[:1]), ",".join(texts[1:])]
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding=encoding)
    write_json(a, out, [r.encode() for r in runs] if as_bytes else runs)
    out.flush()
    assert raw.getvalue().decode(encoding) == expected.getvalue()
    assert len(a.connections) > 1


# Any float the text could meet: capture times in whole microseconds (the
# fast path), in nanoseconds, sums like a TIME_WAIT's end, tiny, huge and not finite.
_floats = st.one_of(
    st.integers(0, 2**33 * 10**6).map(lambda us: us / 1e6),
    st.integers(0, 2**34 * 10**9).map(lambda ns: ns / 1e9),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(1e-5, 1e-3),
    st.floats(8.5e9, 8.7e9),
)
_ints = st.integers(-(2**63), 2**63 - 1)


@st.composite
def _connections(draw):
    side = st.sampled_from(Side)
    event = st.builds(
        Event,
        frame=_ints,
        time=_floats,
        sender=side,
        flags=st.sampled_from(["S", "S.", ".", "F.", "R", "R.", "FP.", "none"]),
        seq=_ints,
        ack=_ints,
        length=_ints,
        kind=st.sampled_from(EventKind),
        client_state=st.sampled_from(State),
        server_state=st.sampled_from(State),
    )
    time_wait = st.builds(
        TimeWait,
        side=st.sampled_from(Side),
        start=_floats,
        end=_floats,
        ended_by=st.none() | st.sampled_from(TimeWaitEnd),
        start_estimated=st.booleans(),
    )
    per_side = st.dictionaries(side, _ints, max_size=2)
    return Connection(
        id=draw(_ints),
        client=Endpoint(draw(st.sampled_from(["10.0.0.1", "2001:db8::1"])), draw(_ints)),
        server=Endpoint("192.0.2.10", draw(_ints)),
        roles_inferred=draw(st.booleans()),
        incarnation=draw(_ints),
        first_frame=draw(_ints),
        last_frame=draw(_ints),
        first_time=draw(_floats),
        last_time=draw(_floats),
        isn_client=draw(st.none() | _ints),
        isn_server=draw(st.none() | _ints),
        close=draw(st.sampled_from(CloseKind)),
        active_closer=draw(st.none() | side),
        rst_sender=draw(st.none() | side),
        half_close=draw(st.booleans()),
        fin_retransmissions=draw(per_side),
        end_states=draw(st.dictionaries(side, st.sampled_from(State), max_size=2)),
        time_wait=draw(st.none() | time_wait),
        events=draw(st.lists(event, max_size=4)),
        packets=draw(per_side),
        payload_bytes=draw(per_side),
        zeek=draw(
            st.none()
            | st.fixed_dictionaries({"conn_state": st.text(), "history": st.text(max_size=30)})
        ),
    )


@settings(max_examples=500, deadline=None)
@given(_connections())
def test_connection_text_is_the_encoders_for_any_values(c):
    # The compiled text (floats written without repr's algorithm when a
    # microsecond decimal round-trips, ints by hand) against json itself.
    from analyzer.output.document import connection_dict, connection_json

    d = connection_dict(c)
    del d["id"]
    assert connection_json(c) == json.dumps(d, separators=(",", ":"))


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | _floats | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        | st.dictionaries(st.integers(), inner, max_size=2)
    ),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None)
@given(_json_values)
def test_json_text_is_the_encoders(value):
    # What the findings and the TIME_WAIT series are written with.
    from analyzer.output.json_text import json_text

    assert json_text(value) == json.dumps(value, separators=(",", ":"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_floats, st.integers(-(2**63), 2**63 - 1)), max_size=30))
def test_series_text_is_the_encoders(points):
    # An occupancy's series, written from its two arrays.
    import numpy as np

    from analyzer.output.json_text import series_json

    times = np.array([t for t, _ in points], np.float64)
    counts = np.array([n for _, n in points], np.int64)
    assert series_json(times, counts) == json.dumps(points, separators=(",", ":"))
    with pytest.raises(ValueError, match="length"):
        series_json(times, np.append(counts, 1))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            # Whole microseconds of a few seconds (a series' times share their
            # seconds, which are written once and copied), and any other float.
            st.tuples(st.integers(0, 3), st.integers(0, 10**6 - 1)).map(
                lambda p: (1795435200 + p[0]) + p[1] / 1e6
            ),
            _floats,
        ),
        max_size=40,
    ),
    st.booleans(),
)
def test_series_text_of_times_sharing_their_seconds(times, ordered):
    import numpy as np

    from analyzer.output.json_text import series_json

    points = [(t, k) for k, t in enumerate(sorted(times) if ordered else times)]
    expected = json.dumps(points, separators=(",", ":"))
    assert series_json(np.array([t for t, _ in points]), np.arange(len(points))) == expected


def test_json_text_escapes_every_character_as_json_does():
    # Strings of plain ASCII are written as they are; every other character
    # (controls, quote, backslash, DEL, beyond ASCII) goes through json's escaping.
    from analyzer.output.json_text import json_text

    for code in [*range(160), 0x2028, 0x1F600]:
        for text in (chr(code), f"a{chr(code)}b", f"{chr(code)}" * 3):
            value = {text: [text]}
            assert json_text(value) == json.dumps(value, separators=(",", ":")), code
