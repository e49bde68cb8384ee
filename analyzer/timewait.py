"""TIME_WAIT occupancy: how many sockets each host holds in TIME_WAIT over time.

Each connection whose close left a side in TIME_WAIT contributes an interval
[start, end) to the host of that side (both hosts after a simultaneous close);
the occupancy is the step function of those intervals. Per destination (a
client host talking to one server ip:port) the client-held intervals are what
pin the client's ephemeral ports: each is one port that connect() cannot use
for that destination until it ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .model import Connection, Endpoint
from .spill import RecordFile
from .timewait_rows import fill_rows
from .vocabulary import Side

# A steady rate needs enough connections over enough time; a burst of a few
# connections in milliseconds says nothing about the next minute.
MIN_CONNECTIONS_FOR_RATE = 10
MIN_SECONDS_FOR_RATE = 1.0

# Who held TIME_WAIT, as the summary says it (read once: an enum member is
# looked up through a descriptor each time).
_CLIENT, _SERVER = Side.CLIENT.value, Side.SERVER.value


@dataclass(slots=True)
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


_EMPTY = Occupancy(np.empty(0), np.empty(0, np.int64), 0, None)  # no intervals


def occupancies(keys: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> dict[int, Occupancy]:
    """The occupancy of each key's intervals [start, end), all keys at once.

    Tens of thousands of hosts and destinations, one numpy pass: the series
    are views into shared arrays.
    """
    if not len(keys):
        return {}
    # (Each temporary is freed as soon as it is used: a capture's intervals
    # are millions, and this is the end of the run's peak memory.)
    times = np.concatenate([starts, ends])
    steps = np.concatenate([np.ones(len(starts), np.int8), -np.ones(len(ends), np.int8)])
    key = np.concatenate([keys, keys])
    # By key, then time. The order of a key's ends and starts at one time does
    # not matter: only the count after all of them is kept (below), so a port
    # freed and reused at the same instant is not counted twice.
    order = np.argsort(times)
    by_key = key[order]
    if by_key.min() >= 0 and by_key.max() < 1 << 16:
        by_key = by_key.astype(np.uint16)  # (sorted by radix: twice lexsort's speed)
    order = order[np.argsort(by_key, kind="stable")]
    del by_key
    times = times[order]
    key = key[order]
    total = np.cumsum(steps[order], dtype=np.int64)
    del order, steps
    first = np.flatnonzero(np.append(True, key[1:] != key[:-1]))
    before = np.append(0, total)[first]  # the running total where each key starts
    counts = total - np.repeat(before, np.diff(np.append(first, len(key))))
    # One point per change: the last of each time.
    last_at_time = np.append((times[1:] != times[:-1]) | (key[1:] != key[:-1]), True)
    times, counts, key = times[last_at_time], counts[last_at_time], key[last_at_time]
    first = np.flatnonzero(np.append(True, key[1:] != key[:-1]))
    ends_at = np.append(first[1:], len(key))
    peaks = np.maximum.reduceat(counts, first)
    is_peak = counts == np.repeat(peaks, ends_at - first)
    top = np.minimum.reduceat(np.where(is_peak, np.arange(len(counts)), len(counts)), first)
    # (No peak above 0: 0 at the key's first time.)
    peak_times = np.where(peaks > 0, times[top], times[first])
    return {
        k: Occupancy(times[a:b], counts[a:b], peak, at)
        for k, a, b, peak, at in zip(
            key[first].tolist(),
            first.tolist(),
            ends_at.tolist(),
            np.maximum(peaks, 0).tolist(),
            peak_times.tolist(),
        )
    }


@dataclass
class HostTimeWait:
    host: str
    occupancy: Occupancy

    def as_dict(self, *, series: bool = True) -> dict[str, Any]:
        """(``series=False``: without the series, which is most of it.)"""
        o = self.occupancy
        out = {"host": self.host, "peak": o.peak, "peak_time": o.peak_time}
        return {**out, "series": o.series} if series else out


@dataclass
class DestinationTimeWait:
    client: str  # client host
    server: str  # server ip:port
    connections: int  # new connections in the capture
    rate: float | None  # new connections per second (None: too few to tell)
    occupancy: Occupancy  # client-held TIME_WAIT sockets for this destination
    forecast: float | None  # rate * time_wait: the steady-state TIME_WAIT population
    holder: dict[str, int] = field(default_factory=dict)  # who held TIME_WAIT: side -> count

    def as_dict(self, *, series: bool = True) -> dict[str, Any]:
        """(``series=False``: without the series, which is most of it.)"""
        out = {
            "client": self.client,
            "server": self.server,
            "connections": self.connections,
            "rate": self.rate,
            "peak": self.occupancy.peak,
            "peak_time": self.occupancy.peak_time,
            "forecast": self.forecast,
            "time_wait_holders": self.holder,
        }
        return {**out, "series": self.occupancy.series} if series else out


@dataclass
class TimeWaitSummary:
    hosts: list[HostTimeWait]
    destinations: list[DestinationTimeWait]

    def as_dict(self) -> dict[str, Any]:
        return {
            "hosts": [h.as_dict() for h in self.hosts],
            "destinations": [d.as_dict() for d in self.destinations],
        }


def time_wait_rows(
    connections: list[Connection], code: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """What ``TimeWaitLedger`` keeps of each connection, as its two tables
    (``_SYN_ROW``, ``_HELD_ROW``) with addresses as their codes (``code``:
    address text -> its code in the slice's addresses): made where the slice
    is walked, so that the engine only renumbers them."""
    syns = np.empty(len(connections), _SYN_ROW)
    held = np.empty(2 * len(connections), _HELD_ROW)
    n_syn, n_held = fill_rows(connections, code, syns, held)
    return syns[:n_syn].copy(), held[:n_held].copy()


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
    those beyond a connection limit. Addresses are kept as the reader's codes:
    a flood from spoofed sources has millions of them. The rows wait on
    temporary files (about 60 bytes per connection): they are read only for
    the summary, once the capture's segments have left memory.
    """

    def __init__(self) -> None:
        self._syn = RecordFile(_SYN_ROW)
        self._held = RecordFile(_HELD_ROW)

    def add(self, rows: tuple[np.ndarray, np.ndarray], codes: np.ndarray) -> None:
        """The tables from ``time_wait_rows`` (made here or in another process)
        of a slice whose address code ``i`` is the capture's ``codes[i]``."""
        for table, file in zip(rows, (self._syn, self._held)):
            table = table.copy()
            table["client"], table["server"] = codes[table["client"]], codes[table["server"]]
            file.append(table)

    def close(self) -> None:
        self._syn.close()
        self._held.close()

    def summary(
        self, time_wait: float, addresses: Sequence[str], last_connection: int | None = None
    ) -> TimeWaitSummary:
        """Hosts and destinations (``addresses``: the capture's, by code); only
        connections up to ``last_connection`` if given."""
        syn = self._syn.load()
        tw = self._held.load()
        syns = _in_capture_order(syn["conn"], last_connection)
        held = _in_capture_order(tw["conn"], last_connection)
        syn, tw = syn[syns], tw[held]
        # Copied: the rows leave memory once their destinations are numbered,
        # before the occupancies are counted (the end of the run's peak memory).
        syn_time, tw_start, tw_end = syn["time"].copy(), tw["start"].copy(), tw["end"].copy()
        by_client = tw["by_client"].astype(bool)
        host = np.where(by_client, tw["client"], tw["server"])

        # Destinations (client, server, port) numbered over both tables at once.
        columns = [np.concatenate([syn[k], tw[k]]) for k, _ in _DESTINATION]
        n_syns = len(syn)
        del syn, tw
        names, dest = _numbered_destinations(*columns)
        del columns

        # A client has many destinations, a server many clients: each address
        # text is made once (a capture's are made from its codes when asked).
        ips = _Memo(addresses)
        host_occupancy = occupancies(host, tw_start, tw_end)
        hosts = [HostTimeWait(ips[h], host_occupancy[h]) for h in _first_appearance(host)]
        hosts.sort(key=lambda h: -h.occupancy.peak)
        del host

        # Only a destination with enough new connections for a rate, or with
        # TIME_WAIT held by its client, can be listed (below): the rest (all of
        # a flood from spoofed sources) leave now, and the arrays stay small.
        syn_dest, tw_dest = dest[:n_syns], dest[n_syns:]
        opened = np.bincount(syn_dest, minlength=len(names[0]))
        listable = (opened >= MIN_CONNECTIONS_FOR_RATE) | (
            np.bincount(tw_dest[by_client], minlength=len(opened)) > 0
        )
        renumber = np.cumsum(listable) - 1
        names, opened = [column[listable] for column in names], opened[listable]
        keep = listable[syn_dest]
        syn_dest, syn_time = renumber[syn_dest[keep]], syn_time[keep]
        keep = listable[tw_dest]
        tw_dest, by_client = renumber[tw_dest[keep]], by_client[keep]
        tw_start, tw_end = tw_start[keep], tw_end[keep]
        del dest, keep, listable, renumber
        n = len(opened)
        first_syn, last_syn = np.full(n, np.inf), np.full(n, -np.inf)
        np.minimum.at(first_syn, syn_dest, syn_time)
        np.maximum.at(last_syn, syn_dest, syn_time)
        span = np.where(opened > 0, last_syn - first_syn, 0.0)
        measurable = (opened >= MIN_CONNECTIONS_FOR_RATE) & (span >= MIN_SECONDS_FOR_RATE)
        rates = np.where(measurable, (opened - 1) / np.where(measurable, span, 1.0), np.nan)
        held = {
            side: np.bincount(tw_dest[mask], minlength=n)
            for side, mask in ((_CLIENT, by_client), (_SERVER, ~by_client))
        }
        # Where each side first held TIME_WAIT at a destination (its holders' order).
        first_held = {side: np.full(n, len(tw_dest)) for side in held}
        for side, mask in ((_CLIENT, by_client), (_SERVER, ~by_client)):
            np.minimum.at(first_held[side], tw_dest[mask], np.flatnonzero(mask))
        client_occupancy = occupancies(tw_dest[by_client], tw_start[by_client], tw_end[by_client])

        # A destination is listed when its client held TIME_WAIT sockets or when
        # it opened connections at a measurable rate: the others say nothing of
        # port pressure (and a capture of many clients has many of them).
        listed = np.flatnonzero(measurable | (held[_CLIENT] > 0))
        # Their columns as Python values, each read once, and their texts:
        # tens of thousands of destinations are listed for a capture of many clients.
        client, server, port = (column[listed].tolist() for column in names)
        clients = [ips[c] for c in client]
        servers = _server_texts(server, port, ips)
        occupancy = [client_occupancy.get(d, _EMPTY) for d in listed.tolist()]
        has_rate, rate = measurable[listed], rates[listed]
        # Busiest first (the larger of the peak and the forecast), then by
        # client and server text: sorted by numpy, tens of thousands at once.
        peaks = np.fromiter((o.peak for o in occupancy), float, len(occupancy))
        order = np.lexsort(
            (
                np.array(servers, str),
                np.array(clients, str),
                -np.maximum(peaks, np.where(has_rate, rate * time_wait, 0.0)),
            )
        )
        holders = _holders(
            *(held[side][listed].tolist() for side in (_CLIENT, _SERVER)),
            (first_held[_CLIENT][listed] <= first_held[_SERVER][listed]).tolist(),
        )
        opened, has_rate, rate = opened[listed].tolist(), has_rate.tolist(), rate.tolist()
        destinations = [
            DestinationTimeWait(
                clients[k],
                servers[k],
                opened[k],
                rate[k] if has_rate[k] else None,
                occupancy[k],
                rate[k] * time_wait if has_rate[k] else None,
                holders[k],
            )
            for k in order.tolist()
        ]
        return TimeWaitSummary(hosts, destinations)


def _server_texts(server: list[int], port: list[int], ips: _Memo) -> list[str]:
    """The "ip:port" text of each (address code, port), each distinct one made once."""
    texts: dict[tuple[int, int], str] = {}
    out = []
    for key in zip(server, port):
        text = texts.get(key)
        if text is None:
            text = texts[key] = str(Endpoint(ips[key[0]], key[1]))
        out.append(text)
    return out


def _holders(client: list[int], server: list[int], client_first: list[bool]) -> list[dict]:
    """Per destination, how many times each side held TIME_WAIT there (a side
    that never did left out), the side that did first first."""
    out = []
    for c, s, first in zip(client, server, client_first):
        if c and s:
            out.append({_CLIENT: c, _SERVER: s} if first else {_SERVER: s, _CLIENT: c})
        else:
            out.append({_CLIENT: c} if c else {_SERVER: s} if s else {})
    return out


class _Memo(dict):
    """``addresses[code]``, each looked up once."""

    def __init__(self, addresses: Sequence[str]) -> None:
        super().__init__()
        self.addresses = addresses

    def __missing__(self, code: int) -> str:
        text = self[code] = self.addresses[code]
        return text


def _numbered_destinations(
    client: np.ndarray, server: np.ndarray, port: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray]:
    """The distinct (client, server, port) rows (as columns, rows in sorted
    order) and each row's number among them: ``np.unique(axis=0)``, several
    times faster."""
    codes = np.concatenate([client, server])
    fits = len(client) and codes.min() >= 0 and codes.max() < 1 << 24
    del codes
    if fits:
        # Addresses of 24-bit codes (16 million: all but a huge flood's) and a
        # port make one 64-bit key (unsigned: a code of 2^23 or more reaches
        # its top bit): one sort instead of three. Made in place, and
        # numbered by one sort (np.unique holds twice as many temporaries).
        key = client.astype(np.uint64)
        key <<= np.uint64(24)
        key |= server.astype(np.uint64)
        key <<= np.uint64(16)
        key |= port.astype(np.uint64)
        order = np.argsort(key)
        key = key[order]
        new = np.empty(len(key), bool)
        new[0] = True
        np.not_equal(key[1:], key[:-1], out=new[1:])
        keys = key[new]
        del key
        number = np.empty(len(order), np.int64)
        number[order] = np.cumsum(new) - 1
        names = [keys >> np.uint64(40), (keys >> np.uint64(16)) & np.uint64(0xFFFFFF),
                 keys & np.uint64(0xFFFF)]  # fmt: skip
        return [name.astype(np.int64) for name in names], number
    columns = [client, server, port]
    n = len(client)
    if not n:
        return [c[:0] for c in columns], np.empty(0, np.int64)
    order = np.lexsort(columns[::-1])
    sorted_columns = [c[order] for c in columns]
    new = np.zeros(n, bool)
    new[0] = True
    for c in sorted_columns:
        new[1:] |= c[1:] != c[:-1]
    number = np.empty(n, np.int64)
    number[order] = np.cumsum(new) - 1
    return [c[new] for c in sorted_columns], number


def _first_appearance(keys: np.ndarray) -> list[int]:
    """The distinct keys, in the order they first appear."""
    unique, first = np.unique(keys, return_index=True)
    return unique[np.argsort(first)].tolist()


def _in_capture_order(conn: np.ndarray, last_connection: int | None) -> np.ndarray:
    """Row positions in connection order (stable: a connection's rows keep theirs)."""
    order = np.argsort(conn, kind="stable")
    if last_connection is not None:
        order = order[conn[order] <= last_connection]
    return order
