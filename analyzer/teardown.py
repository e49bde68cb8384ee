"""Connections -> teardown: walk each connection's segments through both state machines.

The walk itself, segment by segment, is ``walk.ConnectionWalk`` (compiled).
From it come the events, the close kind, active closer, RST sender, FIN
retransmissions and their causes, half-close, TIME_WAIT and the facts the
findings need. The rules are written down in docs/verdicts.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .blocks import Blocks
from .connections import ConnectionIndex, first_after
from .gather import gather
from .model import Connection, Endpoint, Event
from .segments import SYN, SegmentTable
from .vocabulary import EventKind, Side, State, TimeWaitEnd
from .walk import ROW_COLUMNS, ConnectionWalk, walk_connections


def reconstruct(
    seg: SegmentTable,
    index: ConnectionIndex,
    *,
    capture_end: float,
    time_wait: float = 60.0,
    so_far: WalkSoFar | None = None,
) -> list[Connection]:
    """Walk every connection; returns them in order of their first frame.

    A connection's id is its first frame here: the final ids (1, 2, ... in
    order of first frame) are given once the whole capture is read (``engine``).
    With ``so_far``, the first connection was walked ahead over its earlier
    segments (``walk_ahead``); ``seg`` holds those of them that decide its
    index, and the rest, and is one 4-tuple's.
    """
    connections = _walk_all(seg, index, capture_end, time_wait, so_far)
    _end_time_wait_by_new_syn(connections, index.tuple_id)
    # A connection's first segment comes first in its part of the index's
    # order (with ``so_far``, there is one 4-tuple, walked in order already).
    return [connections[k] for k in index.first_frame_order(seg.frame).tolist()]


@dataclass(slots=True)
class WalkSoFar:
    """The walk of a long connection over the segments seen so far, to go on from.

    The engine walks a connection of very many segments a part at a time, so
    that its segments do not all wait in memory (``engine``, "walking ahead").
    Until a bare SYN decides who the client is, a later segment may still
    change the roles (``connections``), so the walk is made both ways.
    """

    walks: dict[int, ConnectionWalk]  # by the client's endpoint (address code << 16 | port)

    @property
    def through(self) -> int:
        """The last frame walked: the walk goes on after it."""
        return next(iter(self.walks.values())).last_frame


def _endpoints(index: ConnectionIndex, conn: int) -> tuple[int, int]:
    """The client's and the server's endpoint (address code << 16 | port) of ``conn``."""
    client = int(index.client_addr[conn]) << 16 | int(index.client_port[conn])
    server = int(index.server_addr[conn]) << 16 | int(index.server_port[conn])
    return client, server


def walk_ahead(
    seg: SegmentTable,
    index: ConnectionIndex,
    so_far: WalkSoFar | None,
    *,
    time_wait: float,
    roles_decided: bool,
) -> WalkSoFar:
    """Go on with the walk of ``index``'s one connection over ``seg``, its next
    part (after the segments that decide its index, walked already).

    ``roles_decided``: a bare SYN named the client, and the walk with the
    other roles is dropped.
    """
    skip = first_after(seg, index, so_far.through) if so_far else 0
    client, server = _endpoints(index, 0)
    ways = [(client, False)] if roles_decided else [(client, False), (server, True)]
    if so_far is None:
        starts_with_syn = bool(seg.flags[index.order[0]] & SYN)
        walks = {key: ConnectionWalk(starts_with_syn, time_wait) for key, _ in ways}
    else:
        walks = so_far.walks
    for rows, i, j in segment_rows(seg, index).spans(skip, len(index.order)):
        for key, flipped in ways:
            walks[key].run(rows, i, j, flipped)
    return WalkSoFar({key: walks[key] for key, _ in ways})


def segment_rows(seg: SegmentTable, index: ConnectionIndex) -> Blocks:
    """The segments in connection order as rows of an int64 array, a block at
    a time: ``walk.ROW_COLUMNS``, then 1 where the server sent it."""
    order, sender_is_server = index.order, index.from_server

    columns = [seg.columns[name] for name in ROW_COLUMNS]

    def rows(a: int, b: int) -> np.ndarray:
        block = np.empty((b - a, len(ROW_COLUMNS) + 1), np.int64)
        gather(columns, order[a:b], block)
        block[:, -1] = sender_is_server[a:b]
        return block

    return Blocks(len(order), rows)


def _walk_all(seg, index, capture_end: float, time_wait: float, so_far) -> list[Connection]:
    addresses = seg.addresses
    clients = [
        Endpoint(addresses[a], p)
        for a, p in zip(index.client_addr.tolist(), index.client_port.tolist())
    ]
    servers = [
        Endpoint(addresses[a], p)
        for a, p in zip(index.server_addr.tolist(), index.server_port.tolist())
    ]
    first, first_from = None, 0
    if so_far is not None:
        first = so_far.walks[_endpoints(index, 0)[0]]
        first_from = first_after(seg, index, first.last_frame)
    return walk_connections(
        segment_rows(seg, index),
        index.starts.tolist(),
        ((seg.flags[index.order[index.starts[:-1]]] & SYN) != 0).tolist(),
        time_wait,
        capture_end,
        clients,
        servers,
        index.roles_inferred.tolist(),
        index.incarnation.tolist(),
        first,
        first_from,
    )


def syn_refused_by_time_wait(conn: Connection) -> tuple[Event, Event, Event] | None:
    """The SYN -> bare ACK -> RST opening of an incarnation, if it has one.

    A new SYN met the previous incarnation's TIME_WAIT, which answered with a
    bare ACK instead of a SYN-ACK; the SYN's sender reset that, which (RFC 793,
    Linux's default) kills the TIME_WAIT before the SYN is sent again.
    """
    syn = challenge = None
    for e in conn.events:
        if e.kind is EventKind.SYN and syn is None:
            syn = e
        elif e.kind is EventKind.TIME_WAIT_ACK and syn and e.sender is not syn.sender:
            challenge = e
        elif e.kind is EventKind.RST and challenge and e.sender is syn.sender:
            return syn, challenge, e
        elif e.kind is EventKind.SYN_ACK:
            return None
    return None


def _end_time_wait_by_new_syn(connections: list[Connection], tuple_id: np.ndarray) -> None:
    """A new incarnation's SYN inside the previous one's TIME_WAIT ends that TIME_WAIT.

    ``connections`` are in the index's order, where a 4-tuple's incarnations
    (equal ``tuple_id``) follow each other in frame order. When the SYN was
    refused by the TIME_WAIT and the refusal reset, it was the RST that ended it.
    """
    for k in (np.flatnonzero(tuple_id[1:] == tuple_id[:-1]) + 1).tolist():
        previous, conn = connections[k - 1], connections[k]
        tw = previous.time_wait
        if tw is None or tw.ended_by is TimeWaitEnd.RST or conn.first_time >= tw.end:
            continue
        refused = syn_refused_by_time_wait(conn)
        if refused:
            tw.ended_by, tw.end = TimeWaitEnd.RST, refused[2].time
        else:
            tw.ended_by, tw.end = TimeWaitEnd.SYN, conn.first_time
        for side in (Side.CLIENT, Side.SERVER):
            if previous.end_states[side] is State.TIME_WAIT:
                previous.end_states[side] = State.CLOSED
