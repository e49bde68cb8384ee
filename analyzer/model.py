"""Result types: what the analysis says about each connection.

Plain dataclasses (and a named tuple for endpoints), so they print, compare
and serialise without ceremony.
Times are epoch seconds (float); sequence numbers are raw 32-bit values.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import NamedTuple

from .vocabulary import CloseKind, EventKind, Side, State, TimeWaitEnd


class Endpoint(NamedTuple):
    """An address and port. A named tuple rather than a frozen dataclass: the
    reuse checks hash one per connection, and a tuple hashes in C."""

    ip: str
    port: int

    def __str__(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


@dataclass(slots=True)
class Event:
    """One teardown event: a segment, what it meant, and both sides' states after it."""

    frame: int
    time: float
    sender: Side  # "from" in the JSON
    flags: str  # tcpdump letters, e.g. "F." for FIN+ACK
    seq: int
    ack: int
    length: int  # payload bytes ("len" in the JSON)
    kind: EventKind
    client_state: State
    server_state: State


@dataclass(slots=True)
class TimeWait:
    """Who holds the 4-tuple in TIME_WAIT, and for how long."""

    side: Side
    start: float
    end: float  # when it ended, or its 2*MSL deadline while it still runs
    ended_by: TimeWaitEnd | None  # None: still running at the end of the capture
    start_estimated: bool = False  # the ACK of the peer's FIN was not captured


@dataclass(slots=True)
class FinResend:
    """A FIN sent again (same sequence number), and what the capture says of why."""

    frame: int
    time: float
    side: Side
    cause: str  # "lost_fin" | "lost_final_ack" | "unknown" (docs/verdicts.md)
    reack_frame: int | None  # the TIME_WAIT side's re-ACK answering it, if captured


@dataclass(slots=True)
class Reset:
    """A RST and the state of the byte streams when it passed."""

    frame: int
    time: float
    sender: Side
    seq: int
    expected_seq: int | None  # the sender's snd_nxt as seen, if known
    receiver_next: int | None  # the receiver's rcv_nxt: the highest ack it sent, if any
    ttl: int
    sender_state: State  # before the RST
    receiver_state: State
    unacked_sent: int | None  # payload bytes the sender sent that the peer had not acked
    unacked_received: int | None  # payload bytes the peer sent that the sender had not acked
    payload: int  # bytes carried by the RST itself (RFC 1122 reset cause text)


@dataclass(slots=True)
class SideFacts:
    """Per side: what findings need beyond the events."""

    ttls: dict[int, int] = field(default_factory=dict)  # TTL -> count, RSTs excluded
    last_payload_frame: int | None = None
    last_payload_time: float | None = None
    keepalive_frames: list[int] = field(default_factory=list)
    half_close_frames: list[int] = field(default_factory=list)  # new data after peer FIN
    data_after_fin_frames: list[int] = field(default_factory=list)  # after its own FIN
    fin_frame: int | None = None
    fin_time: float | None = None
    fin_ack_frame: int | None = None  # the peer's first ACK covering this side's FIN
    fin_ack_time: float | None = None


@dataclass(slots=True)
class Connection:
    """One incarnation of a 4-tuple, from its SYN (or first segment) to its last."""

    id: int
    client: Endpoint
    server: Endpoint
    roles_inferred: bool
    incarnation: int  # 1 for the first incarnation of this 4-tuple in the capture
    first_frame: int
    last_frame: int
    first_time: float
    last_time: float
    isn_client: int | None
    isn_server: int | None
    close: CloseKind
    active_closer: Side | None
    rst_sender: Side | None
    half_close: bool
    fin_retransmissions: dict[Side, int]
    end_states: dict[Side, State]
    time_wait: TimeWait | None
    events: list[Event] = field(default_factory=list)
    packets: dict[Side, int] = field(default_factory=dict)
    payload_bytes: dict[Side, int] = field(default_factory=dict)
    # Facts the findings need; all sequence arithmetic done modulo 2^32.
    fin_seq: dict[Side, int] = field(default_factory=dict)  # raw seq of each side's FIN
    next_seq: dict[Side, int] = field(default_factory=dict)  # raw snd_nxt at the end
    last_tsval: dict[Side, int] = field(default_factory=dict)
    first_tsval: dict[Side, int] = field(default_factory=dict)
    fin_resends: list[FinResend] = field(default_factory=list)
    resets: list[Reset] = field(default_factory=list)
    duplicate_frames: list[int] = field(default_factory=list)  # captured twice
    missed_frames: list[int] = field(default_factory=list)  # ACKs of bytes never captured
    facts: dict[Side, SideFacts] = field(default_factory=dict)
    zeek: dict[str, str] | None = None

    @property
    def four_tuple(self) -> tuple[Endpoint, Endpoint]:
        return (self.client, self.server)

    @property
    def duration(self) -> float:
        return self.last_time - self.first_time


@dataclass
class ZeekRecord:
    """One conn.log record as Zeek would write it (``zeek``)."""

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


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _uid(key: str) -> str:
    """A deterministic, Zeek-looking uid: 'C' and 17 base62 digits of a hash."""
    n = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=12).digest(), "big")
    digits = []
    for _ in range(17):
        n, d = divmod(n, 62)
        digits.append(_BASE62[d])
    return "C" + "".join(digits)
