"""TIME_WAIT occupancy: how many sockets each host holds in TIME_WAIT over time.

Each connection whose close left a side in TIME_WAIT contributes an interval
[start, end) to the host of that side (both hosts after a simultaneous close);
the occupancy is the step function of those intervals. Per destination (a
client host talking to one server ip:port) the client-held intervals are what
pin the client's ephemeral ports: each is one port that connect() cannot use
for that destination until it ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .model import Connection, Endpoint
from .spill import RecordFile
from .vocabulary import Side

# A steady rate needs enough connections over enough time; a burst of a few
# connections in milliseconds says nothing about the next minute.
MIN_CONNECTIONS_FOR_RATE = 10
MIN_SECONDS_FOR_RATE = 1.0


@dataclass
class Occupancy:
    """A step series, one point per change: ``series[i] = (time, count)``.

    Kept as two arrays (a capture of many clients has a million points);
    ``series`` makes the list of pairs when asked.
    """

    times: np.ndarray
    counts: np.ndarray
    peak: int
    peak_time: float | None

    @property
    def series(self) -> list[tuple[float, int]]:
        return list(zip(self.times.tolist(), self.counts.tolist()))

    @classmethod
    def from_series(cls, series, peak: int, peak_time: float | None) -> Occupancy:
        """Back from the JSON document's ``series``, ``peak`` and ``peak_time``."""
        times = np.array([t for t, _ in series], np.float64)
        counts = np.array([n for _, n in series], np.int64)
        return cls(times, counts, peak, peak_time)

    @classmethod
    def from_intervals(cls, starts: np.ndarray, ends: np.ndarray) -> Occupancy:
        if not len(starts):
            return cls(np.empty(0), np.empty(0, np.int64), 0, None)
        times = np.concatenate([starts, ends])
        steps = np.concatenate([np.ones(len(starts), np.int64), -np.ones(len(ends), np.int64)])
        # At equal times, ends (-1) sort before starts (+1): a port freed and
        # reused at the same instant is not counted twice.
        order = np.lexsort((steps, times))
        times, counts = times[order], np.cumsum(steps[order])
        last_at_time = np.append(times[1:] != times[:-1], True)
        times, counts = times[last_at_time], counts[last_at_time]
        top = int(np.argmax(counts))
        if counts[top] <= 0:
            return cls(times, counts, 0, float(times[0]))
        return cls(times, counts, int(counts[top]), float(times[top]))


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


def time_wait_rows(connections: list[Connection]) -> list[tuple]:
    """What ``TimeWaitLedger`` keeps of each connection: id, client, server, port,
    the time of a new connection (a client SYN was seen) and the TIME_WAIT holders."""
    rows = []
    for c in connections:
        tw = c.time_wait
        if c.isn_client is None and tw is None:
            continue
        holders = ()
        if tw is not None:
            sides = (Side.CLIENT, Side.SERVER) if tw.side is Side.BOTH else (tw.side,)
            holders = tuple((side is Side.CLIENT, tw.start, tw.end) for side in sides)
        syn_time = c.first_time if c.isn_client is not None else None
        rows.append((c.id, c.client.ip, c.server.ip, c.server.port, syn_time, holders))
    return rows


# Where a connection went: client and server address codes, server port.
_DESTINATION = [("client", "<i4"), ("server", "<i4"), ("port", "<u2")]
# New connections (a client SYN was seen): connection, destination, time.
_SYN_ROW = np.dtype([("conn", "<i8"), *_DESTINATION, ("time", "<f8")])
# TIME_WAIT holders: connection, destination, held by the client, start, end.
_HELD_ROW = np.dtype(
    [("conn", "<i8"), *_DESTINATION, ("by_client", "i1"), ("start", "<f8"), ("end", "<f8")]
)


class TimeWaitLedger:
    """What the TIME_WAIT summary needs of each connection: a few numbers, kept as they settle.

    Connections arrive in any order (a streaming analysis settles them when
    their 4-tuple falls silent); each is named by its provisional id, the first
    frame, so that ``summary`` can take them in capture order and leave out
    those beyond a connection limit. Addresses are kept as small codes: a
    capture of millions of connections has hundreds of thousands of
    client/server pairs, and numbers are far smaller than strings. The rows
    wait on temporary files (about 60 bytes per connection): they are read
    only for the summary, once the capture's segments have left memory.
    """

    def __init__(self) -> None:
        self._ips: dict[str, int] = {}
        self._syn = RecordFile(_SYN_ROW)
        self._held = RecordFile(_HELD_ROW)

    def _ip(self, ip: str) -> int:
        return self._ips.setdefault(ip, len(self._ips))

    def add(self, rows: list[tuple]) -> None:
        """Rows from ``time_wait_rows`` (made here or in another process)."""
        syns, held = [], []
        for conn, client, server, port, syn_time, holders in rows:
            dest = (conn, self._ip(client), self._ip(server), port)
            if syn_time is not None:
                syns.append((*dest, syn_time))
            held.extend((*dest, by_client, start, end) for by_client, start, end in holders)
        self._syn.append(syns)
        self._held.append(held)

    def close(self) -> None:
        self._syn.close()
        self._held.close()

    def summary(self, time_wait: float, last_connection: int | None = None) -> TimeWaitSummary:
        """Hosts and destinations; only connections up to ``last_connection`` if given."""
        syn = self._syn.load()
        tw = self._held.load()
        syns = _in_capture_order(syn["conn"], last_connection)
        held = _in_capture_order(tw["conn"], last_connection)
        syn, tw = syn[syns], tw[held]
        syn_time, tw_start, tw_end = syn["time"], tw["start"], tw["end"]
        by_client = tw["by_client"].astype(bool)

        ips = list(self._ips)
        host = np.where(by_client, tw["client"], tw["server"])
        hosts = [
            HostTimeWait(ips[h], Occupancy.from_intervals(tw_start[rows], tw_end[rows]))
            for h, rows in _rows_by_key(host)
        ]
        hosts.sort(key=lambda h: -h.occupancy.peak)

        # Destinations (client, server, port) numbered over both tables at once.
        names, dest = np.unique(
            np.concatenate(
                [np.stack([syn[k].astype(np.int64) for k, _ in _DESTINATION], axis=1),
                 np.stack([tw[k].astype(np.int64) for k, _ in _DESTINATION], axis=1)]
            ).reshape(-1, 3),
            axis=0,
            return_inverse=True,
        )  # fmt: skip
        dest = dest.reshape(-1)
        syn_dest, tw_dest = dest[: len(syns)], dest[len(syns) :]
        syn_rows = dict(_rows_by_key(syn_dest))
        client_held = dict(_rows_by_key(np.where(by_client, tw_dest, -1)))
        client_held.pop(-1, None)
        holders_of = dict(_rows_by_key(tw_dest))

        destinations = []
        # A destination is listed when its client held TIME_WAIT sockets or when
        # it opened connections at a measurable rate: the others say nothing of
        # port pressure (and a capture of many clients has many of them).
        for d in syn_rows.keys() | client_held.keys():
            times = np.sort(syn_time[syn_rows[d]]) if d in syn_rows else np.empty(0)
            rate = None
            span = float(times[-1] - times[0]) if len(times) else 0.0
            if len(times) >= MIN_CONNECTIONS_FOR_RATE and span >= MIN_SECONDS_FOR_RATE:
                rate = (len(times) - 1) / span
            if rate is None and d not in client_held:
                continue
            rows = client_held.get(d, np.empty(0, int))
            holder: dict[str, int] = {}
            for is_client in by_client[holders_of.get(d, [])].tolist():
                side = Side.CLIENT.value if is_client else Side.SERVER.value
                holder[side] = holder.get(side, 0) + 1
            client, server, port = names[d].tolist()
            destinations.append(
                DestinationTimeWait(
                    client=ips[client],
                    server=str(Endpoint(ips[server], port)),
                    connections=len(times),
                    rate=rate,
                    occupancy=Occupancy.from_intervals(tw_start[rows], tw_end[rows]),
                    forecast=rate * time_wait if rate is not None else None,
                    holder=holder,
                )
            )
        destinations.sort(
            key=lambda d: (-max(d.occupancy.peak, d.forecast or 0), d.client, d.server)
        )
        return TimeWaitSummary(hosts, destinations)


def _in_capture_order(conn: np.ndarray, last_connection: int | None) -> np.ndarray:
    """Row positions in connection order (stable: a connection's rows keep theirs)."""
    order = np.argsort(conn, kind="stable")
    if last_connection is not None:
        order = order[conn[order] <= last_connection]
    return order


def _rows_by_key(keys: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(key, positions of its rows), keys in order of first appearance."""
    if not len(keys):
        return []
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.append(True, sorted_keys[1:] != sorted_keys[:-1]))
    groups = np.split(order, starts[1:])
    groups.sort(key=lambda rows: rows[0])
    return [(int(keys[rows[0]]), rows) for rows in groups]
