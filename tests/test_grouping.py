"""4-tuple groups (``grouping.TupleGroups``): the compiled pass that decides
where groups start (``group_starts``) against the array code it replaced,
kept here as the reference, on generated batches."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer import grouping
from analyzer.engine import silence_for
from analyzer.grouping import TupleGroups, _grown
from analyzer.row_index import distinct_keys
from analyzer.segments import ACK, COLUMNS, FIN, RST, SYN, SegmentTable

NS = 10**9
_FIN_FROM_LO, _FIN_FROM_HI, _RESET, _ACK_FROM_LO, _ACK_FROM_HI = 1, 2, 4, 8, 16
_BITS = (_FIN_FROM_LO, _FIN_FROM_HI, _RESET, _ACK_FROM_LO, _ACK_FROM_HI)


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
        bits = np.zeros(np.shape(a), np.int8)
        for bit, count in zip(_BITS, self.counts):
            bits |= np.where(count[b] > count[a], bit, 0).astype(np.int8)
        return bits

    def _since(self, restart, end, seg):
        first = self.run_first[seg]
        own = restart >= first
        start = np.where(own, restart, first)
        return self._between(start, end) | np.where(own, 0, self.carry[seg])

    def before(self, i, starts_group):
        first = self.run_first[i]
        restarts = np.flatnonzero(starts_group[first:i] | self.bare_syn[first:i])
        restart = first + restarts[-1] if len(restarts) else -1
        return int(self._since(np.array(restart), np.array(i), i))

    def after(self, last, starts_group):
        restarts = starts_group | self.bare_syn
        latest = np.maximum.accumulate(np.where(restarts, np.arange(len(restarts)), -1))
        return self._since(latest[last], last + 1, last)


class ArrayTupleGroups(TupleGroups):
    """``assign`` as array code: the batch sorted by 4-tuple, and each state
    that a long silence tests found from running counts of its bits."""

    def assign(self, seg):
        n = len(seg)
        if not n:
            return np.empty(0, np.int64)
        clock = np.maximum.accumulate(np.maximum(seg.ts_ns, self.clock))
        src, dst = seg.endpoints()
        lo, hi = np.minimum(src, dst), np.maximum(src, dst)
        order = np.lexsort((hi, lo))
        src, lo, hi = src[order], lo[order], hi[order]
        clk, flags = clock[order], seg.flags[order]
        pair_start = np.ones(n, bool)
        pair_start[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
        firsts = np.flatnonzero(pair_start)
        sizes = np.diff(np.append(firsts, n))
        keys = np.stack([lo[firsts], hi[firsts]], axis=1).view(np.uint64)
        latest = np.empty(len(firsts), np.int32)
        self._latest.lookup(keys, self._ends.view(np.uint64), latest)
        open_group = latest.astype(np.int64)
        found = np.flatnonzero(latest >= 0)
        open_group[found[self._settled[latest[found]]]] = -1
        continues = open_group >= 0
        carry = np.zeros(len(firsts), np.int8)
        carry[continues] = self._state[open_group[continues]]
        bits = _StateBits(flags, src == lo, np.repeat(firsts, sizes), np.repeat(carry, sizes))
        prev = np.empty(n, np.int64)
        prev[1:] = clk[:-1]
        has_prev = np.ones(n, bool)
        prev_first = np.zeros(len(firsts), np.int64)
        prev_first[continues] = self._last_clock[open_group[continues]]
        prev[firsts] = prev_first
        has_prev[firsts] = continues
        gap = clk - prev
        starts_group = ~has_prev | (gap > self.silence.longest)
        for i in np.flatnonzero(has_prev & ~starts_group).tolist():
            if gap[i] > self.silence.limit(bits.before(i, starts_group)):
                starts_group[i] = True
        opened = np.cumsum(starts_group)
        opened_before = np.repeat((opened - starts_group)[firsts], sizes)
        group = np.where(
            opened > opened_before, self.count + opened - 1, np.repeat(open_group, sizes)
        )
        total = self.count + int(opened[-1])
        self._last_clock = _grown(self._last_clock, total, np.iinfo(np.int64).min)
        self._ends = _grown(self._ends, total, 0)
        self._state = _grown(self._state, total, 0)
        self._settled = _grown(self._settled, total, False)
        self._pending = _grown(self._pending, total, 0)
        self._no_ahead = _grown(self._no_ahead, total, False)
        starts = np.flatnonzero(starts_group)
        self._ends[group[starts], 0] = lo[starts]
        self._ends[group[starts], 1] = hi[starts]
        self._latest.put(self._ends.view(np.uint64), self.count, total)
        run_end = np.append(group[1:] != group[:-1], True)
        self._last_clock[group[run_end]] = clk[run_end]
        self._state[group[run_end]] = bits.after(np.flatnonzero(run_end), starts_group)
        self.count = total
        self.clock = int(clock[-1])
        run_start = np.flatnonzero(np.append(True, run_end[:-1]))
        self._batch_groups = group[run_start]
        self._pending[self._batch_groups] += np.diff(np.append(run_start, n))
        out = np.empty(n, np.int64)
        out[order] = group
        return out


# Three 4-tuples (one of them an endpoint talking to itself), sent either way.
_TUPLES = [((0, 40000), (1, 80)), ((2, 80), (0, 40000)), ((1, 80), (1, 80))]
_ENDS = st.sampled_from(_TUPLES).flatmap(lambda t: st.sampled_from([t, t[::-1]]))
_FLAGS = st.sampled_from([SYN, SYN | ACK, ACK, FIN | ACK, RST, RST | ACK, FIN, 0])
# Steps of the clock: none, small, and at and on either side of each silence limit
# for --time-wait 60 (open 120 s, closed 70 s, established 7875 s).
_GAPS = [0, 1, 10**6, *(s * NS + d for s in (70, 120, 7875) for d in (-1, 0, 1))]
_SEGMENT = st.tuples(_ENDS, _FLAGS, st.sampled_from(_GAPS), st.booleans())


def _batches(segments, cuts):
    """The segments as SegmentTables cut at ``cuts``; a segment's time steps
    back by its gap when its last item says so (the capture clock must not)."""
    n = len(segments)
    columns = {name: np.zeros(n, dtype) for name, dtype in COLUMNS.items()}
    t = 10**18
    for i, (((sa, sp), (da, dp)), flags, gap, back) in enumerate(segments):
        t += -gap if back else gap
        columns["frame"][i] = i + 1
        columns["ts_ns"][i] = t
        columns["src"][i], columns["sport"][i] = sa, sp
        columns["dst"][i], columns["dport"][i] = da, dp
        columns["flags"][i] = flags
    seg = SegmentTable(columns, ["10.0.0.1", "10.0.0.2", "10.0.0.3"])
    bounds = sorted({0, n, *(c % (n + 1) for c in cuts)})
    return [seg.take(np.arange(a, b)) for a, b in zip(bounds, bounds[1:])]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_SEGMENT, min_size=1, max_size=120),
    st.lists(st.integers(0, 120), max_size=6),
    st.lists(st.booleans(), min_size=8, max_size=8),
)
def test_groups_start_where_the_array_code_started_them(segments, cuts, settle_after):
    # Compacted whenever settled groups are most of the table.
    compact_from, grouping._COMPACT_FROM = grouping._COMPACT_FROM, 0
    try:
        _same_groups(segments, cuts, settle_after)
    finally:
        grouping._COMPACT_FROM = compact_from


def _same_groups(segments, cuts, settle_after):
    fast, reference = TupleGroups(silence_for(60.0)), ArrayTupleGroups(silence_for(60.0))
    for k, batch in enumerate(_batches(segments, cuts)):
        assert fast.assign(batch).tolist() == reference.assign(batch).tolist()
        n = fast.count
        assert reference.count == n and fast.clock == reference.clock
        for name in ("_last_clock", "_ends", "_state", "_pending"):
            assert getattr(fast, name)[:n].tolist() == getattr(reference, name)[:n].tolist()
        assert sorted(fast._batch_groups.tolist()) == sorted(reference._batch_groups.tolist())
        if settle_after[k % len(settle_after)]:
            assert fast.settle().tolist() == reference.settle().tolist()
            new_fast, new_reference = fast.compact(), reference.compact()
            assert (new_fast is None) == (new_reference is None)
            if new_fast is not None:
                assert new_fast.tolist() == new_reference.tolist()


def test_a_batch_that_only_goes_on_with_open_groups():
    # (No new group here: nothing to number.)
    groups = TupleGroups(silence_for(60.0))
    (first, then) = _batches([(_TUPLES[0], ACK, 1, False)] * 4, [2])
    assert groups.assign(first).tolist() == [0, 0]
    assert groups.assign(then).tolist() == [0, 0]
    assert groups._pending[:1].tolist() == [4]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 2**64 - 1) | st.integers(0, 3))))
def test_distinct_keys_in_order_of_first_appearance(rows):
    keys = np.array(rows, np.uint64).reshape(-1, 2)
    which, firsts = distinct_keys(keys)
    seen: dict = {}
    for row in rows:
        seen.setdefault(row, len(seen))
    assert which.tolist() == [seen[row] for row in rows]
    assert [rows[i] for i in firsts.tolist()] == list(seen)
