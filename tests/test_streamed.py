"""`analyzer.stream()`: the in-memory analysis, one connection at a time."""

from __future__ import annotations

from pathlib import Path

import pytest

import analyzer
from analyzer import engine
from analyzer.output.document import connection_dict

ROOT = Path(__file__).parent.parent
CAPTURES = ROOT / "captures"
NAMES = ["timewait-pileup.pcap", "syn-meets-time-wait.pcap", "lost-fin.pcap", "refused.pcap"]


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("name", NAMES)
def test_streamed_equals_analyzed(name, workers, monkeypatch):
    monkeypatch.setattr(engine, "SLICE_SEGMENTS", 64)  # many slices, some to the workers
    path = str(CAPTURES / name)
    a = analyzer.analyze(path)
    with analyzer.stream(path, workers=workers) as s:
        assert s.capture == a.capture and s.parameters == a.parameters
        assert len(s) == len(a.connections)
        assert [connection_dict(c) for c in s.connections()] == [
            connection_dict(c) for c in a.connections
        ]
        assert [f.as_dict() for f in s.findings] == [f.as_dict() for f in a.findings]
        assert s.time_wait_summary.as_dict() == a.time_wait_summary.as_dict()
        last = len(a.connections)
        assert connection_dict(s.connection(last)) == connection_dict(a.connection(last))
        start = max(1, last - 1)
        assert [c.id for c in s.connections(start)] == list(range(start, last + 1))


def test_streamed_options_and_limits():
    path = str(CAPTURES / "timewait-pileup.pcap")
    with analyzer.stream(path, max_connections=5, time_wait=30.0) as s:
        assert len(s) == 5 and [c.id for c in s.connections()] == [1, 2, 3, 4, 5]
        assert s.parameters.time_wait == 30.0
        assert any("connection limit reached" in w for w in s.capture.warnings)
        for bad in (0, 6):
            with pytest.raises(IndexError, match=f"no connection {bad} "):
                s.connection(bad)


def test_unreadable_capture_raises_capture_error(tmp_path):
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"not a capture at all")
    with pytest.raises(analyzer.CaptureError, match="bad.pcap"):
        analyzer.stream(str(bad))
