"""TIME_WAIT pressure: will a client run out of ephemeral ports for a destination?"""

from __future__ import annotations

from collections.abc import Iterator

from ..timewait import TimeWaitSummary
from ..vocabulary import FindingKind, Severity
from .finding import Finding


def port_exhaustion(
    summary: TimeWaitSummary, port_range: tuple[int, int], share: float, time_wait: float
) -> Iterator[Finding]:
    ports = port_range[1] - port_range[0] + 1
    limit = share * ports
    for d in summary.destinations_holding(limit):
        population = d.population
        severity = Severity.ERROR if population >= ports else Severity.WARNING
        exhaust_rate = ports / time_wait
        held = ", ".join(f"{side} {n}" for side, n in sorted(d.holder.items())) or "none"
        summary_text = (
            f"{d.client} -> {d.server}: {d.connections} new connections"
            + (f" at {d.rate:.1f}/s" if d.rate else "")
            + f"; TIME_WAIT sockets on the client peaked at {d.occupancy.peak}"
            + (f", heading for {d.forecast:.0f} (rate x {time_wait:g} s)" if d.forecast else "")
            + f" of {ports} ephemeral ports ({port_range[0]}-{port_range[1]}); connect() fails "
            f"with EADDRNOTAVAIL near {exhaust_rate:.0f} new connections/s "
            f"(TIME_WAIT held by: {held})"
        )
        yield Finding(
            kind=FindingKind.PORT_EXHAUSTION_RISK,
            severity=severity,
            connection=None,
            frames=[],
            time=d.occupancy.peak_time,
            summary=summary_text,
            detail={
                "client": d.client,
                "server": d.server,
                "connections": d.connections,
                "rate": d.rate,
                "peak": d.occupancy.peak,
                "peak_time": d.occupancy.peak_time,
                "forecast": d.forecast,
                "ports": ports,
                "port_share": share,
                "exhaustion_rate": exhaust_rate,
                "time_wait_holders": d.holder,
            },
            reference="Linux: TIME_WAIT lasts TCP_TIMEWAIT_LEN = 60 s (not a sysctl); "
            "net.ipv4.ip_local_port_range (default 32768-60999); net.ipv4.tcp_tw_reuse",
            advice="The client closes first, so the client holds every TIME_WAIT and each one "
            "pins a local port for this destination. In order: 1) reuse connections "
            "(HTTP keep-alive, a connection pool) so far fewer are opened; 2) let the server "
            "close first if the protocol allows, moving TIME_WAIT to the side that has no "
            "port limit per destination; 3) enable net.ipv4.tcp_tw_reuse=1 on the client "
            "(needs TCP timestamps, on by default) so connect() can reuse a TIME_WAIT port "
            "safely; widen ip_local_port_range or add destination IPs/ports as a stopgap. "
            "Not: tcp_fin_timeout (it does not shorten TIME_WAIT on Linux), tcp_tw_recycle "
            "(removed in Linux 4.12; it broke clients behind NAT), SO_LINGER 0 (aborts "
            "connections and can lose data).",
        )
