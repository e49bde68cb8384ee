"""The work of one capture, as it runs in a worker process (local pool or Dask).

``analyse_capture(task)`` never raises for a bad capture: an unreadable file
or a crash of the analyzer on hostile input comes back as an error result, so
that one capture never stops a batch. The capture streams through the engine
(``sink.ReportSink``), so a worker holds the connections open at once, not the
capture; what grows with the capture goes to files in the output directory,
under temporary names (in ``task["scratch"]``) that ``batch.save_result``
puts in place:

- ``document``: the capture's ``teardown analyze --format json`` document;
- ``rows``: its rows of connections.csv, without the capture column;
- ``findings``: its findings, one JSON object per line.

The result itself is plain data (str, int, float, list, dict) of bounded
size: it crosses process and machine boundaries. A worker on another machine
(Dask) must see the output directory as it sees the captures: shared storage.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..allocator import tune_allocator
from ..analysis import Analysis, stream_analysis
from ..capture import CaptureError
from ..output.document import write_json
from ..parameters import Parameters
from ..vocabulary import SEVERITY_RANK
from .sink import ReportSink
from .tables import BUSIEST, destination_size, host_size

LADDERS_PER_CAPTURE = 5  # ladder diagrams drawn per capture, worst finding first
LADDER_MAX_EVENTS = 60  # longer connections are drawn teardown-only, or not at all
PARTIAL_SUFFIX = ".partial"  # a worker's files until they are put in place
FILES = ("document", "rows", "findings")


def file_identity(path: str) -> tuple[str, int]:
    """(sha256 hex of the content, size in bytes)."""
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256")
        return digest.hexdigest(), f.tell()


@contextlib.contextmanager
def _partial_files(directory: Path, slug: str) -> Iterator[dict[str, str]]:
    """Temporary files for ``FILES``, removed unless the work succeeds."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    try:
        for name in FILES:
            fd, paths[name] = tempfile.mkstemp(
                dir=directory, prefix=f".{slug}.{name}.", suffix=PARTIAL_SUFFIX
            )
            os.close(fd)
        yield paths
    except BaseException:
        for path in paths.values():
            with contextlib.suppress(OSError):
                os.unlink(path)
        raise


def _busiest(items: list, size) -> list:
    """The ``BUSIEST`` largest by ``size`` (the earliest of equals), in their order.

    The report plots the busiest across all captures: they are among each
    capture's own busiest.
    """
    ranked = sorted(range(len(items)), key=lambda i: (-size(items[i]), i))[:BUSIEST]
    return [items[i] for i in sorted(ranked)]


def _time_wait(a: Analysis) -> dict[str, Any]:
    """The busiest hosts and destinations, with their series. Only those are
    made into dicts: all of them at once, with their series, were the peak of a
    large capture's report (5M packets: 396 -> 320 MB)."""
    summary = a.time_wait_summary
    if summary is None:
        return {"hosts": [], "destinations": []}

    def by(size):
        return lambda item: size(item.as_dict(series=False))

    destinations = [d for d in summary.destinations if by(destination_size)(d)]
    return {
        "hosts": [h.as_dict() for h in _busiest(summary.hosts, by(host_size))],
        "destinations": [d.as_dict() for d in _busiest(destinations, by(destination_size))],
    }


def _write_files(
    a: Analysis, sink: ReportSink, kept: np.ndarray, files: dict[str, str]
) -> tuple[dict[str, dict[str, int]], dict[int, int]]:
    """Write the capture's files; return its findings by kind and severity, and
    the worst severity rank of each connection that a finding names."""
    with open(files["document"], "w", encoding="utf-8") as f:
        write_json(a, f, sink.documents.json_runs(kept))
        f.write("\n")
    with open(files["rows"], "w", encoding="utf-8", newline="") as f:
        for new_id, line in sink.rows.numbered(kept):
            f.write(f"{new_id},{line}")
    by_kind: dict[str, Counter] = {}
    worst: dict[int, int] = {}
    with open(files["findings"], "w", encoding="utf-8") as f:
        for finding in a.findings:
            f.write(json.dumps(finding.as_dict()) + "\n")
            by_kind.setdefault(finding.kind.value, Counter())[finding.severity.value] += 1
            if finding.connection is not None:
                rank = SEVERITY_RANK[finding.severity]
                worst[finding.connection] = max(worst.get(finding.connection, -1), rank)
    return {k: dict(v) for k, v in by_kind.items()}, worst


def _stats(a: Analysis, closes: dict[str, Counter], by_kind: dict[str, dict[str, int]]):
    info = a.capture
    findings: Counter = Counter()
    for by_severity in by_kind.values():
        findings.update(by_severity)
    active_closers: Counter = Counter()
    for by_closer in closes.values():
        active_closers.update(by_closer)
    return {
        "format": info.format,
        "compressed": info.compressed,
        "frames": info.frames,
        "tcp_segments": info.tcp_segments,
        "first_time": info.first_time,
        "last_time": info.last_time,
        "truncated": info.truncated,
        "warnings": list(info.warnings[:20]),
        "connections": sum(sum(c.values()) for c in closes.values()),
        "close_kinds": {kind: sum(c.values()) for kind, c in closes.items()},
        "active_closers": dict(active_closers),
        "closes": {kind: dict(c) for kind, c in closes.items()},
        "findings": dict(findings),
        "findings_by_kind": by_kind,
    }


def _ladders(sink: ReportSink, kept: np.ndarray, worst: dict[int, int], limit: int):
    """Ladder diagrams (image data URIs) of the connections with the worst findings."""
    from .. import plots

    chosen = sorted(worst, key=lambda cid: (-worst[cid], cid))[:limit]
    ladders = {}
    for c in sink.connections(kept, sorted(chosen)):
        teardown_only = len(c.events) > LADDER_MAX_EVENTS
        try:
            fig = plots.ladder_figure(c, teardown_only=teardown_only)
            ladders[str(c.id)] = plots.figure_data_uri(fig, "svg", tight=False)
        except Exception:  # a drawing problem must not lose the analysis
            continue
    return ladders


def error_result(task: dict[str, Any], kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": task["name"],
        "slug": task["slug"],
        "path": task["path"],
        "status": "error",
        "error_kind": kind,
        "error": message,
        **extra,
    }


def analyse_capture(task: dict[str, Any]) -> dict[str, Any]:
    """Analyse one capture; ``task`` has path, name, slug, scratch (the directory
    for its files), options, and optionally workers (processes that walk its
    connections, ``stream_analysis``) and ladders."""
    started = time.perf_counter()
    tune_allocator()
    path = task["path"]
    try:
        sha256, size = file_identity(path)
    except OSError as e:
        return error_result(task, "unreadable", f"{path}: {e.strerror or e}")
    identity = {"sha256": sha256, "size": size}
    options = dict(task.get("options") or {})
    if "port_range" in options:
        options["port_range"] = tuple(options["port_range"])
    sink = ReportSink()
    try:
        with _partial_files(Path(task["scratch"]), task["slug"]) as files:
            params = Parameters(**options)
            a, outcome = stream_analysis(path, sink, params, workers=task.get("workers", 0))
            kept = outcome.first_frames
            by_kind, worst = _write_files(a, sink, kept, files)
            ladders = _ladders(sink, kept, worst, task.get("ladders", LADDERS_PER_CAPTURE))
            stats = _stats(a, sink.closes(kept), by_kind)
    except CaptureError as e:
        problem = e.problem
        return error_result(
            task, "unreadable", str(problem), offset=problem.offset, reason=problem.message,
            **identity,
        )  # fmt: skip
    except Exception as e:  # the analyzer failed on this input: report it, go on
        return error_result(
            task,
            "crashed",
            f"{path}: the analyzer failed: {type(e).__name__}: {e}",
            traceback=traceback.format_exc(limit=8),
            **identity,
        )
    finally:
        sink.close()
    return {
        "name": task["name"],
        "slug": task["slug"],
        "path": path,
        "status": "ok",
        **identity,
        "stats": stats,
        "time_wait": _time_wait(a),
        "files": files,
        "ladders": ladders,
        "seconds": time.perf_counter() - started,
    }
