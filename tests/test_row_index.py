"""The compiled row index (address codes, 4-tuples' latest groups) against a dict."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.row_index import RowIndex

keys = st.tuples(st.integers(0, 5), st.integers(0, 2**64 - 1) | st.integers(0, 5))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(keys, max_size=700), max_size=6), st.lists(keys, max_size=50))
def test_a_key_finds_its_latest_row(batches, asked):
    rows = np.zeros((0, 2), np.uint64)
    index, latest = RowIndex(), {}
    for batch in batches:  # put a batch at a time, growing the table past its 1024 slots
        first = len(rows)
        rows = np.concatenate([rows, np.array(batch, np.uint64).reshape(-1, 2)])
        index.put(rows, first, len(rows))
        latest.update((key, first + k) for k, key in enumerate(batch))
    wanted = [*asked, *latest]
    out = np.empty(len(wanted), np.int32)
    index.lookup(np.array(wanted, np.uint64).reshape(-1, 2), rows, out)
    assert out.tolist() == [latest.get(key, -1) for key in wanted]


def test_an_index_refuses_rows_it_does_not_cover():
    rows = np.arange(200, dtype=np.uint64).reshape(-1, 2)
    index = RowIndex()
    index.put(rows, 0, 100)
    with pytest.raises(ValueError, match="rows"):
        index.put(rows[:10], 5, 10)  # it holds rows up to 99
    with pytest.raises(ValueError, match="rows"):
        index.lookup(rows[:1], rows[:10], np.empty(1, np.int32))
    with pytest.raises(ValueError, match="rows"):
        index.put(rows, 90, 120)  # past the array
