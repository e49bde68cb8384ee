"""Result types: what the analysis says about each connection.

Plain dataclasses (and a named tuple for endpoints), so they print, compare
and serialise without ceremony; a connection's events come packed
(``Events``), each made an ``Event`` when asked for. ``Connection``,
``TimeWait`` and ``SideFacts``, made for every connection, are compiled
dataclasses (``connection_types``).
Times are epoch seconds (float); sequence numbers are raw 32-bit values.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, overload

from .connection_types import Connection as Connection
from .connection_types import SideFacts as SideFacts
from .connection_types import TimeWait as TimeWait
from .segments import FLAG_TEXTS
from .vocabulary import EventKind, Side, State


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


# An event as ``Events`` packs it: frame, time, seq, ack, length, flag bits
# (12), then the positions of its sender in ``Side``, of its kind in
# ``EventKind`` and of both states in ``State``. (walk.pyx and json_text.pyx
# read and write the same layout, event_row.pxd.)
EVENT_ROW = struct.Struct("<qdqqqiBBBB")
_SIDES, _KINDS, _STATES = tuple(Side), tuple(EventKind), tuple(State)
_SIDE_CODES = {v: i for i, v in enumerate(_SIDES)}
_KIND_CODES = {v: i for i, v in enumerate(_KINDS)}
_STATE_CODES = {v: i for i, v in enumerate(_STATES)}
_FLAG_CODES = {text: bits for bits, text in reversed(list(enumerate(FLAG_TEXTS)))}


def _event(row: tuple) -> Event:
    frame, time, seq, ack, length, flags, sender, kind, client, server = row
    return Event(frame, time, _SIDES[sender], FLAG_TEXTS[flags], seq, ack, length,
                 _KINDS[kind], _STATES[client], _STATES[server])  # fmt: skip


class Events(Sequence[Event]):
    """A connection's events, packed (``EVENT_ROW``, 48 bytes each), read-only.

    The walk records millions of events and most are only ever written out:
    an object per event (and its float and ints) cost a fifth of the walking
    processes' time, so an ``Event`` is made only when one is asked for, and
    the JSON is written from the packed rows (``output.json_text``).
    """

    __slots__ = ("packed",)

    def __init__(self, packed: bytes = b"") -> None:
        if len(packed) % EVENT_ROW.size:
            raise ValueError(f"packed events of {len(packed)} bytes, not rows of {EVENT_ROW.size}")
        self.packed = bytes(packed)

    @classmethod
    def of(cls, events: Iterable[Event]) -> Events:
        """Events packed from ``Event`` objects (flags as ``segments.flags_text`` spells them)."""
        if isinstance(events, Events):
            return events
        try:
            return cls(b"".join(
                EVENT_ROW.pack(e.frame, e.time, e.seq, e.ack, e.length, _FLAG_CODES[e.flags],
                               _SIDE_CODES[e.sender], _KIND_CODES[e.kind],
                               _STATE_CODES[e.client_state], _STATE_CODES[e.server_state])
                for e in events
            ))  # fmt: skip
        except KeyError as e:
            raise ValueError(f"an event with an unknown word: {e}") from None
        except struct.error as e:
            raise ValueError(f"an event with a number out of range: {e}") from None

    def __len__(self) -> int:
        return len(self.packed) // EVENT_ROW.size

    @overload
    def __getitem__(self, i: int) -> Event: ...
    @overload
    def __getitem__(self, i: slice) -> list[Event]: ...
    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        n = len(self)
        if not -n <= i < n:
            raise IndexError("event index out of range")
        return _event(EVENT_ROW.unpack_from(self.packed, (i % n) * EVENT_ROW.size))

    def __iter__(self) -> Iterator[Event]:
        return map(_event, EVENT_ROW.iter_unpack(self.packed))

    def __eq__(self, other: object) -> bool:
        # Equal when their events are: rows may differ where events do not
        # (flag bits no letter spells, -0.0 and 0.0).
        if isinstance(other, Events):
            return self.packed == other.packed or list(self) == list(other)
        if isinstance(other, list):  # what a Connection made by hand may hold
            return list(self) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  (equal to lists, which do not hash)

    def __repr__(self) -> str:
        return f"Events({list(self)!r})"

    def __reduce__(self):
        return Events, (self.packed,)


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
