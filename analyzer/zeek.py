"""Speak Zeek: the ``conn_state`` and ``history`` Zeek would log, and its conn.log records.

Zeek's TCP analysis is replayed packet by packet, per 4-tuple, in frame order
(``zeek_session``, compiled): endpoint states (INACTIVE ... RESET), history
letters with their case, repetition and log-scale rules, role flips ('^'), the
reassembler's content gaps ('G'), and the timers and connection reuse that make
Zeek end one record and start another on the same 4-tuple. The rules, with
references to Zeek's source, are in tests/data/corpus/zeek/ZEEK.md; docs/zeek.md
says what is implemented, how Zeek's records map onto our incarnations, and
where we differ.

This is interoperability, not a verdict: our own close kinds, closers and
TIME_WAIT stay as ``teardown.py`` decides them.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

import numpy as np

from .blocks import Blocks
from .connections import ConnectionIndex, concatenated_ranges, first_after
from .gather import gather
from .model import Connection, ZeekRecord
from .segments import FIN, RST, SegmentTable
from .zeek_session import PACKET_COLUMNS, CloseStates, ZeekConn, replay_span, replay_tuples

# Read from each of many records at C speed (``map``).
_TS, _FIRST_FRAME, _POSITIONS = attrgetter("ts"), attrgetter("first_frame"), attrgetter("positions")
_START, _STOP = attrgetter("start"), attrgetter("stop")
_CONN_STATE, _HISTORY = attrgetter("conn_state"), attrgetter("history")

# base/protocols/conn/inactivity.zeek: port_inactivity_timeouts (not in bare mode)
LONG_INACTIVITY_PORTS = frozenset({21, 22, 23, 513})

# likely_server_ports of a default (non-bare) Zeek: the TCP ports that the
# analyzers loaded by base/ register (Analyzer::register_for_ports). With
# ``zeek -b`` almost none are loaded: pass ``likely_server_ports=frozenset()``.
LIKELY_SERVER_PORTS = frozenset(
    {
        21, 22, 25, 53, 80, 81, 88, 110, 135, 139, 143, 179, 389, 443, 445, 502, 563,
        585, 587, 614, 631, 636, 989, 990, 992, 993, 994, 995, 1080, 1433, 2811, 3128,
        3268, 3306, 3389, 5060, 5222, 5223, 5269, 5432, 6379, 6666, 6667, 6668, 6669,
        8000, 8080, 8888, 20000,
    }
)  # fmt: skip


@dataclass
class _Options:
    """Options shared by the connections of one replay."""

    likely_server_ports: frozenset
    long_inactivity_ports: frozenset


def _options(likely_server_ports: frozenset, bare: bool) -> _Options:
    """``bare`` replays ``zeek -b`` (no likely server ports, no port inactivity
    timeouts) unless ``likely_server_ports`` is given explicitly."""
    if bare and likely_server_ports is LIKELY_SERVER_PORTS:
        likely_server_ports = frozenset()
    return _Options(likely_server_ports, frozenset() if bare else LONG_INACTIVITY_PORTS)


@dataclass
class ReplaySoFar:
    """Zeek's replay of a long connection's 4-tuple over the segments seen so far
    (``engine``, "walking ahead"; ``teardown.WalkSoFar`` is the walk's)."""

    conn: ZeekConn  # the Zeek connection open after them
    serial: int  # its serial
    ended: list[ZeekRecord]  # records ended before it
    close_serial: int | None  # the record holding the last FIN or RST so far
    through: int  # the frame of the last segment replayed: the replay goes on after it


def records(
    seg: SegmentTable,
    index: ConnectionIndex,
    *,
    likely_server_ports: frozenset = LIKELY_SERVER_PORTS,
    bare: bool = False,
) -> list[ZeekRecord]:
    """Every conn.log record Zeek would write for the TCP segments, in order of first packet.

    ``bare`` replays ``zeek -b`` (no likely server ports, no port inactivity
    timeouts) unless ``likely_server_ports`` is given explicitly.
    """
    return _records(seg, index, _options(likely_server_ports, bare), None)


def _packets(seg: SegmentTable, index: ConnectionIndex) -> Blocks:
    """The packets in connection order, a block at a time: their times, and
    rows of ``zeek_session.PACKET_COLUMNS`` (endpoints as address code << 16 | port)."""
    order = index.order

    columns = [seg.columns[name] for name in PACKET_COLUMNS]  # "src" and "dst" are addresses
    ports_and_times = [seg.sport, seg.dport, seg.ts_ns]

    def packets(a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        rows = order[a:b]
        block = np.empty((b - a, len(PACKET_COLUMNS)), np.int64)
        gather(columns, rows, block)
        more = np.empty((b - a, 3), np.int64)
        gather(ports_and_times, rows, more)
        block[:, :2] <<= 16
        block[:, :2] |= more[:, :2]
        return more[:, 2] / 1e9, block

    return Blocks(len(order), packets)


def _records(seg, index, opts: _Options, so_far: ReplaySoFar | None) -> list[ZeekRecord]:
    if not len(index.order):
        return []
    out: list[ZeekRecord] = []
    going_on: tuple = ()
    if so_far is not None:
        # The one 4-tuple goes on after the packets replayed ahead.
        out.extend(so_far.ended)
        going_on = (first_after(seg, index, so_far.through), so_far.conn, so_far.serial)
    # A 4-tuple's connections are consecutive in the index's order.
    replay_tuples(_packets(seg, index), index.tuple_bounds(), opts, seg.addresses, out, *going_on)
    # By time, then first frame, stably (as a sort of the records by both,
    # without a key tuple made per record).
    ts = np.fromiter(map(_TS, out), np.float64, len(out))
    first_frame = np.fromiter(map(_FIRST_FRAME, out), np.int64, len(out))
    return [out[k] for k in np.lexsort((first_frame, ts)).tolist()]


def replay_ahead(
    seg: SegmentTable, index: ConnectionIndex, so_far: ReplaySoFar | None
) -> ReplaySoFar:
    """Go on with the replay of ``index``'s one 4-tuple over ``seg``, its next
    part (after the segments that decide its index, replayed already),
    leaving its last Zeek connection open."""
    skip = first_after(seg, index, so_far.through) if so_far else 0
    conn, serial = (so_far.conn, so_far.serial) if so_far else (None, 0)
    ended: list[ZeekRecord] = []
    opts = _options(LIKELY_SERVER_PORTS, False)
    conn, serial = replay_span(
        _packets(seg, index), skip, len(index.order), conn, serial, opts, seg.addresses, ended
    )
    close_serial = so_far.close_serial if so_far else None
    closing = np.flatnonzero((seg.flags[index.order[skip:]] & (FIN | RST)) != 0)
    if len(closing):
        last = skip + int(closing[-1])
        held = [r.serial for r in ended if last in r.positions]
        close_serial = held[0] if held else serial
    for r in ended:
        r.positions = range(0)  # positions of this part only
    earlier = so_far.ended if so_far else []
    through = int(seg.frame[index.order[-1]])
    return ReplaySoFar(conn, serial, earlier + ended, close_serial, through)


def annotate(
    segments: SegmentTable,
    index: ConnectionIndex,
    connections: list[Connection],
    *,
    likely_server_ports: frozenset = LIKELY_SERVER_PORTS,
    bare: bool = False,
    so_far: ReplaySoFar | None = None,
    records: bool = True,
) -> list[ZeekRecord]:
    """Set ``c.zeek`` on every connection; return Zeek's conn.log records
    (with ``records=False``, none: only the ``c.zeek`` are made).

    ``c.zeek`` describes the Zeek record holding the connection's close: its
    last FIN or RST, or, with neither, its last segment (docs/zeek.md). With
    ``so_far``, the first connection was replayed ahead over its earlier
    segments (``replay_ahead``); ``segments`` holds those of them that decide
    its index, and the rest, and is one 4-tuple's.
    """
    opts = _options(likely_server_ports, bare)
    if not len(index.order):
        return []
    # The record of each position in the index's order (a record's positions
    # are a range), and each record's conn_state and history.
    recs: list[ZeekRecord] = []
    record_of_position = np.full(len(index.order), -1, np.int64)
    if records or so_far is not None:
        recs = _records(segments, index, opts, so_far)
        positions = list(map(_POSITIONS, recs))
        first = np.fromiter(map(_START, positions), np.int64, len(recs))
        size = np.fromiter(map(_STOP, positions), np.int64, len(recs)) - first
        record_of_position[concatenated_ranges(first, size)] = np.repeat(np.arange(len(recs)), size)
        conn_states, histories = list(map(_CONN_STATE, recs)), list(map(_HISTORY, recs))
    else:
        # (The records' order does not matter here: they are not made, nor sorted.)
        close = CloseStates(record_of_position)  # (which it fills)
        replay_tuples(_packets(segments, index), index.tuple_bounds(), opts, segments.addresses,
                      close)  # fmt: skip
        conn_states, histories = close.conn_states, close.histories
    # Per connection of the index: its last FIN or RST, else its last segment.
    order, starts = index.order, index.starts
    pos = np.arange(len(order))
    closing = (segments.flags[order] & (FIN | RST)) != 0
    skip = first_after(segments, index, so_far.through) if so_far else 0
    closing[:skip] = False  # replayed already
    last_close = np.maximum.reduceat(np.where(closing, pos, -1), starts[:-1])
    close_pos = np.where(last_close >= 0, last_close, starts[1:] - 1)
    close_record = record_of_position[close_pos].tolist()
    if so_far is not None and last_close[0] < 0:
        # The first connection has no FIN or RST in this part: the record of
        # its last one before, else, if this part has none of its segments, of
        # its last segment (the Zeek connection that was open).
        serial = so_far.close_serial
        if serial is None and starts[1] == skip:
            serial = so_far.serial
        if serial is not None:
            # Segments walked ahead are one 4-tuple's: serials tell its records apart.
            close_record[0] = next(k for k, r in enumerate(recs) if r.serial == serial)
    if min(close_record) < 0:
        # (Only segments replayed in an earlier part have no record here.)
        raise RuntimeError("a connection's closing segment is in no Zeek record")
    # ``connections`` are the index's in order of their first frames (``reconstruct``).
    if len(connections) != len(starts) - 1:
        raise ValueError(f"{len(connections)} connections for an index of {len(starts) - 1}")
    by_first_frame = index.first_frame_order(segments.frame)
    for c, k in zip(connections, np.asarray(close_record)[by_first_frame].tolist()):
        c.zeek = {"conn_state": conn_states[k], "history": histories[k]}
    return recs
