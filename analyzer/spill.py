"""Byte strings kept on temporary files instead of in memory, read back in any order.

What a streaming analysis must keep until the capture has been read (each
connection's rendered text, each finding) goes here: the files cost page
cache, not resident memory, and only three numbers per item stay in memory.

Items are written where they are made. A spill is a directory: each process
that writes to it (``SpillWriter``, picklable, sent to worker processes with
the functions that render) appends to a file of its own there and hands on
only where the items went (``Stored``). Sending the rendered bytes through a
pipe to be written here cost the main process a quarter of its time.

The reading process removes each file from the directory as soon as it has
opened it (writers keep theirs open): a process killed outright leaves
behind only what had not been read yet. Descriptors are closed by ``close``,
or when the spill is garbage (a capture's findings are read back for as
long as its analysis lives).
"""

from __future__ import annotations

import os
import tempfile
import threading
import weakref
from array import array
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

_RUN_BYTES = 1 << 20
# Spill files a process keeps open for writing; the least recently used is
# closed beyond that, and a new file begun if its spill is written again
# (a process may write to many spills, a few per capture it analyses).
_OPEN_FOR_WRITING = 16
# Parts a gathering write takes at most (the system's IOV_MAX).
_IOV_MAX = os.sysconf("SC_IOV_MAX") if "SC_IOV_MAX" in os.sysconf_names else 16


@dataclass(frozen=True)
class Stored:
    """Items written end to end on a spill's file: its name, where the first
    starts, and their sizes."""

    name: str
    offset: int
    sizes: list[int]


class _OwnFile:
    """This process's file in one spill's directory, and where it ends."""

    def __init__(self, directory: str) -> None:
        self.fd, path = tempfile.mkstemp(dir=directory, prefix=f"{os.getpid()}-")
        self.name = os.path.basename(path)
        self.end = 0

    def append(self, parts: list[bytes]) -> int:
        """Where ``parts``, written end to end, start on the file, once all of
        them are written (a failed write leaves the end where it was, for the
        next to overwrite)."""
        end = self.end
        for k in range(0, len(parts), _IOV_MAX):
            end = _write_parts(self.fd, parts[k : k + _IOV_MAX], end)
        at, self.end = self.end, end
        return at


def _write_parts(fd: int, parts: list, at: int) -> int:
    """``parts`` written end to end from offset ``at`` by gathering writes
    (joined first, a slice's connections were copied once more, into fresh
    pages); where they end."""
    while parts:
        written = os.pwritev(fd, parts, at)
        at += written
        if written == sum(map(len, parts)):
            break
        k = 0  # a short write: on from the first part not written whole
        while written >= len(parts[k]):
            written -= len(parts[k])
            k += 1
        parts = [memoryview(parts[k])[written:], *parts[k + 1 :]]
    return at


# This process's files, by spill directory. Threads of one process (a Dask
# worker's) share them under the lock; a forked child begins its own. The
# lock is re-entrant: a spill caught in a reference cycle is released (its
# file forgotten) when the cyclic collector runs, which may be inside
# ``_append`` itself, at any allocation.
_own_files: OrderedDict[str, _OwnFile] = OrderedDict()
_own_files_lock = threading.RLock()


def _after_fork_in_child() -> None:
    global _own_files_lock
    for f in _own_files.values():
        os.close(f.fd)  # the parent's files are the parent's to write
    _own_files.clear()
    _own_files_lock = threading.RLock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _append(directory: str, parts: list[bytes]) -> tuple[str, int]:
    """(this process's file in ``directory``, where ``parts``, written end to
    end, start on it)."""
    with _own_files_lock:
        own = _own_files.get(directory)
        if own is None:
            own = _own_files[directory] = _OwnFile(directory)
            if len(_own_files) > _OPEN_FOR_WRITING:
                os.close(_own_files.popitem(last=False)[1].fd)
        _own_files.move_to_end(directory)
        return own.name, own.append(parts)


def _forget_own_file(directory: str) -> None:
    with _own_files_lock:
        own = _own_files.pop(directory, None)
    if own is not None:
        os.close(own.fd)


@dataclass(frozen=True)
class SpillWriter:
    """Writes items to a spill from any process (``Spill.writer``)."""

    directory: str

    def __call__(self, blob: bytes, sizes: list[int]) -> Stored:
        """Items laid end to end in ``blob``, of these sizes."""
        return Stored(*_append(self.directory, [blob]), list(sizes))

    def each(self, items: list[bytes]) -> Stored:
        """These items, one after the other."""
        return Stored(*_append(self.directory, items), [len(item) for item in items])


class Spill:
    """Items from any process, read back here by their positions (in the order added)."""

    def __init__(self) -> None:
        self._directory = tempfile.TemporaryDirectory(prefix="teardown-spill-")
        self.writer = SpillWriter(self._directory.name)
        self._fds: list[int] = []  # the spill's files, opened for reading
        self._names: list[str] = []  # ... and their names
        self._file_of: dict[str, int] = {}  # name -> position in _fds
        self._files, self._offsets, self._sizes = array("i"), array("q"), array("q")
        self._release = weakref.finalize(self, _release, self._fds, self._directory)

    def __len__(self) -> int:
        return len(self._offsets)

    def extend(self, blob: bytes, sizes: list[int]) -> None:
        """Items laid end to end in ``blob``, of these sizes (written here)."""
        self.add(self.writer(blob, sizes))

    def add(self, stored: Stored) -> None:
        """Items some process wrote (``writer``)."""
        k = self._file_of.get(stored.name)
        if k is None:
            path = os.path.join(self._directory.name, os.path.basename(stored.name))
            k = self._file_of[stored.name] = len(self._fds)
            self._fds.append(os.open(path, os.O_RDONLY))
            self._names.append(stored.name)
            os.unlink(path)  # its writer appends on; nothing is left behind
        lengths = np.asarray(stored.sizes, np.int64)
        self._files.frombytes(np.full(len(lengths), k, np.int32).tobytes())
        self._offsets.frombytes((np.cumsum(lengths) - lengths + stored.offset).tobytes())
        self._sizes.frombytes(lengths.tobytes())

    def read(self, order: np.ndarray) -> Iterator[bytes]:
        """The items at the positions in ``order``, in that order."""
        for data, starts, sizes in self.runs(order):
            for start, size in zip(starts.tolist(), sizes.tolist()):
                yield data[start : start + size]

    def locations(self, order: np.ndarray) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
        """Where the items at the positions in ``order`` lie, for a compiled
        reader (``json_text.numbered_spill``): the spill's files, open while
        it is, and each item's file among them, offset and size."""
        order = np.asarray(order, np.int64)
        return (
            self._fds,
            np.frombuffer(self._files, np.int32)[order],
            np.frombuffer(self._offsets, np.int64)[order],
            np.frombuffer(self._sizes, np.int64)[order],
        )

    def runs(self, order: np.ndarray) -> Iterator[tuple[bytes, np.ndarray, np.ndarray]]:
        """The items at the positions in ``order``, in that order, a run at a
        time: (the run's bytes, where each of its items starts in them, their sizes).

        A run is items that lie end to end on one file (most: a slice's
        connections are spilled together, in the order they are read back),
        read together up to _RUN_BYTES at once: a seek and a read per item
        cost more than the copying.
        """
        order = np.asarray(order, np.int64)
        files = np.frombuffer(self._files, np.int32)[order]
        offsets = np.frombuffer(self._offsets, np.int64)[order]
        sizes = np.frombuffer(self._sizes, np.int64)[order]
        if not len(order):
            return
        # A run starts where an item does not follow the one before on its
        # file, and again where an item starts _RUN_BYTES or more past its run's start.
        follows = np.zeros(len(order), bool)
        follows[1:] = (files[1:] == files[:-1]) & (offsets[1:] == offsets[:-1] + sizes[:-1])
        contiguous = np.cumsum(~follows) - 1
        reach = (offsets - offsets[~follows][contiguous]) // _RUN_BYTES
        new_run = ~follows
        new_run[1:] |= reach[1:] != reach[:-1]
        first = np.flatnonzero(new_run)
        last = np.append(first[1:], len(order)) - 1
        at = offsets[first]
        starts = offsets - np.repeat(at, last - first + 1)
        lengths = offsets[last] + sizes[last] - at
        for a, b, k, offset, length in zip(
            first.tolist(), last.tolist(), files[first].tolist(), at.tolist(), lengths.tolist()
        ):
            data = os.pread(self._fds[k], length, offset)
            if len(data) != length:
                raise OSError(
                    f"spill file {self._directory.name}/{self._names[k]} ends before "
                    f"offset {offset + length}"
                )
            yield data, starts[a : b + 1], sizes[a : b + 1]

    def close(self) -> None:
        self._release()


def _release(fds: list[int], directory: tempfile.TemporaryDirectory) -> None:
    _forget_own_file(directory.name)
    for fd in fds:
        os.close(fd)
    fds.clear()
    directory.cleanup()


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
