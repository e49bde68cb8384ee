"""One capture's work in `teardown report`: streamed, yet the same as the in-memory analysis.

The worker streams the capture through the engine (many slices here), writes
the document, the rows and the findings to temporary files, and returns
counts and ladder diagrams. Each must equal what ``analyze()`` gives, with
the connection limit too; a worker that fails leaves no file behind.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from analyzer import analyze, engine
from analyzer.analysis import stream_analysis
from analyzer.batch import report
from analyzer.output.document import analysis_document
from analyzer.output.ladder import ladder
from analyzer.parameters import Parameters
from analyzer.report import worker
from analyzer.report.sink import ReportSink, closer_name, report_row
from analyzer.report.tables import destination_size, host_size
from analyzer.timewait import DestinationTimeWait, HostTimeWait, Occupancy, TimeWaitSummary
from analyzer.vocabulary import SEVERITY_RANK

ROOT = Path(__file__).parent.parent
CAPTURES = ROOT / "captures"
NAMES = [
    "generated.pcap",  # 293 connections, 56 named by findings: more than the ladders drawn
    "port-reuse-client-time-wait.pcap",
    "syn-meets-time-wait.pcap",  # the later incarnation reveals a finding on the earlier
    "timewait-pileup.pcap",  # findings on none of its connections
]


@pytest.fixture(scope="module")
def captures(tmp_path_factory) -> Path:
    """The bundled captures and one from the benchmark generator (3000 packets)."""
    here = tmp_path_factory.mktemp("captures")
    for name in NAMES[1:]:
        (here / name).symlink_to(CAPTURES / name)
    subprocess.run(
        [sys.executable, str(ROOT / "bench/generate.py"), str(here / NAMES[0]),
         "--packets", "3000", "--concurrency", "50"],
        check=True, capture_output=True,
    )  # fmt: skip
    return here


def task(path: Path, scratch: Path, **options) -> dict:
    params = Parameters(**options).as_dict()
    return {"path": str(path), "name": path.name, "slug": path.stem, "scratch": str(scratch),
            "options": params}  # fmt: skip


def worst_first(a, limit: int) -> list[int]:
    worst: dict[int, int] = {}
    for f in a.findings:
        if f.connection is not None:
            worst[f.connection] = max(worst.get(f.connection, -1), SEVERITY_RANK[f.severity])
    return sorted(sorted(worst, key=lambda cid: (-worst[cid], cid))[:limit])


@pytest.mark.parametrize(("limit", "slices", "parts"), [(None, 8, 256), (3, 8, 256), (None, 64, 2)])
@pytest.mark.parametrize("name", NAMES)
def test_worker_files_and_counts_equal_the_in_memory_analysis(
    name, limit, slices, parts, captures, tmp_path, monkeypatch
):
    # Many slices; or fewer, each rendered in parts of two connections.
    monkeypatch.setattr(engine, "SLICE_SEGMENTS", slices)
    monkeypatch.setattr(engine, "PART_CONNECTIONS", parts)
    path = captures / name
    options = {"max_connections": limit} if limit else {}
    a = analyze(str(path), **options)
    result = worker.analyse_capture(task(path, tmp_path, **options))
    assert result["status"] == "ok", result
    files = result["files"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        Path(p).name for p in files.values()
    )

    document = json.loads(Path(files["document"]).read_text())
    assert document == json.loads(json.dumps(analysis_document(a)))
    rows = Path(files["rows"]).read_text().splitlines(keepends=True)
    assert rows == [f"{c.id},{report_row(c)}" for c in a.connections]
    findings = Path(files["findings"]).read_text().splitlines()
    assert findings == [json.dumps(f.as_dict()) for f in a.findings]

    stats = result["stats"]
    assert stats["connections"] == len(a.connections)
    closes: dict[str, Counter] = {}
    for c in a.connections:
        closes.setdefault(c.close.value, Counter())[closer_name(c.active_closer)] += 1
    assert stats["closes"] == closes
    assert stats["close_kinds"] == Counter(c.close.value for c in a.connections)
    assert stats["active_closers"] == Counter(closer_name(c.active_closer) for c in a.connections)
    assert stats["findings"] == Counter(f.severity.value for f in a.findings)
    by_kind = Counter((f.kind.value, f.severity.value) for f in a.findings)
    assert {
        (k, s): n for k, d in stats["findings_by_kind"].items() for s, n in d.items()
    } == by_kind

    # The busiest TIME_WAIT hosts and destinations, chosen among all of them.
    summary = json.loads(json.dumps(analysis_document(a).get("time_wait", {})))
    destinations = [d for d in summary.get("destinations", []) if destination_size(d)]
    assert json.loads(json.dumps(result["time_wait"])) == {
        "hosts": worker._busiest(summary.get("hosts", []), host_size),
        "destinations": worker._busiest(destinations, destination_size),
    }

    wanted = worst_first(a, worker.LADDERS_PER_CAPTURE)
    assert sorted(map(int, result["ladders"])) == wanted
    assert all(uri.startswith("data:image/svg+xml") for uri in result["ladders"].values())


@pytest.mark.parametrize("name", NAMES)
def test_sink_gives_back_the_connections_findings_name(name, captures, monkeypatch):
    monkeypatch.setattr(engine, "SLICE_SEGMENTS", 64)
    monkeypatch.setattr(engine, "PART_CONNECTIONS", 2)  # slices rendered in parts
    path = str(captures / name)
    a = analyze(path)
    named = sorted({f.connection for f in a.findings if f.connection is not None})
    sink = ReportSink()
    try:
        _, outcome = stream_analysis(path, sink, Parameters())
        got = list(sink.connections(outcome.first_frames, named))
    finally:
        sink.close()
    assert [c.id for c in got] == named
    assert [ladder(c) for c in got] == [ladder(a.connection(i)) for i in named]


def test_time_wait_keeps_the_busiest_hosts_and_destinations_with_their_series():
    def occupancy(peak):
        return Occupancy(np.array([1.0, 2.0]), np.array([peak, 0]), peak, 1.0)

    peaks = [1, 7, 0, 3, 9, 7, 2]
    hosts = [HostTimeWait(f"10.0.0.{i}", occupancy(p)) for i, p in enumerate(peaks)]
    destinations = [
        DestinationTimeWait(f"10.0.0.{i}", "192.0.2.1:80", 10, rate, occupancy(p), forecast)
        for i, (p, rate, forecast) in enumerate(
            [(0, None, None), (2, 1.0, 60.0), (5, None, None), (0, 0.1, 6.0), (1, None, None),
             (3, 0.5, 30.0)]
        )
    ]  # fmt: skip
    a = SimpleNamespace(time_wait_summary=TimeWaitSummary(hosts, destinations))
    got = worker._time_wait(a)
    assert [h["host"] for h in got["hosts"]] == ["10.0.0.1", "10.0.0.3", "10.0.0.4", "10.0.0.5"]
    assert [d["client"] for d in got["destinations"]] == [
        "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.5"
    ]  # fmt: skip
    assert got["hosts"][0] == hosts[1].as_dict() and got["hosts"][0]["series"] == [
        (1.0, 7),
        (2.0, 0),
    ]
    assert worker._time_wait(SimpleNamespace(time_wait_summary=None)) == {
        "hosts": [], "destinations": []
    }  # fmt: skip


def test_busiest_keeps_the_largest_in_their_order():
    items = [{"n": n} for n in (1, 5, 3, 5, 0, 4, 5)]
    assert worker._busiest(items, lambda d: d["n"]) == [{"n": 5}, {"n": 5}, {"n": 4}, {"n": 5}]


def test_a_failing_worker_leaves_no_files(tmp_path, monkeypatch):
    def fail(a, sink, kept, files):
        Path(files["document"]).write_text("half a document")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(worker, "_write_files", fail)
    result = worker.analyse_capture(task(CAPTURES / NAMES[1], tmp_path))
    assert result["status"] == "error" and result["error_kind"] == "crashed"
    assert "disk on fire" in result["error"]
    assert list(tmp_path.iterdir()) == []


def test_report_removes_what_killed_workers_left(tmp_path):
    out = tmp_path / "out"
    state = out / ".teardown-report"
    state.mkdir(parents=True)
    left = state / f".x.document.abc123{worker.PARTIAL_SUFFIX}"
    left.write_text("a worker was killed while writing this")
    summary = report([str(CAPTURES / NAMES[1])], out, jobs=1)
    assert summary.captures == 1
    assert not left.exists()
    assert not list(state.glob(f".*{worker.PARTIAL_SUFFIX}"))


def test_close_codes_cover_every_kind_and_closer():
    from analyzer.report.sink import _CODES, CLOSE_KINDS, CLOSERS

    # One byte each, and decoded back to the same kind and closer.
    assert sorted(_CODES.values()) == list(range(len(CLOSE_KINDS) * len(CLOSERS)))
    assert max(_CODES.values()) < 256
    for (kind, closer), code in _CODES.items():
        assert divmod(code, len(CLOSERS)) == (CLOSE_KINDS.index(kind), CLOSERS.index(closer))


def test_a_worker_with_walkers_of_its_own_writes_the_same_files(captures, tmp_path, monkeypatch):
    """A lone capture gets the cores the pool leaves idle (engine worker processes)."""
    monkeypatch.setattr(engine, "SLICE_SEGMENTS", 64)  # slices enough to start the walkers
    path = captures / NAMES[0]
    alone = worker.analyse_capture(task(path, tmp_path / "alone"))
    walked = worker.analyse_capture({**task(path, tmp_path / "walked"), "workers": 2})
    for name in worker.FILES:
        assert Path(walked["files"][name]).read_bytes() == Path(alone["files"][name]).read_bytes()
    assert walked["stats"] == alone["stats"]
    assert walked["ladders"].keys() == alone["ladders"].keys()


def test_report_gives_a_lone_capture_every_job(tmp_path, monkeypatch):
    from analyzer.report import schedulers

    seen = []

    def run_local(tasks, jobs):
        seen.extend((t["name"], t["workers"], jobs) for t in tasks)
        return iter(())

    monkeypatch.setattr(schedulers, "run_local", run_local)
    report([str(CAPTURES / NAMES[1])], tmp_path / "one", jobs=2)
    report([str(CAPTURES / NAMES[1]), str(CAPTURES / NAMES[2])], tmp_path / "two", jobs=2)
    assert [w for _, w, _ in seen] == [2, 0, 0]


def test_a_pool_worker_leads_its_own_process_group():
    """So that stopping it (a timeout) also stops the processes its analysis started."""
    import os
    import time

    from analyzer.report import schedulers

    w = schedulers._Worker(schedulers._context())
    try:
        deadline = time.monotonic() + 30
        while os.getpgid(w.process.pid) != w.process.pid and time.monotonic() < deadline:
            time.sleep(0.01)
        assert os.getpgid(w.process.pid) == w.process.pid != os.getpgid(0)
    finally:
        w.stop(kill=True)
    assert w.process.exitcode is not None
