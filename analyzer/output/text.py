"""The terminal verdict: a summary, the findings, and a table of connections."""

from __future__ import annotations

from collections import Counter
from typing import TextIO

from ..analysis import Analysis
from ..model import Connection
from ..vocabulary import CloseKind, Side

TABLE_LIMIT = 50  # rows shown by default; the JSON/CSV outputs have them all


def _side(value: Side | None) -> str:
    return value.value if value else "-"


def _counts(counter: Counter, order) -> str:
    return ", ".join(f"{k} {counter[k]}" for k in order if counter[k]) or "none"


def summary_lines(a: Analysis) -> list[str]:
    info = a.capture
    span = (info.last_time - info.first_time) if info.first_time is not None else 0.0
    conns = a.connections
    kinds = Counter(c.close.value for c in conns)
    closers = Counter(_side(c.active_closer) for c in conns if c.active_closer)
    holders = Counter(c.time_wait.side.value for c in conns if c.time_wait)
    running = sum(1 for c in conns if c.time_wait and c.time_wait.ended_by is None)
    lines = [
        f"capture: {info.path} ({info.format}{', gzip' if info.compressed else ''}; "
        f"{info.frames} frames, {info.tcp_segments} TCP segments, {span:.3f} s)",
        f"connections: {len(conns)} ({_counts(kinds, [k.value for k in CloseKind])})",
        f"active closer: {_counts(closers, ['client', 'server', 'both'])}",
        f"TIME_WAIT holders: {_counts(holders, ['client', 'server', 'both'])}"
        + (f"; {running} still in TIME_WAIT at capture end" if running else ""),
    ]
    lines += [f"warning: {w}" for w in info.warnings]
    return lines


def _time_wait_text(c: Connection) -> str:
    tw = c.time_wait
    if not tw:
        return "-"
    return f"{tw.side.value}:{tw.ended_by.value if tw.ended_by else 'running'}"


def connection_table(conns: list[Connection], limit: int | None) -> list[str]:
    header = (
        f"{'id':>5}  {'client':<26} {'server':<26} {'close':<12} {'closer':<7} "
        f"{'rst':<7} {'fin-retx':<8} {'TIME_WAIT':<16} {'end states (client/server)'}"
    )
    lines = [header]
    shown = conns if limit is None else conns[:limit]
    for c in shown:
        retx = f"{c.fin_retransmissions[Side.CLIENT]}/{c.fin_retransmissions[Side.SERVER]}"
        ends = f"{c.end_states[Side.CLIENT].value}/{c.end_states[Side.SERVER].value}"
        inc = f" #{c.incarnation}" if c.incarnation > 1 else ""
        lines.append(
            f"{c.id:>5}  {str(c.client) + inc:<26} {str(c.server):<26} {c.close.value:<12} "
            f"{_side(c.active_closer):<7} {_side(c.rst_sender):<7} {retx:<8} "
            f"{_time_wait_text(c):<16} {ends}"
        )
    if len(shown) < len(conns):
        lines.append(
            f"... {len(conns) - len(shown)} more connections (--all to list every one, "
            "--format json|csv for all of them)"
        )
    return lines


def findings_lines(a: Analysis) -> list[str]:
    if not a.findings:
        return ["findings: none"]
    lines = []
    for severity in ("error", "warning", "info"):
        group = [f for f in a.findings if f.severity.value == severity]
        if not group:
            continue
        lines.append(f"{severity}s ({len(group)}):")
        for f in group:
            where = f"conn {f.connection} " if f.connection else ""
            frames = ",".join(str(x) for x in f.frames[:8])
            more = "..." if len(f.frames) > 8 else ""
            lines.append(f"  [{f.kind.value}] {where}frames {frames}{more}: {f.summary}")
    return lines


def write_text(a: Analysis, out: TextIO, *, limit: int | None = TABLE_LIMIT) -> None:
    lines = summary_lines(a) + [""] + findings_lines(a) + [""]
    lines += connection_table(a.connections, limit)
    out.write("\n".join(lines) + "\n")
