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

from .group_starts import (
    ACK_FROM_HI,
    ACK_FROM_LO,
    FIN_FROM_HI,
    FIN_FROM_LO,
    RESET,
    number_groups,
    split_groups,
)
from .row_index import RowIndex, distinct_keys
from .segments import SegmentTable

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
        src, ends = seg.four_tuples()
        tuple_of, firsts = distinct_keys(ends.view(np.uint64))
        tuple_ends = ends[firsts]
        latest = np.empty(len(firsts), np.int32)
        self._latest.lookup(tuple_ends.view(np.uint64), self._ends.view(np.uint64), latest)
        # Its latest group, unless that has settled.
        open_group = latest.astype(np.int64)
        found = np.flatnonzero(latest >= 0)
        open_group[found[self._settled[latest[found]]]] = -1
        has_open = open_group >= 0
        held = open_group[has_open]
        open_clock = np.zeros(len(firsts), np.int64)
        open_clock[has_open] = self._last_clock[held]
        carry = np.zeros(len(firsts), np.int8)
        carry[has_open] = self._state[held]
        silence = self.silence
        group, new, opened = split_groups(
            tuple_of, clock, seg.flags, (src == ends[:, 0]).view(np.uint8), has_open.view(np.uint8),
            open_clock, carry, silence.open_ns, silence.established_ns, silence.closed_ns,
        )  # fmt: skip

        # New groups are numbered in (4-tuple, frame) order.
        new_ends = tuple_ends[new["tuple"]]
        numbered = np.lexsort((new["first"], new_ends[:, 1], new_ends[:, 0]))
        new_id = np.empty(len(numbered), np.int64)
        new_id[numbered] = self.count + np.arange(len(numbered))
        total = self.count + len(numbered)
        self._last_clock = _grown(self._last_clock, total, _NEVER)
        self._ends = _grown(self._ends, total, 0)
        self._state = _grown(self._state, total, 0)
        self._settled = _grown(self._settled, total, False)
        self._pending = _grown(self._pending, total, 0)
        self._no_ahead = _grown(self._no_ahead, total, False)
        self._ends[new_id] = new_ends
        self._latest.put(self._ends.view(np.uint64), self.count, total)
        went_on = np.flatnonzero(opened["segments"])  # 4-tuples whose open group got segments
        touched = np.concatenate([open_group[went_on], new_id])
        self._last_clock[touched] = np.concatenate([opened["clock"][went_on], new["clock"]])
        self._state[touched] = np.concatenate([opened["bits"][went_on], new["bits"]])
        self._pending[touched] += np.concatenate([opened["segments"][went_on], new["segments"]])
        self._batch_groups = touched
        self.count = total
        self.clock = int(clock[-1])
        number_groups(group, tuple_of, open_group, new_id)
        return group

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


def _closed(bits):
    """Both sides sent a FIN, or a RST passed (works on arrays too)."""
    both = FIN_FROM_LO | FIN_FROM_HI
    return ((bits & both) == both) | ((bits & RESET) != 0)


def _established(bits):
    """Both sides acknowledged something without SYN (works on arrays too)."""
    both = ACK_FROM_LO | ACK_FROM_HI
    return (bits & both) == both
