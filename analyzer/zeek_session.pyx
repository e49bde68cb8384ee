# cython: language_level=3
"""Zeek's TCP session, packet by packet: what ``zeek`` replays per 4-tuple.

Endpoint states (INACTIVE ... RESET), history letters with their case,
repetition and log-scale rules, role flips ('^'), the reassembler's content
gaps ('G'), and the timers and connection reuse that make Zeek end one record
and start another on the same 4-tuple. The rules, with references to Zeek's
source, are in tests/data/corpus/zeek/ZEEK.md; ``zeek`` drives the replay and
maps its records onto our connections.

This module is compiled (Cython), like ``walk``: the replay visits every
segment of a capture.
"""

cimport cython

import dataclasses

from . import segments
from .model import ZeekRecord

# ``ZeekConn.record`` gives a ZeekRecord its fields in this order,
# positionally: by keyword, making one cost as much again.
_RECORD_FIELDS = (
    "ts", "serial", "orig_h", "orig_p", "resp_h", "resp_p", "duration", "orig_bytes",
    "resp_bytes", "conn_state", "history", "orig_pkts", "resp_pkts", "positions", "ended_by",
    "first_frame",
)
if tuple(f.name for f in dataclasses.fields(ZeekRecord)) != _RECORD_FIELDS:
    raise ImportError("model.ZeekRecord's fields changed: update zeek_session.pyx (_RECORD_FIELDS)")

# Segment flags, as ``segments`` defines them.
cdef long long FIN = segments.FIN, SYN = segments.SYN, RST = segments.RST, ACK = segments.ACK

# Endpoint states (ZEEK.md section 1; TCP_Endpoint.h EndpointState): TCP_INACTIVE ...
cdef enum:
    INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET

# Timer constants (ZEEK.md section 5; init-bare.zeek).
cdef double TCP_ATTEMPT_DELAY = 5.0
cdef double TCP_SESSION_TIMER = 6.0
cdef double TCP_SYN_TIMEOUT = 5.0
cdef double TCP_CONNECTION_LINGER = 5.0
cdef double TCP_CLOSE_DELAY = 5.0
cdef double TCP_RESET_DELAY = 5.0
cdef double UDP_INACTIVITY_TIMEOUT = 60.0  # what a TCP connection starts with
cdef double TCP_INACTIVITY_TIMEOUT = 300.0  # once an endpoint leaves the handshake states
cdef double LONG_INACTIVITY_TIMEOUT = 3600.0  # inactivity.zeek's, for some ports

cdef long long TOO_LARGE_SEQ_DELTA = 1048576
cdef long long MASK32 = 0xFFFFFFFF
cdef long long HALF = 1 << 31

# History masks: one bit per letter kind; the responder's are shifted << 16.
cdef enum:
    H_SYN = 1 << 0
    H_FIN = 1 << 1
    H_RST = 1 << 2
    H_FIN_RST = 1 << 3
    H_DATA = 1 << 4
    H_ACK = 1 << 5
    H_MULTI = 1 << 6

# What ``ZeekConn.state_machine`` tells ``packet`` to do, as bits.
cdef enum:
    DO_CLOSE = 1
    GEN_EVENT = 2

# The columns of a block of packets (``zeek``), besides their times.
PACKET_COLUMNS = ("src", "dst", "flags", "seq", "ack", "payload_len", "window", "frame")
cdef enum:
    SRC, DST, FLAGS, SEQ, ACK_NO, LENGTH, WINDOW, FRAME

# conn_state's RSTOS0 test: /\^?S[^HAFGIQ]*R.*/ matched against the whole history.
_RSTOS0_EXCLUDED = frozenset("HAFGIQ")


cdef inline long long wrapped(long long delta) noexcept:
    """``delta`` modulo 2^32, as the signed value nearest zero."""
    return ((delta + HALF) & MASK32) - HALF


cdef inline bint in_handshake(int state) noexcept:
    return state == INACTIVE or state == SYN_SENT or state == SYN_ACK_SENT


cdef class Reassembler:
    """Just enough of TCP_Reassembler to know when Zeek reports a content gap."""

    cdef public long long last  # last_reassem_seq: delivered up to here (relative seq)
    cdef public long long trim  # trim_seq: acked up to here
    cdef public list blocks  # undelivered [seq, upper) above holes

    def __init__(self):
        self.last = self.trim = 1
        self.blocks = []

    cdef void deliver_buffered(self):
        while self.blocks and self.blocks[0][0] <= self.last:
            self.last = max(self.last, self.blocks.pop(0)[1])


cdef class ZeekEndpoint:
    """One side of a Zeek connection (TCP_Endpoint)."""

    cdef public bint is_orig
    cdef public int state, prev_state
    cdef public long long start, last, ack
    cdef public long long fin_cnt, fin_seq
    cdef public bint did_close
    cdef public long long hist_syn, hist_fin, hist_rst
    cdef public object counts  # per log-scaled letter (C, T, W, G), or None
    cdef public dict thresholds  # the count that adds each letter next, or None (as counts)
    cdef public ZeekEndpoint peer
    cdef public bint first_seen
    cdef public Reassembler reasm
    cdef public long long pkts
    cdef public long long addr
    cdef public int port
    cdef readonly long long key  # address code << 16 | port

    def __init__(self, bint is_orig, long long endpoint):
        self.is_orig = is_orig
        self.state = self.prev_state = INACTIVE
        self.peer = self
        self.reasm = Reassembler()
        self.key = endpoint
        self.addr = endpoint >> 16
        self.port = endpoint & 0xFFFF

    cpdef long long size(self):
        """TCP_Endpoint::Size(): payload bytes as the sequence numbers say."""
        cdef bint no_data_acked = self.ack == self.start or self.ack == self.start + 1
        cdef long long size
        if (
            self.prev_state == SYN_SENT
            and self.state == RESET
            and self.peer.state == INACTIVE
            and not no_data_acked
        ):
            return 0
        size = max(self.last, self.ack) - self.start
        if size != 0:
            size -= 1
        if self.fin_cnt > 0 and size != 0:
            size -= 1
        return max(size, 0)


cdef bint _clean(ZeekEndpoint ep):
    return ep.state == ESTABLISHED or (ep.state == CLOSED and ep.prev_state == ESTABLISHED)


def _rstos0(list history):
    h = history[1:] if history and history[0] == "^" else history
    if not h or h[0] != "S":
        return False
    for letter in h[1:]:
        if letter == "R":
            return True
        if letter in _RSTOS0_EXCLUDED:
            return False
    return False


cdef class ZeekConn:
    """One Zeek connection (Connection + TCPSessionAdapter) on one 4-tuple."""

    cdef object sim  # zeek._Options
    cdef public long long first_frame
    cdef public Py_ssize_t start  # the position of its first packet in the order being replayed
    # The endpoints that sent and received its first packet (``orig`` and
    # ``resp`` change places when Zeek flips the roles; these never do).
    cdef ZeekEndpoint first_sender, first_receiver
    cdef public ZeekEndpoint orig, resp
    cdef public list history
    cdef long long seen
    cdef public double start_time, last_time
    cdef bint is_active, is_partial
    # Analyzer timers (attempt, expire, reset, delete) as (due, kind); the
    # session's inactivity timer apart; next_due: the earliest of them all.
    cdef list timers
    cdef double inactivity, inactivity_at
    cdef public double next_due

    def __init__(self, sim, double t, long long sender, long long receiver, long long flags,
                 long long first_frame):
        cdef ZeekEndpoint a, b
        self.sim = sim
        self.first_frame = first_frame
        a = ZeekEndpoint(True, sender)
        b = ZeekEndpoint(False, receiver)
        sport, dport = sender & 0xFFFF, receiver & 0xFFFF
        a.peer, b.peer = b, a
        self.first_sender, self.first_receiver = a, b
        self.orig, self.resp = a, b
        self.history = []
        self.start_time = self.last_time = t
        self.is_active = True
        self.timers = [(t + TCP_SYN_TIMEOUT, "expire")]
        self.inactivity = UDP_INACTIVITY_TIMEOUT
        self.inactivity_at = t + UDP_INACTIVITY_TIMEOUT
        self.next_due = t + TCP_SYN_TIMEOUT
        # TCPAnalyzer::WantConnection: a first packet that is not a bare SYN may flip roles.
        if not (flags & SYN) or flags & ACK:
            likely = sim.likely_server_ports
            if sport in likely:
                # Both plausible: flip only a non-SYN-ACK whose source port is lower.
                flip = not (flags & SYN) and sport < dport if dport in likely else True
                if flip:
                    self.flip_roles(False)

    # -- history ---------------------------------------------------------------

    cdef void add(self, ZeekEndpoint ep, str code):
        self.history.append(code if ep.is_orig else code.lower())

    cdef bint check(self, ZeekEndpoint ep, long long mask, str code):
        """Session::CheckHistory: add the letter once; True when it was seen before."""
        if code in "AD" and len(self.history) == 1 and self.history[0] == "H":
            # A conn that began with a SYN-ACK: the first A/D flips it (ZEEK.md 4).
            self.flip_roles(True)
        if not ep.is_orig:
            mask <<= 16
        if self.seen & mask:
            return True
        self.seen |= mask
        self.add(ep, code)
        return False

    cdef void scaled(self, ZeekEndpoint ep, str code):
        """Session::ScaledHistoryEntry: letter at the 1st, 10th, 100th ... time."""
        if ep.counts is None:
            ep.counts = {"C": 0, "T": 0, "W": 0, "G": 0}
            ep.thresholds = {"C": 1, "T": 1, "W": 1, "G": 1}
        ep.counts[code] += 1
        if ep.counts[code] == ep.thresholds[code]:
            self.add(ep, code)
            ep.thresholds[code] *= 10

    cdef void flip_roles(self, bint late):
        self.orig, self.resp = self.resp, self.orig
        self.orig.is_orig, self.resp.is_orig = True, False
        self.is_partial = False
        if late:
            self.history = ["^", "h"]
            self.seen = H_SYN << 16
        else:
            self.history.append("^")

    def release(self):
        """Break the endpoints' cycle (each names the other as its peer), so
        that reference counting frees them: the walk runs without the cyclic
        garbage collector (``engine.walk_slice``)."""
        self.orig.peer = self.resp.peer = None

    # -- timers ----------------------------------------------------------------

    cdef void add_timer(self, double due, str kind):
        self.timers.append((due, kind))
        if due < self.next_due:
            self.next_due = due

    cdef void set_inactivity(self, double timeout):
        if timeout != self.inactivity:
            self.inactivity = timeout
            self.inactivity_at = self.last_time + timeout
            self.next_due = min(self.next_due, self.inactivity_at)

    cdef object run_timers(self, double now):
        """Fire the timers due before ``now``; the reason if one removed the connection."""
        ended = self._run_timers(now)
        due = [x[0] for x in self.timers]
        due.append(self.inactivity_at)
        self.next_due = min(due)
        return ended

    cdef object _run_timers(self, double now):
        cdef ZeekEndpoint orig, resp
        cdef double t
        while True:
            due = min(self.timers) if self.timers else (self.inactivity_at, "inactivity")
            if self.inactivity_at < due[0]:
                due = (self.inactivity_at, "inactivity")
            if due[0] >= now:
                return None
            t, kind = due
            orig, resp = self.orig, self.resp
            if kind == "inactivity":
                if self.last_time + self.inactivity <= t:
                    return "inactivity_timer"
                self.inactivity_at = self.last_time + self.inactivity
                continue
            self.timers.remove(due)
            if kind == "delete":
                return "close_delay"
            elif not self.is_active:
                continue
            elif kind == "attempt":
                if (orig.state == SYN_SENT or orig.state == SYN_ACK_SENT) and resp.state == INACTIVE:
                    self.is_active = False
                    return "attempt_timer"
            elif kind == "reset":
                return "reset_delay"
            elif kind == "expire":
                if self.last_time + TCP_CONNECTION_LINGER < t:
                    if (orig.did_close or resp.did_close) and (
                        (orig.did_close and resp.did_close)
                        or orig.state == RESET
                        or resp.state == RESET
                        or orig.state == INACTIVE
                        or resp.state == INACTIVE
                    ):
                        self.is_active = False
                        return "expire_timer"
                    if resp.state == INACTIVE and orig.state == INACTIVE:
                        return "expire_timer"
                self.timers.append((t + TCP_SESSION_TIMER, "expire"))

    # -- reuse -----------------------------------------------------------------

    cdef bint is_reuse(self, long long flags, long long seq):
        """TCPSessionAdapter::IsReuse: does this packet start a new connection?"""
        cdef ZeekEndpoint conn_orig
        if not flags & SYN:
            return False
        conn_orig = self.orig
        if flags & ACK:
            if self.orig.state != INACTIVE:
                return False
            conn_orig = self.resp
        if not (self.orig.did_close or self.resp.did_close):
            if seq == conn_orig.start & MASK32:
                return False
            if (
                not flags & ACK
                and conn_orig.state == SYN_ACK_SENT
                and self.resp.state == INACTIVE
                and seq == self.resp.start & MASK32
            ):
                return False
        return True

    # -- the packet ------------------------------------------------------------

    cdef void set_state(self, ZeekEndpoint ep, int new):
        if new != ep.state:
            if not in_handshake(new) and in_handshake(ep.state) and in_handshake(ep.peer.state):
                self.set_inactivity(TCP_INACTIVITY_TIMEOUT)
            ep.prev_state = ep.state
            ep.state = new

    cdef void packet(self, long long key, double t, long long flags, long long seq,
                     long long ack, long long length, long long window):
        """TCPSessionAdapter::Process for one packet."""
        # (A 4-tuple whose two endpoints are one: its packets are all the receiver's.)
        cdef ZeekEndpoint ep = (
            self.first_receiver if key == self.first_receiver.key else self.first_sender
        )
        cdef ZeekEndpoint peer = ep.peer
        cdef bint is_orig = ep.is_orig
        cdef bint syn = flags & SYN, fin = flags & FIN, rst = flags & RST, has_ack = flags & ACK
        cdef long long seg_len, ref, rel_seq, rel_ack, full_ack, delta_last, end, mask
        cdef int state, bits, closing
        cdef bint underflow
        ep.pkts += 1

        # SetPartialStatus
        if is_orig:
            if not ep.first_seen:
                self.is_partial = not syn or has_ack
        elif not ep.first_seen and not self.is_partial:
            self.is_partial = not syn

        seg_len = length + (1 if syn else 0) + (1 if fin else 0) - (length if rst else 0)

        # init_endpoint
        state = ep.state
        if state == INACTIVE:
            if syn:
                ep.start = ep.ack = seq
                ep.last = seq + seg_len
            else:
                ep.start = ep.ack = seq - 1
                ep.last = seq
        elif syn and (
            ((state == SYN_SENT or state == SYN_ACK_SENT) and seq != ep.start & MASK32)
            or state == ESTABLISHED
            or state == PARTIAL
            or (state == RESET and ep.prev_state == INACTIVE)
        ):
            ep.start = ep.ack = seq
            ep.last = seq + seg_len

        ref = ep.last
        rel_seq = ref + wrapped(seq - ref) - ep.start
        underflow = rel_seq < 0

        # update_history
        bits = (1 if syn else 0) + (1 if fin else 0) + (1 if rst else 0)
        if bits > 1:
            if fin and rst:
                self.check(ep, H_FIN_RST, "I")
            else:
                self.check(ep, H_MULTI, "Q")
        elif bits == 1:
            if syn:
                code = "H" if has_ack else "S"
                if self.check(ep, H_SYN, code) and rel_seq != ep.hist_syn:
                    self.add(ep, code)
                ep.hist_syn = rel_seq
            elif fin:
                if self.check(ep, H_FIN, "F") and rel_seq + length != ep.hist_fin:
                    self.add(ep, "F")
                ep.hist_fin = rel_seq + length
            else:
                if self.check(ep, H_RST, "R") and rel_seq != ep.hist_rst:
                    self.add(ep, "R")
                ep.hist_rst = rel_seq
        elif length or has_ack:
            # (fast path: skip check() when the letter is already there and no flip can come)
            mask = H_DATA if length else H_ACK
            if not self.seen & (mask if ep.is_orig else mask << 16) or len(self.history) == 1:
                self.check(ep, mask, "D" if length else "A")

        # update_window: zero windows
        if window == 0 and not rst and peer.state != CLOSED and ep.state != RESET:
            self.scaled(ep, "W")

        if not (self.orig.did_close and self.resp.did_close):
            self.last_time = t

        if fin:
            ep.fin_cnt += 1
            ep.fin_seq = rel_seq + seg_len

        rel_ack = 0
        if has_ack:
            if peer.state == INACTIVE:
                rel_ack = 1
                peer.start = peer.ack = peer.last = ack - 1
            else:
                ref = peer.ack
                full_ack = ref + wrapped(ack - ref)
                rel_ack = full_ack - peer.start
                if rel_ack < 0:
                    rel_ack = 0
                elif (
                    not rst
                    and full_ack > peer.ack
                    and not (ack == 0 and full_ack - peer.ack > TOO_LARGE_SEQ_DELTA)
                ):
                    peer.ack = full_ack

        # update_last_seq
        ref = ep.last
        delta_last = wrapped(seq + seg_len - ref)
        end = ref + delta_last
        if (syn or rst) and abs(delta_last) > TOO_LARGE_SEQ_DELTA:
            pass
        elif fin and ep.last == ep.start + 1:
            ep.last = end
        elif ep.state == RESET:
            pass
        elif delta_last > 0:
            ep.last = end
        elif length > 0:
            self.scaled(ep, "T")

        if flags & (SYN | FIN | RST) or ep.state == INACTIVE:
            closing = self.state_machine(t, ep, peer, seq, length, is_orig, flags)
        else:
            closing = 0  # no state changes (TSA UpdateStateMachine)

        if has_ack and rel_ack > peer.reasm.trim:
            self.ack_received(peer, rel_ack)
        if length > 0 and not rst and not underflow:
            self.data_sent(ep, rel_seq + (1 if syn else 0), length)
        ep.first_seen = True
        if closing & DO_CLOSE:
            self.connection_closed(ep, peer, closing & GEN_EVENT)

    cdef int state_machine(self, double t, ZeekEndpoint ep, ZeekEndpoint peer, long long seq,
                           long long length, bint is_orig, long long flags):
        """TCPSessionAdapter::UpdateStateMachine and its Update*State helpers:
        DO_CLOSE and GEN_EVENT, as bits."""
        cdef bint do_close = False, gen_event = False, is_reject
        cdef bint syn = flags & SYN, fin = flags & FIN, rst = flags & RST, has_ack = flags & ACK
        cdef int state = ep.state
        if state == INACTIVE:
            if syn:
                if is_orig:
                    self.set_state(ep, SYN_ACK_SENT if has_ack else SYN_SENT)
                    self.add_timer(t + TCP_ATTEMPT_DELAY, "attempt")
                else:
                    if not has_ack and peer.state == SYN_ACK_SENT and seq == ep.start & MASK32:
                        # SYN / SYN-ACK reversal: flip and establish.
                        self.is_partial = False
                        self.flip_roles(False)
                        self.set_state(peer, ESTABLISHED)
                        ep.first_seen = True
                    if peer.state == SYN_SENT:
                        self.set_state(peer, ESTABLISHED)
                    self.set_state(ep, ESTABLISHED)
                    if peer.state != PARTIAL:
                        self.established()
            if fin:
                self.set_state(ep, CLOSED)
                do_close = gen_event = True
            if rst:
                self.set_state(ep, RESET)
                if is_orig:
                    is_reject = peer.state == ESTABLISHED
                else:
                    is_reject = peer.state == SYN_SENT or peer.state == SYN_ACK_SENT
                do_close = True
                gen_event = not is_reject
            if ep.state == INACTIVE:
                if not is_orig and length == 0 and self.orig.state == SYN_SENT:
                    pass  # an ACK of the SYN before the SYN-ACK
                elif has_ack and peer.state == ESTABLISHED:
                    self.set_state(ep, ESTABLISHED)
                    self.is_partial = False
                    ep.first_seen = True
                else:
                    self.set_state(ep, PARTIAL)
        elif state == SYN_SENT or state == SYN_ACK_SENT:
            if fin:
                self.set_state(ep, CLOSED)
                do_close = gen_event = True
            if rst:
                self.set_state(ep, RESET)
                self.is_active = False  # ConnectionReset
                do_close = True
        elif state == ESTABLISHED or state == PARTIAL:
            if syn and state == PARTIAL and peer.state == INACTIVE and not has_ack:
                self.set_state(ep, SYN_SENT)
            if fin and not rst:
                self.set_state(ep, CLOSED)
                if peer.state == RESET and peer.prev_state == CLOSED:
                    # FIN, RST, then the peer's FIN: a normal termination after all.
                    self.set_state(peer, CLOSED)
                do_close = gen_event = True
            if rst:
                self.set_state(ep, RESET)
                do_close = True
                if peer.state != RESET or peer.prev_state != ESTABLISHED:
                    self.is_active = False  # ConnectionReset
        elif state == CLOSED and rst and peer.state != CLOSED:
            self.set_state(ep, RESET)
            if not ep.did_close:
                do_close = True
            self.add_timer(t + TCP_RESET_DELAY, "reset")
        return (DO_CLOSE if do_close else 0) | (GEN_EVENT if gen_event else 0)

    cdef void established(self):
        """connection_established: inactivity.zeek's longer timeout for some ports."""
        if self.sim.long_inactivity_ports:
            port = self.resp.port if self.orig.state != INACTIVE else self.orig.port
            if port in self.sim.long_inactivity_ports:
                self.set_inactivity(LONG_INACTIVITY_TIMEOUT)

    cdef void connection_closed(self, ZeekEndpoint ep, ZeekEndpoint peer, bint gen_event):
        if ep.did_close:
            return
        ep.did_close = True
        if ep.state == RESET or peer.did_close or peer.state == INACTIVE:
            if (ep.prev_state != INACTIVE or peer.state != INACTIVE) and gen_event:
                self.is_active = False  # ConnectionFinished
            self.timers = []
            self.add_timer(self.last_time + TCP_CLOSE_DELAY, "delete")
        elif ep.prev_state != INACTIVE:
            self.add_timer(self.last_time + TCP_SESSION_TIMER, "expire")
        # (a first close from a side never seen before would start the
        # PartialCloseTimer, which only runs with a connection_partial_close handler)

    # -- reassembly: content gaps ------------------------------------------------

    cdef void data_sent(self, ZeekEndpoint ep, long long seq, long long length):
        cdef Reassembler r = ep.reasm
        cdef long long upper = seq + length
        cdef long long acked = ep.ack - ep.start
        if seq < acked:
            if upper <= acked:
                return
            seq = acked
        if upper <= r.trim:
            return
        seq = max(seq, r.trim)
        if seq <= r.last:
            if upper > r.last:
                r.last = upper
                r.deliver_buffered()
        else:
            r.blocks.append((seq, upper))
            r.blocks.sort()

    cdef void ack_received(self, ZeekEndpoint ep, long long seq):
        """TCP_Reassembler::AckReceived on the side whose data ``seq`` acknowledges."""
        cdef Reassembler r = ep.reasm
        if ep.fin_cnt > 0 and seq >= ep.fin_seq:
            seq = ep.fin_seq - 1
        if seq <= r.trim:
            return
        if seq > r.last:
            self.undelivered(ep, seq)
        r.trim = seq
        r.blocks = [(max(s, seq), u) for s, u in r.blocks if u > seq]

    cdef void undelivered(self, ZeekEndpoint ep, long long up_to):
        cdef Reassembler r = ep.reasm
        if up_to <= 2 and self.is_partial:
            return
        while r.blocks and r.blocks[0][0] < up_to:
            s, u = r.blocks.pop(0)
            if s > r.last:
                self.gap(ep)
            r.last = max(r.last, u)
            r.deliver_buffered()
        if up_to > r.last:
            self.gap(ep)
            r.last = up_to

    cdef void gap(self, ZeekEndpoint ep):
        if _clean(ep) and _clean(ep.peer):
            self.scaled(ep, "G")

    # -- the log -----------------------------------------------------------------

    def conn_state(self):
        """conn_state() of base/protocols/conn/main.zeek (ZEEK.md section 2)."""
        cdef int os_ = self.orig.state, rs = self.resp.state
        cdef bint o_inactive = os_ == INACTIVE or os_ == PARTIAL
        cdef bint r_inactive = rs == INACTIVE or rs == PARTIAL
        if rs == RESET:
            if os_ == SYN_SENT or os_ == SYN_ACK_SENT or (
                os_ == RESET and self.orig.size() == 0 and self.resp.size() == 0
            ):
                return "REJ"
            return "RSTRH" if o_inactive else "RSTR"
        if os_ == RESET:
            if r_inactive:
                return "RSTOS0" if _rstos0(self.history) else "OTH"
            return "RSTO"
        if os_ == CLOSED and rs == CLOSED:
            return "SF"
        if os_ == CLOSED:
            return "SH" if r_inactive else "S2"
        if rs == CLOSED:
            return "SHR" if o_inactive else "S3"
        if os_ == SYN_SENT and rs == INACTIVE:
            return "S0"
        if os_ == ESTABLISHED and rs == ESTABLISHED:
            return "S1"
        return "OTH"

    def record(self, addresses, str ended_by, long long serial, positions):
        o, r = self.orig, self.resp
        return ZeekRecord(  # positionally: _RECORD_FIELDS
            self.start_time,
            serial,
            addresses[o.addr],
            o.port,
            addresses[r.addr],
            r.port,
            self.last_time - self.start_time,
            o.size(),
            r.size(),
            self.conn_state(),
            "".join(self.history),
            o.pkts,
            r.pkts,
            positions,
            ended_by,
            self.first_frame,
        )


def replay_span(blocks, Py_ssize_t a, Py_ssize_t b, ZeekConn conn, long long serial, sim,
                addresses, list out):
    """Replay one 4-tuple's packets at positions ``a .. b - 1`` of ``blocks``
    (``zeek._packets``), going on from ``conn`` (its packets here start at
    ``a``), whose serial is ``serial``; records that end go to ``out``.
    Returns the connection still open after them, and its serial.

    Before a packet at time t, every timer due before t has fired (Zeek
    advances its timers with network time, i.e. with any packet of the
    capture). Endpoints are address code << 16 | port.
    """
    if conn is not None:
        conn.start = a
    conn = _replay_blocks(blocks, a, b, conn, &serial, sim, addresses, out)
    return conn, serial


def replay_tuples(blocks, list bounds, sim, addresses, out, Py_ssize_t first_from=-1,
                  ZeekConn first=None, long long first_serial=0):
    """Replay each 4-tuple whose packets are at positions ``bounds[k] ..
    bounds[k + 1] - 1`` of ``blocks`` (``zeek._packets``) from its first
    packet on; every record, ended or still open at the end, goes to ``out``
    (a list of ``ZeekRecord``, or a ``CloseStates``).
    With ``first_from`` (0 or more), the first 4-tuple's replay goes on from
    ``first``, whose serial is ``first_serial``, at that position (its earlier
    packets were replayed ahead). (The loop is compiled: per 4-tuple, the
    Python around a replay cost as much as the replay.)"""
    cdef Py_ssize_t k, a, b
    cdef Py_ssize_t block_start = 0, block_end = 0  # the block in ``times`` and ``rows``
    cdef const double[::1] times = None
    cdef const long long[:, ::1] rows = None
    cdef ZeekConn conn
    cdef long long serial
    for k in range(len(bounds) - 1):
        a, b = bounds[k], bounds[k + 1]
        conn, serial = None, 0
        if k == 0 and first_from >= 0:
            a, conn, serial = first_from, first, first_serial
            if conn is not None:
                conn.start = a
        if a > b:
            raise IndexError(f"4-tuple {k} from position {a} to {b}")
        if block_start <= a and b <= block_end:
            conn = _replay(conn, &serial, times, rows, a - block_start, b - block_start, a, sim,
                           addresses, out)
        elif a < b:
            times = rows = None  # the old block leaves memory before the next is made
            conn = _replay_blocks(blocks, a, b, conn, &serial, sim, addresses, out)
            block_start, block_end = blocks.start, blocks.end
            times, rows = blocks.items
        if conn is not None:
            _ended(out, conn, addresses, "end_of_capture", serial, b)
            conn.release()


cdef ZeekConn _replay_blocks(blocks, Py_ssize_t a, Py_ssize_t b, ZeekConn conn,
                             long long* serial, sim, addresses, out):
    """``replay_span``'s loop over the blocks its positions lie in."""
    cdef Py_ssize_t position = a
    cdef const double[::1] times
    cdef const long long[:, ::1] rows
    for (times, rows), i, j in blocks.spans(a, b):
        if rows.shape[1] != len(PACKET_COLUMNS) or times.shape[0] != rows.shape[0]:
            raise ValueError(
                f"a block of shape {tuple(rows.shape)[:2]} with {times.shape[0]} times"
            )
        conn = _replay(conn, serial, times, rows, i, j, position, sim, addresses, out)
        position += j - i
    return conn


@cython.boundscheck(False)
@cython.wraparound(False)
cdef ZeekConn _replay(
    ZeekConn conn,
    long long* serial,
    const double[::1] times,
    const long long[:, ::1] rows,
    Py_ssize_t i,
    Py_ssize_t j,
    Py_ssize_t position,
    sim,
    addresses,
    out,
):
    """Replay rows ``i .. j - 1`` of a block (the first at ``position``),
    unchecked: returns the connection open after them, and leaves its serial
    in ``serial``."""
    cdef Py_ssize_t k, pos
    cdef double t
    cdef long long flags, seq
    for k in range(i, j):
        pos = position + k - i
        t, flags, seq = times[k], rows[k, FLAGS], rows[k, SEQ]
        if conn is not None:
            ended = conn.run_timers(t) if conn.next_due < t else None
            if ended is None and flags & SYN and conn.is_reuse(flags, seq):
                ended = "reuse"
            if ended is not None:
                _ended(out, conn, addresses, ended, serial[0], pos)
                conn.release()
                serial[0] += 1
                conn = None
        if conn is None:
            conn = ZeekConn(sim, t, rows[k, SRC], rows[k, DST], flags, rows[k, FRAME])
            conn.start = pos
        conn.packet(rows[k, SRC], t, flags, seq, rows[k, ACK_NO], rows[k, LENGTH], rows[k, WINDOW])
    return conn


cdef class CloseStates:
    """What ``zeek.annotate`` needs of the records a replay makes, without making
    them: the record of each position replayed (``record_at``, its number in
    the order records end), and each record's conn_state and history. (A
    ``ZeekRecord`` per record, and sorting them, was a third of the replay,
    for output that writes no conn.log.)"""

    cdef long long[::1] record_at
    cdef readonly list conn_states, histories

    def __init__(self, long long[::1] record_at not None):
        self.record_at = record_at
        self.conn_states, self.histories = [], []

    cdef int add(self, ZeekConn conn, Py_ssize_t stop) except -1:
        cdef Py_ssize_t k, n = len(self.conn_states)
        if not 0 <= conn.start <= stop <= self.record_at.shape[0]:
            raise IndexError(f"a record of positions {conn.start} to {stop}")
        for k in range(conn.start, stop):
            self.record_at[k] = n
        self.conn_states.append(conn.conn_state())
        self.histories.append("".join(conn.history))
        return 0


cdef int _ended(out, ZeekConn conn, addresses, str ended_by, long long serial,
                Py_ssize_t stop) except -1:
    """A record that ends with the packet before position ``stop``, to ``out``
    (a ``CloseStates``, or a list of ``ZeekRecord``)."""
    if type(out) is CloseStates:
        return (<CloseStates>out).add(conn, stop)
    out.append(conn.record(addresses, ended_by, serial, range(conn.start, stop)))
    return 0
