"""The work of one capture, as it runs in a worker process (local pool or Dask).

``analyse_capture(task)`` never raises for a bad capture: an unreadable file
or a crash of the analyzer on hostile input comes back as an error result, so
that one capture never stops a batch. Everything it returns is plain data
(str, int, float, list, dict): it crosses process and machine boundaries.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from collections import Counter
from typing import Any

from ..analysis import Analysis, analyze
from ..capture import CaptureError
from ..output.document import analysis_document
from ..output.table import ROW_FIELDS, connection_row
from ..vocabulary import SEVERITY_RANK

LADDERS_PER_CAPTURE = 5  # ladder diagrams drawn per capture, worst finding first
LADDER_MAX_EVENTS = 60  # longer connections are drawn teardown-only, or not at all


def file_identity(path: str) -> tuple[str, int]:
    """(sha256 hex of the content, size in bytes)."""
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256")
        return digest.hexdigest(), f.tell()


def _closer(c) -> str:
    return c.active_closer.value if c.active_closer else "none"


def _stats(a: Analysis) -> dict[str, Any]:
    info = a.capture
    by_kind: dict[str, Counter] = {}
    closes: dict[str, Counter] = {}
    for c in a.connections:
        closes.setdefault(c.close.value, Counter())[_closer(c)] += 1
    for f in a.findings:
        by_kind.setdefault(f.kind.value, Counter())[f.severity.value] += 1
    return {
        "format": info.format,
        "compressed": info.compressed,
        "frames": info.frames,
        "tcp_segments": info.tcp_segments,
        "first_time": info.first_time,
        "last_time": info.last_time,
        "truncated": info.truncated,
        "warnings": list(info.warnings[:20]),
        "connections": len(a.connections),
        "close_kinds": dict(Counter(c.close.value for c in a.connections)),
        "active_closers": dict(Counter(_closer(c) for c in a.connections)),
        "closes": {k: dict(v) for k, v in closes.items()},
        "findings": dict(Counter(f.severity.value for f in a.findings)),
        "findings_by_kind": {k: dict(v) for k, v in by_kind.items()},
    }


def _ladders(a: Analysis, limit: int) -> dict[str, str]:
    """Ladder diagrams (image data URIs) of the connections with the worst findings."""
    from .. import plots

    worst: dict[int, int] = {}
    for f in a.findings:
        if f.connection is not None:
            rank = SEVERITY_RANK[f.severity]
            worst[f.connection] = max(worst.get(f.connection, -1), rank)
    chosen = sorted(worst, key=lambda cid: (-worst[cid], cid))[:limit]
    ladders = {}
    for cid in chosen:
        c = a.connection(cid)
        teardown_only = len(c.events) > LADDER_MAX_EVENTS
        try:
            fig = plots.ladder_figure(c, teardown_only=teardown_only)
            ladders[str(cid)] = plots.figure_data_uri(fig, "svg", tight=False)
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
    """Analyse one capture; ``task`` has path, name, slug, options and ladders."""
    started = time.perf_counter()
    path = task["path"]
    try:
        sha256, size = file_identity(path)
    except OSError as e:
        return error_result(task, "unreadable", f"{path}: {e.strerror or e}")
    identity = {"sha256": sha256, "size": size}
    options = dict(task.get("options") or {})
    if "port_range" in options:
        options["port_range"] = tuple(options["port_range"])
    try:
        a = analyze(path, **options)
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
    document = json.dumps(analysis_document(a), separators=(",", ":"))
    rows = [[connection_row(c)[k] for k in ROW_FIELDS] for c in a.connections]
    ladders = _ladders(a, task.get("ladders", LADDERS_PER_CAPTURE))
    return {
        "name": task["name"],
        "slug": task["slug"],
        "path": path,
        "status": "ok",
        **identity,
        "stats": _stats(a),
        "document": document,
        "rows": rows,
        "ladders": ladders,
        "seconds": time.perf_counter() - started,
    }
