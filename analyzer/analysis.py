"""The pipeline for one capture: read -> segments -> connections -> teardown -> findings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .capture import CaptureInfo, read_capture
from .connections import index_connections
from .model import Connection
from .teardown import reconstruct

LINUX_TIME_WAIT = 60.0  # TCP_TIMEWAIT_LEN: fixed in Linux, not a sysctl


@dataclass
class Parameters:
    """The knobs of one analysis; they appear in the JSON as given."""

    time_wait: float = LINUX_TIME_WAIT  # 2*MSL, seconds

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Analysis:
    """Everything the tool says about one capture."""

    capture: CaptureInfo
    parameters: Parameters
    connections: list[Connection]
    findings: list[Any] = field(default_factory=list)
    time_wait_summary: Any = None

    def connection(self, conn_id: int) -> Connection:
        return self.connections[conn_id - 1]

    def to_dataframe(self):
        """Connections as a pandas DataFrame, one row per connection (needs pandas)."""
        import pandas as pd

        from .output.table import connection_rows

        return pd.DataFrame(connection_rows(self.connections))


def analyze(path: str, *, time_wait: float = LINUX_TIME_WAIT) -> Analysis:
    """Analyse one capture file (pcap, pcapng, gzip of either; '-' for stdin).

    Raises ``analyzer.capture.CaptureError`` when the file cannot be read at all.
    """
    capture = read_capture(path)
    segments = capture.segments
    index = index_connections(segments)
    capture_end = capture.info.last_time or 0.0
    connections = reconstruct(segments, index, capture_end=capture_end, time_wait=time_wait)
    return Analysis(capture.info, Parameters(time_wait=time_wait), connections)
