"""Slices handed to worker processes on files in shared memory (``analyzer.handoff``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from analyzer import engine
from analyzer.capture import read_segments
from analyzer.handoff import Handoff

ROOT = Path(__file__).parent.parent


def test_a_shipped_slice_comes_back_the_same_and_writable():
    seg = read_segments(str(ROOT / "captures" / "timewait-pileup.pcap"))
    part, _ = seg.take(np.arange(3, len(seg), 2)).with_own_addresses()
    handoff = Handoff()
    try:
        for table in (part, part.only(engine.ANALYSED_COLUMNS), part.take(np.arange(0))):
            shipped = handoff.ship(table)
            assert os.path.exists(shipped.path)
            got = shipped.load()
            assert not os.path.exists(shipped.path)  # read once, then gone
            assert list(got.columns) == list(table.columns)
            for name, column in table.columns.items():
                assert got.columns[name].dtype == column.dtype, name
                assert got.columns[name].tolist() == column.tolist(), name
                assert got.columns[name].flags.writeable and got.columns[name].flags.aligned
            assert got.addresses == list(table.addresses)
        left = handoff.ship(part)  # never loaded (a worker that failed)
        directory = os.path.dirname(left.path)
    finally:
        handoff.close()
    assert not os.path.exists(directory)


def test_slices_walked_from_files_give_what_they_give_in_place():
    seg = read_segments(str(ROOT / "captures" / "port-reuse-client-time-wait.pcap"))
    seg = seg.only(engine.ANALYSED_COLUMNS)
    handoff = Handoff()
    try:
        shipped = engine.walk_shipped(handoff.ship(seg), 1e10, engine.Parameters(), None, True)
    finally:
        handoff.close()
    here = engine.walk_slice(seg, 1e10, engine.Parameters(), None, True)
    assert [c.id for c in shipped.connections] == [c.id for c in here.connections]
    assert shipped.connections == here.connections
    assert shipped.findings == here.findings


def test_slices_go_to_the_temporary_directory_when_shared_memory_is_full(monkeypatch):
    if not os.access("/dev/shm", os.W_OK):
        pytest.skip("no shared memory here: slices go to the temporary directory anyway")
    seg = read_segments(str(ROOT / "captures" / "timewait-pileup.pcap"))
    handoff = Handoff()
    real_mkstemp, full = __import__("tempfile").mkstemp, []

    def mkstemp(dir=None):
        fd, path = real_mkstemp(dir=dir)
        if dir.startswith("/dev/shm"):
            full.append(path)
            os.close(fd)
            fd = os.open("/dev/full", os.O_WRONLY)  # every write: ENOSPC
        return fd, path

    monkeypatch.setattr("analyzer.handoff.tempfile.mkstemp", mkstemp)
    try:
        shipped = handoff.ship(seg)
        assert not shipped.path.startswith("/dev/shm") and full
        assert not any(os.path.exists(p) for p in full)  # the partial file removed
        assert shipped.load().frame.tolist() == seg.frame.tolist()
    finally:
        handoff.close()
