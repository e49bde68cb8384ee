"""Segments -> connections: group by 4-tuple, split incarnations, assign roles.

All on whole arrays. Rules (docs/verdicts.md, "Connections"):

* A 4-tuple's segments, in frame order, form one or more *incarnations*.
* A bare SYN (SYN without ACK) starts a new incarnation when the previous bare
  SYN on the 4-tuple had another sender or another ISN; the same SYN again is
  a retransmission. Segments after a close (retransmitted FINs, RSTs, old
  duplicates) stay with the incarnation they belong to until a new SYN.
* Segments before the first bare SYN of a 4-tuple are the tail of an earlier
  incarnation (the capture began mid-connection) when any of them carries
  payload, FIN or RST; otherwise (a SYN-ACK captured before its SYN) they join
  the SYN's incarnation.
* Client = sender of the first bare SYN; failing that, the receiver of the
  first SYN-ACK; failing that (roles inferred), the side with the higher port,
  since servers listen on the lower, well-known port.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .row_index import distinct_keys
from .segments import ACK, FIN, RST, SYN, SegmentTable

_NONE = np.iinfo(np.int64).max


@dataclass
class ConnectionIndex:
    """Where each connection's segments are, and who is who.

    ``order`` lists segment rows grouped by connection, in frame order within
    a connection; connection ``c`` owns ``order[starts[c]:starts[c + 1]]``.
    Per-connection arrays are indexed by connection; per-segment arrays
    (``from_server``) follow ``order``.
    """

    order: np.ndarray
    starts: np.ndarray
    from_server: np.ndarray  # bool per segment (in ``order``): sent by the server
    client_addr: np.ndarray
    client_port: np.ndarray
    server_addr: np.ndarray
    server_port: np.ndarray
    roles_inferred: np.ndarray
    incarnation: np.ndarray
    tuple_id: np.ndarray  # per connection: equal for the incarnations of one 4-tuple

    def tuple_bounds(self) -> list[int]:
        """Positions in ``order`` where each 4-tuple's segments start, then the end."""
        return self.starts[np.append(self._new_tuple(), True)].tolist()

    def _new_tuple(self) -> np.ndarray:
        """Per connection: True where a 4-tuple's connections begin (they are consecutive)."""
        new_tuple = np.ones(len(self), bool)
        new_tuple[1:] = self.tuple_id[1:] != self.tuple_id[:-1]
        return new_tuple

    def __len__(self) -> int:
        return len(self.starts) - 1

    def first_frame_order(self, frame: np.ndarray) -> np.ndarray:
        """The connections in order of their first frames (``frame``: the
        frames of the segments ``order`` points at): the order ``reconstruct``
        gives them in."""
        return np.argsort(frame[self.order[self.starts[:-1]]], kind="stable")

    def parts(self, frame: np.ndarray, connections: int) -> Iterator[ConnectionIndex]:
        """The index cut into parts of whole 4-tuples, about ``connections``
        connections each, the 4-tuples in order of their first segment's frame
        (``frame``: the frames of the segments ``order`` points at).

        So a slice is walked, judged and rendered a part at a time, its
        objects still in the processor's cache, and rendered nearly in frame
        order, as it is read back at the end (``spill``).
        """
        n = len(self)
        if n <= connections:
            yield self
            return
        tuple_first = np.flatnonzero(self._new_tuple())  # each 4-tuple's first connection
        by_frame = np.argsort(frame[self.order[self.starts[tuple_first]]], kind="stable")
        tuple_size = np.diff(np.append(tuple_first, n))[by_frame]
        conn_order = concatenated_ranges(tuple_first[by_frame], tuple_size)
        seg_size = np.diff(self.starts)[conn_order]
        seg_order = concatenated_ranges(self.starts[conn_order], seg_size)
        seg_start = np.append(0, np.cumsum(seg_size))
        tuple_end = np.cumsum(tuple_size)  # connections up to each 4-tuple's end
        a = 0
        while a < n:
            b = int(tuple_end[min(np.searchsorted(tuple_end, a + connections), len(tuple_end) - 1)])
            conns, segs = conn_order[a:b], seg_order[seg_start[a] : seg_start[b]]
            yield ConnectionIndex(
                order=self.order[segs],
                starts=seg_start[a : b + 1] - seg_start[a],
                from_server=self.from_server[segs],
                client_addr=self.client_addr[conns],
                client_port=self.client_port[conns],
                server_addr=self.server_addr[conns],
                server_port=self.server_port[conns],
                roles_inferred=self.roles_inferred[conns],
                incarnation=self.incarnation[conns],
                tuple_id=self.tuple_id[conns],
            )
            a = b


def concatenated_ranges(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """The positions ``starts[i] .. starts[i] + sizes[i] - 1`` of each ``i``, run after run."""
    before = np.cumsum(sizes) - sizes
    return np.repeat(starts - before, sizes) + np.arange(int(sizes.sum()))


def bare_syn(flags: np.ndarray) -> np.ndarray:
    """SYN without ACK (or RST): what opens an incarnation and names its client."""
    return (flags & (SYN | ACK | RST)) == SYN


def _first_in_group(mask: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per group: position of the first True of ``mask`` (``_NONE`` if none)."""
    pos = np.where(mask, np.arange(len(mask)), _NONE)
    if not len(mask):
        return np.empty(0, np.int64)
    return np.minimum.reduceat(pos, starts[:-1])


def index_connections(seg: SegmentTable) -> ConnectionIndex:
    src, ends = seg.four_tuples()
    # The 4-tuples numbered in order of first appearance by a hash pass, then
    # the segments sorted by that number and frame: a third of the time of
    # sorting by both endpoints and frame (a slice's 4-tuples number in the
    # thousands: sorted by radix).
    tuple_of, firsts = distinct_keys(ends.view(np.uint64))
    if len(firsts) <= 1 << 16:
        tuple_of = tuple_of.astype(np.uint16)
    order = np.lexsort((seg.frame, tuple_of))
    tuple_id = tuple_of[order].astype(np.int64)
    del tuple_of, firsts
    lo, hi, src = ends[order, 0], ends[order, 1], src[order]
    del ends
    flags = seg.flags[order]
    n = len(order)

    tuple_start = np.ones(n, bool)
    tuple_start[1:] = tuple_id[1:] != tuple_id[:-1]

    opens = bare_syn(flags)
    new_incarnation = _incarnation_starts(seg, order, src, flags, tuple_id, opens)
    conn_start = tuple_start | new_incarnation
    conn_id = np.cumsum(conn_start) - 1
    starts = np.append(np.flatnonzero(conn_start), n)
    first_of_tuple = np.flatnonzero(tuple_start)
    incarnation = conn_id[starts[:-1]] - conn_id[first_of_tuple[tuple_id[starts[:-1]]]] + 1

    # Roles: the first bare SYN's sender is the client; else the SYN-ACK's receiver.
    syn_ack = (flags & (SYN | ACK)) == (SYN | ACK)
    first_syn = _first_in_group(opens, starts)
    first_syn_ack = _first_in_group(syn_ack, starts)
    first = starts[:-1]
    lo_c, hi_c = lo[first], hi[first]
    client = np.where(lo_c & 0xFFFF > hi_c & 0xFFFF, lo_c, hi_c)  # higher port: client
    has_syn = first_syn != _NONE
    client = np.where(has_syn, src[np.where(has_syn, first_syn, 0)], client)
    only_syn_ack = ~has_syn & (first_syn_ack != _NONE)
    syn_ack_src = src[np.where(only_syn_ack, first_syn_ack, 0)]
    client = np.where(only_syn_ack, np.where(syn_ack_src == lo_c, hi_c, lo_c), client)
    server = np.where(client == lo_c, hi_c, lo_c)

    return ConnectionIndex(
        order=order,
        starts=starts,
        from_server=src != np.repeat(client, np.diff(starts)),
        client_addr=(client >> 16).astype(np.int32),
        client_port=(client & 0xFFFF).astype(np.int32),
        server_addr=(server >> 16).astype(np.int32),
        server_port=(server & 0xFFFF).astype(np.int32),
        roles_inferred=~has_syn & ~only_syn_ack,
        incarnation=incarnation,
        tuple_id=tuple_id[starts[:-1]],
    )


def _incarnation_starts(seg, order, src, flags, tuple_id, opens) -> np.ndarray:
    """True at each bare SYN that starts a new incarnation (see module doc)."""
    n = len(order)
    starts = np.zeros(n, bool)
    syn_pos = np.flatnonzero(opens)
    if not len(syn_pos):
        return starts
    syn_tuple = tuple_id[syn_pos]
    syn_key = src[syn_pos] << 32 | seg.seq[order[syn_pos]].astype(np.int64)
    first_syn_of_tuple = np.ones(len(syn_pos), bool)
    first_syn_of_tuple[1:] = syn_tuple[1:] != syn_tuple[:-1]
    other_syn = np.zeros(len(syn_pos), bool)
    other_syn[1:] = syn_key[1:] != syn_key[:-1]
    starts[syn_pos[~first_syn_of_tuple & other_syn]] = True

    # The first SYN of a 4-tuple ends a mid-connection tail captured before it.
    content = (seg.payload_len[order] > 0) | ((flags & (FIN | RST)) != 0)
    content_before = np.cumsum(content) - content
    tuple_first = np.searchsorted(tuple_id, tuple_id)  # first position of each tuple
    tail = content_before[syn_pos] - content_before[tuple_first[syn_pos]] > 0
    starts[syn_pos[first_syn_of_tuple & tail]] = True
    return starts


def first_after(seg: SegmentTable, index: ConnectionIndex, frame: int) -> int:
    """The position in ``index.order`` of the first segment after ``frame``,
    when ``seg`` is one 4-tuple's (so its order is frame order)."""
    return int(np.searchsorted(seg.frame[index.order], frame, side="right"))


def deciding_rows(seg: SegmentTable) -> np.ndarray:
    """Of one connection's segments (one 4-tuple, frame order), the few that
    decide how its later segments are indexed: its first segment, its first
    bare SYN, its first SYN-ACK and its first segment with payload, FIN or RST.

    Indexed ahead of later segments, they split incarnations and name the
    client as all its segments would (the rules above look at nothing else of
    the past), so a long connection can be walked a part at a time.
    """
    flags = seg.flags
    content = (seg.payload_len > 0) | ((flags & (FIN | RST)) != 0)
    kinds = (bare_syn(flags), (flags & (SYN | ACK)) == (SYN | ACK), content)
    firsts = [0] + [int(np.argmax(kind)) for kind in kinds if kind.any()]
    return np.unique(firsts)
