"""What a report keeps of each connection while one capture streams through the engine.

Per connection: its JSON (the capture's document), its row of
connections.csv, and its close kind and active closer (the capture's
counts). The connections some finding names are kept too, pickled, for the
ladder diagrams of the worst. Everything waits on disk (``spill.Spill``)
until the capture has been read and the final ids are known; a worker holds
the connections open at once, not the capture.
"""

from __future__ import annotations

import pickle
from array import array
from collections import Counter
from collections.abc import Iterator
from functools import partial

import numpy as np

from ..engine import SliceProducts
from ..model import Connection
from ..output.document import connection_json_bytes
from ..output.spool import ConnectionSpool, pickled
from ..output.table import ROW_FIELDS, connection_row, csv_text
from ..spill import Spill
from ..vocabulary import CloseKind, Side
from .tables import csv_cell

CLOSE_KINDS = list(CloseKind)
CLOSERS = [None, *Side]  # no active closer, or the side
# A connection's close kind and active closer in one byte.
_CODES = {
    (kind, closer): k * len(CLOSERS) + c
    for k, kind in enumerate(CLOSE_KINDS)
    for c, closer in enumerate(CLOSERS)
}


def closer_name(closer: Side | None) -> str:
    return closer.value if closer else "none"


def report_row(c: Connection) -> str:
    """The connection's row of connections.csv without its capture and id, each
    cell that a spreadsheet would run as a formula neutralised."""
    row = connection_row(c)
    return csv_text([csv_cell(row[name]) for name in ROW_FIELDS[1:]])


def _render(documents, rows, write_drawn, connections: list[Connection], records, named: set[int]):
    drawn = [c for c in connections if c.id in named]
    return (
        documents(connections, records, named),
        rows(connections, records, named),
        bytes(_CODES[c.close, c.active_closer] for c in connections),
        write_drawn.each([pickled(c) for c in drawn]),
        [c.id for c in drawn],
    )


class ReportSink:
    """The engine's sink for one capture of a report (``engine.ConnectionSink``):
    ``documents`` and ``rows`` give back the JSON and the CSV rows in id order;
    ``closes`` and ``connections`` the counts and the connections to draw."""

    zeek_records = False  # (a report writes no conn.log)

    def __init__(self) -> None:
        self.documents = ConnectionSpool(connection_json_bytes)
        self.rows = ConnectionSpool(report_row)
        self._closes = array("B")  # in the documents' spool order
        self._drawn, self._drawn_frames = Spill(), array("q")
        self.render = partial(_render, self.documents.render, self.rows.render, self._drawn.writer)

    def add(self, products: SliceProducts) -> None:
        parts = products.documents
        self.documents.keep([documents for documents, *_ in parts], products.first_frames)
        self.rows.keep([rows for _, rows, *_ in parts], products.first_frames)
        for _, _, closes, drawn, drawn_frames in parts:
            self._closes.frombytes(closes)
            self._drawn.add(drawn)
            self._drawn_frames.extend(drawn_frames)

    def closes(self, kept: np.ndarray) -> dict[str, Counter]:
        """close kind -> active closer -> connections, over the kept connections."""
        first_frames = self.documents.first_frames
        codes = np.frombuffer(self._closes, np.uint8)
        codes = codes[first_frames <= kept[-1]] if len(kept) else codes[:0]
        counts: dict[str, Counter] = {}
        for code, n in zip(*(a.tolist() for a in np.unique(codes, return_counts=True))):
            close, closer = divmod(code, len(CLOSERS))
            by_closer = counts.setdefault(CLOSE_KINDS[close].value, Counter())
            by_closer[closer_name(CLOSERS[closer])] = n
        return counts

    def connections(self, kept: np.ndarray, ids: list[int]) -> Iterator[Connection]:
        """The connections with these ids that some finding names, ids set."""
        frames = np.frombuffer(self._drawn_frames, np.int64)
        for conn_id in ids:
            (at,) = np.flatnonzero(frames == kept[conn_id - 1])
            (data,) = self._drawn.read(np.array([at]))
            c = pickle.loads(data)
            c.id = conn_id
            yield c

    def close(self) -> None:
        self.documents.close()
        self.rows.close()
        self._drawn.close()
