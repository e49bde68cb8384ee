# cython: language_level=3
"""The result types every walked connection is made into: ``Connection``, its
``TimeWait`` and its sides' ``SideFacts`` (re-exported by ``model``, beside
the other result types).

They are dataclasses as ``model``'s others are (fields, ``replace``,
``asdict``, equality, repr, pickling; tests/test_connection_types.py),
compiled (Cython): the walk makes hundreds of thousands of each, and it, the
JSON writer and the TIME_WAIT rows set and read their fields in C
(connection_types.pxd). On 3M packets in one process the walk took 1.45 ->
1.20 s and rendering 1.21 -> 1.07 s. Python code reads their fields through
Cython's property descriptors, which CPython does not specialise as it does
a dataclass's slots: judging, in Python, took 1.06 -> 1.21 s; the workers'
time, all told, 5.6 -> 5.3 s.

Field types are in comments: Cython reads annotations as C declarations.
"""

cimport cython


def _no_events():
    """An empty ``Events`` (imported when needed: ``model`` imports this module)."""
    from .model import Events

    return Events()


@cython.dataclasses.dataclass
cdef class TimeWait:
    """Who holds the 4-tuple in TIME_WAIT, and for how long."""

    side: object  # Side
    start: float
    end: float  # when it ended, or its 2*MSL deadline while it still runs
    ended_by: object  # TimeWaitEnd, or None: still running at the end of the capture
    start_estimated: bool = False  # the ACK of the peer's FIN was not captured


@cython.dataclasses.dataclass
cdef class SideFacts:
    """Per side: what findings need beyond the events."""

    # dict[int, int]: TTL -> count, RSTs excluded
    ttls: object = cython.dataclasses.field(default_factory=dict)
    last_payload_frame: object = None  # int | None
    last_payload_time: object = None  # float | None
    keepalive_frames: object = cython.dataclasses.field(default_factory=list)  # list[int]
    # list[int]: new data after the peer's FIN; after its own FIN
    half_close_frames: object = cython.dataclasses.field(default_factory=list)
    data_after_fin_frames: object = cython.dataclasses.field(default_factory=list)
    fin_frame: object = None  # int | None
    fin_time: object = None  # float | None
    fin_ack_frame: object = None  # int | None: the peer's first ACK covering this side's FIN
    fin_ack_time: object = None  # float | None


@cython.dataclasses.dataclass
cdef class Connection:
    """One incarnation of a 4-tuple, from its SYN (or first segment) to its last."""

    id: int
    client: object  # Endpoint
    server: object  # Endpoint
    roles_inferred: bool
    incarnation: int  # 1 for the first incarnation of this 4-tuple in the capture
    first_frame: int
    last_frame: int
    first_time: float
    last_time: float
    isn_client: object  # int | None
    isn_server: object  # int | None
    close: object  # CloseKind
    active_closer: object  # Side | None
    rst_sender: object  # Side | None
    half_close: bool
    fin_retransmissions: object  # dict[Side, int]
    end_states: object  # dict[Side, State]
    time_wait: object  # TimeWait | None
    # Sequence[Event]: an ``Events`` from the walk
    events: object = cython.dataclasses.field(default_factory=_no_events)
    packets: object = cython.dataclasses.field(default_factory=dict)  # dict[Side, int]
    payload_bytes: object = cython.dataclasses.field(default_factory=dict)  # dict[Side, int]
    # Facts the findings need; all sequence arithmetic done modulo 2^32.
    # dict[Side, int]: the raw seq of each side's FIN; its raw snd_nxt at the end
    fin_seq: object = cython.dataclasses.field(default_factory=dict)
    next_seq: object = cython.dataclasses.field(default_factory=dict)
    last_tsval: object = cython.dataclasses.field(default_factory=dict)  # dict[Side, int]
    first_tsval: object = cython.dataclasses.field(default_factory=dict)  # dict[Side, int]
    fin_resends: object = cython.dataclasses.field(default_factory=list)  # list[FinResend]
    resets: object = cython.dataclasses.field(default_factory=list)  # list[Reset]
    # list[int]: segments captured twice; ACKs of bytes never captured
    duplicate_frames: object = cython.dataclasses.field(default_factory=list)
    missed_frames: object = cython.dataclasses.field(default_factory=list)
    facts: object = cython.dataclasses.field(default_factory=dict)  # dict[Side, SideFacts]
    zeek: object = None  # dict[str, str] | None

    @property
    def four_tuple(self):
        """(client, server)."""
        return (self.client, self.server)

    @property
    def duration(self):
        """Seconds from its first segment to its last."""
        return self.last_time - self.first_time
