"""The RFC 793 endpoint state machine, as one table.

Theory of operation
-------------------
Each connection has two machines, one per side. A segment that passes the
capture point produces *endpoint events* for its sender (``SEND_*``) and for
its receiver (``RECV_*``, ``*_ACKED``); the walk (``walk.pyx``) derives the
events in a fixed order and looks each one up in this table (in a numbered copy
it makes of it at import). All transitions live in this module; it does not
know which role (client/server) a machine plays.

What the capture can and cannot tell: a segment is taken to reach its
receiver when it passes the capture point ("receipt at passing"), so a segment
lost between the capture point and the receiver makes the receiver's state
run ahead of the kernel's until a retransmission shows the loss. The one place
where the ack field overrides capture order is a FIN whose ack does not cover
the peer's FIN that already passed: its sender had not received that FIN when
it sent its own, so the FINs crossed (``SEND_FIN_CROSSING``: simultaneous
close) and both sides go through CLOSING, whatever order the capture shows.
TIME_WAIT's 2*MSL expiry is a timer the capture cannot see; ``TIMEOUT`` is
applied by the caller when capture time passes the deadline.
"""

from __future__ import annotations

from enum import Enum

from .vocabulary import State


class Event(Enum):
    SEND_SYN = "send SYN"
    SEND_SYN_ACK = "send SYN-ACK"
    RECV_SYN = "receive SYN"
    RECV_SYN_ACK = "receive SYN-ACK"
    SYN_ACKED = "own SYN acked"
    SEND_FIN = "send FIN"
    SEND_FIN_CROSSING = "send FIN before receiving the peer's FIN in flight"
    RECV_FIN = "receive FIN"
    FIN_ACKED = "own FIN acked"
    SEND_RST = "send RST"
    RECV_RST = "receive RST"
    TIMEOUT = "2*MSL passed"
    # Not from RFC 793's diagram but from the vantage point: a side sends its
    # FIN again after an ACK of it passed the capture point, so that ACK was
    # lost beyond the capture point and the side is still waiting for it.
    RESEND_FIN_AFTER_ACK = "send FIN again: its ACK was lost past the capture point"


S = State
E = Event

# state -> event -> next state. An event missing from a state's row leaves the
# state unchanged (a retransmission, or a segment the state ignores).
TRANSITIONS: dict[State, dict[Event, State]] = {
    S.CLOSED: {
        E.SEND_SYN: S.SYN_SENT,
        E.RECV_SYN: S.SYN_RECEIVED,
        E.RESEND_FIN_AFTER_ACK: S.LAST_ACK,
    },
    S.LISTEN: {
        E.RECV_SYN: S.SYN_RECEIVED,
        E.SEND_SYN_ACK: S.SYN_RECEIVED,
        E.SEND_RST: S.CLOSED,
    },
    S.SYN_SENT: {
        E.RECV_SYN_ACK: S.ESTABLISHED,
        # Simultaneous open: both sides sent a bare SYN.
        E.RECV_SYN: S.SYN_RECEIVED,
        E.SEND_RST: S.CLOSED,
        E.RECV_RST: S.CLOSED,
    },
    S.SYN_RECEIVED: {
        E.SYN_ACKED: S.ESTABLISHED,
        E.SEND_FIN: S.FIN_WAIT_1,
        E.RECV_FIN: S.CLOSE_WAIT,
        E.SEND_RST: S.CLOSED,
        E.RECV_RST: S.CLOSED,
    },
    S.ESTABLISHED: {
        E.SEND_FIN: S.FIN_WAIT_1,
        E.RECV_FIN: S.CLOSE_WAIT,
        E.SEND_RST: S.CLOSED,
        E.RECV_RST: S.CLOSED,
    },
    S.FIN_WAIT_1: {
        E.FIN_ACKED: S.FIN_WAIT_2,
        E.RECV_FIN: S.CLOSING,
        E.SEND_RST: S.CLOSED,
        E.RECV_RST: S.CLOSED,
    },
    S.FIN_WAIT_2: {
        E.RECV_FIN: S.TIME_WAIT,
        E.RESEND_FIN_AFTER_ACK: S.FIN_WAIT_1,
        E.SEND_RST: S.CLOSED,
        E.RECV_RST: S.CLOSED,
    },
    S.CLOSE_WAIT: {
        E.SEND_FIN: S.LAST_ACK,
        # Our FIN left before the peer's FIN (which passed the capture point
        # first) reached us: a simultaneous close.
        E.SEND_FIN_CROSSING: S.CLOSING,
        E.SEND_RST: S.CLOSED,
        E.RECV_RST: S.CLOSED,
    },
    S.CLOSING: {
        E.FIN_ACKED: S.TIME_WAIT,
        E.SEND_RST: S.CLOSED,
        E.RECV_RST: S.CLOSED,
    },
    S.LAST_ACK: {
        E.FIN_ACKED: S.CLOSED,
        E.SEND_RST: S.CLOSED,
        E.RECV_RST: S.CLOSED,
    },
    S.TIME_WAIT: {
        E.RESEND_FIN_AFTER_ACK: S.CLOSING,
        # RFC 793 as Linux follows it by default (net.ipv4.tcp_rfc1337 = 0):
        # a RST ends TIME_WAIT at once. RFC 1337 calls this assassination.
        E.RECV_RST: S.CLOSED,
        E.SEND_RST: S.CLOSED,
        E.TIMEOUT: S.CLOSED,
    },
}
