# cython: language_level=3
"""One connection's walk, segment by segment, through both state machines.

For every segment the walk derives the endpoint events of its sender and
receiver (``states.Event``), steps both machines through ``states.TRANSITIONS``,
and records a teardown event (``vocabulary.EventKind``) with both states after
it; a finished walk gives its ``Connection`` (``connection``). The rules are
written down in docs/verdicts.md.

This module is compiled (Cython): the walk visits every segment of a capture
and was a third of the analysis as Python. The states, event kinds and
transitions are defined in ``states`` and ``vocabulary`` only; the walk numbers
them at import (``TABLE``) and gives the enums back in what it makes.

Sequence numbers are unwrapped per side (modulo 2^32 arithmetic, relative to
the side's first sequence number), so wrap-around and long transfers compare
correctly.
"""

cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Realloc

from .event_row cimport EventRow

import dataclasses

from . import segments
from .connection_types cimport Connection, SideFacts, TimeWait

from .model import EVENT_ROW, Events, FinResend, Reset
from .states import TRANSITIONS
from .states import Event as E
from .vocabulary import CloseKind, EventKind, Side, State, TimeWaitEnd

# Segment flags, as ``segments`` defines them.
cdef long long FIN = segments.FIN, SYN = segments.SYN, RST = segments.RST, ACK = segments.ACK

# The columns of a block of segment rows (``teardown.segment_rows``), in order.
ROW_COLUMNS = ("frame", "ts_ns", "flags", "seq", "ack", "payload_len", "tsval", "ttl", "ip_id")
cdef enum:
    FRAME, TS_NS, FLAGS, SEQ, ACK_NO, PAYLOAD_LEN, TSVAL, TTL, IP_ID, FROM_SERVER, N_COLUMNS

cdef long long MASK32 = 0xFFFFFFFF
cdef long long HALF = 1 << 31
cdef long long MOD = 1 << 32
cdef object NS = 1_000_000_000
cdef long long EXACT = 1LL << 53  # ints below this in size are doubles exactly
cdef double INF = float("inf")
# Two captures of one segment (two interfaces, a SPAN port) arrive this close
# together with the same IP ID; a retransmission has a new IP ID and comes later.
cdef double DUPLICATE_WINDOW = 0.010

# A segment gets one event kind; when several apply, the first listed wins.
# Kinds are gathered as bits, in this order: the lowest bit set wins.
KIND_PRIORITY = (
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
)
cdef int K_SYN = 1 << KIND_PRIORITY.index(EventKind.SYN)
cdef int K_SYN_ACK = 1 << KIND_PRIORITY.index(EventKind.SYN_ACK)
cdef int K_SYN_RETRANSMISSION = 1 << KIND_PRIORITY.index(EventKind.SYN_RETRANSMISSION)
cdef int K_RST = 1 << KIND_PRIORITY.index(EventKind.RST)
cdef int K_FIN = 1 << KIND_PRIORITY.index(EventKind.FIN)
cdef int K_FIN_RETRANSMISSION = 1 << KIND_PRIORITY.index(EventKind.FIN_RETRANSMISSION)
cdef int K_DATA_AFTER_FIN = 1 << KIND_PRIORITY.index(EventKind.DATA_AFTER_FIN)
cdef int K_TIME_WAIT_ACK = 1 << KIND_PRIORITY.index(EventKind.TIME_WAIT_ACK)
cdef int K_FINAL_ACK = 1 << KIND_PRIORITY.index(EventKind.FINAL_ACK)
cdef int K_FIN_ACK = 1 << KIND_PRIORITY.index(EventKind.FIN_ACK)
cdef int K_TIME_WAIT_SEGMENT = 1 << KIND_PRIORITY.index(EventKind.TIME_WAIT_SEGMENT)
cdef int K_HALF_CLOSE_DATA = 1 << KIND_PRIORITY.index(EventKind.HALF_CLOSE_DATA)
cdef int K_KEEPALIVE = 1 << KIND_PRIORITY.index(EventKind.KEEPALIVE)
cdef int K_HANDSHAKE_ACK = 1 << KIND_PRIORITY.index(EventKind.HANDSHAKE_ACK)
# An event's kind as ``Events`` keeps it (its position in EventKind), by bit.
cdef unsigned char KIND_CODE[16]
assert len(KIND_PRIORITY) <= 16
for _bit, _kind in enumerate(KIND_PRIORITY):
    KIND_CODE[_bit] = tuple(EventKind).index(_kind)

# Sides, compared by identity in the loop.
cdef object CLIENT = Side.CLIENT
cdef object SERVER = Side.SERVER
cdef object BOTH = Side.BOTH
# ... and as ``Events`` keeps them.
cdef unsigned char CLIENT_CODE = tuple(Side).index(Side.CLIENT)
cdef unsigned char SERVER_CODE = tuple(Side).index(Side.SERVER)

# ``ConnectionWalk.connection`` sets these fields of a Connection (its ``zeek``
# is Zeek's, later), and ``SideWalk.facts`` those of a SideFacts below: a
# field added to either must be set there too.
_CONNECTION_FIELDS = (
    "id", "client", "server", "roles_inferred", "incarnation", "first_frame", "last_frame",
    "first_time", "last_time", "isn_client", "isn_server", "close", "active_closer",
    "rst_sender", "half_close", "fin_retransmissions", "end_states", "time_wait", "events",
    "packets", "payload_bytes", "fin_seq", "next_seq", "last_tsval", "first_tsval",
    "fin_resends", "resets", "duplicate_frames", "missed_frames", "facts",
)
if tuple(f.name for f in dataclasses.fields(Connection)) != (*_CONNECTION_FIELDS, "zeek"):
    raise ImportError("Connection's fields changed: update walk.pyx (_CONNECTION_FIELDS)")
_SIDE_FACTS_FIELDS = (
    "ttls", "last_payload_frame", "last_payload_time", "keepalive_frames", "half_close_frames",
    "data_after_fin_frames", "fin_frame", "fin_time", "fin_ack_frame", "fin_ack_time",
)
if tuple(f.name for f in dataclasses.fields(SideFacts)) != _SIDE_FACTS_FIELDS:
    raise ImportError("SideFacts's fields changed: update walk.pyx (_SIDE_FACTS_FIELDS)")


cdef dict _per_side(client, server):
    """A {side: value} dict of the values that are known (not None)."""
    cdef dict known = {}
    if client is not None:
        known[CLIENT] = client
    if server is not None:
        known[SERVER] = server
    return known

# ``states.TRANSITIONS`` by number: the walk keeps a side's state as its
# position in ``State`` and looks endpoint events (by position in
# ``states.Event``) up in this copy of the table, made from it at import.
STATES = tuple(State)
_ENDPOINT_EVENTS = tuple(E)
assert len(STATES) <= 16 and len(_ENDPOINT_EVENTS) <= 16
cdef int TABLE[16][16]
for _s, _from in enumerate(STATES):
    for _e, _event in enumerate(_ENDPOINT_EVENTS):
        TABLE[_s][_e] = STATES.index(TRANSITIONS[_from].get(_event, _from))

# The packed layout, checked once: a row written here is a row ``Events`` reads.
cdef EventRow _probe = EventRow(1, 2.5, 3, 4, 5, 6, 7, 8, 9, 10)
if PyBytes_FromStringAndSize(<char*>&_probe, sizeof(EventRow)) != EVENT_ROW.pack(
    1, 2.5, 3, 4, 5, 6, 7, 8, 9, 10
):
    raise ImportError("event_row.pxd and model.EVENT_ROW differ")

cdef int CLOSED = STATES.index(State.CLOSED)
cdef int LISTEN = STATES.index(State.LISTEN)
cdef int ESTABLISHED = STATES.index(State.ESTABLISHED)
cdef int SYN_RECEIVED = STATES.index(State.SYN_RECEIVED)
cdef int CLOSE_WAIT = STATES.index(State.CLOSE_WAIT)
cdef int TIME_WAIT = STATES.index(State.TIME_WAIT)
cdef int SEND_SYN = _ENDPOINT_EVENTS.index(E.SEND_SYN)
cdef int SEND_SYN_ACK = _ENDPOINT_EVENTS.index(E.SEND_SYN_ACK)
cdef int RECV_SYN = _ENDPOINT_EVENTS.index(E.RECV_SYN)
cdef int RECV_SYN_ACK = _ENDPOINT_EVENTS.index(E.RECV_SYN_ACK)
cdef int SYN_ACKED = _ENDPOINT_EVENTS.index(E.SYN_ACKED)
cdef int SEND_FIN = _ENDPOINT_EVENTS.index(E.SEND_FIN)
cdef int SEND_FIN_CROSSING = _ENDPOINT_EVENTS.index(E.SEND_FIN_CROSSING)
cdef int RECV_FIN = _ENDPOINT_EVENTS.index(E.RECV_FIN)
cdef int FIN_ACKED = _ENDPOINT_EVENTS.index(E.FIN_ACKED)
cdef int SEND_RST = _ENDPOINT_EVENTS.index(E.SEND_RST)
cdef int RECV_RST = _ENDPOINT_EVENTS.index(E.RECV_RST)
cdef int TIMEOUT = _ENDPOINT_EVENTS.index(E.TIMEOUT)
cdef int RESEND_FIN_AFTER_ACK = _ENDPOINT_EVENTS.index(E.RESEND_FIN_AFTER_ACK)


cdef inline int step(int state, int event) noexcept:
    """The state after ``event``; unchanged when the table has no entry."""
    return TABLE[state][event]


cdef inline long long unwrap(long long raw, long long base, long long reference) noexcept:
    """The value congruent to ``raw - base`` (mod 2^32) nearest ``reference``."""
    cdef long long delta = (raw - base - reference) & MASK32
    return reference + (delta - MOD if delta >= HALF else delta)


cdef class SideWalk:
    """One side's running view of its byte stream and state.

    Unwrapped positions that may be unknown have a flag; the properties give
    None for them, as the rest of the analysis expects.
    """

    cdef int _state  # its position in STATES
    cdef public object isn  # int, or None before its SYN
    cdef bint has_base
    cdef long long _base  # raw seq that unwrapped 0 stands for
    cdef long long next_u  # highest seq end sent (incl. SYN/FIN), unwrapped
    cdef bint has_data_end
    cdef long long data_end_u  # highest payload byte end sent, unwrapped
    cdef bint has_acked
    cdef long long acked_u  # highest ack this side sent, in the peer's unwrapped space
    cdef bint has_fin
    cdef long long _fin_u
    cdef public bint fin_acked
    cdef public long long fin_retransmissions
    cdef public long long packets
    cdef public long long payload
    cdef bint has_tsval
    cdef long long _first_tsval, _last_tsval
    cdef public object tw_start  # float, or None: never in TIME_WAIT
    cdef public bint tw_estimated
    cdef public object tw_ended_by
    cdef public object tw_end
    # (ip_id, seq, ack, flags, len) of its last segment, and when it passed.
    cdef bint has_copy
    cdef long long copy_ip_id, copy_seq, copy_ack, copy_flags, copy_len
    cdef double last_time
    # What its ``model.SideFacts`` will say (``facts``), kept in C: set or
    # added to at many segments, attributes of a Python object cost a boxed
    # number and a lookup by name each time.
    cdef dict ttls  # but for the last TTL's run of segments (``count_ttl``)
    cdef long long ttl, ttl_seen  # the TTL of its last segment, and how many before it had it
    cdef list keepalive_frames, half_close_frames, data_after_fin_frames
    cdef bint has_payload, has_fin_frame, has_fin_ack
    cdef long long last_payload_frame, fin_frame, fin_ack_frame
    cdef double last_payload_time, fin_time, fin_ack_time

    def __init__(self, int state):
        self._state = state
        self.isn = None
        self.tw_start = self.tw_ended_by = self.tw_end = None
        self.ttls = {}
        self.keepalive_frames, self.half_close_frames, self.data_after_fin_frames = [], [], []

    @property
    def facts(self):
        """Its ``model.SideFacts`` (holding its lists, not copies)."""
        return self._facts()

    cdef int count_ttl(self) except -1:
        """Count the run of segments with its last TTL in ``ttls`` (a TTL
        seldom changes: a dict updated per segment took a quarter of the time
        of walking the segments).
        A TTL is a key from its first segment's run on, so keys keep the order
        TTLs were first seen in."""
        if self.ttl_seen:
            self.ttls[self.ttl] = self.ttls.get(self.ttl, 0) + self.ttl_seen
            self.ttl_seen = 0
        return 0

    cdef SideFacts _facts(self):
        cdef SideFacts f = SideFacts.__new__(SideFacts)
        self.count_ttl()
        f.ttls = self.ttls
        f.last_payload_frame = self.last_payload_frame if self.has_payload else None
        f.last_payload_time = self.last_payload_time if self.has_payload else None
        f.keepalive_frames = self.keepalive_frames
        f.half_close_frames = self.half_close_frames
        f.data_after_fin_frames = self.data_after_fin_frames
        f.fin_frame = self.fin_frame if self.has_fin_frame else None
        f.fin_time = self.fin_time if self.has_fin_frame else None
        f.fin_ack_frame = self.fin_ack_frame if self.has_fin_ack else None
        f.fin_ack_time = self.fin_ack_time if self.has_fin_ack else None
        return f

    # (Each fact below has a C method besides its property:
    # ``ConnectionWalk.connection`` reads them for every connection, and a
    # property is looked up by name.)
    @property
    def state(self):
        return STATES[self._state]

    @property
    def fin_seq(self):
        """The raw sequence number of its FIN (None: no FIN)."""
        return self._fin_seq()

    cdef inline object _fin_seq(self):
        return (self._base + self._fin_u) & MASK32 if self.has_fin and self.has_base else None

    @property
    def next_seq(self):
        """Its raw snd_nxt as seen (None: it never sent and was never acked)."""
        return self._next_seq()

    cdef inline object _next_seq(self):
        return (self._base + self.next_u) & MASK32 if self.has_base else None

    @property
    def first_tsval(self):
        return self._known_first_tsval()

    cdef inline object _known_first_tsval(self):
        return self._first_tsval if self.has_tsval else None

    @property
    def last_tsval(self):
        return self._known_last_tsval()

    cdef inline object _known_last_tsval(self):
        return self._last_tsval if self.has_tsval else None


cdef class ConnectionWalk:
    """The walk over one connection's segments (``run`` a block of rows at a time)."""

    cdef public SideWalk client, server
    cdef double time_wait
    cdef double tw_due  # when the earliest TIME_WAIT held may end (inf: none held)
    cdef EventRow* _events  # packed (``model.Events``)
    cdef Py_ssize_t _n_events, _events_room
    cdef public list fin_resends, resets, duplicate_frames
    cdef public list missed_frames  # ACKs for bytes the capture never saw
    cdef public object first_fin_side
    cdef public bint crossed
    cdef public object graceful_at  # when both FINs were acked, before any RST
    cdef public object rst_sender
    cdef public bint server_answered, half_close
    cdef object reack_wanted  # the FinResend whose re-ACK is awaited
    # The first and the last row walked (frame, capture time in ns).
    cdef public long long first_frame, last_frame
    cdef long long first_ts_ns, last_ts_ns
    cdef bint started

    def __init__(self, bint starts_with_syn, double time_wait):
        if starts_with_syn:
            self.client, self.server = SideWalk(CLOSED), SideWalk(LISTEN)
        else:
            self.client, self.server = SideWalk(ESTABLISHED), SideWalk(ESTABLISHED)
        self.time_wait = time_wait
        self.tw_due = INF
        self.fin_resends, self.resets = [], []
        self.duplicate_frames, self.missed_frames = [], []
        self.first_fin_side = self.graceful_at = self.rst_sender = self.reack_wanted = None

    def run(self, const long long[:, ::1] rows, Py_ssize_t lo, Py_ssize_t hi, bint flip=False):
        """Walk rows ``lo .. hi - 1`` of a block (``teardown.segment_rows``);
        ``flip``: with client and server the other way round."""
        if rows.shape[1] != N_COLUMNS or not 0 <= lo <= hi <= rows.shape[0]:
            raise ValueError(f"rows {lo}..{hi} of a block of shape {tuple(rows.shape)[:2]}")
        self._run(rows, lo, hi, flip)

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef int _run(self, const long long[:, ::1] rows, Py_ssize_t lo, Py_ssize_t hi,
                  bint flip) except -1:
        cdef Py_ssize_t i
        if lo == hi:
            return 0
        if not self.started:
            self.started = True
            self.first_frame, self.first_ts_ns = rows[lo, FRAME], rows[lo, TS_NS]
        for i in range(lo, hi):
            self._segment(rows, i, (rows[i, FROM_SERVER] != 0) != flip)
        self.last_frame, self.last_ts_ns = rows[hi - 1, FRAME], rows[hi - 1, TS_NS]
        return 0

    def __dealloc__(self):
        PyMem_Free(self._events)

    @property
    def events(self):
        """The events so far (``model.Events``)."""
        return self._packed_events()

    cdef object _packed_events(self):
        # (Not ``Events(...)``: its check of what it is given, in Python,
        # cost as much as the copy. These rows are whole by construction.)
        events = Events.__new__(Events)
        events.packed = PyBytes_FromStringAndSize(<char*>self._events, self._n_events * sizeof(EventRow))
        return events

    cdef int _add_event(self, long long frame, double now, unsigned char sender, long long flags,
                        long long seq, long long ack, long long length, int kinds) except -1:
        cdef EventRow* grown
        cdef EventRow* e
        if self._n_events == self._events_room:
            self._events_room = 2 * self._events_room or 8
            grown = <EventRow*>PyMem_Realloc(self._events, self._events_room * sizeof(EventRow))
            if grown == NULL:
                raise MemoryError()
            self._events = grown
        e = &self._events[self._n_events]
        e.frame, e.time, e.seq, e.ack, e.length = frame, now, seq, ack, length
        e.flags = flags & 0xFFF
        e.sender, e.kind = sender, KIND_CODE[_lowest_bit(kinds)]
        e.client_state, e.server_state = self.client._state, self.server._state
        self._n_events += 1
        return 0

    @property
    def first_time(self):
        return seconds(self.first_ts_ns)

    @property
    def last_time(self):
        return seconds(self.last_ts_ns)

    cdef void _enter_time_wait(self, SideWalk side, double now, bint estimated):
        side.tw_start, side.tw_estimated = now, estimated
        self.tw_due = min(self.tw_due, now + self.time_wait)

    cpdef void expire_time_wait(self, double now):
        cdef double due = INF, end
        cdef SideWalk side
        for side in (self.client, self.server):
            if side._state != TIME_WAIT:
                continue
            end = <double>side.tw_start + self.time_wait
            if now >= end:
                side._state = step(side._state, TIMEOUT)
                side.tw_ended_by = TimeWaitEnd.TIMEOUT
                side.tw_end = end
            else:
                due = min(due, end)
        self.tw_due = due

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef void _segment(self, const long long[:, ::1] row, Py_ssize_t i, bint from_server):
        cdef SideWalk s, r
        cdef long long frame = row[i, FRAME]
        cdef long long flags = row[i, FLAGS], seq = row[i, SEQ], ack = row[i, ACK_NO]
        cdef long long length = row[i, PAYLOAD_LEN], ip_id = row[i, IP_ID]
        cdef long long u, end_u
        cdef int kinds = 0
        cdef bint sender_in_tw, new_data
        cdef double now = seconds(row[i, TS_NS])
        if now >= self.tw_due:
            self.expire_time_wait(now)
        if from_server:
            s, r, who = self.server, self.client, SERVER
        else:
            s, r, who = self.client, self.server, CLIENT
        if (
            ip_id >= 0
            and s.has_copy
            and ip_id == s.copy_ip_id
            and seq == s.copy_seq
            and ack == s.copy_ack
            and flags == s.copy_flags
            and length == s.copy_len
            and now - s.last_time <= DUPLICATE_WINDOW
        ):
            # The same segment captured twice: an artefact, not a retransmission.
            self.duplicate_frames.append(frame)
            return
        s.has_copy = True
        s.copy_ip_id, s.copy_seq, s.copy_ack, s.copy_flags, s.copy_len = (
            ip_id, seq, ack, flags, length
        )
        s.last_time = now
        sender_in_tw = s._state == TIME_WAIT
        if r._state == TIME_WAIT:
            kinds |= K_TIME_WAIT_SEGMENT
        if from_server:
            self.server_answered = True
        s.packets += 1
        s.payload += length
        if row[i, TSVAL] >= 0:
            s._last_tsval = row[i, TSVAL]
            if not s.has_tsval:
                s.has_tsval = True
                s._first_tsval = row[i, TSVAL]
        if not flags & RST:
            if row[i, TTL] != s.ttl or not s.ttl_seen:
                s.count_ttl()
                s.ttl = row[i, TTL]
            s.ttl_seen += 1

        if flags & SYN:
            kinds |= self._syn(s, r, flags, seq)
        if not s.has_base:
            # First segment of this side with no SYN: the capture began mid-stream.
            s.has_base, s._base = True, seq
        u = unwrap(seq, s._base, s.next_u)
        end_u = u + length + (1 if flags & SYN else 0) + (1 if flags & FIN else 0)
        new_data = length > 0 and (not s.has_data_end or u + length > s.data_end_u)
        if (
            not flags & (SYN | FIN | RST)
            and length <= 1
            and s.next_u > 0
            and u == s.next_u - 1
            and (s._state == ESTABLISHED or s._state == CLOSE_WAIT)
        ):
            kinds |= K_KEEPALIVE
            s.keepalive_frames.append(frame)
        if new_data:
            kinds |= self._new_data(s, r, frame, u, length)
            s.has_data_end, s.data_end_u = True, u + length
            s.has_payload, s.last_payload_frame, s.last_payload_time = True, frame, now
        if not flags & RST:
            # A RST takes no sequence space; one made by a kernel with no
            # socket carries another connection's numbers.
            s.next_u = max(s.next_u, end_u)

        if flags & ACK:
            kinds |= self._ack(s, r, who, frame, flags, ack, now, sender_in_tw)
        if flags & FIN:
            kinds |= self._fin(s, r, who, frame, flags, ack, now, u + length)
        if flags & RST:
            kinds |= self._rst(s, r, who, frame, seq, row[i, TTL], length, now)
        if kinds:
            self._add_event(frame, now, SERVER_CODE if from_server else CLIENT_CODE, flags, seq,
                            ack, length, kinds)

    cdef int _syn(self, SideWalk s, SideWalk r, long long flags, long long seq):
        is_syn_ack = flags & ACK
        if s.isn is None:
            s.isn = seq
            s.has_base, s._base = True, seq
            s.next_u = 0
            s._state = step(s._state, SEND_SYN_ACK if is_syn_ack else SEND_SYN)
            r._state = step(r._state, RECV_SYN_ACK if is_syn_ack else RECV_SYN)
            return K_SYN_ACK if is_syn_ack else K_SYN
        return K_SYN_RETRANSMISSION

    cdef int _new_data(self, SideWalk s, SideWalk r, long long frame, long long u, long long length):
        if s.has_fin and u + length > s._fin_u:
            s.data_after_fin_frames.append(frame)
            return K_DATA_AFTER_FIN
        if r.has_fin:
            self.half_close = True
            first = not s.half_close_frames
            s.half_close_frames.append(frame)
            return K_HALF_CLOSE_DATA if first else 0
        return 0

    cdef int _ack(self, SideWalk s, SideWalk r, who, long long frame, long long flags,
                  long long ack, double now, bint sender_in_tw):
        cdef int kinds = 0
        cdef long long a_u
        cdef bint covers_fin, reack
        if not r.has_base:
            # We have not seen the peer send; its byte stream starts at this ack.
            r.has_base, r._base = True, ack
        a_u = unwrap(ack, r._base, r.next_u)
        s.acked_u = max(s.acked_u, a_u) if s.has_acked else a_u
        s.has_acked = True
        if who is SERVER and s.isn is None and r.isn is not None and not flags & SYN:
            # The server answers the client's SYN with a bare ACK: a socket of
            # the previous incarnation, still in TIME_WAIT, refused the SYN.
            # Its ack number belongs to that incarnation.
            kinds |= K_TIME_WAIT_ACK
        elif a_u > r.next_u and r.packets:
            self.missed_frames.append(frame)
        if r._state == SYN_RECEIVED and r.isn is not None and a_u >= 1:
            r._state = step(r._state, SYN_ACKED)
            if who is CLIENT:
                kinds |= K_HANDSHAKE_ACK
        covers_fin = r.has_fin and a_u >= r._fin_u + 1
        reack = covers_fin and self.reack_wanted is not None and self.reack_wanted.side is not who
        if sender_in_tw and not flags & (FIN | RST) and (not covers_fin or r.fin_acked or reack):
            # An ACK from TIME_WAIT that is not its first ACK of the peer's FIN:
            # a re-ACK of a resent FIN, or the answer to an old duplicate or to
            # a SYN that met the TIME_WAIT.
            kinds |= K_TIME_WAIT_ACK
            if reack:
                self.reack_wanted.reack_frame = frame
                self.reack_wanted = None
        if not covers_fin:
            return kinds
        if s._state == TIME_WAIT and s.tw_estimated:
            # The TIME_WAIT side's own ACK of the peer's FIN: TIME_WAIT starts now.
            s.tw_start, s.tw_estimated = now, False
        if r.fin_acked:
            return kinds
        r.fin_acked = True
        if not r.has_fin_ack:
            r.has_fin_ack, r.fin_ack_frame, r.fin_ack_time = True, frame, now
        r._state = step(r._state, FIN_ACKED)
        if r._state == TIME_WAIT:
            self._enter_time_wait(r, now, False)
        if s.fin_acked:
            kinds |= K_FINAL_ACK
            if not self.resets and self.graceful_at is None:
                self.graceful_at = now
        else:
            kinds |= K_FIN_ACK
        return kinds

    cdef int _fin(self, SideWalk s, SideWalk r, who, long long frame, long long flags,
                  long long ack, double now, long long fin_u):
        cdef int kinds, before
        if not s.has_fin:
            s.has_fin, s._fin_u = True, fin_u
            s.has_fin_frame, s.fin_frame, s.fin_time = True, frame, now
            kinds = K_FIN
            crossing = False
            if self.first_fin_side is None:
                self.first_fin_side = who
            elif r.has_fin:
                acks_peer_fin = bool(flags & ACK) and (
                    unwrap(ack, r._base, r.next_u) >= r._fin_u + 1
                )
                crossing = not acks_peer_fin
                self.crossed = crossing
            if crossing:
                self._undo_close_wait(who)
            s._state = step(s._state, SEND_FIN_CROSSING if crossing else SEND_FIN)
        elif fin_u == s._fin_u:
            s.fin_retransmissions += 1
            kinds = K_FIN_RETRANSMISSION
            resend = FinResend(
                frame, now, who, "lost_final_ack" if s.fin_acked else "lost_fin", None
            )
            self.fin_resends.append(resend)
            if s.fin_acked:
                # Its ACK passed the capture point but never reached it.
                s.fin_acked = False
                s._state = step(s._state, RESEND_FIN_AFTER_ACK)
                self.reack_wanted = resend
        else:
            return 0  # a FIN beyond the first: data after FIN, already recorded
        before = r._state
        r._state = step(r._state, RECV_FIN)
        if before != TIME_WAIT and r._state == TIME_WAIT:
            # Until its ACK of this FIN is captured, TIME_WAIT's start is estimated.
            self._enter_time_wait(r, now, True)
        return kinds

    cdef void _undo_close_wait(self, who):
        """The FINs crossed: ``who`` never was in CLOSE_WAIT.

        Receipt at passing put it there when the peer's FIN passed the capture
        point, but its own FIN (sent before that FIN reached it) proves it was
        still ESTABLISHED; the events since then are corrected.
        """
        cdef Py_ssize_t k
        for k in range(self._n_events - 1, -1, -1):
            if who is CLIENT and self._events[k].client_state == CLOSE_WAIT:
                self._events[k].client_state = ESTABLISHED
            elif who is SERVER and self._events[k].server_state == CLOSE_WAIT:
                self._events[k].server_state = ESTABLISHED
            else:
                break

    cdef int _rst(self, SideWalk s, SideWalk r, who, long long frame, long long seq,
                  long long ttl, long long length, double now):
        unacked_sent = None
        if s.has_data_end and r.has_acked:
            unacked_sent = max(0, s.data_end_u - max(r.acked_u, 1))
        unacked_received = None
        if r.has_data_end and s.has_acked:
            unacked_received = max(0, r.data_end_u - max(s.acked_u, 1))
        self.resets.append(
            Reset(
                frame,
                now,
                who,
                seq,
                (s._base + s.next_u) & MASK32 if s.packets > 1 else None,
                (s._base + r.acked_u) & MASK32 if r.has_acked else None,
                ttl,
                STATES[s._state],
                STATES[r._state],
                unacked_sent,
                unacked_received,
                length,
            )
        )
        if self.rst_sender is None:
            self.rst_sender = who
        if r._state == TIME_WAIT:
            r.tw_ended_by, r.tw_end = TimeWaitEnd.RST, now
        if s._state == TIME_WAIT:
            s.tw_ended_by, s.tw_end = TimeWaitEnd.RST, now
        s._state = step(s._state, SEND_RST)
        r._state = step(r._state, RECV_RST)
        return K_RST

    cpdef connection(self, client_end, server_end, roles_inferred, incarnation):
        """The connection walked, between these endpoints; its id is its first
        frame until the engine numbers it."""
        cdef SideWalk c = self.client, s = self.server
        cdef Connection k = Connection.__new__(Connection)  # (every field set below)
        k.id = k.first_frame = self.first_frame
        k.client, k.server = client_end, server_end
        k.roles_inferred, k.incarnation = roles_inferred, incarnation
        k.last_frame = self.last_frame
        k.first_time, k.last_time = seconds(self.first_ts_ns), seconds(self.last_ts_ns)
        k.isn_client, k.isn_server = c.isn, s.isn
        k.close = self.close_kind()
        k.active_closer = BOTH if self.crossed else self.first_fin_side
        k.rst_sender = self.rst_sender
        k.half_close = self.half_close
        k.fin_retransmissions = {CLIENT: c.fin_retransmissions, SERVER: s.fin_retransmissions}
        k.end_states = {CLIENT: STATES[c._state], SERVER: STATES[s._state]}
        k.time_wait = self.time_wait_record()
        k.events = self._packed_events()
        k.packets = {CLIENT: c.packets, SERVER: s.packets}
        k.payload_bytes = {CLIENT: c.payload, SERVER: s.payload}
        k.fin_seq = _per_side(c._fin_seq(), s._fin_seq())
        k.next_seq = _per_side(c._next_seq(), s._next_seq())
        k.last_tsval = _per_side(c._known_last_tsval(), s._known_last_tsval())
        k.first_tsval = _per_side(c._known_first_tsval(), s._known_first_tsval())
        k.fin_resends, k.resets = self.fin_resends, self.resets
        k.duplicate_frames, k.missed_frames = self.duplicate_frames, self.missed_frames
        k.facts = {CLIENT: c._facts(), SERVER: s._facts()}
        k.zeek = None
        return k

    def close_kind(self):
        if self.graceful_at is not None:
            return CloseKind.SIMULTANEOUS if self.crossed else CloseKind.GRACEFUL
        if self.client.has_fin or self.server.has_fin:
            return CloseKind.ABORT if self.resets else CloseKind.INCOMPLETE
        if self.resets:
            if self.client.isn is not None and self.server.isn is None:
                if self.rst_sender is SERVER:
                    return CloseKind.REFUSED
                if not self.server_answered:
                    return CloseKind.ATTEMPT
            return CloseKind.ABORT
        if self.client.isn is not None and not self.server_answered:
            return CloseKind.ATTEMPT
        return CloseKind.OPEN

    cdef object time_wait_record(self):
        """Who holds the 4-tuple in TIME_WAIT (``model.TimeWait``), or None."""
        cdef SideWalk c = self.client, s = self.server
        if c.tw_start is not None and s.tw_start is not None:
            start = min(c.tw_start, s.tw_start)
            return _time_wait(
                BOTH,
                start,
                max(c.tw_end if c.tw_end is not None else start + self.time_wait,
                    s.tw_end if s.tw_end is not None else start + self.time_wait),
                None if c.tw_ended_by is None or s.tw_ended_by is None else s.tw_ended_by,
                c.tw_estimated or s.tw_estimated,
            )
        if c.tw_start is not None:
            return self._held(CLIENT, c)
        if s.tw_start is not None:
            return self._held(SERVER, s)
        return None

    cdef object _held(self, side, SideWalk tw):
        return _time_wait(
            side,
            tw.tw_start,
            tw.tw_end if tw.tw_end is not None else tw.tw_start + self.time_wait,
            tw.tw_ended_by,
            tw.tw_estimated,
        )


cdef TimeWait _time_wait(side, start, end, ended_by, start_estimated):
    cdef TimeWait t = TimeWait.__new__(TimeWait)
    t.side, t.start, t.end, t.ended_by = side, start, end, ended_by
    t.start_estimated = bool(start_estimated)
    return t


def walk_connections(blocks, list starts, list starts_with_syn, double time_wait,
                     double capture_end, list clients, list servers, list roles_inferred,
                     list incarnations, ConnectionWalk first=None, Py_ssize_t first_from=0):
    """Every connection of an index walked, in the index's order (``ConnectionWalk.connection``).

    Connection ``k``'s segments are at positions ``starts[k] .. starts[k + 1] - 1``
    of ``blocks`` (``teardown.segment_rows``); its walk starts with a SYN if
    ``starts_with_syn[k]``, and ends with its TIME_WAIT expired at
    ``capture_end``. With ``first``, the walk of connection 0 goes on from
    position ``first_from``. (The loop is compiled: per connection, the Python
    around a walk cost as much as the walk.)
    """
    cdef list out = []
    cdef Py_ssize_t k, lo, hi
    cdef Py_ssize_t block_start = 0, block_end = 0  # the block in ``rows``
    cdef const long long[:, ::1] rows = None
    cdef ConnectionWalk walk
    for k in range(len(starts) - 1):
        lo, hi = starts[k], starts[k + 1]
        if k == 0 and first is not None:
            walk, lo = first, first_from
        else:
            walk = ConnectionWalk(starts_with_syn[k], time_wait)
        if lo > hi:
            raise IndexError(f"connection {k} from position {lo} to {hi}")
        if block_start <= lo and hi <= block_end:
            walk._run(rows, lo - block_start, hi - block_start, False)
        elif lo < hi:
            rows = None  # the old block leaves memory before the next is made
            for block, i, j in blocks.spans(lo, hi):
                walk.run(block, i, j)
            block_start, block_end, rows = blocks.start, blocks.end, blocks.items
        walk.expire_time_wait(capture_end)
        out.append(walk.connection(clients[k], servers[k], roles_inferred[k], incarnations[k]))
    return out


cpdef double seconds(long long ns) except? -1.0:
    """``ns / 10**9`` exactly as Python divides the ints (correctly rounded).

    An int64 of nanoseconds since the epoch is too wide for a double, but one
    IEEE division of two exact doubles is correctly rounded too: of ``ns`` by
    1e9 when ``ns`` is below 2^53, and of the microseconds by 1e6 when the
    nanoseconds are whole microseconds (a pcap's always are). Only other
    stamps are divided as Python ints (two ints and a float made per segment
    for the division took about a twentieth of the walk).
    """
    if -EXACT < ns < EXACT:
        return <double>ns / 1e9
    if ns % 1000 == 0 and -EXACT < ns // 1000 < EXACT:
        return <double>(ns // 1000) / 1e6
    return ns / NS


cdef inline int _lowest_bit(int kinds) noexcept:
    cdef int k = 0
    while not kinds & 1:
        kinds >>= 1
        k += 1
    return k
