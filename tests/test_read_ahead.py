"""A thread reads ahead (``analyzer.read_ahead``): every item once, in order,
errors where their item would have been, and the rest made in the user's
thread after ``alone``."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from analyzer import engine
from analyzer.analysis import stream_analysis
from analyzer.output.document import connection_json_bytes
from analyzer.output.spool import ConnectionSpool
from analyzer.parameters import Parameters
from analyzer.read_ahead import ReadAhead

ROOT = Path(__file__).resolve().parent.parent


class Source:
    """Items 0 .. n - 1, noting which thread made each and whether it was closed;
    raises ``error`` instead of item ``fail_at``."""

    def __init__(self, n: int, fail_at: int | None = None) -> None:
        self.n, self.fail_at = n, fail_at
        self.made_in: list[str] = []
        self.closed = False

    def __iter__(self):
        try:
            for i in range(self.n):
                if i == self.fail_at:
                    raise ValueError(f"bad item {i}")
                self.made_in.append(threading.current_thread().name)
                yield i
        finally:
            self.closed = True


def _threads_alive() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "teardown-read-ahead"]


@pytest.mark.parametrize("depth", [1, 2, 7])
def test_every_item_once_in_order_made_by_the_thread(depth):
    source = Source(500)
    assert list(ReadAhead(source, depth)) == list(range(500))
    assert set(source.made_in) == {"teardown-read-ahead"}
    assert source.closed and not _threads_alive()


@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.parametrize("alone_after", [0, 1, 2, 5, 49, 50])
def test_alone_loses_and_repeats_nothing_and_makes_the_rest_here(depth, alone_after):
    source = Source(50)
    ahead = ReadAhead(source, depth)
    got = []
    for item in ahead:
        got.append(item)
        if len(got) == alone_after:
            ahead.alone()
            # The thread has stopped: what is made from now on is made here.
            assert not _threads_alive()
            made_so_far = len(source.made_in)
    if alone_after == 0:
        ahead.alone()  # (never reached in the loop: the items are all read)
        made_so_far = len(source.made_in)
    assert got == list(range(50))
    assert set(source.made_in[made_so_far:]) <= {threading.current_thread().name}
    assert source.closed


def test_alone_before_the_first_item():
    source = Source(20)
    ahead = ReadAhead(source, 2)
    ahead.alone()
    assert list(ahead) == list(range(20))
    assert threading.current_thread().name in source.made_in


@pytest.mark.parametrize("alone_after", [None, 3])
def test_an_error_comes_where_its_item_would_have_been(alone_after):
    source = Source(10, fail_at=6)
    ahead = ReadAhead(source, 2)
    got = []
    with pytest.raises(ValueError, match="bad item 6"):
        for item in ahead:
            got.append(item)
            if len(got) == alone_after:
                ahead.alone()
    assert got == list(range(6))
    assert not _threads_alive()


def test_stopping_early_stops_the_thread_and_closes_the_source():
    source = Source(10_000)
    ahead = iter(ReadAhead(source, 2))
    assert [next(ahead) for _ in range(3)] == [0, 1, 2]
    ahead.close()
    assert source.closed and not _threads_alive()
    assert len(source.made_in) < 10_000  # it stopped, and did not read on


def test_close_stops_a_reading_left_unfinished():
    """An error in the engine's loop leaves the items unread: ``close`` (the
    engine's ``run`` calls it whatever happens) stops the thread waiting to
    hand over the next one."""
    source = Source(10_000)
    ahead = ReadAhead(source, 2)
    items = iter(ahead)  # held, suspended, as a traceback may hold it
    assert [next(items) for _ in range(5)] == [0, 1, 2, 3, 4]
    assert _threads_alive()
    ahead.close()
    assert source.closed and not _threads_alive()
    del items


def test_the_workers_are_forked_with_no_thread_reading_ahead(monkeypatch):
    """``fork`` with another thread running can leave the child a lock held
    for ever: the engine stops the thread before it starts its workers."""
    at_fork: list[list[str]] = []
    real_pool, real_alone = engine.ProcessPoolExecutor, ReadAhead.alone
    still_reading: list[bool] = []

    def pool(*args, **kwargs):
        at_fork.append(_threads_alive())
        return real_pool(*args, **kwargs)

    def alone(self):
        still_reading.append(self._thread.is_alive())
        real_alone(self)

    monkeypatch.setattr(engine, "ProcessPoolExecutor", pool)
    monkeypatch.setattr(ReadAhead, "alone", alone)
    # Groups settle (and the workers start) long before the capture is read.
    monkeypatch.setattr(engine, "SLICE_SEGMENTS", 8)
    monkeypatch.setattr(engine, "MIN_OPEN_SILENCE", 0.3)
    monkeypatch.setattr(engine, "ESTABLISHED_SILENCE", 0.5)
    monkeypatch.setattr(engine, "CLOSED_MARGIN", 0.05)
    spool = ConnectionSpool(connection_json_bytes)
    path = str(ROOT / "captures" / "timewait-pileup.pcap")
    stream_analysis(path, spool, Parameters(time_wait=0.1), workers=2, chunk_bytes=4096)
    spool.close()
    assert still_reading == [True]
    assert at_fork == [[]]


def test_an_engine_stopped_by_an_error_leaves_no_thread_reading(monkeypatch):
    class Failing(ConnectionSpool):
        def add(self, products):
            raise RuntimeError("the sink failed")

    # Groups settle long before the capture is read: the error comes mid-file.
    monkeypatch.setattr(engine, "MIN_OPEN_SILENCE", 0.3)
    monkeypatch.setattr(engine, "ESTABLISHED_SILENCE", 0.5)
    monkeypatch.setattr(engine, "CLOSED_MARGIN", 0.05)
    spool = Failing(connection_json_bytes)
    path = str(ROOT / "captures" / "timewait-pileup.pcap")
    with pytest.raises(RuntimeError, match="the sink failed"):
        stream_analysis(path, spool, Parameters(time_wait=0.1), chunk_bytes=4096)
    spool.close()
    assert not _threads_alive()


def test_an_error_read_ahead_leaves_no_reference_cycle():
    """The reader's error is raised by a frame its traceback holds: left in a
    variable there, the traceback, the engine and its sink's spills would be
    freed only by the cyclic collector, at any moment, files still open."""
    import gc
    import weakref

    from analyzer.capture import CaptureError

    collecting = gc.isenabled()
    gc.disable()
    try:
        spool = ConnectionSpool(connection_json_bytes)
        gone = weakref.ref(spool)
        path = str(ROOT / "tests" / "data" / "formats" / "broken" / "not-a-capture.pcap")
        with pytest.raises(CaptureError):
            stream_analysis(path, spool, Parameters())
        spool.close()
        del spool
        assert gone() is None  # freed at once, without the cyclic collector
    finally:
        if collecting:
            gc.enable()
