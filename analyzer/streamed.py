"""The Python API for captures too large to hold: connections come back one at a time.

>>> import analyzer
>>> with analyzer.stream("captures/timewait-pileup.pcap") as s:
...     aborts = sum(c.close is analyzer.CloseKind.ABORT for c in s.connections())
...     first = s.connection(1)

``analyze()`` keeps every connection in memory (5-10 KB each); ``stream()``
keeps none: memory follows the connections open at once, as for
``teardown analyze`` (``engine``). Each connection waits pickled on
temporary files until the capture has been read and its id is known.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import numpy as np

from .analysis import Analysis, stream_analysis
from .capture import CaptureInfo
from .findings import ReportedFindings
from .model import Connection
from .output.spool import ConnectionSpool, pickled
from .parameters import Parameters
from .timewait import TimeWaitSummary


class StreamedAnalysis:
    """What ``stream`` found: the capture, its findings and TIME_WAIT summary in
    memory, its connections on disk. Close it (or use ``with``) to remove them."""

    def __init__(self, analysis: Analysis, spool: ConnectionSpool, first_frames: np.ndarray):
        self._analysis, self._spool, self._first_frames = analysis, spool, first_frames

    @property
    def capture(self) -> CaptureInfo:
        return self._analysis.capture

    @property
    def parameters(self) -> Parameters:
        return self._analysis.parameters

    @property
    def findings(self) -> ReportedFindings:
        """In report order; read from disk again each time they are iterated."""
        return self._analysis.findings

    @property
    def time_wait_summary(self) -> TimeWaitSummary | None:
        return self._analysis.time_wait_summary

    def __len__(self) -> int:
        """How many connections there are."""
        return len(self._first_frames)

    def connections(self, start: int = 1) -> Iterator[Connection]:
        """The connections in id order, from id ``start`` on, one at a time."""
        for new_id, data in self._spool.numbered(self._first_frames, max(start, 1)):
            c = pickle.loads(data)
            c.id = new_id
            yield c

    def connection(self, conn_id: int) -> Connection:
        """Connection ``conn_id`` (1 .. len(self)); IndexError for any other."""
        if not 1 <= conn_id <= len(self):
            raise IndexError(f"{self.capture.path}: no connection {conn_id} (it has {len(self)})")
        return next(self.connections(conn_id))

    def close(self) -> None:
        self._spool.close()

    def __enter__(self) -> StreamedAnalysis:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def stream(path: str, *, workers: int = 0, **options: Any) -> StreamedAnalysis:
    """Analyse one capture as ``analyze`` does, holding no connection in memory.

    ``options`` are ``analyze``'s (the fields of ``Parameters``: time_wait,
    port_range, port_share, close_wait_threshold, max_connections);
    ``workers`` processes walk the connections (0: all in this process).
    Raises ``analyzer.capture.CaptureError`` when the file cannot be read at all.
    """
    params = Parameters(**options)
    params.port_range = tuple(params.port_range)
    spool = ConnectionSpool(pickled, as_text=False)
    try:
        a, outcome = stream_analysis(path, spool, params, workers=workers)
    except BaseException:
        spool.close()
        raise
    return StreamedAnalysis(a, spool, outcome.first_frames)
