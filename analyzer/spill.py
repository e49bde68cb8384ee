"""Byte strings kept on a temporary file instead of in memory, read back in any order.

What a streaming analysis must keep until the capture has been read (each
connection's rendered text, each finding) goes here: the file costs page
cache, not resident memory, and only two numbers per item stay in memory.
"""

from __future__ import annotations

import tempfile
from array import array
from collections.abc import Iterator

import numpy as np

# Items read back per block: positions become Python ints a block at a time.
_BLOCK = 65536
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
        offsets = np.frombuffer(self._offsets, np.int64)[order]
        sizes = np.frombuffer(self._sizes, np.int64)[order]
        f = self._file
        f.flush()
        # Items that lie end to end on the file (most: a slice's connections
        # are spilled together, in the order they are read back) are read
        # together, up to _RUN_BYTES at once: a seek and a read per item cost
        # more than the copying. ``reach``: where an item's run of such items ends.
        ends = offsets + sizes
        new_run = np.ones(len(order), bool)
        new_run[1:] = offsets[1:] != ends[:-1]
        last_of_run = np.append(np.flatnonzero(new_run[1:]), len(order) - 1)
        reach = ends[last_of_run][np.cumsum(new_run) - 1] if len(order) else ends
        data, at, end = b"", 0, 0  # what was read: the file's bytes at .. end
        for block in range(0, len(order), _BLOCK):
            part = slice(block, block + _BLOCK)
            items = zip(offsets[part].tolist(), sizes[part].tolist(), reach[part].tolist())
            for offset, size, stop in items:
                if not at <= offset <= offset + size <= end:
                    f.seek(offset)
                    data = f.read(max(size, min(stop - offset, _RUN_BYTES)))
                    at, end = offset, offset + len(data)
                yield data[offset - at : offset - at + size]

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
