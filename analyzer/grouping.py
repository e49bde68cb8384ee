"""Segments -> 4-tuple groups, as the capture streams past.

A *group* is the run of one 4-tuple's segments with no silence longer than
``silence`` between one segment and the next; a segment after a longer
silence starts a new group (the 4-tuple starts afresh, see docs/verdicts.md,
"Connections"). Connections are then found inside each group
(``connections.index_connections``), so a group is the unit the streaming
engine hands on: once the capture has moved on by more than ``silence`` past
a group's last segment, nothing can join it any more and it is *settled*.

Silence is measured on the *capture clock*: the running maximum of the
segments' timestamps in frame order. A clock that never steps back makes the
rule the same however the capture is cut into batches: a segment that would
join a group always arrives before the clock has passed that group's
settling point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .row_index import RowIndex
from .segments import ACK, FIN, RST, SYN, SegmentTable

_NEVER = np.iinfo(np.int64).min
# Below this many groups the table is not worth compacting.
_COMPACT_FROM = 65_536


@dataclass(frozen=True)
class Silence:
    """How long a 4-tuple must be silent before it starts afresh, in nanoseconds,
    by what has passed since its last bare SYN.

    ``closed_ns`` once both sides sent a FIN or a RST passed;
    ``established_ns`` once both sides sent a segment acknowledging something
    without SYN (the handshake completed, or the capture began
    mid-connection, and the capture sees both directions);
    ``open_ns`` before that (SYNs and SYN-ACKs, or one direction only).
    """

    open_ns: int
    established_ns: int
    closed_ns: int

    def limit(self, bits):
        """The limit for groups in the state ``bits`` (works on arrays too)."""
        return np.where(
            _closed(bits),
            self.closed_ns,
            np.where(_established(bits), self.established_ns, self.open_ns),
        )

    @property
    def longest(self) -> int:
        return max(self.open_ns, self.established_ns, self.closed_ns)


def endpoint_keys(seg: SegmentTable) -> tuple[np.ndarray, np.ndarray]:
    """Per segment: its two endpoints as ``address code << 16 | port``, lower first."""
    src = seg.src.astype(np.int64) << 16 | seg.sport
    dst = seg.dst.astype(np.int64) << 16 | seg.dport
    return np.minimum(src, dst), np.maximum(src, dst)


def _grown(a: np.ndarray, size: int, fill) -> np.ndarray:
    if size <= len(a):
        return a
    out = np.full((max(size, 2 * len(a), 1024), *a.shape[1:]), fill, a.dtype)
    out[: len(a)] = a
    return out


class TupleGroups:
    """Gives each segment its group; tells which groups have settled.

    Per group only a few numbers are kept (its endpoints, last clock and
    state bits); a 4-tuple's latest group is found in a hash index of the
    groups' endpoints (``row_index``), made anew when the table is compacted.
    """

    def __init__(self, silence: Silence) -> None:
        self.silence = silence
        self.clock = _NEVER  # the capture clock after the last batch
        self.count = 0  # groups so far
        self._latest = RowIndex()  # a 4-tuple's latest group, by its endpoints
        self._last_clock = np.empty(0, np.int64)
        self._ends = np.empty((0, 2), np.int64)  # (lo, hi)
        # State bits (_FIN_FROM_LO ...) since the last bare SYN.
        self._state = np.empty(0, np.int8)
        self._settled = np.empty(0, bool)
        # Segments since the group was last walked ahead (``engine``), and
        # whether it may be (not once it holds more than one connection).
        self._pending = np.empty(0, np.int64)
        self._no_ahead = np.empty(0, bool)
        self._batch_groups = np.empty(0, np.int64)  # the groups of the last batch

    def assign(self, seg: SegmentTable) -> np.ndarray:
        """The group of every segment of the next batch (frame order)."""
        n = len(seg)
        if not n:
            return np.empty(0, np.int64)
        clock = np.maximum.accumulate(np.maximum(seg.ts_ns, self.clock))
        lo, hi = endpoint_keys(seg)
        order = np.lexsort((hi, lo))  # by 4-tuple; stable, so frame order within
        src = (seg.src.astype(np.int64) << 16 | seg.sport)[order]
        lo, hi, clk, flags = lo[order], hi[order], clock[order], seg.flags[order]
        pair_start = np.ones(n, bool)
        pair_start[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
        firsts = np.flatnonzero(pair_start)
        sizes = np.diff(np.append(firsts, n))
        keys = np.stack([lo[firsts], hi[firsts]], axis=1).view(np.uint64)
        latest = np.empty(len(firsts), np.int32)
        self._latest.lookup(keys, self._ends.view(np.uint64), latest)
        # Its latest group, unless that has settled.
        open_group = latest.astype(np.int64)
        found = np.flatnonzero(latest >= 0)
        open_group[found[self._settled[latest[found]]]] = -1
        continues = open_group >= 0
        carry = np.zeros(len(firsts), np.int8)
        carry[continues] = self._state[open_group[continues]]
        bits = _StateBits(flags, src == lo, np.repeat(firsts, sizes), np.repeat(carry, sizes))

        # Each segment's predecessor on its 4-tuple: the one before it in this
        # batch, or the open group's last segment.
        prev = np.empty(n, np.int64)
        prev[1:] = clk[:-1]
        has_prev = np.ones(n, bool)
        prev_first = np.zeros(len(firsts), np.int64)
        prev_first[continues] = self._last_clock[open_group[continues]]
        prev[firsts] = prev_first
        has_prev[firsts] = continues
        gap = clk - prev
        silence = self.silence
        starts_group = ~has_prev | (gap > silence.longest)
        # A silence past the shortest limit splits a group by the group's state:
        # decided one at a time, since each split restarts what follows.
        shortest = min(silence.open_ns, silence.established_ns, silence.closed_ns)
        undecided = has_prev & ~starts_group & (gap > shortest)
        for i in np.flatnonzero(undecided).tolist():
            if gap[i] > silence.limit(bits.before(i, starts_group)):
                starts_group[i] = True

        # New groups are numbered in (4-tuple, frame) order; segments before
        # their 4-tuple's first new group continue its open group.
        opened = np.cumsum(starts_group)
        opened_before = np.repeat((opened - starts_group)[firsts], sizes)
        group = np.where(
            opened > opened_before,
            self.count + opened - 1,
            np.repeat(open_group, sizes),
        )
        total = self.count + int(opened[-1])
        self._last_clock = _grown(self._last_clock, total, _NEVER)
        self._ends = _grown(self._ends, total, 0)
        self._state = _grown(self._state, total, 0)
        self._settled = _grown(self._settled, total, False)
        self._pending = _grown(self._pending, total, 0)
        self._no_ahead = _grown(self._no_ahead, total, False)
        starts = np.flatnonzero(starts_group)
        self._ends[group[starts], 0] = lo[starts]
        self._ends[group[starts], 1] = hi[starts]
        self._latest.put(self._ends.view(np.uint64), self.count, total)
        run_end = np.append(group[1:] != group[:-1], True)  # a group's last segment here
        self._last_clock[group[run_end]] = clk[run_end]
        self._state[group[run_end]] = bits.after(np.flatnonzero(run_end), starts_group)
        self.count = total
        self.clock = int(clock[-1])

        # A group's segments are one run here (sorted by 4-tuple, then frame).
        run_start = np.flatnonzero(np.append(True, run_end[:-1]))
        self._batch_groups = group[run_start]
        self._pending[self._batch_groups] += np.diff(np.append(run_start, n))
        out = np.empty(n, np.int64)
        out[order] = group
        return out

    def long(self, segments: int) -> np.ndarray:
        """Groups to walk ahead, once one got ``segments`` segments since it
        was last walked ahead: then every group that got an eighth of that.
        Each walk ahead takes a pass over the waiting segments; long
        connections side by side go together."""
        g = self._batch_groups
        if not ((self._pending[g] >= segments) & ~self._no_ahead[g]).any():
            return np.empty(0, np.int64)
        return self.holding(max(1, segments // 8))

    def holding(self, segments: int) -> np.ndarray:
        """Open groups that got ``segments`` segments or more since they were
        last walked ahead, and may be walked ahead."""
        live = ~self._settled[: self.count] & ~self._no_ahead[: self.count]
        return np.flatnonzero(live & (self._pending[: self.count] >= segments))

    def walked_ahead(self, groups: np.ndarray) -> None:
        self._pending[groups] = 0

    def no_ahead(self, group: int) -> None:
        """Never walk ``group`` ahead again."""
        self._no_ahead[group] = True

    def settle(self, *, everything: bool = False) -> np.ndarray:
        """Groups settled since the last call (all the rest with ``everything``)."""
        if not self.count:
            return np.empty(0, np.int64)
        live = ~self._settled[: self.count]
        if not everything:
            limit = self.silence.limit(self._state[: self.count])
            live &= self._last_clock[: self.count] < self.clock - limit
        due = np.flatnonzero(live)
        self._settled[due] = True
        return due

    def compact(self) -> np.ndarray | None:
        """Forget the settled groups once they are most of the table.

        Returns the new id of every old one (-1: forgotten) for the caller to
        renumber the group ids it holds, or None when nothing changed. So the
        table follows the open groups, not every group the capture had.
        """
        live = ~self._settled[: self.count]
        kept = int(np.count_nonzero(live))
        if self.count < _COMPACT_FROM or 2 * kept > self.count:
            return None
        new_id = np.full(self.count, -1, np.int64)
        new_id[live] = np.arange(kept)
        self._last_clock = self._last_clock[: self.count][live]
        self._ends = self._ends[: self.count][live]
        self._state = self._state[: self.count][live]
        self._pending = self._pending[: self.count][live]
        self._no_ahead = self._no_ahead[: self.count][live]
        self._batch_groups = np.empty(0, np.int64)
        self._settled = np.zeros(kept, bool)
        self._latest = RowIndex()
        self._latest.put(self._ends.view(np.uint64), 0, kept)
        self.count = kept
        return new_id

    def endpoints(self, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._ends[groups, 0], self._ends[groups, 1]


# What has happened to a group since its last bare SYN, as bits.
_FIN_FROM_LO, _FIN_FROM_HI, _RESET, _ACK_FROM_LO, _ACK_FROM_HI = 1, 2, 4, 8, 16
_BITS = (_FIN_FROM_LO, _FIN_FROM_HI, _RESET, _ACK_FROM_LO, _ACK_FROM_HI)


def _closed(bits):
    """Both sides sent a FIN, or a RST passed (works on arrays too)."""
    return ((bits & 3) == 3) | ((bits & _RESET) != 0)


def _established(bits):
    """Both sides acknowledged something without SYN (works on arrays too)."""
    both = _ACK_FROM_LO | _ACK_FROM_HI
    return (bits & both) == both


class _StateBits:
    """The state bits of a batch's segments (sorted by 4-tuple), over any range."""

    def __init__(self, flags, from_lo, run_first, carry) -> None:
        fin, rst = (flags & FIN) != 0, (flags & RST) != 0
        acked = (flags & (SYN | ACK | RST)) == ACK
        kinds = (fin & from_lo, fin & ~from_lo, rst, acked & from_lo, acked & ~from_lo)
        self.counts = [np.concatenate([[0], np.cumsum(kind)]) for kind in kinds]
        self.bare_syn = (flags & (SYN | ACK | RST)) == SYN
        self.run_first, self.carry = run_first, carry

    def _between(self, a, b):
        """Bits over the segments [a, b)."""
        bits = np.zeros(np.shape(a), np.int8)
        for bit, count in zip(_BITS, self.counts):
            bits |= np.where(count[b] > count[a], bit, 0).astype(np.int8)
        return bits

    def _since(self, restart, end, seg):
        """Bits over [restart, end) in the 4-tuple of segment ``seg``; from the
        4-tuple's first segment here, and what it carried in, without a restart
        (a bare SYN or a new group)."""
        first = self.run_first[seg]
        own = restart >= first
        start = np.where(own, restart, first)
        return self._between(start, end) | np.where(own, 0, self.carry[seg])

    def before(self, i: int, starts_group: np.ndarray) -> int:
        """The bits just before segment ``i`` (with ``starts_group`` as decided so far)."""
        first = self.run_first[i]  # only this 4-tuple's segments: no pass over the batch
        restarts = np.flatnonzero(starts_group[first:i] | self.bare_syn[first:i])
        restart = first + restarts[-1] if len(restarts) else -1
        return int(self._since(np.array(restart), np.array(i), i))

    def after(self, last: np.ndarray, starts_group: np.ndarray) -> np.ndarray:
        """The bits after each segment in ``last``."""
        restarts = starts_group | self.bare_syn
        latest = np.maximum.accumulate(np.where(restarts, np.arange(len(restarts)), -1))
        return self._since(latest[last], last + 1, last)
