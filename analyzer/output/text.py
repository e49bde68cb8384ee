"""The terminal verdict: a summary, the findings, and a table of connections."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from ..analysis import Analysis
from ..model import Connection
from ..vocabulary import CloseKind, Side

TABLE_LIMIT = 50  # rows shown by default; the JSON/CSV outputs have them all


def _side(value: Side | None) -> str:
    return value.value if value else "-"


def _counts(counter: Counter, order) -> str:
    return ", ".join(f"{k} {counter[k]}" for k in order if counter[k]) or "none"


@dataclass
class Tally:
    """What the summary counts over the connections."""

    connections: int = 0
    kinds: Counter = field(default_factory=Counter)
    closers: Counter = field(default_factory=Counter)
    holders: Counter = field(default_factory=Counter)
    running: int = 0  # still in TIME_WAIT at the end of the capture

    def add(self, labels: list[str]) -> None:
        """``labels`` as ``table_line`` writes them: close, closer, holder, running."""
        kind, closer, holder, running = labels
        self.connections += 1
        self.kinds[kind] += 1
        if closer != "-":
            self.closers[closer] += 1
        if holder != "-":
            self.holders[holder] += 1
        self.running += running == "1"


def summary_lines(a: Analysis, tally: Tally) -> list[str]:
    info = a.capture
    span = (info.last_time - info.first_time) if info.first_time is not None else 0.0
    kinds = _counts(tally.kinds, [k.value for k in CloseKind])
    lines = [
        f"capture: {info.path} ({info.format}{', gzip' if info.compressed else ''}; "
        f"{info.frames} frames, {info.tcp_segments} TCP segments, {span:.3f} s)",
        f"connections: {tally.connections} ({kinds})",
        f"active closer: {_counts(tally.closers, ['client', 'server', 'both'])}",
        f"TIME_WAIT holders: {_counts(tally.holders, ['client', 'server', 'both'])}"
        + (f"; {tally.running} still in TIME_WAIT at capture end" if tally.running else ""),
    ]
    lines += [f"warning: {w}" for w in info.warnings]
    return lines


def _time_wait_text(c: Connection) -> str:
    tw = c.time_wait
    if not tw:
        return "-"
    return f"{tw.side.value}:{tw.ended_by.value if tw.ended_by else 'running'}"


TABLE_HEADER = (
    f"{'id':>5}  {'client':<26} {'server':<26} {'close':<12} {'closer':<7} "
    f"{'rst':<7} {'fin-retx':<8} {'TIME_WAIT':<16} {'end states (client/server)'}"
)


def table_line(c: Connection) -> str:
    """The summary's labels and the connection's table row without its id,
    tab-separated: what ``spool.ConnectionSpool`` keeps for the text output."""
    tw = c.time_wait
    labels = [
        c.close.value,
        _side(c.active_closer),
        tw.side.value if tw else "-",
        "1" if tw and tw.ended_by is None else "0",
    ]
    retx = f"{c.fin_retransmissions[Side.CLIENT]}/{c.fin_retransmissions[Side.SERVER]}"
    ends = f"{c.end_states[Side.CLIENT].value}/{c.end_states[Side.SERVER].value}"
    inc = f" #{c.incarnation}" if c.incarnation > 1 else ""
    row = (
        f"{str(c.client) + inc:<26} {str(c.server):<26} {c.close.value:<12} "
        f"{_side(c.active_closer):<7} {_side(c.rst_sender):<7} {retx:<8} "
        f"{_time_wait_text(c):<16} {ends}"
    )
    return "\t".join([*labels, row])


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
    lines = [(c.id, table_line(c)) for c in a.connections]
    write_text_from(a, out, lambda: iter(lines), limit=limit)


def write_text_from(
    a: Analysis,
    out: TextIO,
    numbered: Callable[[], Iterator[tuple[int, str]]],
    *,
    limit: int | None = TABLE_LIMIT,
) -> None:
    """The verdict, from ``table_line``s numbered in id order (read twice:
    once to count, once for the rows shown)."""
    tally = Tally()
    for _, line in numbered():
        tally.add(line.split("\t", 4)[:4])
    lines = summary_lines(a, tally) + [""] + findings_lines(a) + [""] + [TABLE_HEADER]
    shown = 0
    for new_id, line in numbered():
        if limit is not None and shown == limit:
            break
        lines.append(f"{new_id:>5}  " + line.split("\t", 4)[4])
        shown += 1
    if shown < tally.connections:
        lines.append(
            f"... {tally.connections - shown} more connections (--all to list every one, "
            "--format json|csv for all of them)"
        )
    out.write("\n".join(lines) + "\n")
