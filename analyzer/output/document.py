"""The JSON document (schema ``teardown.analysis/1``) for one analysis.

The shape is fixed by the public contract; ``analyzer/schema/analysis.schema.json``
describes it and the tests validate every document they make against it.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TextIO

from ..analysis import Analysis
from ..findings import ReportedFindings
from ..model import Connection, Event
from ..timewait import DestinationTable, DestinationTimeWait, HostTable, HostTimeWait
from ..vocabulary import Side

# A connection's JSON without its id, made directly (compiled): as text, and
# as the bytes the streaming outputs spool.
from .json_text import connection_json as connection_json
from .json_text import connection_json_bytes as connection_json_bytes
from .json_text import json_text, series_json

SCHEMA_ID = "teardown.analysis/1"
_WRITE_BYTES = 1 << 16  # about this many characters joined per write
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
    """A JSON list of these items' texts (an item may be several joined by commas)."""
    # Written _WRITE_BYTES at a time: a write per item costs more than its JSON.
    out.write("[")
    batch: list[str] = []
    size, sep = 0, ""
    for text in texts:
        batch.append(text)
        size += len(text)
        if size >= _WRITE_BYTES:
            # (Not ``sep + text``: a text is often a megabyte, copied for a comma.)
            out.write(sep)
            out.write(",".join(batch))
            batch, size, sep = [], 0, ","
    if batch:
        out.write(sep)
        out.write(",".join(batch))
    out.write("]")


def write_json(a: Analysis, out: TextIO, connections: Iterable[str | bytes] | None = None) -> None:
    """The same document as ``analysis_document``, streamed one connection at a time.

    Compact (json's C encoder only runs without indent), and never holding the
    whole document in memory: a capture of millions of connections would.
    ``connections`` are the connections' JSON texts, if not ``a.connections``,
    each text one or several joined by commas, as str or ASCII bytes
    (``ConnectionSpool.json_runs``).
    """
    out.write(_dumps(_head(a))[:-1] + ',"findings":')
    findings = a.findings
    if isinstance(findings, ReportedFindings):
        _write_list(out, findings.json_texts())
    else:
        _write_list(out, (json_text(f.as_dict()) for f in findings))
    summary = a.time_wait_summary
    if summary is not None:
        out.write(',"time_wait":{"hosts":')
        _write_list(out, _time_wait_items_json(summary.hosts))
        out.write(',"destinations":')
        _write_list(out, _time_wait_items_json(summary.destinations))
        out.write("}")
    out.write(',"connections":')
    if connections is None:
        _write_list(out, (_dumps(connection_dict(c)) for c in a.connections))
    else:
        _write_runs(out, connections)
    out.write("}")


# Encodings that write ASCII as it is.
_ASCII_AS_IS = frozenset({"ascii", "utf-8", "iso8859-1", "iso8859-15", "cp1252"})


def _write_runs(out: TextIO, runs: Iterable[str | bytes]) -> None:
    """A JSON list of these items' texts, each several joined by commas,
    megabytes long (``ConnectionSpool.json_runs``). Bytes are written to the
    binary stream beneath ``out`` where there is one that takes ASCII as it
    is: decoded and encoded again, they took a third of the writing."""
    binary = getattr(out, "buffer", None)
    encoding = getattr(out, "encoding", None)
    if binary is not None and encoding and codecs.lookup(encoding).name in _ASCII_AS_IS:
        out.write("[")
        out.flush()  # (what ``out`` holds goes first)
        sep = b""
        for run in runs:
            binary.write(sep)
            binary.write(run if isinstance(run, bytes) else run.encode(encoding))
            sep = b","
        out.write("]")
    else:
        _write_list(out, (r.decode("ascii") if isinstance(r, bytes) else r for r in runs))


def _time_wait_items_json(items: Sequence[HostTimeWait | DestinationTimeWait]) -> Iterable[str]:
    """The JSON texts of a summary's hosts or destinations: from the columns of
    its table, in texts of many items each, or one by one from a list made by hand."""
    if isinstance(items, (HostTable, DestinationTable)):
        return items.json_texts(_WRITE_BYTES)
    return map(_with_series_json, items)


def _with_series_json(item: HostTimeWait | DestinationTimeWait) -> str:
    """``json_text(item.as_dict())``, its series (last) written from the
    occupancy's arrays: a pair per point took half the writing."""
    head = json_text(item.as_dict(series=False))
    o = item.occupancy
    return f'{head[:-1]},"series":{series_json(o.times, o.counts)}}}'


def write_jsonl(a: Analysis, out: TextIO, connections: Iterable[str] | None = None) -> None:
    """One connection per line, each naming its capture."""
    capture = ',"capture":' + _dumps(a.capture.path) + "}\n"
    if connections is None:
        connections = (_dumps(connection_dict(c)) for c in a.connections)
    for text in connections:
        out.write(text[:-1] + capture)


def numbered_json(numbered: Iterable[tuple[int, str]]) -> Iterator[str]:
    for new_id, text in numbered:
        yield f'{{"id":{new_id},' + text[1:]
