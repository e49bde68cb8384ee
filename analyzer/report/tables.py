"""The report's data files across all captures: connections.csv, findings.jsonl,
errors.json and summary.json, each row naming its capture.

``write_tables`` reads each capture's stored result once, streams the rows out,
and returns the aggregate that the HTML page is drawn from.
"""

from __future__ import annotations

import heapq
import json
from pathlib import Path
from typing import Any

from ..output.table import ROW_FIELDS, csv_text
from ..vocabulary import SEVERITY_RANK, CloseKind, FindingKind, Severity

SUMMARY_SCHEMA = "teardown.report/1"
ERRORS_SCHEMA = "teardown.report-errors/1"
BUSIEST = 4  # occupancy plots: hosts and destinations each
FINDINGS_SHOWN = 300  # findings listed in the HTML (all are in findings.jsonl)
CSV_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def host_size(host: dict[str, Any]) -> int:
    """How busy a TIME_WAIT host is, for the occupancy plots."""
    return host["peak"]


def destination_size(destination: dict[str, Any]) -> float:
    """How busy a destination is (0: nothing to plot)."""
    return max(destination["peak"], destination["forecast"] or 0)


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula is prefixed with a quote."""
    if isinstance(value, str) and value.startswith(CSV_TRIGGERS):
        return "'" + value
    return value


def _merge(into: dict, counts: dict) -> None:
    for k, v in counts.items():
        into[k] = into.get(k, 0) + v


def _top(heap: list, item: tuple, n: int) -> None:
    if len(heap) < n:
        heapq.heappush(heap, item)
    else:
        heapq.heappushpop(heap, item)


def _capture_entry(state: dict[str, Any]) -> dict[str, Any]:
    s = state["stats"]
    return {
        "name": state["name"],
        "path": state["path"],
        "document": state["document"],
        "sha256": state["sha256"],
        "size": state["size"],
        **{k: s[k] for k in ("format", "compressed", "frames", "tcp_segments", "connections")},
        **{k: s[k] for k in ("first_time", "last_time", "truncated", "warnings")},
        "close_kinds": s["close_kinds"],
        "active_closers": s["active_closers"],
        "findings": {sev.value: s["findings"].get(sev.value, 0) for sev in Severity},
    }


def write_tables(
    out: Path,
    ordered: list[tuple[Any, dict[str, Any]]],
    skipped: list[dict[str, str]],
    meta: dict[str, Any],
) -> dict[str, Any]:
    """Write the data files; return the aggregate (with plot series and ladders) for the HTML."""
    from ..batch import atomic_writer, read_state, write_json_atomic

    totals: dict[str, Any] = {"packets": 0, "tcp_segments": 0, "connections": 0}
    findings_total = {sev.value: 0 for sev in Severity}
    closes: dict[str, dict[str, int]] = {k.value: {} for k in CloseKind}
    by_kind: dict[str, dict[str, int]] = {}
    captures, errors, risks = [], [], []
    shown: list[tuple] = []  # heap of (rank, -order, finding) for the HTML list
    hosts: list[tuple] = []
    destinations: list[tuple] = []
    order = 0
    with (
        atomic_writer(out / "connections.csv") as csv_file,
        atomic_writer(out / "findings.jsonl") as jsonl,
    ):
        csv_file.write(csv_text(["capture", *ROW_FIELDS]))
        for _, state in ordered:
            if state["status"] != "ok":
                errors.append(
                    {
                        k: state.get(k)
                        for k in ("name", "path", "error_kind", "error", "offset", "sha256")
                    }
                )
                continue
            state = read_state(out, state["slug"]) or state  # with its rows and ladders
            entry = _capture_entry(state)
            captures.append(entry)
            s = state["stats"]
            totals["packets"] += s["frames"]
            totals["tcp_segments"] += s["tcp_segments"]
            totals["connections"] += s["connections"]
            _merge(findings_total, s["findings"])
            for kind, by_closer in s["closes"].items():
                _merge(closes.setdefault(kind, {}), by_closer)
            for kind, by_sev in s["findings_by_kind"].items():
                _merge(by_kind.setdefault(kind, {}), by_sev)
            name = state["name"]
            capture = csv_text([csv_cell(name)])[:-1] + ","
            with open(out / state["rows"], encoding="utf-8", newline="") as rows:
                for line in rows:  # already CSV, cells neutralised (report.sink)
                    csv_file.write(capture + line)
            capture_end = s["last_time"]
            ladders = state.get("ladders") or {}
            head = json.dumps({"capture": name, "capture_path": state["path"]})[:-1] + ", "
            with open(out / state["findings"], encoding="utf-8") as findings:
                for line in findings:
                    jsonl.write(head + line[1:])
                    order += 1
                    finding = json.loads(line)
                    item = {
                        "capture": name,
                        "slug": state["slug"],
                        **finding,
                        "ladder": finding["connection"] is not None
                        and str(finding["connection"]) in ladders,
                    }
                    rank = SEVERITY_RANK[Severity(finding["severity"])]
                    _top(shown, (rank, -order, item), FINDINGS_SHOWN)
                    if finding["kind"] == FindingKind.PORT_EXHAUSTION_RISK.value:
                        risks.append(item)
            tw = state["time_wait"]
            for h in tw.get("hosts", []):
                order += 1
                item = {"capture": name, **h, "end": capture_end}
                _top(hosts, (host_size(h), -order, item), BUSIEST)
            for d in tw.get("destinations", []):
                if not destination_size(d):
                    continue
                order += 1
                item = {"capture": name, **d, "end": capture_end}
                _top(destinations, (destination_size(d), -order, item), BUSIEST)
            entry["ladders"] = sorted(ladders, key=int)  # ids; the images stay on disk
            entry["slug"] = state["slug"]
    totals["findings"] = findings_total
    totals.update(
        found=len(ordered) + len(meta.get("pending", [])),
        captures=len(captures),
        unreadable=len(errors),
        skipped=len(skipped),
        pending=len(meta.get("pending", [])),
    )
    kinds_sorted = sorted(
        by_kind.items(),
        key=lambda kv: (
            -max(SEVERITY_RANK[Severity(s)] for s in kv[1]),
            -sum(kv[1].values()),
            kv[0],
        ),
    )
    risks.sort(key=lambda f: (-SEVERITY_RANK[Severity(f["severity"])], f["capture"]))
    aggregate = {
        "schema": SUMMARY_SCHEMA,
        "totals": totals,
        "close_kinds": {k: sum(v.values()) for k, v in closes.items()},
        "active_closers": _closers(closes),
        "closes": closes,
        "findings_by_kind": dict(kinds_sorted),
        "port_exhaustion_risks": [_plain(f) for f in risks],
        "busiest_hosts": [h for _, _, h in sorted(hosts, key=lambda t: (-t[0], -t[1]))],
        "busiest_destinations": [
            d for _, _, d in sorted(destinations, key=lambda t: (-t[0], -t[1]))
        ],
        "captures": captures,
        "errors": errors,
        "skipped": skipped,
        "findings_shown": [f for _, _, f in sorted(shown, key=lambda t: (-t[0], -t[1]))],
        "run": meta,
    }
    write_json_atomic(
        out / "errors.json",
        {"schema": ERRORS_SCHEMA, "unreadable": errors, "skipped": skipped},
        indent=1,
    )
    write_json_atomic(out / "summary.json", summary_document(aggregate), indent=1)
    return aggregate


def _closers(closes: dict[str, dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for by_closer in closes.values():
        _merge(total, by_closer)
    return total


def _plain(finding: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in finding.items() if k not in ("slug", "ladder")}


def summary_document(aggregate: dict[str, Any]) -> dict[str, Any]:
    """summary.json: the aggregate without plot series, ladders and the HTML's finding list."""
    doc = {k: v for k, v in aggregate.items() if k not in ("findings_shown", "closes")}
    doc["captures"] = [
        {k: v for k, v in c.items() if k not in ("ladders", "slug")} for c in aggregate["captures"]
    ]
    doc["busiest_hosts"] = [
        {k: v for k, v in h.items() if k != "series"} for h in aggregate["busiest_hosts"]
    ]
    doc["busiest_destinations"] = [
        {k: v for k, v in d.items() if k != "series"} for d in aggregate["busiest_destinations"]
    ]
    doc["findings_by_kind"] = {
        kind: {sev.value: counts.get(sev.value, 0) for sev in Severity}
        for kind, counts in aggregate["findings_by_kind"].items()
    }
    doc["close_kinds_by_closer"] = aggregate["closes"]
    return doc
