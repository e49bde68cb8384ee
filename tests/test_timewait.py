"""TIME_WAIT occupancy of many hosts at once equals the step function counted by hand."""

from __future__ import annotations

import numpy as np

from analyzer.timewait import occupancies


def by_hand(starts: list[float], ends: list[float]):
    """(series, peak, peak_time): one point per time at which the count changes."""
    times = sorted(set(starts) | set(ends))
    series = [(t, sum(s <= t for s in starts) - sum(e <= t for e in ends)) for t in times]
    peak = max(n for _, n in series)
    if peak <= 0:
        return series, 0, times[0]
    return series, peak, next(t for t, n in series if n == peak)


def test_occupancies_of_many_keys_equal_each_counted_alone():
    rng = np.random.default_rng(7)
    for _ in range(50):
        n = int(rng.integers(1, 60))
        keys = rng.integers(0, 6, n) * 3 - 4  # sparse, negative too
        starts = rng.integers(0, 20, n).astype(float)  # whole seconds: many ties
        ends = starts + rng.integers(0, 8, n)  # some empty intervals
        got = occupancies(keys, starts, ends)
        assert sorted(got) == sorted(set(keys.tolist()))
        for key, occupancy in got.items():
            mine = keys == key
            series, peak, peak_time = by_hand(starts[mine].tolist(), ends[mine].tolist())
            assert occupancy.series == series
            assert (occupancy.peak, occupancy.peak_time) == (peak, peak_time)


def test_no_intervals():
    assert occupancies(np.empty(0, np.int64), np.empty(0), np.empty(0)) == {}


def test_numbered_rows_equal_numpy_unique_rows():
    from analyzer.timewait import _numbered_rows

    rng = np.random.default_rng(3)
    for n in (0, 1, 2, 500):
        columns = [rng.integers(0, 4, n), rng.integers(0, 3, n), rng.integers(0, 65536, n) % 5]
        names, numbers = _numbered_rows(columns)
        unique, inverse = np.unique(np.stack(columns, axis=1).reshape(-1, 3), axis=0,
                                    return_inverse=True)  # fmt: skip
        assert np.array_equal(np.stack(names, axis=1).reshape(-1, 3), unique)
        assert np.array_equal(numbers, inverse.reshape(-1))
