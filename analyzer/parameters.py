"""The knobs of one analysis, with Linux's defaults; they appear in the JSON as given."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

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
    # A limit on the connections reported per capture: ``analyze`` keeps every
    # connection (5-10 KB each with events and findings), and a SYN flood of
    # millions must not exhaust memory.
    max_connections: int = DEFAULT_MAX_CONNECTIONS

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["port_range"] = list(self.port_range)
        return d
