"""Connections as flat rows: for CSV, the terminal table and DataFrames."""

from __future__ import annotations

import csv
import io
from typing import Any

from ..model import Connection
from ..vocabulary import Side

ROW_FIELDS = (
    "id",
    "client",
    "server",
    "incarnation",
    "roles_inferred",
    "close",
    "active_closer",
    "rst_sender",
    "half_close",
    "fin_retx_client",
    "fin_retx_server",
    "end_state_client",
    "end_state_server",
    "time_wait_side",
    "time_wait_start",
    "time_wait_end",
    "time_wait_ended_by",
    "first_frame",
    "last_frame",
    "first_time",
    "last_time",
    "packets_client",
    "packets_server",
    "bytes_client",
    "bytes_server",
)


def _value(x: Any) -> Any:
    return getattr(x, "value", x)


def connection_row(c: Connection) -> dict[str, Any]:
    tw = c.time_wait
    return {
        "id": c.id,
        "client": str(c.client),
        "server": str(c.server),
        "incarnation": c.incarnation,
        "roles_inferred": c.roles_inferred,
        "close": c.close.value,
        "active_closer": _value(c.active_closer),
        "rst_sender": _value(c.rst_sender),
        "half_close": c.half_close,
        "fin_retx_client": c.fin_retransmissions[Side.CLIENT],
        "fin_retx_server": c.fin_retransmissions[Side.SERVER],
        "end_state_client": c.end_states[Side.CLIENT].value,
        "end_state_server": c.end_states[Side.SERVER].value,
        "time_wait_side": _value(tw.side) if tw else None,
        "time_wait_start": tw.start if tw else None,
        "time_wait_end": tw.end if tw else None,
        "time_wait_ended_by": _value(tw.ended_by) if tw else None,
        "first_frame": c.first_frame,
        "last_frame": c.last_frame,
        "first_time": c.first_time,
        "last_time": c.last_time,
        "packets_client": c.packets[Side.CLIENT],
        "packets_server": c.packets[Side.SERVER],
        "bytes_client": c.payload_bytes[Side.CLIENT],
        "bytes_server": c.payload_bytes[Side.SERVER],
    }


def connection_rows(connections: list[Connection]) -> list[dict[str, Any]]:
    return [connection_row(c) for c in connections]


def csv_text(values: list[Any]) -> str:
    """One CSV record, as ``csv.DictWriter`` writes it."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(values)
    return out.getvalue()


def csv_line(c: Connection) -> str:
    """The connection's CSV record without its id (``spool.ConnectionSpool``)."""
    row = connection_row(c)  # its id is provisional: the connection's first frame
    return csv_text([row[name] for name in ROW_FIELDS[1:]])
