"""TIME_WAIT occupancy: how many sockets each host holds in TIME_WAIT over time.

Each connection whose close left a side in TIME_WAIT contributes an interval
[start, end) to the host of that side (both hosts after a simultaneous close);
the occupancy is the step function of those intervals. Per destination (a
client host talking to one server ip:port) the client-held intervals are what
pin the client's ephemeral ports: each is one port that connect() cannot use
for that destination until it ends.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from .model import Connection
from .vocabulary import Side

# A steady rate needs enough connections over enough time; a burst of a few
# connections in milliseconds says nothing about the next minute.
MIN_CONNECTIONS_FOR_RATE = 10
MIN_SECONDS_FOR_RATE = 1.0


@dataclass
class Occupancy:
    """A step series: ``series[i] = (time, count)``, one point per change."""

    series: list[tuple[float, int]]
    peak: int
    peak_time: float | None

    @classmethod
    def from_intervals(cls, starts: list[float], ends: list[float]) -> Occupancy:
        if not starts:
            return cls([], 0, None)
        # At equal times, ends (-1) sort before starts (+1): a port freed and
        # reused at the same instant is not counted twice.
        steps = sorted([(t, 1) for t in starts] + [(t, -1) for t in ends])
        series: list[tuple[float, int]] = []
        count = peak = 0
        peak_time = steps[0][0]
        for t, step in steps:
            count += step
            if series and series[-1][0] == t:
                series[-1] = (t, count)
            else:
                series.append((t, count))
            if count > peak:
                peak, peak_time = count, t
        return cls(series, peak, peak_time)


@dataclass
class HostTimeWait:
    host: str
    occupancy: Occupancy

    def as_dict(self) -> dict[str, Any]:
        o = self.occupancy
        return {"host": self.host, "peak": o.peak, "peak_time": o.peak_time, "series": o.series}


@dataclass
class DestinationTimeWait:
    client: str  # client host
    server: str  # server ip:port
    connections: int  # new connections in the capture
    rate: float | None  # new connections per second (None: too few to tell)
    occupancy: Occupancy  # client-held TIME_WAIT sockets for this destination
    forecast: float | None  # rate * time_wait: the steady-state TIME_WAIT population
    holder: dict[str, int] = field(default_factory=dict)  # who held TIME_WAIT: side -> count

    def as_dict(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "server": self.server,
            "connections": self.connections,
            "rate": self.rate,
            "peak": self.occupancy.peak,
            "peak_time": self.occupancy.peak_time,
            "forecast": self.forecast,
            "time_wait_holders": self.holder,
            "series": self.occupancy.series,
        }


@dataclass
class TimeWaitSummary:
    hosts: list[HostTimeWait]
    destinations: list[DestinationTimeWait]

    def as_dict(self) -> dict[str, Any]:
        return {
            "hosts": [h.as_dict() for h in self.hosts],
            "destinations": [d.as_dict() for d in self.destinations],
        }


def _holders(c: Connection) -> list[Side]:
    tw = c.time_wait
    if tw is None:
        return []
    return [Side.CLIENT, Side.SERVER] if tw.side is Side.BOTH else [tw.side]


def summarize(connections: list[Connection], time_wait: float) -> TimeWaitSummary:
    host_intervals: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    dest_intervals: dict[tuple[str, str], tuple[list, list]] = defaultdict(lambda: ([], []))
    dest_syns: dict[tuple[str, str], list[float]] = defaultdict(list)
    dest_holders: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for c in connections:
        dest = (c.client.ip, str(c.server))
        if c.isn_client is not None:
            dest_syns[dest].append(c.first_time)
        for side in _holders(c):
            host = c.client.ip if side is Side.CLIENT else c.server.ip
            starts, ends = host_intervals[host]
            starts.append(c.time_wait.start)
            ends.append(c.time_wait.end)
            held = dest_holders[dest]
            held[side.value] = held.get(side.value, 0) + 1
            if side is Side.CLIENT:
                starts, ends = dest_intervals[dest]
                starts.append(c.time_wait.start)
                ends.append(c.time_wait.end)
    hosts = [
        HostTimeWait(host, Occupancy.from_intervals(*intervals))
        for host, intervals in host_intervals.items()
    ]
    hosts.sort(key=lambda h: -h.occupancy.peak)
    destinations = []
    # A destination is listed when its client held TIME_WAIT sockets or when
    # it opened connections at a measurable rate: the others say nothing of
    # port pressure (and a capture of many clients has many of them).
    for dest in set(dest_syns) | set(dest_intervals):
        syns = sorted(dest_syns.get(dest, []))
        rate = None
        if len(syns) >= MIN_CONNECTIONS_FOR_RATE and syns[-1] - syns[0] >= MIN_SECONDS_FOR_RATE:
            rate = (len(syns) - 1) / (syns[-1] - syns[0])
        if rate is None and dest not in dest_intervals:
            continue
        occupancy = Occupancy.from_intervals(*dest_intervals.get(dest, ([], [])))
        destinations.append(
            DestinationTimeWait(
                client=dest[0],
                server=dest[1],
                connections=len(syns),
                rate=rate,
                occupancy=occupancy,
                forecast=rate * time_wait if rate is not None else None,
                holder=dest_holders.get(dest, {}),
            )
        )
    destinations.sort(key=lambda d: (-max(d.occupancy.peak, d.forecast or 0), d.client, d.server))
    return TimeWaitSummary(hosts, destinations)
