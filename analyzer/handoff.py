"""Slices of segments handed to worker processes through files in shared memory.

A slice sent as an argument is pickled, and the pickle goes through the
executor's pipe 64 KB at a time: on the 3M benchmark the main process spent
about 0.9 s of CPU feeding the pipe (170 MB of segment columns), and each
worker as long again reading it. Written to a file in shared memory
(``/dev/shm``, or the temporary directory where there is none) the columns
cost a copy each way; what goes through the pipe is the file's name, the
columns' layout and the slice's own address texts.

The file is read and removed by the worker; the directory, and whatever a
failed worker left in it, goes when the engine closes its ``Handoff`` (a
process killed outright leaves the slices it had in flight). At most
2 * workers + 1 slices wait at once, mostly 50,000 segments (3 MB) each;
where shared memory is full, slices go to the temporary directory instead.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass

import numpy as np

from .segments import SegmentTable

_SHARED_MEMORY = "/dev/shm"


@dataclass(frozen=True)
class ShippedSlice:
    """A slice on a file: its path, its columns (name, dtype, rows) in that
    order, each starting at a multiple of 8 bytes, and its address texts."""

    path: str
    layout: tuple[tuple[str, str, int], ...]
    addresses: list[str]

    def load(self) -> SegmentTable:
        """The slice, read once: the file is removed."""
        sizes = [_aligned(np.dtype(dtype).itemsize * rows) for _, dtype, rows in self.layout]
        data = bytearray(sum(sizes))  # writable, as the arrays the walk gets must be
        with open(self.path, "rb") as f:
            if f.readinto(data) != len(data):
                raise OSError(f"{self.path}: slice file shorter than its {len(data)} bytes")
        os.unlink(self.path)
        columns, at = {}, 0
        for (name, dtype, rows), size in zip(self.layout, sizes):
            columns[name] = np.frombuffer(data, dtype, rows, at)
            at += size
        return SegmentTable(columns, self.addresses)


def _aligned(size: int) -> int:
    return -(-size // 8) * 8


class Handoff:
    """Where one engine run leaves the slices for its workers."""

    def __init__(self) -> None:
        shared = _SHARED_MEMORY if os.access(_SHARED_MEMORY, os.W_OK) else None
        self._directories = [tempfile.TemporaryDirectory(prefix="teardown-slices-", dir=shared)]

    def ship(self, seg: SegmentTable) -> ShippedSlice:
        try:
            path = self._write(seg)
        except OSError:
            if len(self._directories) > 1:
                raise
            # Shared memory is full (a container's is often 64 MB): the
            # temporary directory from now on.
            self._directories.append(tempfile.TemporaryDirectory(prefix="teardown-slices-"))
            path = self._write(seg)
        layout = tuple((name, a.dtype.str, len(a)) for name, a in seg.columns.items())
        return ShippedSlice(path, layout, list(seg.addresses))

    def _write(self, seg: SegmentTable) -> str:
        fd, path = tempfile.mkstemp(dir=self._directories[-1].name)
        try:
            with open(fd, "wb") as f:
                for column in seg.columns.values():
                    f.write(np.ascontiguousarray(column).data)
                    f.write(bytes(_aligned(column.nbytes) - column.nbytes))
        except OSError:
            os.unlink(path)
            raise
        return path

    def close(self) -> None:
        for directory in self._directories:
            directory.cleanup()
