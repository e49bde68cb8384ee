"""Speak Zeek: the ``conn_state`` and ``history`` Zeek would log, and its conn.log records.

Zeek's TCP analysis is replayed packet by packet, per 4-tuple, in frame order:
endpoint states (INACTIVE ... RESET), history letters with their case,
repetition and log-scale rules, role flips ('^'), the reassembler's content
gaps ('G'), and the timers and connection reuse that make Zeek end one record
and start another on the same 4-tuple. The rules, with references to Zeek's
source, are in tests/data/corpus/zeek/ZEEK.md; docs/zeek.md says what is
implemented, how Zeek's records map onto our incarnations, and where we differ.

This is interoperability, not a verdict: our own close kinds, closers and
TIME_WAIT stay as ``teardown.py`` decides them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from .blocks import Blocks
from .connections import ConnectionIndex, first_after
from .model import Connection
from .segments import ACK, FIN, RST, SYN, SegmentTable

# Endpoint states (ZEEK.md section 1; TCP_Endpoint.h EndpointState).
INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET = range(7)
STATE_NAMES = (
    "TCP_INACTIVE",
    "TCP_SYN_SENT",
    "TCP_SYN_ACK_SENT",
    "TCP_PARTIAL",
    "TCP_ESTABLISHED",
    "TCP_CLOSED",
    "TCP_RESET",
)
_HANDSHAKE = (INACTIVE, SYN_SENT, SYN_ACK_SENT)

# Timer constants (ZEEK.md section 5; init-bare.zeek).
TCP_ATTEMPT_DELAY = 5.0
TCP_SESSION_TIMER = 6.0
TCP_SYN_TIMEOUT = 5.0
TCP_CONNECTION_LINGER = 5.0
TCP_CLOSE_DELAY = 5.0
TCP_RESET_DELAY = 5.0
UDP_INACTIVITY_TIMEOUT = 60.0  # what a TCP connection starts with
TCP_INACTIVITY_TIMEOUT = 300.0  # once an endpoint leaves the handshake states
# base/protocols/conn/inactivity.zeek: port_inactivity_timeouts (not in bare mode)
LONG_INACTIVITY_PORTS = frozenset({21, 22, 23, 513})
LONG_INACTIVITY_TIMEOUT = 3600.0

TOO_LARGE_SEQ_DELTA = 1048576
MOD = 1 << 32
HALF = 1 << 31

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

# History masks: one bit per letter kind; the responder's are shifted << 16.
_H_SYN, _H_FIN, _H_RST, _H_FIN_RST, _H_DATA, _H_ACK, _H_MULTI = (1 << i for i in range(7))

# conn_state's RSTOS0 test: /\^?S[^HAFGIQ]*R.*/ matched against the whole history.
_RSTOS0_EXCLUDED = frozenset("HAFGIQ")


class _Reassembler:
    """Just enough of TCP_Reassembler to know when Zeek reports a content gap."""

    __slots__ = ("last", "trim", "blocks")

    def __init__(self) -> None:
        self.last = 1  # last_reassem_seq: delivered up to here (relative seq)
        self.trim = 1  # trim_seq: acked up to here
        self.blocks: list[tuple[int, int]] = []  # undelivered [seq, upper) above holes


class _Ep:
    """One side of a Zeek connection (TCP_Endpoint)."""

    __slots__ = (
        "is_orig",
        "state",
        "prev_state",
        "start",
        "last",
        "ack",
        "fin_cnt",
        "fin_seq",
        "did_close",
        "hist_syn",
        "hist_fin",
        "hist_rst",
        "counts",
        "thresholds",
        "peer",
        "first_seen",
        "reasm",
        "pkts",
        "addr",
        "port",
    )

    def __init__(self, is_orig: bool, endpoint: int) -> None:
        self.is_orig = is_orig
        self.state = self.prev_state = INACTIVE
        self.start = self.last = self.ack = 0
        self.fin_cnt = 0
        self.fin_seq = 0
        self.did_close = False
        self.hist_syn = self.hist_fin = self.hist_rst = 0
        self.counts: dict[str, int] | None = None  # per log-scaled letter (C, T, W, G)
        self.thresholds: dict[str, int] = {}
        self.peer: _Ep = self
        self.first_seen = False
        self.reasm = _Reassembler()
        self.pkts = 0
        self.addr = endpoint >> 16
        self.port = endpoint & 0xFFFF

    def size(self) -> int:
        """TCP_Endpoint::Size(): payload bytes as the sequence numbers say."""
        no_data_acked = self.ack in (self.start, self.start + 1)
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


@dataclass
class ZeekRecord:
    """One conn.log record as Zeek would write it."""

    ts: float
    serial: int  # records before this one on the same 4-tuple
    orig_h: str
    orig_p: int
    resp_h: str
    resp_p: int
    duration: float
    orig_bytes: int
    resp_bytes: int
    conn_state: str
    history: str
    orig_pkts: int
    resp_pkts: int
    positions: range = field(default=range(0), repr=False)  # its packets in the index's order
    ended_by: str = "end_of_capture"  # or "attempt_timer", "reuse", ... (docs/zeek.md)
    first_frame: int = 0  # frame of its first packet

    @property
    def uid(self) -> str:
        """Deterministic and Zeek-looking: 'C' and 17 base62 digits of a hash."""
        key = f"{self.ts:.9f}|{self.orig_h}|{self.orig_p}|{self.resp_h}|{self.resp_p}|{self.serial}"
        return _uid(key)


class _Conn:
    """One Zeek connection (Connection + TCPSessionAdapter) on one 4-tuple."""

    def __init__(
        self, sim: _Options, t: float, sender: int, receiver: int, flags: int, first_frame: int
    ) -> None:
        self.sim = sim
        self.first_frame = first_frame
        self.start = 0  # the position of its first packet in the order being replayed
        a = _Ep(True, sender)
        b = _Ep(False, receiver)
        sport, dport = sender & 0xFFFF, receiver & 0xFFFF
        a.peer, b.peer = b, a
        self.by_key = {sender: a, receiver: b}
        self.orig, self.resp = a, b
        self.history: list[str] = []
        self.seen = 0
        self.start_time = self.last_time = t
        self.is_active = True
        self.is_partial = False
        # Analyzer timers (attempt, expire, reset, delete) as (due, kind); the
        # session's inactivity timer apart; next_due: the earliest of them all.
        self.timers: list[tuple[float, str]] = [(t + TCP_SYN_TIMEOUT, "expire")]
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
                    self.flip_roles()

    # -- history ---------------------------------------------------------------

    def add(self, ep: _Ep, code: str) -> None:
        self.history.append(code if ep.is_orig else code.lower())

    def check(self, ep: _Ep, mask: int, code: str) -> bool:
        """Session::CheckHistory: add the letter once; True when it was seen before."""
        if code in "AD" and len(self.history) == 1 and self.history[0] == "H":
            # A conn that began with a SYN-ACK: the first A/D flips it (ZEEK.md 4).
            self.flip_roles(late=True)
        if not ep.is_orig:
            mask <<= 16
        if self.seen & mask:
            return True
        self.seen |= mask
        self.history.append(code if ep.is_orig else code.lower())
        return False

    def scaled(self, ep: _Ep, code: str) -> None:
        """Session::ScaledHistoryEntry: letter at the 1st, 10th, 100th ... time."""
        if ep.counts is None:
            ep.counts = {"C": 0, "T": 0, "W": 0, "G": 0}
            ep.thresholds = {"C": 1, "T": 1, "W": 1, "G": 1}
        ep.counts[code] += 1
        if ep.counts[code] == ep.thresholds[code]:
            self.add(ep, code)
            ep.thresholds[code] *= 10

    def flip_roles(self, late: bool = False) -> None:
        self.orig, self.resp = self.resp, self.orig
        self.orig.is_orig, self.resp.is_orig = True, False
        self.is_partial = False
        if late:
            self.history = ["^", "h"]
            self.seen = _H_SYN << 16
        else:
            self.history.append("^")

    def release(self) -> None:
        """Break the endpoints' cycle (each names the other as its peer), so
        that reference counting frees them: the walk runs without the cyclic
        garbage collector (``engine.walk_slice``)."""
        self.orig.peer = self.resp.peer = None

    # -- timers ----------------------------------------------------------------

    def add_timer(self, due: float, kind: str) -> None:
        self.timers.append((due, kind))
        if due < self.next_due:
            self.next_due = due

    def set_inactivity(self, timeout: float) -> None:
        if timeout != self.inactivity:
            self.inactivity = timeout
            self.inactivity_at = self.last_time + timeout
            self.next_due = min(self.next_due, self.inactivity_at)

    def cancel_timers(self) -> None:
        self.timers = []

    def run_timers(self, now: float) -> str | None:
        """Fire the timers due before ``now``; the reason if one removed the connection."""
        ended = self._run_timers(now)
        due = [x[0] for x in self.timers]
        due.append(self.inactivity_at)
        self.next_due = min(due)
        return ended

    def _run_timers(self, now: float) -> str | None:
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
                if orig.state in (SYN_SENT, SYN_ACK_SENT) and resp.state == INACTIVE:
                    self.is_active = False
                    return "attempt_timer"
            elif kind == "reset":
                return "reset_delay"
            elif kind == "expire":
                if self.last_time + TCP_CONNECTION_LINGER < t:
                    if (orig.did_close or resp.did_close) and (
                        (orig.did_close and resp.did_close)
                        or RESET in (orig.state, resp.state)
                        or INACTIVE in (orig.state, resp.state)
                    ):
                        self.is_active = False
                        return "expire_timer"
                    if resp.state == INACTIVE and orig.state == INACTIVE:
                        return "expire_timer"
                self.timers.append((t + TCP_SESSION_TIMER, "expire"))

    # -- reuse -----------------------------------------------------------------

    def is_reuse(self, flags: int, seq: int) -> bool:
        """TCPSessionAdapter::IsReuse: does this packet start a new connection?"""
        if not flags & SYN:
            return False
        conn_orig = self.orig
        if flags & ACK:
            if self.orig.state != INACTIVE:
                return False
            conn_orig = self.resp
        if not (self.orig.did_close or self.resp.did_close):
            if seq == conn_orig.start % MOD:
                return False
            if (
                not flags & ACK
                and conn_orig.state == SYN_ACK_SENT
                and self.resp.state == INACTIVE
                and seq == self.resp.start % MOD
            ):
                return False
        return True

    # -- the packet ------------------------------------------------------------

    def set_state(self, ep: _Ep, new: int) -> None:
        if new != ep.state:
            if new not in _HANDSHAKE and ep.state in _HANDSHAKE and ep.peer.state in _HANDSHAKE:
                self.set_inactivity(TCP_INACTIVITY_TIMEOUT)
            ep.prev_state = ep.state
            ep.state = new

    def packet(self, key: int, t: float, flags: int, seq: int, ack: int, length: int,
               window: int) -> None:  # fmt: skip
        """TCPSessionAdapter::Process for one packet."""
        ep = self.by_key[key]
        peer = ep.peer
        is_orig = ep.is_orig
        ep.pkts += 1
        syn, fin, rst, has_ack = flags & SYN, flags & FIN, flags & RST, flags & ACK

        # SetPartialStatus
        if is_orig:
            if not ep.first_seen:
                self.is_partial = not syn or bool(has_ack)
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
            (state in (SYN_SENT, SYN_ACK_SENT) and seq != ep.start % MOD)
            or state in (ESTABLISHED, PARTIAL)
            or (state == RESET and ep.prev_state == INACTIVE)
        ):
            ep.start = ep.ack = seq
            ep.last = seq + seg_len

        ref = ep.last
        rel_seq = ref + ((seq - ref + HALF) % MOD - HALF) - ep.start
        underflow = rel_seq < 0

        # update_history
        bits = (1 if syn else 0) + (1 if fin else 0) + (1 if rst else 0)
        if bits > 1:
            if fin and rst:
                self.check(ep, _H_FIN_RST, "I")
            else:
                self.check(ep, _H_MULTI, "Q")
        elif bits == 1:
            if syn:
                code = "H" if has_ack else "S"
                if self.check(ep, _H_SYN, code) and rel_seq != ep.hist_syn:
                    self.add(ep, code)
                ep.hist_syn = rel_seq
            elif fin:
                if self.check(ep, _H_FIN, "F") and rel_seq + length != ep.hist_fin:
                    self.add(ep, "F")
                ep.hist_fin = rel_seq + length
            else:
                if self.check(ep, _H_RST, "R") and rel_seq != ep.hist_rst:
                    self.add(ep, "R")
                ep.hist_rst = rel_seq
        elif length or has_ack:
            # (fast path: skip check() when the letter is already there and no flip can come)
            mask = _H_DATA if length else _H_ACK
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
                full_ack = ref + ((ack - ref + HALF) % MOD - HALF)
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
        delta_last = (seq + seg_len - ref + HALF) % MOD - HALF
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
            do_close, gen_event = self.state_machine(t, ep, peer, seq, length, is_orig, flags)
        else:
            do_close = gen_event = False  # no state changes (TSA UpdateStateMachine)

        if has_ack and rel_ack > peer.reasm.trim:
            self.ack_received(peer, rel_ack)
        if length > 0 and not rst and not underflow:
            self.data_sent(ep, rel_seq + (1 if syn else 0), length)
        ep.first_seen = True
        if do_close:
            self.connection_closed(ep, peer, gen_event)

    def state_machine(self, t, ep, peer, seq, length, is_orig, flags) -> tuple[bool, bool]:
        """TCPSessionAdapter::UpdateStateMachine and its Update*State helpers."""
        do_close = gen_event = False
        syn, fin, rst, has_ack = flags & SYN, flags & FIN, flags & RST, flags & ACK
        state = ep.state
        if state == INACTIVE:
            if syn:
                if is_orig:
                    self.set_state(ep, SYN_ACK_SENT if has_ack else SYN_SENT)
                    self.add_timer(t + TCP_ATTEMPT_DELAY, "attempt")
                else:
                    if not has_ack and peer.state == SYN_ACK_SENT and seq == ep.start % MOD:
                        # SYN / SYN-ACK reversal: flip and establish.
                        self.is_partial = False
                        self.flip_roles()
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
                    is_reject = peer.state in (SYN_SENT, SYN_ACK_SENT)
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
        elif state in (SYN_SENT, SYN_ACK_SENT):
            if fin:
                self.set_state(ep, CLOSED)
                do_close = gen_event = True
            if rst:
                self.set_state(ep, RESET)
                self.is_active = False  # ConnectionReset
                do_close = True
        elif state in (ESTABLISHED, PARTIAL):
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
        return do_close, gen_event

    def established(self) -> None:
        """connection_established: inactivity.zeek's longer timeout for some ports."""
        if self.sim.long_inactivity_ports:
            port = self.resp.port if self.orig.state != INACTIVE else self.orig.port
            if port in self.sim.long_inactivity_ports:
                self.set_inactivity(LONG_INACTIVITY_TIMEOUT)

    def connection_closed(self, ep: _Ep, peer: _Ep, gen_event: bool) -> None:
        if ep.did_close:
            return
        ep.did_close = True
        if ep.state == RESET or peer.did_close or peer.state == INACTIVE:
            if (ep.prev_state != INACTIVE or peer.state != INACTIVE) and gen_event:
                self.is_active = False  # ConnectionFinished
            self.cancel_timers()
            self.add_timer(self.last_time + TCP_CLOSE_DELAY, "delete")
        elif ep.prev_state != INACTIVE:
            self.add_timer(self.last_time + TCP_SESSION_TIMER, "expire")
        # (a first close from a side never seen before would start the
        # PartialCloseTimer, which only runs with a connection_partial_close handler)

    # -- reassembly: content gaps ------------------------------------------------

    def data_sent(self, ep: _Ep, seq: int, length: int) -> None:
        r = ep.reasm
        upper = seq + length
        acked = ep.ack - ep.start
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
                self._deliver_buffered(r)
        else:
            r.blocks.append((seq, upper))
            r.blocks.sort()

    @staticmethod
    def _deliver_buffered(r: _Reassembler) -> None:
        while r.blocks and r.blocks[0][0] <= r.last:
            r.last = max(r.last, r.blocks.pop(0)[1])

    def ack_received(self, ep: _Ep, seq: int) -> None:
        """TCP_Reassembler::AckReceived on the side whose data ``seq`` acknowledges."""
        r = ep.reasm
        if ep.fin_cnt > 0 and seq >= ep.fin_seq:
            seq = ep.fin_seq - 1
        if seq <= r.trim:
            return
        if seq > r.last:
            self.undelivered(ep, seq)
        r.trim = seq
        r.blocks = [(max(s, seq), u) for s, u in r.blocks if u > seq]

    def undelivered(self, ep: _Ep, up_to: int) -> None:
        r = ep.reasm
        if up_to <= 2 and self.is_partial:
            return
        while r.blocks and r.blocks[0][0] < up_to:
            s, u = r.blocks.pop(0)
            if s > r.last:
                self.gap(ep)
            r.last = max(r.last, u)
            self._deliver_buffered(r)
        if up_to > r.last:
            self.gap(ep)
            r.last = up_to

    def gap(self, ep: _Ep) -> None:
        if _clean(ep) and _clean(ep.peer):
            self.scaled(ep, "G")

    # -- the log -----------------------------------------------------------------

    def conn_state(self) -> str:
        """conn_state() of base/protocols/conn/main.zeek (ZEEK.md section 2)."""
        os_, rs = self.orig.state, self.resp.state
        o_inactive = os_ in (INACTIVE, PARTIAL)
        r_inactive = rs in (INACTIVE, PARTIAL)
        if rs == RESET:
            if os_ in (SYN_SENT, SYN_ACK_SENT) or (
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

    def record(
        self, addresses: list[str], ended_by: str, serial: int, positions: range
    ) -> ZeekRecord:
        o, r = self.orig, self.resp
        orig_h, resp_h = addresses[o.addr], addresses[r.addr]
        return ZeekRecord(
            ts=self.start_time,
            serial=serial,
            orig_h=orig_h,
            orig_p=o.port,
            resp_h=resp_h,
            resp_p=r.port,
            duration=self.last_time - self.start_time,
            orig_bytes=o.size(),
            resp_bytes=r.size(),
            conn_state=self.conn_state(),
            history="".join(self.history),
            orig_pkts=o.pkts,
            resp_pkts=r.pkts,
            positions=positions,
            ended_by=ended_by,
            first_frame=self.first_frame,
        )


def _clean(ep: _Ep) -> bool:
    return ep.state == ESTABLISHED or (ep.state == CLOSED and ep.prev_state == ESTABLISHED)


def _rstos0(history: list[str]) -> bool:
    h = history[1:] if history and history[0] == "^" else history
    if not h or h[0] != "S":
        return False
    for letter in h[1:]:
        if letter == "R":
            return True
        if letter in _RSTOS0_EXCLUDED:
            return False
    return False


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _uid(key: str) -> str:
    """A deterministic, Zeek-looking uid: 'C' and 17 base62 digits of a hash."""
    n = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=12).digest(), "big")
    digits = []
    for _ in range(17):
        n, d = divmod(n, 62)
        digits.append(_BASE62[d])
    return "C" + "".join(digits)


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

    conn: _Conn  # the Zeek connection open after them
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
    order = index.order

    def packets(a: int, b: int) -> list[tuple]:
        """(time, sender, receiver, flags, seq, ack, len, window) at positions a .. b-1.

        Before a packet at time t, every timer due before t has fired (Zeek
        advances its timers with network time, i.e. with any packet of the
        capture). Endpoints are address code << 16 | port.
        """
        rows = order[a:b]
        src = seg.src[rows].astype(np.int64) << 16 | seg.sport[rows]
        dst = seg.dst[rows].astype(np.int64) << 16 | seg.dport[rows]
        columns = [(seg.ts_ns[rows] / 1e9).tolist(), src.tolist(), dst.tolist()]
        for name in ("flags", "seq", "ack", "payload_len", "window"):
            columns.append(seg.columns[name][rows].tolist())
        return list(zip(*columns))

    return Blocks(len(order), packets)


def _records(seg, index, opts: _Options, so_far: ReplaySoFar | None) -> list[ZeekRecord]:
    if not len(index.order):
        return []
    replay = _Replay(seg, index, opts)
    out: list[ZeekRecord] = []
    # A 4-tuple's connections are consecutive in the index's order.
    bounds = index.tuple_bounds()
    for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        if k == 0 and so_far is not None:
            out.extend(so_far.ended)
            skip = first_after(seg, index, so_far.through)
            conn, serial = replay.tuple(skip, b, so_far.conn, so_far.serial, out)
        else:
            conn, serial = replay.tuple(a, b, None, 0, out)
        if conn is not None:
            out.append(conn.record(seg.addresses, "end_of_capture", serial, range(conn.start, b)))
            conn.release()
    out.sort(key=lambda r: (r.ts, r.first_frame))
    return out


class _Replay:
    """The per-packet loop of ``records``."""

    def __init__(self, seg: SegmentTable, index: ConnectionIndex, opts: _Options) -> None:
        self.seg, self.order, self.opts = seg, index.order, opts
        self.packets = _packets(seg, index)

    def tuple(self, a: int, b: int, conn: _Conn | None, serial: int, out: list) -> tuple:
        """Replay one 4-tuple's packets at positions ``a .. b-1``, going on from
        ``conn``, whose serial is ``serial``; records that end go to ``out``.
        Returns the connection still open after them, and its serial."""
        addresses, opts, frame = self.seg.addresses, self.opts, self.seg.frame
        if conn is not None:
            conn.start = a  # its packets here
        for i, (t, src, dst, flags, seq, ack, length, window) in enumerate(
            self.packets.between(a, b), a
        ):
            if conn is not None:
                ended = conn.run_timers(t) if conn.next_due < t else None
                if ended is None and flags & SYN and conn.is_reuse(flags, seq):
                    ended = "reuse"
                if ended is not None:
                    out.append(conn.record(addresses, ended, serial, range(conn.start, i)))
                    conn.release()
                    serial += 1
                    conn = None
            if conn is None:
                conn = _Conn(opts, t, src, dst, flags, int(frame[self.order[i]]))
                conn.start = i
            conn.packet(src, t, flags, seq, ack, length, window)
        return conn, serial


def replay_ahead(
    seg: SegmentTable, index: ConnectionIndex, so_far: ReplaySoFar | None
) -> ReplaySoFar:
    """Go on with the replay of ``index``'s one 4-tuple over ``seg``, its next
    part (after the segments that decide its index, replayed already),
    leaving its last Zeek connection open."""
    replay = _Replay(seg, index, _options(LIKELY_SERVER_PORTS, False))
    skip = first_after(seg, index, so_far.through) if so_far else 0
    conn, serial = (so_far.conn, so_far.serial) if so_far else (None, 0)
    ended: list[ZeekRecord] = []
    conn, serial = replay.tuple(skip, len(index.order), conn, serial, ended)
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
) -> list[ZeekRecord]:
    """Set ``c.zeek`` on every connection; return Zeek's conn.log records.

    ``c.zeek`` describes the Zeek record holding the connection's close: its
    last FIN or RST, or, with neither, its last segment (docs/zeek.md). With
    ``so_far``, the first connection was replayed ahead over its earlier
    segments (``replay_ahead``); ``segments`` holds those of them that decide
    its index, and the rest, and is one 4-tuple's.
    """
    recs = _records(segments, index, _options(likely_server_ports, bare), so_far)
    if not recs:
        return recs
    record_of_row = np.empty(len(segments), np.int64)
    for k, r in enumerate(recs):
        record_of_row[index.order[r.positions.start : r.positions.stop]] = k
    # Per connection of the index: its last FIN or RST, else its last segment.
    order, starts = index.order, index.starts
    pos = np.arange(len(order))
    closing = (segments.flags[order] & (FIN | RST)) != 0
    skip = first_after(segments, index, so_far.through) if so_far else 0
    closing[:skip] = False  # replayed already
    last_close = np.maximum.reduceat(np.where(closing, pos, -1), starts[:-1])
    close_pos = np.where(last_close >= 0, last_close, starts[1:] - 1)
    close_record = record_of_row[order[close_pos]].tolist()
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
    first_frames = segments.frame[order[starts[:-1]]].tolist()
    by_first_frame = {c.first_frame: c for c in connections}
    for first, k in zip(first_frames, close_record):
        conn = by_first_frame.get(first)
        if conn is not None:
            r = recs[k]
            conn.zeek = {"conn_state": r.conn_state, "history": r.history}
    return recs
