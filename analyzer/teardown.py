"""Connections -> teardown: walk each connection's segments through both state machines.

For every segment the walker derives the endpoint events of its sender and
receiver (``states.Event``), steps both machines through ``states.TRANSITIONS``,
and records a teardown event (``vocabulary.EventKind``) with both states after
it. From the walk come the close kind, active closer, RST sender, FIN
retransmissions and their causes, half-close, TIME_WAIT and the facts the
findings need. The rules are written down in docs/verdicts.md.

Sequence numbers are unwrapped per side (modulo 2^32 arithmetic, relative to
the side's first sequence number), so wrap-around and long transfers compare
correctly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .blocks import Blocks
from .connections import ConnectionIndex, first_after
from .model import Connection, Endpoint, Event, FinResend, Reset, SideFacts, TimeWait
from .segments import ACK, FIN, RST, SYN, SegmentTable, flags_text
from .states import Event as E
from .states import step
from .vocabulary import CloseKind, EventKind, Side, State, TimeWaitEnd

MOD = 1 << 32
HALF = 1 << 31
NS = 1_000_000_000
# Two captures of one segment (two interfaces, a SPAN port) arrive this close
# together with the same IP ID; a retransmission has a new IP ID and comes later.
DUPLICATE_WINDOW = 0.010


def unwrap(raw: int, base: int, reference: int) -> int:
    """The value congruent to ``raw - base`` (mod 2^32) nearest ``reference``."""
    delta = (raw - base - reference) % MOD
    return reference + (delta - MOD if delta >= HALF else delta)


@dataclass(slots=True)
class _Side:
    """One side's running view of its byte stream and state."""

    state: State
    isn: int | None = None
    base: int | None = None  # raw seq that unwrapped 0 stands for
    next_u: int = 0  # highest seq end sent (incl. SYN/FIN), unwrapped
    data_end_u: int | None = None  # highest payload byte end sent, unwrapped
    acked_u: int | None = None  # highest ack this side sent, in the peer's unwrapped space
    fin_u: int | None = None
    fin_acked: bool = False
    fin_retransmissions: int = 0
    packets: int = 0
    payload: int = 0
    first_tsval: int | None = None
    last_tsval: int | None = None
    tw_start: float | None = None
    tw_estimated: bool = False
    tw_ended_by: TimeWaitEnd | None = None
    tw_end: float | None = None
    last_copy: tuple | None = None  # (ip_id, seq, ack, flags, len) of its last segment
    last_time: float = 0.0
    facts: SideFacts = field(default_factory=SideFacts)


# A segment gets one event kind; when several apply, the first listed wins.
_KIND_PRIORITY = [
    EventKind.SYN,
    EventKind.SYN_ACK,
    EventKind.SYN_RETRANSMISSION,
    EventKind.RST,
    EventKind.FIN,
    EventKind.FIN_RETRANSMISSION,
    EventKind.DATA_AFTER_FIN,
    EventKind.TIME_WAIT_ACK,
    EventKind.FINAL_ACK,
    EventKind.FIN_ACK,
    EventKind.TIME_WAIT_SEGMENT,
    EventKind.HALF_CLOSE_DATA,
    EventKind.KEEPALIVE,
    EventKind.HANDSHAKE_ACK,
]
_RANK = {kind: i for i, kind in enumerate(_KIND_PRIORITY)}


class _Walk:
    """The walk over one connection's segments."""

    def __init__(self, conn_starts_with_syn: bool, time_wait: float) -> None:
        if conn_starts_with_syn:
            self.client, self.server = _Side(State.CLOSED), _Side(State.LISTEN)
        else:
            self.client, self.server = _Side(State.ESTABLISHED), _Side(State.ESTABLISHED)
        self.time_wait = time_wait
        self.tw_due = math.inf  # when the earliest TIME_WAIT held may end
        self.events: list[Event] = []
        self.fin_resends: list[FinResend] = []
        self.resets: list[Reset] = []
        self.first_fin_side: Side | None = None
        self.crossed = False
        self.graceful_at: float | None = None  # when both FINs were acked, before any RST
        self.rst_sender: Side | None = None
        self.server_answered = False
        self.half_close = False
        self.reack_wanted: FinResend | None = None
        self.duplicate_frames: list[int] = []
        self.missed_frames: list[int] = []  # ACKs for bytes the capture never saw

    def enter_time_wait(self, side: _Side, now: float, estimated: bool) -> None:
        side.tw_start, side.tw_estimated = now, estimated
        self.tw_due = min(self.tw_due, now + self.time_wait)

    def expire_time_wait(self, now: float) -> None:
        due = math.inf
        for side in (self.client, self.server):
            if side.state is not State.TIME_WAIT:
                continue
            if now >= side.tw_start + self.time_wait:
                side.state = step(side.state, E.TIMEOUT)
                side.tw_ended_by = TimeWaitEnd.TIMEOUT
                side.tw_end = side.tw_start + self.time_wait
            else:
                due = min(due, side.tw_start + self.time_wait)
        self.tw_due = due

    def segment(self, row: tuple, from_server: bool) -> None:
        now = row[TS_NS] / NS
        if now >= self.tw_due:  # the earliest a TIME_WAIT can end (inf: none held)
            self.expire_time_wait(now)
        if from_server:
            s, r, who = self.server, self.client, Side.SERVER
        else:
            s, r, who = self.client, self.server, Side.CLIENT
        flags, seq, ack, length = row[FLAGS], row[SEQ], row[ACK_NO], row[PAYLOAD_LEN]
        copy = (row[IP_ID], seq, ack, flags, length)
        if row[IP_ID] >= 0 and copy == s.last_copy and now - s.last_time <= DUPLICATE_WINDOW:
            # The same segment captured twice: an artefact, not a retransmission.
            self.duplicate_frames.append(row[FRAME])
            return
        s.last_copy, s.last_time = copy, now
        kinds: set[EventKind] = set()
        sender_in_tw = s.state is State.TIME_WAIT
        if r.state is State.TIME_WAIT:
            kinds.add(EventKind.TIME_WAIT_SEGMENT)
        if from_server:
            self.server_answered = True
        s.packets += 1
        s.payload += length
        if row[TSVAL] >= 0:
            s.last_tsval = row[TSVAL]
            if s.first_tsval is None:
                s.first_tsval = row[TSVAL]
        if not flags & RST:
            s.facts.ttls[row[TTL]] = s.facts.ttls.get(row[TTL], 0) + 1

        if flags & SYN:
            self._syn(s, r, who, row, kinds)
        if s.base is None:
            # First segment of this side with no SYN: the capture began mid-stream.
            s.base = seq
        u = unwrap(seq, s.base, s.next_u)
        end_u = u + length + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
        new_data = length > 0 and (s.data_end_u is None or u + length > s.data_end_u)
        if (
            not flags & (SYN | FIN | RST)
            and length <= 1
            and s.next_u > 0
            and u == s.next_u - 1
            and s.state in (State.ESTABLISHED, State.CLOSE_WAIT)
        ):
            kinds.add(EventKind.KEEPALIVE)
            s.facts.keepalive_frames.append(row[FRAME])
        if new_data:
            self._new_data(s, r, who, row, u, kinds)
            s.data_end_u = u + length
            s.facts.last_payload_frame = row[FRAME]
            s.facts.last_payload_time = now
        if not flags & RST:
            # A RST takes no sequence space; one made by a kernel with no
            # socket carries another connection's numbers.
            s.next_u = max(s.next_u, end_u)

        if flags & ACK:
            self._ack(s, r, who, row, now, kinds, sender_in_tw)
        if flags & FIN:
            self._fin(s, r, who, row, now, u + length, kinds)
        if flags & RST:
            self._rst(s, r, who, row, now, u, kinds)
        if kinds:
            kind = min(kinds, key=_RANK.__getitem__)
            self.events.append(
                Event(
                    frame=row[FRAME],
                    time=now,
                    sender=who,
                    flags=flags_text(flags),
                    seq=seq,
                    ack=ack,
                    length=length,
                    kind=kind,
                    client_state=self.client.state,
                    server_state=self.server.state,
                )
            )

    def _syn(self, s: _Side, r: _Side, who: Side, row: tuple, kinds: set) -> None:
        is_syn_ack = bool(row[FLAGS] & ACK)
        if s.isn is None:
            s.isn = s.base = row[SEQ]
            s.next_u = 0
            s.state = step(s.state, E.SEND_SYN_ACK if is_syn_ack else E.SEND_SYN)
            r.state = step(r.state, E.RECV_SYN_ACK if is_syn_ack else E.RECV_SYN)
            kinds.add(EventKind.SYN_ACK if is_syn_ack else EventKind.SYN)
        else:
            kinds.add(EventKind.SYN_RETRANSMISSION)

    def _new_data(self, s: _Side, r: _Side, who: Side, row, u: int, kinds: set) -> None:
        if s.fin_u is not None and u + row[PAYLOAD_LEN] > s.fin_u:
            kinds.add(EventKind.DATA_AFTER_FIN)
            s.facts.data_after_fin_frames.append(row[FRAME])
        elif r.fin_u is not None:
            self.half_close = True
            if not s.facts.half_close_frames:
                kinds.add(EventKind.HALF_CLOSE_DATA)
            s.facts.half_close_frames.append(row[FRAME])

    def _ack(self, s, r, who, row, now, kinds, sender_in_tw) -> None:
        if r.base is None:
            # We have not seen the peer send; its byte stream starts at this ack.
            r.base = row[ACK_NO]
        a_u = unwrap(row[ACK_NO], r.base, r.next_u)
        s.acked_u = a_u if s.acked_u is None else max(s.acked_u, a_u)
        if who is Side.SERVER and s.isn is None and r.isn is not None and not row[FLAGS] & SYN:
            # The server answers the client's SYN with a bare ACK: a socket of
            # the previous incarnation, still in TIME_WAIT, refused the SYN.
            # Its ack number belongs to that incarnation.
            kinds.add(EventKind.TIME_WAIT_ACK)
        elif a_u > r.next_u and r.packets:
            self.missed_frames.append(row[FRAME])
        if r.state is State.SYN_RECEIVED and r.isn is not None and a_u >= 1:
            r.state = step(r.state, E.SYN_ACKED)
            if who is Side.CLIENT:
                kinds.add(EventKind.HANDSHAKE_ACK)
        covers_fin = r.fin_u is not None and a_u >= r.fin_u + 1
        reack = covers_fin and self.reack_wanted is not None and self.reack_wanted.side is not who
        if (
            sender_in_tw
            and not row[FLAGS] & (FIN | RST)
            and (not covers_fin or r.fin_acked or reack)
        ):
            # An ACK from TIME_WAIT that is not its first ACK of the peer's FIN:
            # a re-ACK of a resent FIN, or the answer to an old duplicate or to
            # a SYN that met the TIME_WAIT.
            kinds.add(EventKind.TIME_WAIT_ACK)
            if reack:
                self.reack_wanted.reack_frame = row[FRAME]
                self.reack_wanted = None
        if not covers_fin:
            return
        if s.state is State.TIME_WAIT and s.tw_estimated:
            # The TIME_WAIT side's own ACK of the peer's FIN: TIME_WAIT starts now.
            s.tw_start, s.tw_estimated = now, False
        if r.fin_acked:
            return
        r.fin_acked = True
        if r.facts.fin_ack_frame is None:
            r.facts.fin_ack_frame = row[FRAME]
            r.facts.fin_ack_time = now
        r.state = step(r.state, E.FIN_ACKED)
        if r.state is State.TIME_WAIT:
            self.enter_time_wait(r, now, estimated=False)
        if s.fin_acked:
            kinds.add(EventKind.FINAL_ACK)
            if not self.resets and self.graceful_at is None:
                self.graceful_at = now
        else:
            kinds.add(EventKind.FIN_ACK)

    def _fin(self, s, r, who, row, now, fin_u: int, kinds: set) -> None:
        if s.fin_u is None:
            s.fin_u = fin_u
            s.facts.fin_frame, s.facts.fin_time = row[FRAME], now
            kinds.add(EventKind.FIN)
            crossing = False
            if self.first_fin_side is None:
                self.first_fin_side = who
            elif r.fin_u is not None:
                acks_peer_fin = bool(row[FLAGS] & ACK) and (
                    unwrap(row[ACK_NO], r.base, r.next_u) >= r.fin_u + 1
                )
                crossing = not acks_peer_fin
                self.crossed = crossing
            if crossing:
                self._undo_close_wait(who)
            s.state = step(s.state, E.SEND_FIN_CROSSING if crossing else E.SEND_FIN)
        elif fin_u == s.fin_u:
            s.fin_retransmissions += 1
            kinds.add(EventKind.FIN_RETRANSMISSION)
            resend = FinResend(
                frame=row[FRAME],
                time=now,
                side=who,
                cause="lost_final_ack" if s.fin_acked else "lost_fin",
                reack_frame=None,
            )
            self.fin_resends.append(resend)
            if s.fin_acked:
                # Its ACK passed the capture point but never reached it.
                s.fin_acked = False
                s.state = step(s.state, E.RESEND_FIN_AFTER_ACK)
                self.reack_wanted = resend
        else:
            return  # a FIN beyond the first: data after FIN, already recorded
        before = r.state
        r.state = step(r.state, E.RECV_FIN)
        if before is not State.TIME_WAIT and r.state is State.TIME_WAIT:
            # Until its ACK of this FIN is captured, TIME_WAIT's start is estimated.
            self.enter_time_wait(r, now, estimated=True)

    def _undo_close_wait(self, who: Side) -> None:
        """The FINs crossed: ``who`` never was in CLOSE_WAIT.

        Receipt at passing put it there when the peer's FIN passed the capture
        point, but its own FIN (sent before that FIN reached it) proves it was
        still ESTABLISHED; the events since then are corrected.
        """
        for e in reversed(self.events):
            if who is Side.CLIENT and e.client_state is State.CLOSE_WAIT:
                e.client_state = State.ESTABLISHED
            elif who is Side.SERVER and e.server_state is State.CLOSE_WAIT:
                e.server_state = State.ESTABLISHED
            else:
                break

    def _rst(self, s, r, who, row, now, u: int, kinds: set) -> None:
        kinds.add(EventKind.RST)
        unacked_sent = None
        if s.data_end_u is not None and r.acked_u is not None:
            unacked_sent = max(0, s.data_end_u - max(r.acked_u, 1))
        unacked_received = None
        if r.data_end_u is not None and s.acked_u is not None:
            unacked_received = max(0, r.data_end_u - max(s.acked_u, 1))
        self.resets.append(
            Reset(
                frame=row[FRAME],
                time=now,
                sender=who,
                seq=row[SEQ],
                expected_seq=(s.base + s.next_u) % MOD if s.packets > 1 else None,
                receiver_next=(s.base + r.acked_u) % MOD if r.acked_u is not None else None,
                ttl=row[TTL],
                sender_state=s.state,
                receiver_state=r.state,
                unacked_sent=unacked_sent,
                unacked_received=unacked_received,
                payload=row[PAYLOAD_LEN],
            )
        )
        if self.rst_sender is None:
            self.rst_sender = who
        if r.state is State.TIME_WAIT:
            r.tw_ended_by, r.tw_end = TimeWaitEnd.RST, now
        if s.state is State.TIME_WAIT:
            s.tw_ended_by, s.tw_end = TimeWaitEnd.RST, now
        s.state = step(s.state, E.SEND_RST)
        r.state = step(r.state, E.RECV_RST)

    def close_kind(self) -> CloseKind:
        if self.graceful_at is not None:
            return CloseKind.SIMULTANEOUS if self.crossed else CloseKind.GRACEFUL
        if self.client.fin_u is not None or self.server.fin_u is not None:
            return CloseKind.ABORT if self.resets else CloseKind.INCOMPLETE
        if self.resets:
            if self.client.isn is not None and self.server.isn is None:
                if self.rst_sender is Side.SERVER:
                    return CloseKind.REFUSED
                if not self.server_answered:
                    return CloseKind.ATTEMPT
            return CloseKind.ABORT
        if self.client.isn is not None and not self.server_answered:
            return CloseKind.ATTEMPT
        return CloseKind.OPEN

    def time_wait_record(self) -> TimeWait | None:
        holders = [
            (side, tw)
            for side, tw in ((Side.CLIENT, self.client), (Side.SERVER, self.server))
            if tw.tw_start is not None
        ]
        if not holders:
            return None
        if len(holders) == 2:
            start = min(tw.tw_start for _, tw in holders)
            ends = [tw.tw_end for _, tw in holders]
            ended_by = [tw.tw_ended_by for _, tw in holders]
            return TimeWait(
                side=Side.BOTH,
                start=start,
                end=max(e if e is not None else start + self.time_wait for e in ends),
                ended_by=None if None in ended_by else ended_by[-1],
                start_estimated=any(tw.tw_estimated for _, tw in holders),
            )
        side, tw = holders[0]
        return TimeWait(
            side=side,
            start=tw.tw_start,
            end=tw.tw_end if tw.tw_end is not None else tw.tw_start + self.time_wait,
            ended_by=tw.tw_ended_by,
            start_estimated=tw.tw_estimated,
        )


# A segment row, as the walk reads it: a tuple in this column order.
ROW_COLUMNS = ("frame", "ts_ns", "flags", "seq", "ack", "payload_len", "tsval", "ttl", "ip_id")
FRAME, TS_NS, FLAGS, SEQ, ACK_NO, PAYLOAD_LEN, TSVAL, TTL, IP_ID = range(len(ROW_COLUMNS))


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
    connections.sort(key=lambda conn: conn.first_frame)
    for conn in connections:
        conn.id = conn.first_frame
    _end_time_wait_by_new_syn(connections)
    return connections


@dataclass(slots=True)
class WalkSoFar:
    """The walk of a long connection over the segments seen so far, to go on from.

    The engine walks a connection of very many segments a part at a time, so
    that its segments do not all wait in memory (``engine``, "walking ahead").
    Until a bare SYN decides who the client is, a later segment may still
    change the roles (``connections``), so the walk is made both ways.
    """

    walks: dict[int, _Walk]  # by the client's endpoint (address code << 16 | port)
    first: tuple  # the connection's first segment row
    last: tuple  # the last one walked: the walk goes on after its frame


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
    skip = first_after(seg, index, so_far.last[FRAME]) if so_far else 0
    client, server = _endpoints(index, 0)
    ways = [(client, False)] if roles_decided else [(client, False), (server, True)]
    walks = dict(so_far.walks) if so_far else {}
    first = so_far.first if so_far else None
    row = so_far.last if so_far else None
    rows = _segment_rows(seg, index)
    for row, from_server in rows.between(skip, len(index.order)):
        if first is None:
            first = row
            walks = {key: _Walk(bool(row[FLAGS] & SYN), time_wait) for key, _ in ways}
        for key, flipped in ways:
            walks[key].segment(row, from_server is not flipped)
    return WalkSoFar({key: walks[key] for key, _ in ways}, first, row)


def _segment_rows(seg: SegmentTable, index: ConnectionIndex) -> Blocks:
    """(row, sent by the server) at each position of the connection order, a block at a time."""
    order, sender_is_server = index.order, index.from_server

    def rows(a: int, b: int) -> list[tuple[tuple, bool]]:
        columns = (seg.columns[n][order[a:b]].tolist() for n in ROW_COLUMNS)
        return list(zip(zip(*columns), sender_is_server[a:b].tolist()))

    return Blocks(len(order), rows)


def _walk_all(seg, index, capture_end: float, time_wait: float, so_far) -> list[Connection]:
    connections: list[Connection] = []
    # Per-connection values as Python objects, converted once.
    addresses = seg.addresses
    clients = [
        Endpoint(addresses[a], p)
        for a, p in zip(index.client_addr.tolist(), index.client_port.tolist())
    ]
    servers = [
        Endpoint(addresses[a], p)
        for a, p in zip(index.server_addr.tolist(), index.server_port.tolist())
    ]
    inferred = index.roles_inferred.tolist()
    incarnation = index.incarnation.tolist()
    starts = index.starts.tolist()
    blocks = _segment_rows(seg, index)
    for conn in range(len(index)):
        walk = first = row = None
        start = starts[conn]
        if conn == 0 and so_far is not None:
            walk = so_far.walks[_endpoints(index, 0)[0]]
            first, row = so_far.first, so_far.last
            start = first_after(seg, index, row[FRAME])
        for row, from_server in blocks.between(start, starts[conn + 1]):
            if walk is None:
                first = row
                walk = _Walk(bool(row[FLAGS] & SYN), time_wait)
            walk.segment(row, from_server)
        walk.expire_time_wait(capture_end)
        connections.append(
            _connection(
                walk, clients[conn], servers[conn], inferred[conn], incarnation[conn], first, row
            )
        )
    return connections


def _per_side(client, server) -> dict:
    """A {side: value} dict of the values that are known (not None)."""
    known = {}
    if client is not None:
        known[Side.CLIENT] = client
    if server is not None:
        known[Side.SERVER] = server
    return known


def _raw(side: _Side, unwrapped: int | None) -> int | None:
    """An unwrapped sequence number of ``side`` as the raw 32-bit value."""
    return None if unwrapped is None or side.base is None else (side.base + unwrapped) % MOD


def _connection(walk: _Walk, client_end, server_end, inferred, incarnation, first, last):
    client, server = walk.client, walk.server
    return Connection(
        id=0,
        client=client_end,
        server=server_end,
        roles_inferred=inferred,
        incarnation=incarnation,
        first_frame=first[FRAME],
        last_frame=last[FRAME],
        first_time=first[TS_NS] / NS,
        last_time=last[TS_NS] / NS,
        isn_client=client.isn,
        isn_server=server.isn,
        close=walk.close_kind(),
        active_closer=Side.BOTH if walk.crossed else walk.first_fin_side,
        rst_sender=walk.rst_sender,
        half_close=walk.half_close,
        fin_retransmissions={
            Side.CLIENT: client.fin_retransmissions,
            Side.SERVER: server.fin_retransmissions,
        },
        end_states={Side.CLIENT: client.state, Side.SERVER: server.state},
        time_wait=walk.time_wait_record(),
        events=walk.events,
        packets={Side.CLIENT: client.packets, Side.SERVER: server.packets},
        payload_bytes={Side.CLIENT: client.payload, Side.SERVER: server.payload},
        fin_seq=_per_side(_raw(client, client.fin_u), _raw(server, server.fin_u)),
        next_seq=_per_side(_raw(client, client.next_u), _raw(server, server.next_u)),
        first_tsval=_per_side(client.first_tsval, server.first_tsval),
        last_tsval=_per_side(client.last_tsval, server.last_tsval),
        fin_resends=walk.fin_resends,
        resets=walk.resets,
        duplicate_frames=walk.duplicate_frames,
        missed_frames=walk.missed_frames,
        facts={Side.CLIENT: client.facts, Side.SERVER: server.facts},
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


def _end_time_wait_by_new_syn(connections: list[Connection]) -> None:
    """A new incarnation's SYN inside the previous one's TIME_WAIT ends that TIME_WAIT.

    When the SYN was refused by the TIME_WAIT and the refusal reset, it was
    the RST that ended it.
    """
    latest: dict[frozenset, Connection] = {}
    for conn in connections:
        key = frozenset(conn.four_tuple)
        previous = latest.get(key)
        latest[key] = conn
        tw = previous.time_wait if previous else None
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
