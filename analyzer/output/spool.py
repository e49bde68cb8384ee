"""A sink that spools rendered connections to a temporary file until their ids are known.

Connections settle out of order (``analyzer.engine``) and learn their ids, the
rank of their first frame, only when the whole capture is read. Meanwhile each
waits on disk as the text its output format renders for it (JSON, a table
row); ``numbered`` reads them back in id order and gives each its id. They wait
in a ``spill.Spill``.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from functools import partial

import numpy as np

from ..engine import SliceProducts
from ..model import Connection
from ..spill import Spill


def _render_all(render_one, connections: list[Connection]) -> tuple[bytes, list[int]]:
    texts = [render_one(c).encode() for c in connections]
    return b"".join(texts), [len(t) for t in texts]


class ConnectionSpool:
    """``render_one`` turns a connection into text without its id; it must be
    a module-level function, for worker processes to run it."""

    def __init__(self, render_one: Callable[[Connection], str]) -> None:
        self.render = partial(_render_all, render_one)
        self._spill = Spill()
        self._first_frames = array("q")

    def add(self, products: SliceProducts) -> None:
        blob, sizes = products.documents
        self._spill.extend(blob, sizes)
        self._first_frames.extend(products.first_frames.tolist())

    def numbered(self, first_frames: np.ndarray) -> Iterator[tuple[int, str]]:
        """(id, text) of each kept connection, in id order.

        ``first_frames`` are the kept connections' first frames, ascending
        (``engine.Outcome``): connection ``i + 1`` is the one at ``i``.
        """
        spooled = np.frombuffer(self._first_frames, np.int64)
        order = np.argsort(spooled)[: len(first_frames)]
        for new_id, data in enumerate(self._spill.read(order), 1):
            yield new_id, data.decode()

    def close(self) -> None:
        self._spill.close()
