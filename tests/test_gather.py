"""The compiled gather of segment columns into int64 rows (``gather``) against numpy's."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.gather import gather
from analyzer.segments import COLUMNS

# Every width the segment table's columns have (booleans made apart: a byte
# other than 0 or 1 is no boolean).
_DTYPES = sorted({dtype.str for dtype in COLUMNS.values() if dtype.kind != "b"})


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 40), st.lists(st.integers(0, 39), max_size=60), st.integers(0, 2), st.data())
def test_rows_of_every_column_width(size, rows, first, data):
    columns = [
        np.frombuffer(data.draw(st.binary(min_size=n, max_size=n)), d)
        for d in map(np.dtype, _DTYPES)
        for n in [size * d.itemsize]
    ]
    columns.append(np.array(data.draw(st.lists(st.booleans(), min_size=size, max_size=size))))
    rows = np.array([r % size for r in rows], np.int64)
    out = np.full((len(rows), first + len(columns)), -7, np.int64)
    gather(columns, rows, out, first)
    assert (out[:, :first] == -7).all()
    for k, column in enumerate(columns):
        assert out[:, first + k].tolist() == column[rows].astype(np.int64).tolist()


def test_rows_outside_a_column_or_a_block_are_refused():
    column = np.arange(5, dtype=np.int32)
    out = np.empty((2, 1), np.int64)
    with pytest.raises(IndexError, match="rows"):
        gather([column], np.array([0, 5], np.int64), out)
    with pytest.raises(IndexError, match="rows"):
        gather([column], np.array([-1, 0], np.int64), out)
    with pytest.raises(ValueError, match="block"):
        gather([column, column], np.array([0, 1], np.int64), out)
    with pytest.raises(TypeError, match="float64"):
        gather([np.zeros(5)], np.array([0, 1], np.int64), out)
