"""What waits on disk until a capture is read, and how it comes back numbered:
the spill's runs, the compiled numbering of connection texts, final ids and
the findings' pickles."""

from __future__ import annotations

import json
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer import analyze
from analyzer.findings import Finding
from analyzer.numbering import FinalIds
from analyzer.output.json_text import named_spill, numbered_spill
from analyzer.spill import _RUN_BYTES, Spill
from analyzer.vocabulary import FindingKind, Severity

ROOT = Path(__file__).parent.parent

items = st.lists(st.binary(min_size=0, max_size=300), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(items=items, data=st.data())
def test_spill_gives_back_any_order(items, data):
    spill = Spill()
    try:
        # Spilled in batches, as slices are.
        cut = sorted(data.draw(st.lists(st.integers(0, len(items)), max_size=4)))
        for a, b in zip([0, *cut], [*cut, len(items)]):
            spill.extend(b"".join(items[a:b]), [len(x) for x in items[a:b]])
        order = data.draw(st.lists(st.integers(0, len(items) - 1), max_size=80))
        expected = [items[i] for i in order]
        assert list(spill.read(np.array(order, np.int64))) == expected
        from_runs = [
            run[s : s + z]
            for run, starts, sizes in spill.runs(np.array(order, np.int64))
            for s, z in zip(starts.tolist(), sizes.tolist())
        ]
        assert from_runs == expected
    finally:
        spill.close()


def _write_in_a_child(writer, batches, conn):
    conn.send([writer.each(batch) for batch in batches])


def test_spill_gives_back_what_other_processes_wrote():
    # Worker processes write their slices to their own files in the spill's
    # directory and send back only where; this process writes too, and
    # neighbours on different files are never read as one run.
    import multiprocessing

    spill = Spill()
    directory = spill.writer.directory
    context = multiprocessing.get_context("fork")
    items, expected = [], []
    try:
        spill.extend(b"abcde", [2, 3])  # ends where a child's second item starts
        expected += [b"ab", b"cde"]
        for child in range(2):
            batches = [[f"{child}-{k}-{n}".encode() * (n + 1) for n in range(3)] for k in range(2)]
            here, there = context.Pipe()
            process = context.Process(target=_write_in_a_child, args=(spill.writer, batches, there))
            process.start()
            items += here.recv()
            process.join()
            assert process.exitcode == 0
            expected += [x for batch in batches for x in batch]
        for stored in items:
            spill.add(stored)
        spill.extend(b"gh", [1, 1])
        expected += [b"g", b"h"]
        # This process's file and one per child.
        assert len({stored.name for stored in items}) == 2
        # Opened here, each file left the directory: a kill leaves nothing behind.
        assert list(Path(directory).iterdir()) == []
        for order in (np.random.default_rng(1).permutation(len(expected)), [1, 3], [2, 3, 14]):
            assert list(spill.read(np.array(order))) == [expected[i] for i in order]
        assert list(spill.read(np.arange(len(expected)))) == expected
    finally:
        spill.close()
    assert not Path(directory).exists()


def test_spills_written_in_turn_beyond_the_open_files_kept():
    # A process keeps a few spill files open for writing; a spill written
    # again after its file was closed goes on in a new file of its directory.
    from analyzer import spill as spill_module

    spills = [Spill() for _ in range(spill_module._OPEN_FOR_WRITING + 3)]
    try:
        for round_ in range(3):
            for k, spill in enumerate(spills):
                item = f"{k}:{round_};".encode()
                spill.extend(item * 2, [len(item)] * 2)
        for k, spill in enumerate(spills):
            assert b"".join(spill.read(np.arange(6))) == b"".join(
                f"{k}:{r};".encode() * 2 for r in range(3)
            )
        assert len(spills[0]._names) == 3  # a file per round
    finally:
        for spill in spills:
            spill.close()


def test_spill_writes_items_short_writes_and_more_than_a_gathering_write_takes(monkeypatch):
    # Items are written by gathering writes (os.pwritev), at most _IOV_MAX
    # parts each, and a write may stop anywhere: inside a part or between two.
    from analyzer import spill as spill_module

    real, calls = os.pwritev, []

    def short(fd, parts, offset):
        calls.append(len(parts))
        budget = 7 if len(calls) % 2 else 50  # stops inside parts and on their edges
        taken = []
        for part in parts:
            if budget <= 0:
                break
            taken.append(bytes(part)[:budget])
            budget -= len(taken[-1])
        return real(fd, taken, offset)

    monkeypatch.setattr(spill_module, "_IOV_MAX", 5)
    monkeypatch.setattr(os, "pwritev", short)
    items = [bytes([65 + k % 26]) * (k % 9) for k in range(23)]  # empty ones too
    spill = Spill()
    try:
        spill.add(spill.writer.each(items))
        spill.add(spill.writer.each(items[:3]))
        assert max(calls) <= 5 and len(calls) > 10
        assert list(spill.read(np.arange(len(items) + 3))) == items + items[:3]
    finally:
        spill.close()


def test_spill_runs_join_neighbours_up_to_a_bound():
    spill = Spill()
    try:
        item = b"x" * (_RUN_BYTES // 4 + 1)
        spill.extend(item * 10, [len(item)] * 10)
        runs = list(spill.runs(np.arange(10)))
        # End to end on the file: read a few at a time, never much past the bound.
        assert 1 < len(runs) < 10
        assert all(len(run) <= _RUN_BYTES + len(item) for run, _, _ in runs)
        # Out of file order: every item its own run.
        assert len(list(spill.runs(np.arange(10)[::-1]))) == 10
    finally:
        spill.close()


connection_texts = st.lists(
    st.dictionaries(st.text(min_size=1, max_size=5), st.integers() | st.text(), min_size=1),
    min_size=0,
    max_size=20,
).map(lambda objects: [json.dumps(o, separators=(",", ":")) for o in objects])


def _spilled(data: bytes) -> int:
    """A descriptor of a temporary file holding ``data`` (closed by the caller)."""
    with tempfile.TemporaryFile() as f:
        f.write(data)
        f.flush()
        return os.dup(f.fileno())


@settings(max_examples=200, deadline=None)
@given(
    texts=connection_texts,
    first_id=st.integers(1, 2**40),
    pad=st.binary(max_size=8),
    chunk=st.sampled_from([2, 40, 1 << 20]),
    seed=st.integers(0, 3),
)
def test_numbered_spill_is_the_ids_added_in_front(texts, first_id, pad, chunk, seed):
    # Items on two files, read back in another order than written (neighbours
    # on one file are read together), in chunks of about ``chunk`` bytes.
    rng = np.random.default_rng(seed)
    on = rng.integers(0, 2, len(texts)).astype(np.int32)
    fds, offsets = [], np.zeros(len(texts), np.int64)
    for k in range(2):
        mine = np.flatnonzero(on == k)
        data = pad + "".join(texts[i] for i in mine).encode()
        sizes = np.array([len(texts[i]) for i in mine], np.int64)
        offsets[mine] = len(pad) + np.cumsum(sizes) - sizes
        fds.append(_spilled(data))
    order = np.arange(len(texts)) if seed < 2 else rng.permutation(len(texts))
    sizes = np.array([len(t) for t in texts], np.int64)
    try:
        chunks = list(numbered_spill(fds, on[order], offsets[order], sizes[order], first_id, chunk))
    finally:
        for fd in fds:
            os.close(fd)
    expected = [f'{{"id":{first_id + k},' + texts[i][1:] for k, i in enumerate(order.tolist())]
    assert ",".join(chunks) == ",".join(expected)
    assert all(chunks)
    if len(texts) > 1 and chunk == 2:
        assert len(chunks) == len(texts)  # a chunk as soon as it is full
    if texts:
        # (as pairs: a generated text may have an "id" of its own, after ours)
        last = json.loads(f"[{','.join(chunks)}]", object_pairs_hook=list)[-1]
        assert last[0] == ("id", first_id + len(texts) - 1)


@pytest.mark.parametrize(
    ("files", "offsets", "sizes", "problem"),
    [([0], [0], [9], "ends before"), ([0], [-1], [3], "bytes at"),
     ([0], [1], [2], "not a JSON object"), ([1], [0], [3], "on file"),
     ([0, 0], [0], [3], "differ"), ([0], [0], [1], "bytes at")],
)  # fmt: skip
def test_numbered_spill_refuses_items_it_cannot_number(files, offsets, sizes, problem):
    fd = _spilled(b'{"a":1}')
    try:
        with pytest.raises((ValueError, OSError), match=problem):
            list(numbered_spill([fd], np.array(files, np.int32), np.array(offsets, np.int64),
                                np.array(sizes, np.int64), 1))  # fmt: skip
    finally:
        os.close(fd)


@settings(max_examples=100, deadline=None)
@given(
    summaries=st.lists(st.text(max_size=30), max_size=12),
    named=st.lists(st.integers(0, 2**40), min_size=12, max_size=12),
    also=st.lists(st.integers(0, 2**40), min_size=12, max_size=12),
    other=st.sampled_from(["previous_connection", "new_connection"]),
    chunk=st.sampled_from([2, 1 << 20]),
    seed=st.integers(0, 3),
)
def test_named_spill_gives_each_finding_its_connections(summaries, named, also, other, chunk, seed):
    # A finding written before the end says "connection":null, and null for
    # the connection its detail names; named_spill puts the final ids there
    # (none for 0), the first such key only. A summary may hold any text.
    texts = [
        json.dumps({"kind": "k", "severity": "info", "connection": None, "summary": s,
                    "detail": {"gap": 1.5, other: None, "x_connection": None}},
                   separators=(",", ":"))
        for s in summaries
    ]  # fmt: skip
    data = "".join(texts).encode()
    sizes = np.array([len(t) for t in texts], np.int64)
    offsets = np.cumsum(sizes) - sizes
    order = (
        np.arange(len(texts)) if seed < 2 else np.random.default_rng(seed).permutation(len(texts))
    )
    ids = np.array(named[: len(texts)], np.int64)
    others = np.array(also[: len(texts)], np.int64)
    fd = _spilled(data)
    try:
        chunks = list(named_spill([fd], np.zeros(len(texts), np.int32), offsets[order],
                                  sizes[order], ids, others, chunk))  # fmt: skip
    finally:
        os.close(fd)
    got = json.loads(f"[{','.join(chunks)}]")
    assert [f["summary"] for f in got] == [summaries[i] for i in order.tolist()]
    assert [f["connection"] for f in got] == [n or None for n in ids.tolist()]
    assert [f["detail"] for f in got] == [
        {"gap": 1.5, other: n or None, "x_connection": None} for n in others.tolist()
    ]


def test_named_spill_refuses_a_finding_with_no_place_for_its_connections():
    fd = _spilled(b'{"kind":"k","connection":1}{"kind":"k","connection":null,"detail":{}}')
    one, two = np.array([27], np.int64), np.array([41], np.int64)
    try:
        with pytest.raises(ValueError, match="no place for its connection"):
            list(named_spill([fd], np.zeros(1, np.int32), np.zeros(1, np.int64), one,
                             np.array([5], np.int64), np.array([0], np.int64)))  # fmt: skip
        with pytest.raises(ValueError, match="no place for its other connection"):
            list(named_spill([fd], np.zeros(1, np.int32), one, two,
                             np.array([5], np.int64), np.array([6], np.int64)))  # fmt: skip
    finally:
        os.close(fd)


@settings(max_examples=200, deadline=None)
@given(
    first_frames=st.sets(st.integers(1, 10_000), max_size=50).map(sorted),
    asked=st.lists(st.integers(0, 10_001), max_size=50),
)
def test_final_ids_one_at_a_time_and_at_once(first_frames, asked):
    ids = FinalIds(np.array(first_frames, np.int64))
    one_by_one = [ids(p) or 0 for p in asked]
    assert ids.of(np.array(asked, np.int64)).tolist() == one_by_one
    for i, frame in enumerate(first_frames):
        assert ids(frame) == i + 1


def test_findings_come_back_from_their_pickles_equal():
    findings = [
        f
        for path in sorted((ROOT / "captures").glob("*.pcap"))
        for f in analyze(str(path)).findings
    ]
    assert {f.kind for f in findings} >= {FindingKind.ABORTIVE_CLOSE, FindingKind.CLOSE_WAIT_STALL}
    for f in findings:
        again = pickle.loads(pickle.dumps(f, pickle.HIGHEST_PROTOCOL))
        assert again == f
        assert type(again.kind) is FindingKind and type(again.severity) is Severity
    every = [Finding(k, s, None, [], None, "") for k in FindingKind for s in Severity]
    assert pickle.loads(pickle.dumps(every)) == every


def test_a_spill_dropped_unclosed_gives_back_its_descriptors():
    # (A capture's findings spill is read until its analysis goes.)
    import gc
    import os

    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        spill = Spill()
        spill.extend(b"abc", [3])
        assert list(spill.read(np.array([0]))) == [b"abc"]
        directory = spill.writer.directory
        del spill
        gc.collect()
        assert not Path(directory).exists()
    assert len(os.listdir("/proc/self/fd")) <= before


def test_a_spill_released_while_another_is_written_does_not_hang(monkeypatch):
    """A spill caught in a reference cycle is released when the cyclic
    collector runs: at any allocation, also inside another spill's write."""
    import threading

    from analyzer.spill import Spill

    first, second = Spill(), Spill()
    first.extend(b"x", [1])  # this process has a file in the first's directory
    real = tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        first.close()  # as the collector may, while the second's file is made
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    written = threading.Event()

    def write():
        second.extend(b"yz", [2])
        written.set()

    threading.Thread(target=write, daemon=True).start()
    assert written.wait(10), "writing the second spill hung"
    monkeypatch.undo()
    assert list(second.read(np.array([0]))) == [b"yz"]
    second.close()
