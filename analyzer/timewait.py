"""TIME_WAIT occupancy: how many sockets each host holds in TIME_WAIT over time.

Each connection whose close left a side in TIME_WAIT contributes an interval
[start, end) to the host of that side (both hosts after a simultaneous close);
the occupancy is the step function of those intervals. Per destination (a
client host talking to one server ip:port) the client-held intervals are what
pin the client's ephemeral ports: each is one port that connect() cannot use
for that destination until it ends.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np

from .model import Connection, Endpoint
from .output.json_text import destination_items_json, host_items_json
from .row_index import distinct_keys
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


@dataclass(slots=True, eq=False)
class Occupancy:
    """A step series, one point per change: ``series[i] = (time, count)``.

    Kept as two arrays (a capture of many clients has a million points);
    ``series`` makes the list of pairs when asked.
    """

    times: np.ndarray
    counts: np.ndarray
    peak: int
    peak_time: float | None

    def __eq__(self, other: object) -> bool:
        # (A dataclass's own would compare the arrays as truth values.)
        if not isinstance(other, Occupancy):
            return NotImplemented
        return (
            (self.peak, self.peak_time) == (other.peak, other.peak_time)
            and np.array_equal(self.times, other.times)
            and np.array_equal(self.counts, other.counts)
        )

    __hash__ = None  # type: ignore[assignment]  (mutable, as the dataclass was)

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


def occupancies(keys: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> OccupancyTable:
    """The occupancy of each key's intervals [start, end), all keys at once.

    Tens of thousands of hosts and destinations, one numpy pass: the series
    are views into shared arrays.
    """
    if not len(keys):
        return OccupancyTable(*(np.empty(0, np.int64),) * 4, np.empty(0), np.empty(0),
                              np.empty(0, np.int64))  # fmt: skip
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
    peaks = np.maximum(peaks, 0)
    return OccupancyTable(key[first], first, ends_at, peaks, peak_times, times, counts)


@dataclass(slots=True)
class OccupancyTable:
    """The occupancies of many keys (``occupancies``), as columns: the points of
    key ``keys[i]`` are ``times[first[i]:stop[i]]`` and ``counts[...]``. Keys
    ascend. (Tens of thousands of destinations: an object each took a third of
    the summary, at the end of a run, while nothing else runs.)"""

    keys: np.ndarray
    first: np.ndarray
    stop: np.ndarray
    peaks: np.ndarray
    peak_times: np.ndarray
    times: np.ndarray
    counts: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)

    def rows_of(self, keys: np.ndarray) -> np.ndarray:
        """The row of each of ``keys`` (-1: a key without intervals)."""
        rows = np.searchsorted(self.keys, keys)
        if not len(self.keys):
            return np.full(len(rows), -1, np.int64)
        found = self.keys[np.minimum(rows, len(self.keys) - 1)] == keys
        return np.where(found, rows, -1).astype(np.int64)

    def peaks_of(self, rows: np.ndarray) -> np.ndarray:
        """The peak of each row (-1: no intervals, 0)."""
        if not len(self.peaks):
            return np.zeros(len(rows), np.int64)
        return np.where(rows >= 0, self.peaks[rows], 0)

    def occupancy(self, row: int) -> Occupancy:
        """Row ``row``'s occupancy (-1: no intervals)."""
        if row < 0:
            return _EMPTY
        a, b = int(self.first[row]), int(self.stop[row])
        return Occupancy(self.times[a:b], self.counts[a:b], int(self.peaks[row]),
                         float(self.peak_times[row]))  # fmt: skip


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

    @property
    def population(self) -> float:
        """The TIME_WAIT sockets its client holds for it: the larger of the peak
        seen and the forecast."""
        return max(self.occupancy.peak, self.forecast or 0.0)


class _Table(Sequence):
    """Rows kept as columns, each made an object only when asked for (a
    summary of a capture of many clients lists tens of thousands)."""

    __slots__ = ()

    def _row(self, k: int) -> Any:
        raise NotImplementedError

    @overload
    def __getitem__(self, k: int) -> Any: ...
    @overload
    def __getitem__(self, k: slice) -> list: ...
    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self._row(i) for i in range(*k.indices(len(self)))]
        n = len(self)
        if not -n <= k < n:
            raise IndexError(f"{type(self).__name__} index out of range")
        return self._row(k % n)

    def __iter__(self) -> Iterator:
        return map(self._row, range(len(self)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (_Table, list)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  (equal to lists, which do not hash)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({list(self)!r})"


class HostTable(_Table):
    """A summary's hosts: host ``k`` is ``names[k]``, its occupancy row ``rows[k]``."""

    __slots__ = ("names", "rows", "occupancies")

    def __init__(self, names: list[str], rows: np.ndarray, occupancies: OccupancyTable) -> None:
        self.names, self.rows, self.occupancies = names, rows, occupancies

    def __len__(self) -> int:
        return len(self.names)

    def _row(self, k: int) -> HostTimeWait:
        return HostTimeWait(self.names[k], self.occupancies.occupancy(int(self.rows[k])))

    def json_texts(self, run_bytes: int) -> list[str]:
        """The hosts' JSON items (``as_dict``), joined by commas in texts of about ``run_bytes``."""
        return host_items_json(self.names, self.rows, self.occupancies, run_bytes)


class DestinationTable(_Table):
    """A summary's destinations, a column per field of ``DestinationTimeWait``:
    a rate or forecast of NaN is None; the holders are counts per side and
    whether the client held TIME_WAIT there first; occupancy row -1 is no
    client-held TIME_WAIT."""

    __slots__ = (
        "clients", "servers", "connections", "rates", "forecasts",
        "held_by_client", "held_by_server", "client_held_first", "rows", "occupancies",
    )  # fmt: skip

    def __init__(
        self,
        clients: list[str],
        servers: list[str],
        connections: np.ndarray,
        rates: np.ndarray,
        forecasts: np.ndarray,
        held_by_client: np.ndarray,
        held_by_server: np.ndarray,
        client_held_first: np.ndarray,
        rows: np.ndarray,
        occupancies: OccupancyTable,
    ) -> None:
        self.clients, self.servers, self.connections = clients, servers, connections
        self.rates, self.forecasts = rates, forecasts
        self.held_by_client, self.held_by_server = held_by_client, held_by_server
        self.client_held_first, self.rows, self.occupancies = client_held_first, rows, occupancies

    def __len__(self) -> int:
        return len(self.clients)

    def _row(self, k: int) -> DestinationTimeWait:
        rate, forecast = float(self.rates[k]), float(self.forecasts[k])
        return DestinationTimeWait(
            self.clients[k],
            self.servers[k],
            int(self.connections[k]),
            None if rate != rate else rate,  # (NaN: None)
            self.occupancies.occupancy(int(self.rows[k])),
            None if forecast != forecast else forecast,
            _holders(
                int(self.held_by_client[k]),
                int(self.held_by_server[k]),
                bool(self.client_held_first[k]),
            ),
        )

    def holding(self, population: float) -> Iterator[DestinationTimeWait]:
        """The destinations whose ``DestinationTimeWait.population`` reaches
        ``population``, in order, found from the columns."""
        peaks = self.occupancies.peaks_of(self.rows)
        populations = np.maximum(peaks, np.nan_to_num(self.forecasts, nan=0.0))
        return map(self._row, np.flatnonzero(populations >= population).tolist())

    def json_texts(self, run_bytes: int) -> list[str]:
        """The destinations' JSON items (``as_dict``), joined by commas in texts
        of about ``run_bytes``."""
        return destination_items_json(
            self.clients, self.servers, self.connections, self.rates, self.forecasts,
            self.held_by_client, self.held_by_server, self.client_held_first.view(np.uint8),
            self.rows, self.occupancies, run_bytes,
        )  # fmt: skip


@dataclass
class TimeWaitSummary:
    """Hosts busiest first, then destinations busiest first (``summary``: tables,
    whose rows are made objects when asked for; made by hand: lists)."""

    hosts: Sequence[HostTimeWait]
    destinations: Sequence[DestinationTimeWait]

    def as_dict(self) -> dict[str, Any]:
        return {
            "hosts": [h.as_dict() for h in self.hosts],
            "destinations": [d.as_dict() for d in self.destinations],
        }

    def destinations_holding(self, population: float) -> Iterator[DestinationTimeWait]:
        """The destinations whose ``population`` reaches ``population``, in order."""
        if isinstance(self.destinations, DestinationTable):
            return self.destinations.holding(population)
        return (d for d in self.destinations if d.population >= population)


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
        syn_rows, held_rows = self._syn.load(), self._held.load()
        # Only the columns used, each in capture order (gathering whole rows
        # took twice as long); the rows leave memory now, before the
        # occupancies are counted (the end of the run's peak memory).
        syn = _columns(syn_rows, _in_capture_order(syn_rows["conn"], last_connection))
        tw = _columns(held_rows, _in_capture_order(held_rows["conn"], last_connection))
        del syn_rows, held_rows
        syn_time, tw_start, tw_end = syn["time"], tw["start"], tw["end"]
        by_client = tw["by_client"].astype(bool)
        host = np.where(by_client, tw["client"], tw["server"])

        # Destinations (client, server, port) numbered over both tables at once.
        columns = [np.concatenate([syn[k], tw[k]]) for k, _ in _DESTINATION]
        n_syns = len(syn_time)
        del syn, tw
        names, dest = _numbered_destinations(*columns)
        del columns

        # A client has many destinations, a server many clients: each address
        # text is made once (a capture's are made from its codes when asked).
        ips = _Memo(addresses)
        host_occupancy = occupancies(host, tw_start, tw_end)
        # In order of first appearance, then busiest first (stably).
        keys = _first_appearance(host)
        rows = host_occupancy.rows_of(keys)
        rows = rows[np.argsort(-host_occupancy.peaks[rows], kind="stable")]
        host_names = [ips[h] for h in host_occupancy.keys[rows].tolist()]
        hosts = HostTable(host_names, rows, host_occupancy)
        del host, keys

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
        rows = client_occupancy.rows_of(listed)
        has_rate = measurable[listed]
        rate = np.where(has_rate, rates[listed], np.nan)
        # Busiest first (the larger of the peak and the forecast), then by
        # client and server text: sorted by numpy, tens of thousands at once.
        peaks = client_occupancy.peaks_of(rows)
        order = np.lexsort(
            (
                np.array(servers, str),
                np.array(clients, str),
                -np.maximum(peaks, np.where(has_rate, rate * time_wait, 0.0)),
            )
        )
        listed = listed[order]
        destinations = DestinationTable(
            [clients[k] for k in order.tolist()],
            [servers[k] for k in order.tolist()],
            opened[listed],
            rate[order],
            rate[order] * time_wait,  # (NaN stays NaN: None)
            held[_CLIENT][listed],
            held[_SERVER][listed],
            first_held[_CLIENT][listed] <= first_held[_SERVER][listed],
            rows[order],
            client_occupancy,
        )
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


def _holders(client: int, server: int, client_first: bool) -> dict[str, int]:
    """How many times each side held TIME_WAIT at a destination (a side that
    never did left out), the side that did first first."""
    if client and server:
        both = {_CLIENT: client, _SERVER: server}
        return both if client_first else {_SERVER: server, _CLIENT: client}
    return {_CLIENT: client} if client else {_SERVER: server} if server else {}


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
    """The distinct (client, server, port) rows (as columns, in order of first
    appearance) and each row's number among them: one pass with a hash table
    (``row_index.distinct_keys``), where sorting them took four times as long
    at the end of a run. Nothing depends on their order: destinations are
    listed sorted by their texts."""
    keys = np.empty((len(client), 2), np.uint64)
    # Address codes are non-negative int32: two make one 64-bit word.
    keys[:, 0] = client.astype(np.uint64) << np.uint64(32) | server.astype(np.uint64)
    keys[:, 1] = port
    number, firsts = distinct_keys(keys)
    del keys
    return [column[firsts].astype(np.int64) for column in (client, server, port)], number


def _first_appearance(keys: np.ndarray) -> np.ndarray:
    """The distinct keys (non-negative), in the order they first appear."""
    pairs = np.zeros((len(keys), 2), np.uint64)
    pairs[:, 0] = keys
    return keys[distinct_keys(pairs)[1]]


def _columns(rows: np.ndarray, order: np.ndarray) -> dict[str, np.ndarray]:
    """The fields of ``rows`` but the connection, each in ``order``, with
    numpy's own dtypes: a field keeps its row's explicit "<f8", which sends
    ``minimum.at`` (``summary``) down its slow path, 30 times slower."""
    return {
        name: column.view(np.dtype(column.dtype.char))
        for name in rows.dtype.names
        if name != "conn"
        for column in (rows[name][order],)
    }


def _in_capture_order(conn: np.ndarray, last_connection: int | None) -> np.ndarray:
    """Row positions in connection order (stable: a connection's rows keep theirs)."""
    order = np.argsort(conn, kind="stable")
    if last_connection is not None:
        order = order[conn[order] <= last_connection]
    return order
