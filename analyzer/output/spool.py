"""A sink that spools rendered connections to temporary files until their ids are known.

Connections settle out of order (``analyzer.engine``) and learn their ids, the
rank of their first frame, only when the whole capture is read. Meanwhile each
waits on disk as what its output renders for it (JSON, a table row, a CSV
record, or the pickled connection for ``--conn``); ``numbered`` reads them
back in id order and gives each its id. They wait in a ``spill.Spill``.
"""

from __future__ import annotations

import pickle
from array import array
from collections.abc import Callable, Iterator
from functools import partial

import numpy as np

from ..engine import SliceProducts
from ..model import Connection
from ..spill import _RUN_BYTES, Spill, SpillWriter, Stored
from .json_text import numbered_spill


def pickled(c: Connection) -> bytes:
    """The connection itself, for a spool that gives back objects (``as_text=False``)."""
    return pickle.dumps(c, pickle.HIGHEST_PROTOCOL)


def _render_all(
    render_one, as_text: bool, write: SpillWriter, connections: list[Connection], _records, _named
) -> Stored:
    """A slice's connections rendered and spilled where they were walked."""
    items = [render_one(c) for c in connections]
    if as_text and items and isinstance(items[0], str):  # (one type for all: see the class)
        items = [t.encode() for t in items]
    return write.each(items)


class ConnectionSpool:
    """``render_one`` turns a connection into text without its id, a str or its
    UTF-8 bytes, the same type for every connection (or, with
    ``as_text=False``, into bytes given back as they are); it must be a
    module-level function, for worker processes to run it."""

    zeek_records = False  # (it renders connections, each with its ``zeek``)

    def __init__(self, render_one: Callable[[Connection], str | bytes], *, as_text=True) -> None:
        self._spill = Spill()
        self.render = partial(_render_all, render_one, as_text, self._spill.writer)
        self._as_text = as_text
        self._first_frames = array("q")

    def add(self, products: SliceProducts) -> None:
        self.keep(products.documents, products.first_frames)

    def keep(self, rendered: list[Stored], first_frames: np.ndarray) -> None:
        """What ``render`` made of each part of a slice's connections, whose
        first frames these are (all parts')."""
        for part in rendered:
            self._spill.add(part)
        self._first_frames.extend(first_frames.tolist())

    @property
    def first_frames(self) -> np.ndarray:
        """The provisional ids (first frames) of the connections spooled, in spool order."""
        return np.frombuffer(self._first_frames, np.int64)

    def numbered(
        self, first_frames: np.ndarray, start: int = 1
    ) -> Iterator[tuple[int, str | bytes]]:
        """(id, text) of each kept connection from id ``start`` on, in id order
        (bytes, not text, for a spool made with ``as_text=False``).

        ``first_frames`` are the kept connections' first frames, ascending
        (``engine.Outcome``): connection ``i + 1`` is the one at ``i``.
        """
        for new_id, data in enumerate(self._spill.read(self._order(first_frames, start)), start):
            yield new_id, data.decode() if self._as_text else data

    def json_runs(self, first_frames: np.ndarray) -> Iterator[bytes]:
        """The kept connections' JSON texts (a spool of ``connection_json_bytes``)
        with their ids, in id order, in ASCII texts of about _RUN_BYTES of them
        joined by commas: the items of the document's connection list (a
        Python string per connection took a third of the writing, and a
        string per run, made and encoded again, a third of what was left)."""
        # (A generator of this spool's: its spill stays open while it is read.)
        yield from numbered_spill(
            *self._spill.locations(self._order(first_frames, 1)), 1, _RUN_BYTES, True
        )

    def _order(self, first_frames: np.ndarray, start: int) -> np.ndarray:
        """Spool positions of the kept connections from id ``start`` on, in id order."""
        return np.argsort(self.first_frames)[start - 1 : len(first_frames)]

    def close(self) -> None:
        self._spill.close()
