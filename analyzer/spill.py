"""Byte strings kept on a temporary file instead of in memory, read back in any order.

What a streaming analysis must keep until the capture has been read (each
connection's rendered text, each finding) goes here: the file costs page
cache, not resident memory, and only two numbers per item stay in memory.
"""

from __future__ import annotations

import os
import tempfile
from array import array
from collections.abc import Iterator

import numpy as np

_RUN_BYTES = 1 << 20


class Spill:
    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as self)
        self._offsets, self._sizes = array("q"), array("q")
        self._end = 0

    def __len__(self) -> int:
        return len(self._offsets)

    def extend(self, blob: bytes, sizes: list[int]) -> None:
        """Items laid end to end in ``blob``, of these sizes."""
        self._file.write(blob)
        lengths = np.asarray(sizes, np.int64)
        ends = np.cumsum(lengths) + self._end
        self._offsets.frombytes((ends - lengths).tobytes())
        self._sizes.frombytes(lengths.tobytes())
        if len(lengths):
            self._end = int(ends[-1])

    def read(self, order: np.ndarray) -> Iterator[bytes]:
        """The items at the positions in ``order``, in that order."""
        for data, starts, sizes in self.runs(order):
            for start, size in zip(starts.tolist(), sizes.tolist()):
                yield data[start : start + size]

    def runs(self, order: np.ndarray) -> Iterator[tuple[bytes, np.ndarray, np.ndarray]]:
        """The items at the positions in ``order``, in that order, a run at a
        time: (the run's bytes, where each of its items starts in them, their sizes).

        A run is items that lie end to end on the file (most: a slice's
        connections are spilled together, in the order they are read back),
        read together up to _RUN_BYTES at once: a seek and a read per item
        cost more than the copying.
        """
        order = np.asarray(order, np.int64)
        offsets = np.frombuffer(self._offsets, np.int64)[order]
        sizes = np.frombuffer(self._sizes, np.int64)[order]
        self._file.flush()
        if not len(order):
            return
        # A run starts where an item does not follow the one before on the
        # file, and again where an item starts _RUN_BYTES or more past its run's start.
        follows = np.zeros(len(order), bool)
        follows[1:] = offsets[1:] == offsets[:-1] + sizes[:-1]
        contiguous = np.cumsum(~follows) - 1
        reach = (offsets - offsets[~follows][contiguous]) // _RUN_BYTES
        new_run = ~follows
        new_run[1:] |= reach[1:] != reach[:-1]
        first = np.flatnonzero(new_run)
        last = np.append(first[1:], len(order)) - 1
        at = offsets[first]
        starts = offsets - np.repeat(at, last - first + 1)
        lengths = offsets[last] + sizes[last] - at
        fd = self._file.fileno()
        for a, b, offset, length in zip(
            first.tolist(), last.tolist(), at.tolist(), lengths.tolist()
        ):
            data = os.pread(fd, length, offset)
            if len(data) != length:
                raise OSError(f"spill file {self._file.name} ends before offset {offset + length}")
            yield data, starts[a : b + 1], sizes[a : b + 1]

    def close(self) -> None:
        self._file.close()


class RecordFile:
    """Rows of one numpy record type, appended in batches on a temporary file
    and read back all at once (what is needed only at the end of a capture)."""

    def __init__(self, dtype: np.dtype) -> None:
        self.dtype = np.dtype(dtype)
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as self)

    def append(self, rows: np.ndarray) -> None:
        self._file.write(np.asarray(rows, self.dtype).tobytes())

    def load(self) -> np.ndarray:
        self._file.seek(0)
        data = np.frombuffer(self._file.read(), self.dtype)
        self._file.seek(0, 2)  # later appends go on at the end
        return data

    def close(self) -> None:
        self._file.close()
