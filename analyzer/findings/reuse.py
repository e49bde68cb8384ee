"""Findings across incarnations of a 4-tuple: port reuse and TIME_WAIT assassination."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Connection, Endpoint
from ..teardown import syn_refused_by_time_wait
from ..vocabulary import EventKind, FindingKind, Severity, Side, State, TimeWaitEnd
from .finding import Finding

_BY_RST = TimeWaitEnd.RST  # (read once: an enum member is a descriptor call each time)

MOD = 1 << 32
HALF = 1 << 31
RFC1337 = (
    "RFC 1337 (TIME-WAIT Assassination Hazards in TCP), hazard H1; Linux "
    "net.ipv4.tcp_rfc1337 (default 0: a RST ends TIME_WAIT)"
)


def _after(a: int, b: int) -> bool:
    """a > b in sequence-number order (RFC 1982 style, modulo 2^32)."""
    return 0 < (a - b) % MOD < HALF


def _side_of(c: Connection, endpoint: Endpoint) -> Side | None:
    if endpoint == c.client:
        return Side.CLIENT
    if endpoint == c.server:
        return Side.SERVER
    return None


def _span(c: Connection, side: Side) -> tuple[int, int] | None:
    """The side's sequence space in this incarnation: (start, length), modulo 2^32."""
    start = c.isn_client if side is Side.CLIENT else c.isn_server
    end = c.next_seq.get(side)
    if start is None or end is None:
        return None
    return start, (end - start) % MOD


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    (sa, la), (sb, lb) = a, b
    return (sb - sa) % MOD < la or (sa - sb) % MOD < lb


def port_reuse(previous: Connection, c: Connection, time_wait: float) -> Finding:
    tw = previous.time_wait
    gap_from = tw.start if tw else previous.last_time
    gap = c.first_time - gap_from
    within = tw is not None and c.first_time < tw.start + time_wait
    opener = Side.CLIENT  # the new SYN's sender
    old_side = _side_of(previous, c.client)
    isn_increased = tsval_increased = None
    if c.isn_client is not None and old_side in previous.next_seq:
        isn_increased = _after(c.isn_client, previous.next_seq[old_side])
    new_ts = c.first_tsval.get(opener)
    old_ts = previous.last_tsval.get(old_side) if old_side else None
    if new_ts is not None and old_ts is not None:
        tsval_increased = _after(new_ts, old_ts)
    overlaps = []
    for side in (Side.CLIENT, Side.SERVER):
        old = _side_of(previous, c.client if side is Side.CLIENT else c.server)
        new_span, old_span = _span(c, side), _span(previous, old) if old else None
        if new_span and old_span and _overlap(new_span, old_span):
            overlaps.append(side.value)
    risky = (within and not isn_increased and not tsval_increased) or bool(overlaps)
    frames = [previous.last_frame, c.first_frame]
    words = "inside" if within else "after"
    summary = (
        f"{c.client} reused the 4-tuple to {c.server} {gap:.3f} s after the previous "
        f"incarnation's {'TIME_WAIT began' if tw else 'last segment'} ({words} 2*MSL)"
    )
    if overlaps:
        summary += (
            f"; the sequence spaces overlap ({', '.join(overlaps)}): old duplicates "
            "could be taken as new data"
        )
    elif within:
        summary += "; the ISN " + ("increased" if isn_increased else "did not increase")
        if tsval_increased is not None:
            summary += ", TCP timestamps " + (
                "increased" if tsval_increased else "did not increase"
            )
    return Finding(
        kind=FindingKind.PORT_REUSE,
        severity=Severity.WARNING if risky else Severity.INFO,
        connection=c.id,
        frames=frames,
        time=c.first_time,
        summary=summary,
        detail={
            "previous_connection": previous.id,
            "gap": gap,
            "within_time_wait": within,
            "time_wait_side": tw.side.value if tw else None,
            "isn_increased": isn_increased,
            "tsval_increased": tsval_increased,
            "sequence_overlap": overlaps,
        },
        reference="RFC 1122 section 4.2.2.13 (a TIME_WAIT side may reopen on a new SYN); "
        "Linux and BSD accept that SYN when its sequence number is beyond the old "
        "connection's, or with timestamps when its TSval is newer (RFC 6191)",
        advice="Reuse inside TIME_WAIT is safe when the ISN or TCP timestamps increase "
        "(keep net.ipv4.tcp_timestamps=1). Frequent reuse of one 4-tuple means the client "
        "cycles through its ephemeral ports fast: see port_exhaustion_risk.",
    )


def assassination_by_rst(c: Connection) -> Finding | None:
    """RFC 1337 H1 inside one incarnation: segment -> TIME_WAIT ACK -> RST kills it."""
    tw = c.time_wait
    if tw is None or tw.ended_by is not TimeWaitEnd.RST:
        return None
    # Assassination is a RST *reaching* the TIME_WAIT side; a TIME_WAIT side
    # that sends a RST itself (answering a stray segment) ends it by its own rule.
    rst = next((r for r in c.resets if r.receiver_state is State.TIME_WAIT), None)
    if rst is None:
        return None
    steps = [e for e in c.events if tw.start <= e.time <= rst.time]
    old = next((e for e in steps if e.kind is EventKind.TIME_WAIT_SEGMENT), None)
    ack = next((e for e in steps if e.kind is EventKind.TIME_WAIT_ACK), None)
    holder = rst.sender.peer if tw.side is Side.BOTH else tw.side
    frames = [e.frame for e in (old, ack) if e] + [rst.frame]
    duplicate = ""
    old_fin = c.fin_seq.get(old.sender) if old is not None else None
    if old_fin is not None and not _after(old.seq, old_fin) and old.seq != old_fin:
        duplicate = " (an old duplicate: its sequence number is below the sender's FIN)"
    return Finding(
        kind=FindingKind.TIME_WAIT_ASSASSINATION,
        severity=Severity.WARNING,
        connection=c.id,
        frames=frames,
        time=rst.time,
        summary=f"a RST from the {rst.sender.value} killed the {holder.value}'s TIME_WAIT "
        f"{rst.time - tw.start:.3f} s into it"
        + (
            f": a late segment (frame {old.frame}){duplicate} drew an ACK from TIME_WAIT "
            f"(frame {ack.frame}), answered by a RST"
            if old and ack
            else ""
        ),
        detail={
            "time_wait_side": holder.value,
            "into_time_wait": rst.time - tw.start,
            "segment_frame": old.frame if old else None,
            "ack_frame": ack.frame if ack else None,
            "rst_frame": rst.frame,
        },
        reference=RFC1337,
        advice="TIME_WAIT ended early, so a new incarnation of this 4-tuple can take old "
        "duplicates as its own data. On Linux set net.ipv4.tcp_rfc1337=1 on the TIME_WAIT "
        "host to ignore RSTs in TIME_WAIT.",
    )


def assassination_by_syn(previous: Connection, c: Connection) -> Finding | None:
    """A new SYN met TIME_WAIT, drew a bare ACK, and the SYN's sender reset it."""
    tw = previous.time_wait
    refused = syn_refused_by_time_wait(c)
    if tw is None or refused is None or tw.ended_by is not TimeWaitEnd.RST:
        return None
    syn, ack, rst = refused
    return Finding(
        kind=FindingKind.TIME_WAIT_ASSASSINATION,
        severity=Severity.WARNING,
        connection=previous.id,
        frames=[syn.frame, ack.frame, rst.frame],
        time=rst.time,
        summary=f"a new SYN from {c.client} (frame {syn.frame}) met the previous "
        f"incarnation's TIME_WAIT, which answered with a bare ACK (frame {ack.frame}); the "
        f"RST that followed (frame {rst.frame}) killed the TIME_WAIT "
        f"{rst.time - tw.start:.3f} s into it",
        detail={
            "time_wait_side": tw.side.value,
            "new_connection": c.id,
            "syn_frame": syn.frame,
            "ack_frame": ack.frame,
            "rst_frame": rst.frame,
        },
        reference=RFC1337,
        advice="The client reuses ports faster than TIME_WAIT lasts; the ACK/RST dance costs "
        "a SYN retry (about 1 s). Reuse connections, or enable net.ipv4.tcp_tw_reuse with "
        "timestamps on the client.",
    )


def reuse_findings(
    connections: list[Connection], time_wait: float
) -> Iterator[tuple[Connection, Finding]]:
    """Findings on 4-tuple reuse, each with the connection whose arrival revealed it."""
    latest: dict[tuple[Endpoint, Endpoint], Connection] = {}
    for c in connections:
        # Either way round (the roles may differ between incarnations): the
        # pair in order, at half the cost of a frozenset.
        a, b = c.client, c.server
        key = (a, b) if a < b else (b, a)
        previous = latest.get(key)
        latest[key] = c
        # (Called only when it can find one: most connections' TIME_WAIT ends otherwise.)
        assassinated = c.time_wait and c.time_wait.ended_by is _BY_RST and assassination_by_rst(c)
        if assassinated:
            yield c, assassinated
        if previous is None or c.isn_client is None:
            continue
        yield c, port_reuse(previous, c, time_wait)
        by_syn = assassination_by_syn(previous, c)
        if by_syn:
            yield c, by_syn
