"""TIME_WAIT occupancy of many hosts at once equals the step function counted by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analyzer.timewait import occupancies

CAPTURES = Path(__file__).parent.parent / "captures"


def by_hand(starts: list[float], ends: list[float]):
    """(series, peak, peak_time): one point per time at which the count changes."""
    times = sorted(set(starts) | set(ends))
    series = [(t, sum(s <= t for s in starts) - sum(e <= t for e in ends)) for t in times]
    peak = max(n for _, n in series)
    if peak <= 0:
        return series, 0, times[0]
    return series, peak, next(t for t, n in series if n == peak)


@pytest.mark.parametrize(
    "spread, shift",
    [(3, -4), (13_107, 0), (40_000, -4)],
    ids=["small keys, negative too", "up to 65535 (16 bits)", "keys past 16 bits"],
)
def test_occupancies_of_many_keys_equal_each_counted_alone(spread, shift):
    rng = np.random.default_rng(7)
    for _ in range(50):
        n = int(rng.integers(1, 60))
        keys = rng.integers(0, 6, n) * spread + shift  # sparse
        starts = rng.integers(0, 20, n).astype(float)  # whole seconds: many ties
        ends = starts + rng.integers(0, 8, n)  # some empty intervals
        table = occupancies(keys, starts, ends)
        assert table.keys.tolist() == sorted(set(keys.tolist()))
        for key, row in zip(table.keys.tolist(), table.rows_of(table.keys).tolist()):
            occupancy = table.occupancy(row)
            mine = keys == key
            series, peak, peak_time = by_hand(starts[mine].tolist(), ends[mine].tolist())
            assert occupancy.series == series
            assert (occupancy.peak, occupancy.peak_time) == (peak, peak_time)


def test_no_intervals():
    table = occupancies(np.empty(0, np.int64), np.empty(0), np.empty(0))
    assert len(table) == 0
    assert table.rows_of(np.array([0, 5])).tolist() == [-1, -1]


def test_occupancy_rows_of_keys_with_and_without_intervals():
    table = occupancies(np.array([7, 3, 7, 12]), np.array([0.0, 1.0, 2.0, 3.0]),
                        np.array([5.0, 2.0, 4.0, 9.0]))  # fmt: skip
    rows = table.rows_of(np.array([3, 4, 7, 12, 13, -1]))
    assert table.keys[rows[rows >= 0]].tolist() == [3, 7, 12]
    assert (rows < 0).tolist() == [False, True, False, False, True, True]
    assert table.occupancy(int(rows[2])).series == [(0.0, 1), (2.0, 2), (4.0, 1), (5.0, 0)]
    assert table.occupancy(-1).series == [] and table.occupancy(-1).peak_time is None


@pytest.mark.parametrize(
    "codes", [1, 1 << 22, 1 << 24, 1 << 29], ids=["small", "2^22", "2^24", "2^29"]
)
def test_numbered_destinations_number_the_distinct_rows_by_first_appearance(codes):
    from analyzer.timewait import _numbered_destinations

    rng = np.random.default_rng(3)
    for n in (0, 1, 2, 500):
        columns = [
            rng.integers(0, 4, n) * codes,
            rng.integers(0, 3, n) * codes,
            rng.choice([0, 1, 80, 65535], n),
        ]
        names, numbers = _numbered_destinations(*columns)
        rows = list(zip(*(c.tolist() for c in columns)))
        distinct = list(dict.fromkeys(rows))
        assert list(zip(*(c.tolist() for c in names))) == distinct
        assert numbers.tolist() == [distinct.index(r) for r in rows]


_ADDRESSES = [f"10.0.0.{k}" for k in range(6)]


def _random_summary(rng, time_wait: float, held_share: float = 0.75):
    """A ledger of random rows among three clients and three servers, and its
    summary; about ``held_share`` of the connections left a side in TIME_WAIT."""
    from analyzer.timewait import _HELD_ROW, _SYN_ROW, TimeWaitLedger

    syns, held = [], []
    for conn in range(int(rng.integers(1, 120))):
        client, server = int(rng.integers(0, 3)), int(rng.integers(3, 6))
        port = int(rng.choice([80, 443]))
        start = float(rng.integers(0, 40)) / 4
        if rng.random() < 0.9:
            syns.append((conn, client, server, port, start))
        holders = ([True], [False], [True, False])[int(rng.integers(0, 3))]
        for by_client in holders if rng.random() < held_share else []:
            held.append((conn, client, server, port, by_client, start + 1, start + 61))
    ledger = TimeWaitLedger()
    try:
        ledger.add((np.array(syns, _SYN_ROW), np.array(held, _HELD_ROW)), np.arange(6))
        return syns, held, ledger.summary(time_wait, _ADDRESSES)
    finally:
        ledger.close()


def test_summary_tables_write_and_filter_as_the_objects_they_make():
    # The summary keeps hosts and destinations as columns (``HostTable``,
    # ``DestinationTable``) and writes their JSON from them: it must be the
    # JSON of the objects they make, and the destinations that reach a
    # population must be those whose objects do.
    from analyzer.output.document import _time_wait_items_json, _with_series_json
    from analyzer.output.json_text import json_text
    from analyzer.timewait import DestinationTable, HostTable, TimeWaitSummary

    rng = np.random.default_rng(11)
    # (Some with no TIME_WAIT held at all, some with none held by a client.)
    for held_share in [0.75] * 30 + [0.0] * 3:
        _, held, summary = _random_summary(rng, 60.0, held_share)
        assert isinstance(summary.hosts, HostTable)
        assert isinstance(summary.destinations, DestinationTable)
        for table in (summary.hosts, summary.destinations):
            objects = list(table)
            assert objects == table[:] == [table[k] for k in range(-len(table), 0)]
            texts = list(_time_wait_items_json(table))
            assert ",".join(texts) == ",".join(map(_with_series_json, objects))
            assert ",".join(texts) == ",".join(json_text(o.as_dict()) for o in objects)
            # In texts of about so many bytes: every text ends where an item does.
            small = table.json_texts(200)
            assert ",".join(small) == ",".join(texts)
            assert all(text.endswith("]}") and text.startswith("{") for text in small)
            assert all(len(text) >= 200 for text in small[:-1])
        peaks = sorted({round(d.population, 3) for d in summary.destinations} | {0.0, 1e9})
        by_hand = TimeWaitSummary(list(summary.hosts), list(summary.destinations))
        for population in peaks:
            want = [d for d in by_hand.destinations if d.population >= population]
            assert list(summary.destinations_holding(population)) == want
            assert list(by_hand.destinations_holding(population)) == want
        # Hosts busiest first, stably: ties in the order hosts first held TIME_WAIT.
        first_held = {}
        for _, client, server, _, by_client, _, _ in held:  # (in connection order)
            first_held.setdefault(_ADDRESSES[client if by_client else server], len(first_held))
        peak = {h.host: h.occupancy.peak for h in summary.hosts}
        assert [h.host for h in summary.hosts] == sorted(
            first_held, key=lambda host: (-peak[host], first_held[host])
        )


def test_summary_destinations_equal_a_plain_count():
    # The ledger's summary against the rules counted connection by
    # connection: a destination is listed when its client held TIME_WAIT or
    # it opened connections at a measurable rate; holders in the order they
    # first held TIME_WAIT; rate over the span of its SYNs; forecast = rate * 2MSL.
    from analyzer.model import Endpoint
    from analyzer.timewait import MIN_CONNECTIONS_FOR_RATE, MIN_SECONDS_FOR_RATE

    addresses = _ADDRESSES

    rng = np.random.default_rng(3)
    time_wait = 60.0
    for _ in range(20):
        syns, held, summary = _random_summary(rng, time_wait)
        expected = {}
        for key in {row[1:4] for row in syns} | {row[1:4] for row in held}:
            times = sorted(row[4] for row in syns if row[1:4] == key)
            holders = [row for row in held if row[1:4] == key]
            order = []
            for row in holders:
                side = "client" if row[4] else "server"
                if side not in order:
                    order.append(side)
            counts = {s: sum(1 for r in holders if r[4] == (s == "client")) for s in order}
            span = times[-1] - times[0] if times else 0.0
            rate = None
            if len(times) >= MIN_CONNECTIONS_FOR_RATE and span >= MIN_SECONDS_FOR_RATE:
                rate = (len(times) - 1) / span
            if rate is None and not counts.get("client"):
                continue
            client, server, port = key
            name = (addresses[client], str(Endpoint(addresses[server], port)))
            expected[name] = (len(times), rate, rate * time_wait if rate else None, counts)
        got = {
            (d.client, d.server): (d.connections, d.rate, d.forecast, d.holder)
            for d in summary.destinations
        }
        assert got.keys() == expected.keys()
        for name, (n, rate, forecast, counts) in expected.items():
            g = got[name]
            assert g[0] == n and g[3] == counts and list(g[3]) == list(counts), name
            assert (g[1] is None) == (rate is None) and (rate is None or np.isclose(g[1], rate))
            assert (g[2] is None) == (forecast is None)
        # Busiest first: the larger of peak and forecast; ties by client, then server.
        busiest = {(d.client, d.server): max(d.occupancy.peak, d.forecast or 0)
                   for d in summary.destinations}  # fmt: skip
        assert list(got) == sorted(got, key=lambda name: (-busiest[name], *name))


def _rows_by_hand(connections, addresses):
    """The ledger's rows as the rule says, a connection at a time."""
    code = {text: i for i, text in enumerate(addresses)}
    syns, held = [], []
    for c in connections:
        dest = (c.id, code[c.client.ip], code[c.server.ip], c.server.port)
        if c.isn_client is not None:
            syns.append((*dest, c.first_time))
        tw = c.time_wait
        if tw is not None:
            sides = ["client", "server"] if tw.side.value == "both" else [tw.side.value]
            held += [(*dest, side == "client", tw.start, tw.end) for side in sides]
    return syns, held


@pytest.mark.parametrize("name", sorted(p.name for p in CAPTURES.glob("*.pcap")))
def test_ledger_rows_equal_the_rule_by_hand(name):
    # time_wait_rows (compiled) against the rule written plainly, on every
    # bundled capture and on each kind of holder: none, either side, both.
    import dataclasses

    from analyzer import analyze
    from analyzer.model import TimeWait
    from analyzer.timewait import time_wait_rows
    from analyzer.vocabulary import Side

    connections = analyze(str(CAPTURES / name)).connections
    addresses = sorted({c.client.ip for c in connections} | {c.server.ip for c in connections})
    made = []
    for k, c in enumerate(connections[:4]):
        side = [Side.BOTH, Side.CLIENT, Side.SERVER, None][k]
        tw = TimeWait(side, 1.5 + k, 61.5 + k, None) if side else None
        made.append(dataclasses.replace(c, id=10**12 + k, isn_client=None, time_wait=tw))
    for group in (connections, made):
        syns, held = time_wait_rows(group, {text: i for i, text in enumerate(addresses)})
        want_syns, want_held = _rows_by_hand(group, addresses)
        assert syns.tolist() == want_syns
        assert held.tolist() == want_held
