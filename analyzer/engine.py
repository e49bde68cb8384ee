"""The streaming engine: one pass over a capture, 4-tuple group by group.

    read -> segments -> groups -> connections -> teardown -> findings -> sink

The reader hands over batches of segments; ``grouping.TupleGroups`` puts each
segment in its 4-tuple group. Segments wait in memory only until their group
settles: the capture clock has moved past its last segment by the silence
limit (``silence_for``: about 2*MSL once the connection closed, two minutes
before its handshake completes, two hours once established). Then the
group's connections are found, walked, annotated with Zeek's view and judged
(``walk_slice``; in worker processes when the sink renders them, except a
huge group), and handed to a *sink*: ``analysis.analyze`` keeps them, the
streaming outputs spool what they will write of them to disk. What stays
behind per connection is a few numbers for the capture-wide findings and for
numbering.

A group that gathers ``AHEAD_SEGMENTS`` waiting segments (a bulk transfer),
or ``AHEAD_MIN_SEGMENTS`` once ``WAITING_AHEAD_SEGMENTS`` wait (many long-lived
streams), is *walked ahead*: while it is one connection, its walk
and Zeek's replay go on over the segments so far and keep their state, and
the segments leave memory but for the few that decide how later ones are
indexed (``connections.deciding_rows``). When it settles, the rest of its
segments are walked from there.

So memory follows the connections open at once (and those closed within
the last 2*MSL), not the size of the capture. The answers do not depend on
how the capture is cut into batches or slices: a record per batch, the
whole capture in one batch, and every group walked ahead after every batch
give the same document (tests/test_engine.py checks that on every capture).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from . import zeek
from .capture import CaptureInfo, CaptureReader
from .capture.reader import CHUNK_BYTES
from .connections import bare_syn, deciding_rows, index_connections
from .findings import ArtefactTally, FindingCollector, ReportedFindings, judge
from .grouping import Silence, TupleGroups
from .handoff import Handoff, ShippedSlice
from .model import Connection
from .numbering import FinalIds
from .parameters import Parameters
from .read_ahead import ReadAhead
from .segments import SegmentTable
from .teardown import WalkSoFar, reconstruct, walk_ahead
from .timewait import TimeWaitLedger, TimeWaitSummary, time_wait_rows

NS = 1_000_000_000
# A 4-tuple silent this long starts afresh (docs/verdicts.md, "Connections"):
# before its handshake completes, twice 2*MSL and never less than two minutes,
# so that SYN retries (at most 64 s apart on Linux) stay with their
# connection; once established, as long as Linux's keepalive takes to give up
# on a dead peer (7200 s idle, then 9 probes 75 s apart), so that idle
# keep-alive and pooled connections are not cut; once closed, 2*MSL and a
# margin, so that its TIME_WAIT and what ends it stay too.
MIN_OPEN_SILENCE = 120.0
ESTABLISHED_SILENCE = 7200.0 + 9 * 75.0
CLOSED_MARGIN = 10.0
# Settled groups are taken out this many times per closed silence: each time
# costs a pass over the waiting segments.
SETTLE_ROUNDS = 8
# Segments walked at once (handed to a worker at once).
SLICE_SEGMENTS = 50_000
# ... and at most this many groups: what a slice gives back (findings, the
# places of its spilled texts, TIME_WAIT rows) and the addresses it carries
# grow with its connections, and a SYN flood is all connections of one or
# two segments.
SLICE_GROUPS = 5_000
# A slice's connections are walked, judged, rendered and freed this many at a
# time (``ConnectionIndex.parts``): their objects, about 5 KB a connection,
# then stay in the processor's cache from one step to the next. 300k packets
# in six slices took 0.76, 0.65, 0.62, 0.67 and 0.91 s of CPU in parts of 64,
# 128, 256 and 512 connections and in one part a slice (about 5,000).
PART_CONNECTIONS = 256
# Slices close at the first group boundary past SLICE_SEGMENTS, so one over
# this many times SLICE_SEGMENTS is mostly a single group.
HUGE_SLICE_FACTOR = 4
# The columns the analysis reads; the others leave memory as soon as a batch is read.
ANALYSED_COLUMNS = (
    "frame", "ts_ns", "src", "dst", "sport", "dport", "flags", "seq", "ack", "window",
    "payload_len", "ttl", "ip_id", "tsval",
)  # fmt: skip
# A group with this many segments waiting is walked ahead: its connection
# is walked so far, and its segments leave memory (``Engine._walk_ahead``).
AHEAD_SEGMENTS = HUGE_SLICE_FACTOR * SLICE_SEGMENTS
# ... and when this many more segments wait than after the last walk ahead
# (about 130 MB of them), every group with at least AHEAD_MIN_SEGMENTS is:
# many long-lived connections (a pool of database or gRPC streams), none of
# them huge, would otherwise all wait until the end of the capture.
WAITING_AHEAD_SEGMENTS = 1_000_000
AHEAD_MIN_SEGMENTS = 2_000
# Waiting segments are kept in batches of about this many (they shrink as groups settle).
WAITING_BATCH_SEGMENTS = 200_000
# A capture file of this many bytes or more will need the worker processes
# (far more than a slice of segments): they start before it is read.
EARLY_WORKERS_BYTES = 16 * 1024 * 1024


def silence_for(time_wait: float) -> Silence:
    """How long a 4-tuple must be silent before it starts afresh."""
    open_s = max(2 * time_wait, MIN_OPEN_SILENCE)
    closed_s = time_wait + CLOSED_MARGIN
    return Silence(
        open_ns=int(open_s * NS),
        # Never shorter than the others, whatever --time-wait says.
        established_ns=int(max(ESTABLISHED_SILENCE, open_s, closed_s) * NS),
        closed_ns=int(closed_s * NS),
    )


@dataclass
class SliceProducts:
    """What the walk of one slice yields, ready to be absorbed by the engine and its sink.

    Connections carry provisional ids (their first frames). A sink that keeps
    objects gets ``connections`` and ``records``; one that renders them gets
    ``documents``: what its ``render`` made of each part of the slice
    (``PART_CONNECTIONS``), in the order of ``first_frames``, made where the
    slice was walked (possibly another process).
    """

    first_frames: np.ndarray
    findings: list[tuple[int, int, int, int, bytes, bytes]]  # ``findings.judge``
    artefacts: ArtefactTally
    time_wait: tuple[np.ndarray, np.ndarray]  # ``timewait.time_wait_rows``
    connections: list[Connection] | None = None
    records: list[zeek.ZeekRecord] | None = None
    documents: list[Any] | None = None


class ConnectionSink(Protocol):
    # None: the sink keeps Connection objects (so slices are walked in this
    # process); else a picklable function rendering a part of a slice: its
    # connections, conn.log records and the ids of the connections its
    # findings name.
    render: Callable[[list[Connection], list[zeek.ZeekRecord], set[int]], Any] | None
    # Whether ``render`` (or ``add``) reads Zeek's conn.log records: if not,
    # none is made, only each connection's ``zeek`` (``zeek.annotate``).
    zeek_records: bool

    def add(self, products: SliceProducts) -> None:
        """One slice of settled connections."""


@contextmanager
def _without_cyclic_gc():
    """The walk makes millions of small objects and breaks its only reference
    cycles itself: the cyclic garbage collector would only rescan the live
    ones again and again (an eighth of the run time)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


@dataclass
class WalkedAhead:
    """A group walked ahead: its connection's walk and Zeek's replay so far, and
    the segments that decide how the rest is indexed (``deciding_rows``), which
    go first in its next part.

    Both name endpoints by the codes of the part's own addresses
    (``SegmentTable.with_own_addresses``): a group's parts are one 4-tuple's,
    so its two addresses get the same codes in every part.
    """

    firsts: SegmentTable
    walk: WalkSoFar
    replay: zeek.ReplaySoFar


def walk_slice(
    seg: SegmentTable,
    capture_end: float,
    params: Parameters,
    render,
    zeek_records: bool,
    ahead: WalkedAhead | None = None,
    *,
    capture_ended: bool = False,
) -> SliceProducts:
    """Connections, teardown, Zeek's view and findings for whole groups of
    segments (with ``ahead``: the rest of one group walked ahead, its ``firsts`` first).

    The memory a slice frees stays in the process for the next: given back
    to the system after each slice (``malloc_trim``), it was faulted in again
    by the next, some 5 GB of fresh pages on 3M packets (a tenth of the
    workers' time), for a peak of 40 MB less per worker.
    """
    with _without_cyclic_gc():
        return _walk_slice(seg, capture_end, params, render, zeek_records, ahead, capture_ended)


def walk_shipped(shipped: ShippedSlice, *args, **options) -> SliceProducts:
    """``walk_slice`` of a slice handed over on a file (``handoff``), in a worker."""
    return walk_slice(shipped.load(), *args, **options)


def _walk_slice(
    seg: SegmentTable,
    capture_end: float,
    params: Parameters,
    render,
    zeek_records: bool,
    ahead,
    capture_ended: bool,
):
    index = index_connections(seg)
    # (One 4-tuple, walked ahead: one part.)
    parts = [index] if ahead else index.parts(seg.frame, PART_CONNECTIONS)
    code = {text: i for i, text in enumerate(seg.addresses)}
    first_frames, findings, artefacts = [], [], ArtefactTally()
    syn_rows, held_rows = [], []
    connections: list[Connection] = []
    records: list[zeek.ZeekRecord] = []
    documents = []
    for part in parts:
        walked = reconstruct(
            seg,
            part,
            capture_end=capture_end,
            time_wait=params.time_wait,
            so_far=ahead.walk if ahead else None,
        )
        their_records = zeek.annotate(
            seg, part, walked, so_far=ahead.replay if ahead else None, records=zeek_records
        )
        judged, tally, named = judge(
            walked,
            time_wait=params.time_wait,
            close_wait_threshold=params.close_wait_threshold,
            capture_end=capture_end if capture_ended else None,
        )
        findings += judged
        artefacts.merge(tally)
        syns, held = time_wait_rows(walked, code)
        syn_rows.append(syns)
        held_rows.append(held)
        first_frames.append(np.fromiter((c.id for c in walked), np.int64, len(walked)))
        if render is None:
            connections += walked
            records += their_records
        else:
            documents.append(render(walked, their_records, named))
        del walked, their_records  # (freed while still in the cache)
    products = SliceProducts(
        first_frames=np.concatenate([np.empty(0, np.int64), *first_frames]),
        findings=findings,
        artefacts=artefacts,
        time_wait=(np.concatenate(syn_rows), np.concatenate(held_rows)),
    )
    if render is None:
        products.connections, products.records = connections, records
    else:
        products.documents = documents
    return products


@dataclass
class Outcome:
    """What the engine knows at the end, besides what it gave the sink."""

    info: CaptureInfo
    findings: ReportedFindings  # read back from disk, in report order
    time_wait_summary: TimeWaitSummary
    first_frames: np.ndarray  # of the connections kept, ascending: connection i+1 is [i]
    # The first frame of the first connection the limit left out (None: none
    # was); conn.log records from it on are left out too.
    left_out_from: int | None = None


class _Waiting:
    """Segments of unsettled groups: the batches they came in, with their group ids.

    As groups settle, batches shrink; neighbours are joined while they are
    small, so their number stays low without copying the big ones again.
    """

    def __init__(self) -> None:
        self.batches: list[tuple[SegmentTable, np.ndarray]] = []

    def __len__(self) -> int:
        """Segments waiting."""
        return sum(len(groups) for _, groups in self.batches)

    def add(self, batch: SegmentTable, groups: np.ndarray) -> None:
        self.batches.append((batch, groups))

    def renumber(self, new_id: np.ndarray) -> None:
        self.batches = [(batch, new_id[groups]) for batch, groups in self.batches]

    def take(self, settled: np.ndarray) -> tuple[SegmentTable, np.ndarray]:
        """Remove and return the segments whose group is marked in ``settled``."""
        out, keep = [], []
        batches, self.batches = self.batches, []
        while batches:
            # One batch at a time leaves memory: the waiting segments are never held twice.
            batch, groups = batches.pop(0)
            mask = settled[groups]
            if mask.all():
                out.append((batch, groups))
            elif mask.any():
                out.append((batch.take(mask), groups[mask]))
                keep.append((batch.take(~mask), groups[~mask]))
            else:
                keep.append((batch, groups))
            del batch, groups
        self.batches = _joined_while_small(keep)
        return _joined(out)


def _joined(parts: list[tuple[SegmentTable, np.ndarray]]) -> tuple[SegmentTable, np.ndarray]:
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return SegmentTable.empty(), np.empty(0, np.int64)
    return SegmentTable.concat(b for b, _ in parts), np.concatenate([g for _, g in parts])


def _joined_while_small(parts: list[tuple[SegmentTable, np.ndarray]]):
    """Neighbouring small parts joined, up to WAITING_BATCH_SEGMENTS; a part of
    a quarter of that or more is left as it is (joining it would copy its
    segments again at every settle round)."""
    out: list[tuple[SegmentTable, np.ndarray]] = []
    run: list[tuple[SegmentTable, np.ndarray]] = []
    size = 0
    for part in parts:
        if len(part[0]) >= WAITING_BATCH_SEGMENTS // 4:
            if run:
                out.append(_joined(run))
                run, size = [], 0
            out.append(part)
            continue
        run.append(part)
        size += len(part[0])
        if size >= WAITING_BATCH_SEGMENTS:
            out.append(_joined(run))
            run, size = [], 0
    if run:
        out.append(_joined(run))
    return out


class Engine:
    """One capture through the pipeline; ``workers`` processes walk the slices
    when the sink renders them (0: all in this process)."""

    def __init__(self, params: Parameters, sink: ConnectionSink, *, workers: int = 0) -> None:
        self.params = params
        self.sink = sink
        self.workers = workers if sink.render is not None else 0
        self.findings = FindingCollector(
            time_wait=params.time_wait, close_wait_threshold=params.close_wait_threshold
        )
        self.ledger = TimeWaitLedger()
        self.first_frames: list[np.ndarray] = []
        self._pool: ProcessPoolExecutor | None = None
        self._handoff: Handoff | None = None  # with the pool
        self._reading: ReadAhead | None = None  # the capture's batches
        self._shipped = False  # a slice has gone to a worker
        self._running: dict[Future, np.ndarray] = {}  # slice being walked -> its address codes
        self.ahead: dict[int, WalkedAhead] = {}  # by group
        self._ahead_at = WAITING_AHEAD_SEGMENTS  # waiting segments that make many walk ahead

    def run(self, path: str, *, chunk_bytes: int = CHUNK_BYTES) -> Outcome:
        try:
            return self._run(path, chunk_bytes)
        finally:
            if self._reading is not None:
                self._reading.close()  # (after an error: the thread may still be reading)
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
            if self._handoff is not None:
                self._handoff.close()
            self.ledger.close()

    def _run(self, path: str, chunk_bytes: int) -> Outcome:
        reader = CaptureReader(path, chunk_bytes)
        groups = TupleGroups(silence_for(self.params.time_wait))
        waiting = _Waiting()
        settled_at = None
        if self.workers and _file_bytes(path) >= EARLY_WORKERS_BYTES:
            self._start_workers()
        self._reading = ReadAhead(b.only(ANALYSED_COLUMNS) for b in reader)
        for batch in self._reading:
            waiting.add(batch, groups.assign(batch))
            self._walk_ahead_if_due(waiting, groups)
            if settled_at is None:
                settled_at = groups.clock
            if groups.clock - settled_at < groups.silence.closed_ns // SETTLE_ROUNDS:
                continue
            settled_at = groups.clock
            due = groups.settle()
            if len(due):
                # Every TIME_WAIT of a settled group ended before the clock now.
                self._settle(waiting, groups, due, capture_end=groups.clock / NS, ended=False)
                renumbered = groups.compact()
                if renumbered is not None:
                    waiting.renumber(renumbered)
                    self.ahead = {int(renumbered[g]): a for g, a in self.ahead.items()}
        info = reader.info
        # The capture ends at its last frame, or later if the clock stepped back.
        capture_end = max(info.last_time or 0.0, groups.clock / NS if groups.count else 0.0)
        # What still waits settles a part at a time: taken at once, all of it
        # would be in memory twice (the 5M benchmark's peak).
        due = groups.settle(everything=True)
        parts = -(-len(waiting) // WAITING_BATCH_SEGMENTS) or 1
        for k, part in enumerate(np.array_split(due, parts)):
            last = k == parts - 1
            self._settle(waiting, groups, part, capture_end=capture_end, ended=True, last=last)
        self._wait(until=0)
        return self._finish(info, capture_end, reader.addresses.texts)

    def _walk_ahead_if_due(self, waiting: _Waiting, groups: TupleGroups) -> None:
        """Walk ahead a group that got AHEAD_SEGMENTS (and its like), or, once
        WAITING_AHEAD_SEGMENTS more wait than after the last walk ahead, every
        group that got AHEAD_MIN_SEGMENTS."""
        waiting_now = len(waiting)
        # Settled groups left: the budget counts from what waits now.
        self._ahead_at = min(self._ahead_at, waiting_now + WAITING_AHEAD_SEGMENTS)
        long = groups.long(AHEAD_SEGMENTS)
        if not len(long) and waiting_now >= self._ahead_at:
            long = groups.holding(AHEAD_MIN_SEGMENTS)
        if len(long):
            self._walk_ahead(waiting, groups, long)
        if len(long) or waiting_now >= self._ahead_at:
            # What could not be walked ahead waits: no new try until as much again.
            self._ahead_at = len(waiting) + WAITING_AHEAD_SEGMENTS

    def _walk_ahead(self, waiting: _Waiting, groups: TupleGroups, long: np.ndarray) -> None:
        """Walk the connection of each ``long`` group over its waiting segments,
        which then leave memory; what the walk knows waits instead, until the
        group settles. So a connection of millions of segments (a bulk
        transfer, a long-lived stream) does not hold them all.

        Only a group of one connection is walked ahead: the segments that
        decide how its later ones are indexed are kept (``deciding_rows``), and
        the rest of the pipeline sees the same as without walking ahead
        (tests/test_engine.py checks it on every capture).
        """
        marked = np.zeros(groups.count, bool)
        marked[long] = True
        seg, group = waiting.take(marked)
        for g, rows in _rows_by_group(seg, group):
            part = seg.take(rows)
            ahead = self.ahead.get(g)
            chunk = SegmentTable.concat([ahead.firsts, part]) if ahead else part
            local, _ = chunk.with_own_addresses()
            index = index_connections(local)
            if len(index) != 1:
                # A new incarnation began: the rest waits to settle, as any group's.
                waiting.add(part, np.full(len(part), g))
                groups.no_ahead(g)
                continue
            firsts = deciding_rows(local)
            self.ahead[g] = WalkedAhead(
                firsts=chunk.take(firsts),
                walk=walk_ahead(
                    local,
                    index,
                    ahead.walk if ahead else None,
                    time_wait=self.params.time_wait,
                    roles_decided=bool(bare_syn(local.flags[firsts]).any()),
                ),
                replay=zeek.replay_ahead(local, index, ahead.replay if ahead else None),
            )
        groups.walked_ahead(long)

    def _settle(
        self, waiting: _Waiting, groups: TupleGroups, due, *, capture_end, ended, last=False
    ) -> None:
        """Walk the groups ``due``, here or in the workers (``ended``: the
        capture has been read, and ends at ``capture_end``, else that is its
        clock so far; ``last``: the capture's last settle, after which this
        process only waits)."""
        marked = np.zeros(groups.count, bool)
        marked[due] = True
        seg, group = waiting.take(marked)
        ahead = [g for g in due.tolist() if g in self.ahead]
        if ahead:
            mine = np.isin(group, ahead)
            theirs = seg.take(mine)
            rows = dict(_rows_by_group(theirs, group[mine]))
            seg, group = seg.take(~mine), group[~mine]
            for g in ahead:
                walked = self.ahead.pop(g)
                part = walked.firsts
                if g in rows:
                    part = SegmentTable.concat([part, theirs.take(rows[g])])
                part, codes = part.with_own_addresses()
                # Walked here: what the walk knows so far is not sent to a worker.
                args = (capture_end, self.params, self.sink.render, self.sink.zeek_records, walked)
                self._absorb(walk_slice(part, *args, capture_ended=ended), codes)
        slices = list(_slices(seg, group, groups))
        args = (capture_end, self.params, self.sink.render, self.sink.zeek_records)
        for n, rows in enumerate(slices):
            # One slice of everything (a huge group, a small capture) is not
            # copied. Each slice carries the texts of its own addresses: the
            # capture's are made only when asked (``capture.addresses``), and a
            # slice sent to a worker would carry them all.
            part = seg if len(rows) == len(seg) else seg.take(rows)
            part, codes = part.with_own_addresses()
            # A small capture is done before a pool of processes would start.
            # Only a huge group (a bulk transfer) makes a huge slice: sent to a
            # worker, it would be in memory three times (here, on the handoff file, there)
            # while it waits and is walked.
            small_capture = not self._shipped and len(seg) <= SLICE_SEGMENTS
            huge = len(rows) > HUGE_SLICE_FACTOR * SLICE_SEGMENTS
            # The very last slice is walked here, beside the workers' last
            # ones: this process would only wait for them.
            final = last and n == len(slices) - 1 and self._shipped
            if not self.workers or small_capture or huge or final:
                self._absorb(walk_slice(part, *args, capture_ended=ended), codes)
                continue
            if not self._shipped:
                if self._reading is not None:
                    self._reading.alone()  # (``read_ahead``: why)
                if self._pool is None:
                    self._start_workers()
                self._shipped = True
            self._wait(until=2 * self.workers)
            shipped = self._handoff.ship(part)
            del part
            submitted = self._pool.submit(walk_shipped, shipped, *args, capture_ended=ended)
            self._running[submitted] = codes

    def _start_workers(self) -> None:
        """Fork the worker processes now, with no other thread running (``fork``
        wants none). Forked when the first slice is ready, they held a copy of
        everything this process held then (the 70 s of segments waiting to
        settle), which became theirs alone as this process moved on: half the
        5M benchmark's peak (411 -> 226 MB). So a large capture's workers start
        before it is read (``EARLY_WORKERS_BYTES``)."""
        self._pool = ProcessPoolExecutor(self.workers, _fork_context())
        self._handoff = Handoff()
        self._pool.submit(int)  # (forks them all: fork's pool starts every worker at once)

    def _wait(self, *, until: int) -> None:
        """Absorb finished slices until at most ``until`` are still running."""
        while len(self._running) > until:
            done, _ = wait(self._running, return_when=FIRST_COMPLETED)
            for future in done:
                self._absorb(future.result(), self._running.pop(future))

    def _absorb(self, p: SliceProducts, codes: np.ndarray) -> None:
        """A walked slice; ``codes`` turn its address codes into the capture's."""
        self.findings.keep(p.findings, p.artefacts)
        self.ledger.add(p.time_wait, codes)
        self.first_frames.append(p.first_frames)
        self.sink.add(p)

    def _finish(self, info: CaptureInfo, capture_end: float, addresses) -> Outcome:
        s = self.params
        first_frames = np.sort(np.concatenate([np.empty(0, np.int64), *self.first_frames]))
        left_out_from = None
        if len(first_frames) > s.max_connections:
            left_out_from = int(first_frames[s.max_connections])
            info.warnings.append(
                f"{info.path}: connection limit reached: only the first {s.max_connections} "
                f"of {len(first_frames)} connections were analysed (--max-connections)"
            )
            first_frames = first_frames[: s.max_connections]
        last = int(first_frames[-1]) if len(first_frames) else None
        summary = self.ledger.summary(s.time_wait, addresses, last)
        findings = self.findings.finish(
            info,
            summary,
            FinalIds(first_frames),
            capture_end=capture_end,
            port_range=s.port_range,
            port_share=s.port_share,
        )
        return Outcome(info, findings, summary, first_frames, left_out_from)


def _slices(seg: SegmentTable, group: np.ndarray, groups: TupleGroups):
    """Row sets of about ``SLICE_SEGMENTS`` segments (at most ``SLICE_GROUPS``
    groups), whole groups, frame order; ``seg`` is in frame order, as segments wait.

    Two groups of one 4-tuple never share a slice: inside a slice, connections
    are found per 4-tuple, and the later group must start afresh. So a
    4-tuple's first group here goes in the first slices, its second (its
    "repeat" 1) in later ones, and so on.
    """
    if not len(seg):
        return
    # The settled groups, each as its rank among them (a mark per group: no sort).
    used = np.zeros(groups.count, bool)
    used[group] = True
    settled = np.flatnonzero(used)
    rank = (np.cumsum(used) - 1)[group]
    del used
    lo, hi = groups.endpoints(settled)
    by_tuple = np.lexsort((settled, hi, lo))
    same_tuple = (lo[by_tuple][1:] == lo[by_tuple][:-1]) & (hi[by_tuple][1:] == hi[by_tuple][:-1])
    repeat = np.zeros(len(settled), np.int64)  # 0 for a 4-tuple's first group here, 1, ...
    if same_tuple.any():
        run = np.cumsum(np.append(0, ~same_tuple))
        first_of_run = np.searchsorted(run, run)
        repeat[by_tuple] = np.arange(len(settled)) - first_of_run
    # The groups by repeat, then rank: only their sizes decide the cuts
    # (sorting the groups, not their rows).
    order = np.argsort(repeat, kind="stable")
    # Where each group but the last ends, in rows:
    ends = np.cumsum(np.bincount(rank, minlength=len(settled))[order])[:-1]
    repeat_ends = np.flatnonzero(repeat[order][1:] != repeat[order][:-1])
    # A slice ends at the first group end where it reaches SLICE_SEGMENTS
    # segments or SLICE_GROUPS groups, or where the repeats change: found a
    # slice at a time, not a group at a time.
    cuts: list[int] = []  # in rows
    group_cuts: list[int] = []  # in groups
    i = start = 0  # the slice's first group end, and its first row
    while i < len(ends):
        full = max(i, int(np.searchsorted(ends, start + SLICE_SEGMENTS)))
        k = int(np.searchsorted(repeat_ends, i))
        forced = int(repeat_ends[k]) if k < len(repeat_ends) else len(ends)
        cut = min(i + SLICE_GROUPS - 1, full, forced)
        if cut >= len(ends):
            break
        cuts.append(int(ends[cut]))
        group_cuts.append(cut + 1)
        start, i = cuts[-1], cut + 1
    # Each slice's rows in frame order: the rows sorted by slice, stably (a
    # slice number of 16 bits is sorted by radix).
    sizes = np.diff([0, *group_cuts, len(settled)])
    slice_of = np.empty(len(settled), np.uint16 if len(sizes) <= 1 << 16 else np.int64)
    slice_of[order] = np.repeat(np.arange(len(sizes)), sizes)
    rows = np.argsort(slice_of[rank], kind="stable")
    del slice_of, rank
    yield from np.split(rows, cuts)


def _rows_by_group(seg: SegmentTable, group: np.ndarray):
    """(group, its rows in frame order) for each group in ``group``."""
    order = np.lexsort((seg.frame, group))
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    for rows in np.split(order, bounds):
        if len(rows):
            yield int(group[rows[0]]), rows


def _file_bytes(path: str) -> int:
    """The capture file's size (0 for standard input, or when unknown)."""
    try:
        return os.path.getsize(path) if path != "-" else 0
    except OSError:
        return 0


def _fork_context():
    """Workers forked from this process start at once and share its imports;
    where fork is unavailable, the platform's default start method."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)
