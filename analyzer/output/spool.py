"""A sink that spools rendered connections to a temporary file until their ids are known.

Connections settle out of order (``analyzer.engine``) and learn their ids, the
rank of their first frame, only when the whole capture is read. Meanwhile each
waits on disk as the text its output format renders for it (JSON, a table
row); ``numbered`` reads them back in id order and gives each its id. The
temporary file is not mapped into memory: it costs page cache, not resident
memory.
"""

from __future__ import annotations

import tempfile
from array import array
from collections.abc import Callable, Iterator
from functools import partial

import numpy as np

from ..engine import SliceProducts
from ..model import Connection


def _render_all(render_one, connections: list[Connection]) -> tuple[bytes, list[int]]:
    texts = [render_one(c).encode() for c in connections]
    return b"".join(texts), [len(t) for t in texts]


class ConnectionSpool:
    """``render_one`` turns a connection into text without its id; it must be
    a module-level function, for worker processes to run it."""

    def __init__(self, render_one: Callable[[Connection], str]) -> None:
        self.render = partial(_render_all, render_one)
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as self)
        self._first_frames, self._offsets, self._sizes = array("q"), array("q"), array("i")
        self._end = 0

    def add(self, products: SliceProducts) -> None:
        blob, sizes = products.documents
        if not sizes:
            return
        offsets = np.cumsum([0, *sizes[:-1]], dtype=np.int64) + self._end
        self._file.write(blob)
        self._first_frames.extend(products.first_frames.tolist())
        self._offsets.extend(offsets.tolist())
        self._sizes.extend(sizes)
        self._end += len(blob)

    def numbered(
        self, first_frames: np.ndarray, limit: int | None = None
    ) -> Iterator[tuple[int, str]]:
        """(id, text) of each kept connection in id order, the first ``limit`` if given.

        ``first_frames`` are the kept connections' first frames, ascending
        (``engine.Outcome``): connection ``i + 1`` is the one at ``i``.
        """
        spooled = np.frombuffer(self._first_frames, np.int64)
        order = np.argsort(spooled)[
            : len(first_frames) if limit is None else min(limit, len(first_frames))
        ]
        offsets = np.frombuffer(self._offsets, np.int64)[order]
        sizes = np.frombuffer(self._sizes, np.int32)[order]
        f = self._file
        f.flush()
        new_id = 0
        for block in range(0, len(order), 65536):  # Python ints for a block at a time
            part = slice(block, block + 65536)
            for offset, size in zip(offsets[part].tolist(), sizes[part].tolist()):
                new_id += 1
                f.seek(offset)
                yield new_id, f.read(size).decode()

    def close(self) -> None:
        self._file.close()
