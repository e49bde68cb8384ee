"""The JSON document (schema ``teardown.analysis/1``) for one analysis.

The shape is fixed by the public contract; ``analyzer/schema/analysis.schema.json``
describes it and the tests validate every document they make against it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any, TextIO

from ..analysis import Analysis
from ..model import Connection, Event
from ..vocabulary import Side

SCHEMA_ID = "teardown.analysis/1"
_WRITE_BATCH = 256  # list items joined per write
_dumps = json.JSONEncoder(separators=(",", ":")).encode


def _side(value: Side | None) -> str | None:
    return None if value is None else value.value


def event_dict(e: Event) -> dict[str, Any]:
    return {
        "frame": e.frame,
        "time": e.time,
        "from": e.sender.value,
        "flags": e.flags,
        "seq": e.seq,
        "ack": e.ack,
        "len": e.length,
        "kind": e.kind.value,
        "states": {"client": e.client_state.value, "server": e.server_state.value},
    }


# ``event_dict`` as JSON text, filled in directly: events are most of a
# document, and building a dict per event for the encoder took twice as long.
# Every string in it is a vocabulary word (a str enum, written as its value
# without the cost of reading ``.value``) or flag letters, which need no
# escaping; times are written as json writes floats (repr).
_EVENT_JSON = (
    '{"frame":%d,"time":%s,"from":"%s","flags":"%s","seq":%d,"ack":%d,"len":%d,'
    '"kind":"%s","states":{"client":"%s","server":"%s"}}'
)


def events_json(events: list[Event]) -> str:
    """The same text as the JSON encoder makes of ``[event_dict(e), ...]``."""
    texts = [
        _EVENT_JSON
        % (
            e.frame,
            float.__repr__(e.time),
            e.sender,
            e.flags,
            e.seq,
            e.ack,
            e.length,
            e.kind,
            e.client_state,
            e.server_state,
        )
        for e in events
    ]
    return "[" + ",".join(texts) + "]"


def _fields(c: Connection) -> dict[str, Any]:
    """A connection's fields between its id and its events."""
    tw = c.time_wait
    return {
        "client": {"ip": c.client.ip, "port": c.client.port},
        "server": {"ip": c.server.ip, "port": c.server.port},
        "roles_inferred": c.roles_inferred,
        "incarnation": c.incarnation,
        "first_frame": c.first_frame,
        "last_frame": c.last_frame,
        "first_time": c.first_time,
        "last_time": c.last_time,
        "isn": {"client": c.isn_client, "server": c.isn_server},
        "close": c.close.value,
        "active_closer": _side(c.active_closer),
        "rst_sender": _side(c.rst_sender),
        "half_close": c.half_close,
        "fin_retransmissions": {s.value: n for s, n in c.fin_retransmissions.items()},
        "end_states": {s.value: state.value for s, state in c.end_states.items()},
        "time_wait": {
            "side": _side(tw.side) if tw else None,
            "start": tw.start if tw else None,
            "end": tw.end if tw else None,
            "ended_by": tw.ended_by.value if tw and tw.ended_by else None,
            "start_estimated": tw.start_estimated if tw else False,
        },
        "packets": {s.value: n for s, n in c.packets.items()},
        "payload_bytes": {s.value: n for s, n in c.payload_bytes.items()},
    }


def connection_dict(c: Connection) -> dict[str, Any]:
    return {
        "id": c.id,
        **_fields(c),
        "events": [event_dict(e) for e in c.events],
        **({"zeek": c.zeek} if c.zeek is not None else {}),
    }


def analysis_document(a: Analysis) -> dict[str, Any]:
    return {
        **_head(a),
        "connections": [connection_dict(c) for c in a.connections],
        "findings": [f.as_dict() for f in a.findings],
        **({"time_wait": a.time_wait_summary.as_dict()} if a.time_wait_summary else {}),
    }


def _head(a: Analysis) -> dict[str, Any]:
    info = a.capture
    return {
        "schema": SCHEMA_ID,
        "capture": {
            "path": info.path,
            "format": info.format,
            "compressed": info.compressed,
            "link_types": info.link_types,
            "frames": info.frames,
            "tcp_segments": info.tcp_segments,
            "first_time": info.first_time,
            "last_time": info.last_time,
            "truncated": info.truncated,
            "warnings": list(info.warnings),
        },
        "parameters": a.parameters.as_dict(),
    }


def _write_list(out: TextIO, texts: Iterable[str]) -> None:
    # Written a batch at a time: a write per item costs more than its JSON.
    out.write("[")
    items = iter(texts)
    batch = list(islice(items, _WRITE_BATCH))
    sep = ""
    while batch:
        out.write(sep + ",".join(batch))
        batch, sep = list(islice(items, _WRITE_BATCH)), ","
    out.write("]")


def write_json(a: Analysis, out: TextIO, connections: Iterable[str] | None = None) -> None:
    """The same document as ``analysis_document``, streamed one connection at a time.

    Compact (json's C encoder only runs without indent), and never holding the
    whole document in memory: a capture of millions of connections would.
    ``connections`` are the connections' JSON texts, if not ``a.connections``
    (``ConnectionSpool.numbered``).
    """
    out.write(_dumps(_head(a))[:-1] + ',"findings":')
    _write_list(out, (_dumps(f.as_dict()) for f in a.findings))
    summary = a.time_wait_summary
    if summary is not None:
        out.write(',"time_wait":{"hosts":')
        _write_list(out, (_dumps(h.as_dict()) for h in summary.hosts))
        out.write(',"destinations":')
        _write_list(out, (_dumps(d.as_dict()) for d in summary.destinations))
        out.write("}")
    out.write(',"connections":')
    if connections is None:
        connections = (_dumps(connection_dict(c)) for c in a.connections)
    _write_list(out, connections)
    out.write("}")


def write_jsonl(a: Analysis, out: TextIO, connections: Iterable[str] | None = None) -> None:
    """One connection per line, each naming its capture."""
    capture = ',"capture":' + _dumps(a.capture.path) + "}\n"
    if connections is None:
        connections = (_dumps(connection_dict(c)) for c in a.connections)
    for text in connections:
        out.write(text[:-1] + capture)


# ``_fields`` as JSON text, filled in directly (like ``_EVENT_JSON``): the
# encoder took a third of the rendering of a connection. Addresses are text
# the reader made (digits, dots, colons, hex), the rest vocabulary words.
_FIELDS_JSON = (
    '{"client":{"ip":"%s","port":%d},"server":{"ip":"%s","port":%d},"roles_inferred":%s,'
    '"incarnation":%d,"first_frame":%d,"last_frame":%d,"first_time":%s,"last_time":%s,'
    '"isn":{"client":%s,"server":%s},"close":"%s","active_closer":%s,"rst_sender":%s,'
    '"half_close":%s,"fin_retransmissions":%s,"end_states":%s,"time_wait":%s,'
    '"packets":%s,"payload_bytes":%s'
)
_TIME_WAIT_JSON = '{"side":%s,"start":%s,"end":%s,"ended_by":%s,"start_estimated":%s}'
_NO_TIME_WAIT = _TIME_WAIT_JSON % ("null", "null", "null", "null", "false")


def _bool(x: bool) -> str:
    return "true" if x else "false"


def _int_or_null(x: int | None) -> str:
    return "null" if x is None else str(x)


def _float_or_null(x: float | None) -> str:
    if x is None:
        return "null"
    return float.__repr__(x) if math.isfinite(x) else _dumps(x)


def _word_or_null(x: str | None) -> str:
    return "null" if x is None else f'"{x}"'


def _numbers(by_side: dict) -> str:
    return "{" + ",".join([f'"{side}":{n}' for side, n in by_side.items()]) + "}"


def _words(by_side: dict) -> str:
    return "{" + ",".join([f'"{side}":"{word}"' for side, word in by_side.items()]) + "}"


def _fields_json(c: Connection) -> str:
    """The same text as the JSON encoder makes of ``_fields(c)``, without its closing brace."""
    tw = c.time_wait
    if tw is None:
        time_wait = _NO_TIME_WAIT
    else:
        time_wait = _TIME_WAIT_JSON % (
            _word_or_null(tw.side),
            _float_or_null(tw.start),
            _float_or_null(tw.end),
            _word_or_null(tw.ended_by),
            _bool(tw.start_estimated),
        )
    return _FIELDS_JSON % (
        c.client.ip,
        c.client.port,
        c.server.ip,
        c.server.port,
        _bool(c.roles_inferred),
        c.incarnation,
        c.first_frame,
        c.last_frame,
        _float_or_null(c.first_time),
        _float_or_null(c.last_time),
        _int_or_null(c.isn_client),
        _int_or_null(c.isn_server),
        c.close,
        _word_or_null(c.active_closer),
        _word_or_null(c.rst_sender),
        _bool(c.half_close),
        _numbers(c.fin_retransmissions),
        _words(c.end_states),
        time_wait,
        _numbers(c.packets),
        _numbers(c.payload_bytes),
    )


def connection_json(c: Connection) -> str:
    """``connection_dict``'s JSON without the id, which is provisional (the
    first frame) until ``numbered_json`` adds the final one (``spool.ConnectionSpool``)."""
    zeek = ',"zeek":' + _dumps(c.zeek) if c.zeek is not None else ""
    return _fields_json(c) + ',"events":' + events_json(c.events) + zeek + "}"


def numbered_json(numbered: Iterable[tuple[int, str]]) -> Iterator[str]:
    for new_id, text in numbered:
        yield f'{{"id":{new_id},' + text[1:]
