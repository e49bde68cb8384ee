"""The pipeline for one capture: read -> segments -> connections -> teardown -> findings."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import zeek
from .capture import CaptureInfo
from .capture.reader import CHUNK_BYTES
from .engine import ConnectionSink, Engine, Outcome, SliceProducts
from .findings import Finding, ReportedFindings
from .model import Connection
from .parameters import DEFAULT_MAX_CONNECTIONS, LINUX_PORT_RANGE, LINUX_TIME_WAIT, Parameters
from .timewait import TimeWaitSummary


@dataclass
class Analysis:
    """Everything the tool says about one capture."""

    capture: CaptureInfo
    parameters: Parameters
    connections: list[Connection]
    # A list, or read back from disk one at a time after ``stream_analysis``.
    findings: list[Finding] | ReportedFindings = field(default_factory=list)
    time_wait_summary: TimeWaitSummary | None = None
    zeek_records: list[zeek.ZeekRecord] = field(default_factory=list)  # conn.log (docs/zeek.md)

    def connection(self, conn_id: int) -> Connection:
        return self.connections[conn_id - 1]

    def to_dataframe(self):
        """Connections as a pandas DataFrame, one row per connection (needs pandas)."""
        import pandas as pd

        from .output.table import connection_rows

        return pd.DataFrame(connection_rows(self.connections))


def analyze(
    path: str,
    *,
    time_wait: float = LINUX_TIME_WAIT,
    port_range: tuple[int, int] = LINUX_PORT_RANGE,
    port_share: float = 0.5,
    close_wait_threshold: float = 10.0,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
) -> Analysis:
    """Analyse one capture file (pcap, pcapng, gzip of either; '-' for stdin).

    ``time_wait`` is 2*MSL in seconds (Linux: 60); ``port_range`` and
    ``port_share`` set when TIME_WAIT pressure is reported; ``close_wait_threshold``
    is how long a side may sit in CLOSE_WAIT before it is a warning;
    beyond ``max_connections`` connections (the earliest are kept) the rest are
    left out, and a warning says how many.
    Every connection is kept in memory; ``stream_analysis`` keeps none.
    Raises ``analyzer.capture.CaptureError`` when the file cannot be read at all.
    """
    params = Parameters(
        time_wait, tuple(port_range), port_share, close_wait_threshold, max_connections
    )
    kept = _Keep(max_connections)
    a, outcome = stream_analysis(path, kept, params)
    connections = sorted(kept.connections, key=lambda c: c.first_frame)
    del connections[len(outcome.first_frames) :]
    for new_id, c in enumerate(connections, 1):
        c.id = new_id
    a.connections = connections
    a.findings = list(a.findings)
    # conn.log records of connections left out by the limit are left out too.
    cut = outcome.left_out_from
    a.zeek_records = sorted(
        (r for r in kept.records if cut is None or r.first_frame < cut),
        key=lambda r: (r.ts, r.first_frame),
    )
    return a


def stream_analysis(
    path: str,
    sink: ConnectionSink,
    params: Parameters | None = None,
    *,
    workers: int = 0,
    chunk_bytes: int = CHUNK_BYTES,
) -> tuple[Analysis, Outcome]:
    """Analyse one capture, handing its connections to ``sink`` as they settle.

    The ``Analysis`` returned holds the findings and the TIME_WAIT summary but
    no connections: the sink had them, with provisional ids (their first
    frames); ``Outcome.first_frames`` gives the final ones. Memory follows the
    connections active at once, not the capture's size (``engine``). With
    ``workers``, that many processes walk the connections, if the sink renders
    them; ``chunk_bytes`` is how much of the file is read at once.
    """
    params = params or Parameters()
    outcome = Engine(params, sink, workers=workers).run(path, chunk_bytes=chunk_bytes)
    a = Analysis(outcome.info, params, [], outcome.findings, outcome.time_wait_summary)
    return a, outcome


class _Keep:
    """The sink that keeps the earliest ``limit`` connections and their conn.log records.

    Connections settle out of order, but one that is not among the earliest
    ``limit`` seen so far never will be: past twice the limit the rest go.
    """

    render = None  # it keeps the objects themselves
    zeek_records = True

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.connections: list[Connection] = []
        self.records: list[zeek.ZeekRecord] = []

    def add(self, products: SliceProducts) -> None:
        self.connections += products.connections
        self.records += products.records
        if len(self.connections) > 2 * self.limit:
            self.connections.sort(key=lambda c: c.first_frame)
            cut = self.connections[self.limit].first_frame  # left out, and all after it
            del self.connections[self.limit :]
            self.records = [r for r in self.records if r.first_frame < cut]
