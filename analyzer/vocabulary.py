"""Every word the tool reports, each defined once, here.

The terminal output, the JSON (and its schema), the CSV, the HTML report and
the notebook all use these values; the JSON schema's enumerations are checked
against this module by the tests. Definitions follow ``TEARDOWN.md`` (the
domain brief) and RFC 793 / RFC 9293; ``docs/verdicts.md`` gives the rules.
"""

from __future__ import annotations

from enum import StrEnum


class Side(StrEnum):
    """Which end of a connection."""

    CLIENT = "client"  # sent the first bare SYN (or was inferred to, see roles_inferred)
    SERVER = "server"  # the other end
    BOTH = "both"  # both ends (a simultaneous close; both hold TIME_WAIT)

    @property
    def peer(self) -> Side:
        """The other end (of CLIENT or SERVER)."""
        return Side.SERVER if self is Side.CLIENT else Side.CLIENT


class State(StrEnum):
    """RFC 793 endpoint states, inferred from what passed the capture point."""

    CLOSED = "CLOSED"  # no connection (before the SYN, after a RST or LAST_ACK)
    LISTEN = "LISTEN"  # the server before the SYN arrives
    SYN_SENT = "SYN_SENT"  # the client after its SYN
    SYN_RECEIVED = "SYN_RECEIVED"  # the server after its SYN-ACK
    ESTABLISHED = "ESTABLISHED"  # handshake done (or the capture began mid-connection)
    FIN_WAIT_1 = "FIN_WAIT_1"  # sent its FIN first (active close), FIN not yet acked
    FIN_WAIT_2 = "FIN_WAIT_2"  # its FIN acked, waiting for the peer's FIN
    CLOSE_WAIT = "CLOSE_WAIT"  # received the peer's FIN first (passive close), not closed yet
    CLOSING = "CLOSING"  # FINs crossed (simultaneous close), its FIN not yet acked
    LAST_ACK = "LAST_ACK"  # passive closer sent its FIN, waiting for its ACK
    TIME_WAIT = "TIME_WAIT"  # active closer after the close, for 2*MSL


class CloseKind(StrEnum):
    """How a connection (one incarnation) ended."""

    GRACEFUL = "graceful"  # both FINs sent and acked, no RST before that
    SIMULTANEOUS = "simultaneous"  # graceful, but the FINs crossed
    ABORT = "abort"  # ended by a RST before both FINs were exchanged and acked
    REFUSED = "refused"  # the SYN was answered by a RST; never established
    ATTEMPT = "attempt"  # SYN(s) never answered in the capture
    INCOMPLETE = "incomplete"  # a FIN was seen but the close did not finish in the capture
    OPEN = "open"  # established, no FIN and no RST in the capture


class TimeWaitEnd(StrEnum):
    """What ended a TIME_WAIT (null in the JSON while it still runs at capture end)."""

    TIMEOUT = "timeout"  # 2*MSL passed
    RST = "rst"  # a RST reached the TIME_WAIT side (RFC 1337 assassination)
    SYN = "syn"  # a new SYN on the same 4-tuple started the next incarnation


class EventKind(StrEnum):
    """Teardown events: the segments a reader of the close needs to see."""

    SYN = "syn"  # the client's SYN
    SYN_RETRANSMISSION = "syn_retransmission"  # the same SYN (same ISN) again
    SYN_ACK = "syn_ack"  # the server's SYN-ACK
    HANDSHAKE_ACK = "handshake_ack"  # the client's ACK of the SYN-ACK
    FIN = "fin"  # a side's first FIN
    FIN_RETRANSMISSION = "fin_retransmission"  # the same FIN (same sequence number) again
    FIN_ACK = "fin_ack"  # the first ACK that covers a FIN (before the other side's FIN)
    FINAL_ACK = "final_ack"  # the ACK of the second FIN: the close is complete
    RST = "rst"  # a reset
    HALF_CLOSE_DATA = "half_close_data"  # first new payload from a side after the peer's FIN
    DATA_AFTER_FIN = "data_after_fin"  # new payload from a side after its own FIN
    KEEPALIVE = "keepalive"  # probe: seq = snd_nxt - 1, 0 or 1 byte
    TIME_WAIT_SEGMENT = "time_wait_segment"  # a segment reaching a side in TIME_WAIT
    TIME_WAIT_ACK = "time_wait_ack"  # an ACK sent by a side in TIME_WAIT (e.g. a re-ACK)


class Severity(StrEnum):
    INFO = "info"  # worth knowing; not a problem by itself
    WARNING = "warning"  # likely a problem, or a risk of one
    ERROR = "error"  # data was lost or a connection was wrongly killed


SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class FindingKind(StrEnum):
    """Anomalies worth an engineer's attention (details in docs/findings.md)."""

    TIME_WAIT_ASSASSINATION = "time_wait_assassination"  # RST killed a TIME_WAIT (RFC 1337)
    RST_DATA_LOSS = "rst_data_loss"  # RST while bytes were unacknowledged
    RST_UNREAD_DATA = "rst_unread_data"  # RST sender closed with unread received data
    RST_AFTER_CLOSE = "rst_after_close"  # peer kept sending after a full close; got a RST
    ABORTIVE_CLOSE = "abortive_close"  # ended by RST with no sign of lost data
    FIN_RETRANSMISSION = "fin_retransmission"  # a FIN was sent again, with its cause
    PORT_REUSE = "port_reuse"  # a new incarnation of a 4-tuple
    CLOSE_WAIT_STALL = "close_wait_stall"  # a side acked the peer's FIN but did not close
    RST_SUSPECT_ORIGIN = "rst_suspect_origin"  # RST likely forged or from a middlebox
    KEEPALIVE_TIMEOUT = "keepalive_timeout"  # keepalive probes unanswered, then a RST
    DATA_AFTER_FIN = "data_after_fin"  # new payload after the sender's own FIN
    PORT_EXHAUSTION_RISK = "port_exhaustion_risk"  # TIME_WAIT may exhaust ephemeral ports
    CAPTURE_DUPLICATE_FRAMES = "capture_duplicate_frames"  # same segment captured twice
    CAPTURE_MISSED_SEGMENTS = "capture_missed_segments"  # ACKs for bytes never captured
    CAPTURE_TRUNCATED = "capture_truncated"  # the file ended mid-record or was damaged
