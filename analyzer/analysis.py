"""The pipeline for one capture: read -> segments -> connections -> teardown -> findings."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from . import zeek
from .capture import CaptureInfo, read_capture
from .connections import index_connections
from .findings import Finding, find
from .model import Connection
from .teardown import reconstruct
from .timewait import TimeWaitSummary, summarize

LINUX_TIME_WAIT = 60.0  # TCP_TIMEWAIT_LEN: fixed in Linux, not a sysctl
LINUX_PORT_RANGE = (32768, 60999)  # net.ipv4.ip_local_port_range default
DEFAULT_MAX_CONNECTIONS = 1_000_000


@dataclass
class Parameters:
    """The knobs of one analysis; they appear in the JSON as given."""

    time_wait: float = LINUX_TIME_WAIT  # 2*MSL, seconds
    port_range: tuple[int, int] = LINUX_PORT_RANGE  # the clients' ephemeral ports
    port_share: float = 0.5  # port_exhaustion_risk from this share of the range
    close_wait_threshold: float = 10.0  # seconds in CLOSE_WAIT before a warning
    # A hard limit on connections per capture: memory grows with connections
    # (5-10 KB each with events, findings and the Zeek record); a SYN flood
    # of millions must not exhaust it.
    max_connections: int = DEFAULT_MAX_CONNECTIONS

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["port_range"] = list(self.port_range)
        return d


@dataclass
class Analysis:
    """Everything the tool says about one capture."""

    capture: CaptureInfo
    parameters: Parameters
    connections: list[Connection]
    findings: list[Finding] = field(default_factory=list)
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
    not analysed, and a warning says how many.
    Raises ``analyzer.capture.CaptureError`` when the file cannot be read at all.
    """
    params = Parameters(
        time_wait, tuple(port_range), port_share, close_wait_threshold, max_connections
    )
    capture = read_capture(path)
    segments = capture.segments
    index = index_connections(segments)
    if len(index) > max_connections:
        capture.info.warnings.append(
            f"{path}: connection limit reached: only the first {max_connections} of "
            f"{len(index)} connections were analysed (--max-connections)"
        )
        index = index.first_connections(max_connections)
    capture_end = capture.info.last_time or 0.0
    connections = reconstruct(segments, index, capture_end=capture_end, time_wait=time_wait)
    zeek_records = zeek.annotate(segments, index, connections)
    pressure = summarize(connections, time_wait)
    findings = find(
        capture.info,
        connections,
        pressure,
        time_wait=time_wait,
        port_range=params.port_range,
        port_share=port_share,
        close_wait_threshold=close_wait_threshold,
    )
    return Analysis(capture.info, params, connections, findings, pressure, zeek_records)
