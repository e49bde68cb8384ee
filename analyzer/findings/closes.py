"""Findings about FINs: retransmitted FINs, CLOSE_WAIT stalls, data after a FIN."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..model import Connection
from ..vocabulary import CloseKind, FindingKind, Severity, Side, State
from .finding import Finding

# This many resends of one FIN mean the peer is unreachable, not a lost packet.
FIN_RESENDS_WARNING = 3


# What each cause of a resent FIN means (docs/verdicts.md).
_WHY_RESENT = {
    "lost_fin": "the FIN (or its ACK) was lost: no ACK of it had passed the capture point "
    "before the resend",
    "lost_final_ack": "the final ACK was lost past the capture point: the peer's ACK of this "
    "FIN passed the capture point, yet the FIN was sent again",
    "unknown": "the capture shows nothing from the peer, so the cause cannot be told",
}


def fin_retransmissions(c: Connection) -> Iterator[Finding]:
    for side in (Side.CLIENT, Side.SERVER):
        resends = [r for r in c.fin_resends if r.side is side]
        if not resends:
            continue
        # When the capture shows nothing of the peer there is no way to tell.
        cause = resends[0].cause if c.packets[side.peer] else "unknown"
        reacks = [r.reack_frame for r in resends if r.reack_frame]
        frames = [c.facts[side].fin_frame, *(r.frame for r in resends), *reacks]
        summary = f"the {side.value}'s FIN was sent {len(resends) + 1} times: {_WHY_RESENT[cause]}"
        if reacks:
            summary += (
                f"; the TIME_WAIT side answered again (frame {reacks[0]}): TIME_WAIT "
                "doing its first job"
            )
        yield Finding(
            kind=FindingKind.FIN_RETRANSMISSION,
            severity=Severity.WARNING if len(resends) >= FIN_RESENDS_WARNING else Severity.INFO,
            connection=c.id,
            frames=[f for f in frames if f is not None],
            time=resends[0].time,
            summary=summary,
            detail={
                "side": side.value,
                "cause": cause,
                "retransmissions": len(resends),
                "reack_frames": reacks,
            },
            reference="RFC 793 / RFC 9293 section 3.6 (closing); Stevens, TCP/IP Illustrated "
            "vol. 1, 18.6: TIME_WAIT lets the active closer re-ACK a resent FIN",
            advice="Occasional FIN resends are packet loss and harmless. Many mean the peer "
            "vanished: check the path and the peer host.",
        )


@dataclass(slots=True)
class StillInCloseWait:
    """A side still in CLOSE_WAIT at its connection's last segment.

    How long it waited is measured to the end of the capture, which a streaming
    analysis knows only at the end: ``close_wait_at_end`` judges it then.
    """

    connection: int
    side: Side
    frames: list[int]  # the peer's FIN and this side's ACK of it
    since: float  # when this side acknowledged the peer's FIN


# Most connections are looked at here (every FIN acked), so the words are
# read once: a member of an enum class is a descriptor call each time.
_SIDES_AND_PEERS = ((Side.CLIENT, Side.SERVER), (Side.SERVER, Side.CLIENT))
_ABORT, _CLOSE_WAIT = CloseKind.ABORT, State.CLOSE_WAIT


def close_wait_stalls(c: Connection, threshold: float) -> list[Finding | StillInCloseWait]:
    """A side acked the peer's FIN but did not send its own FIN in time.

    (A list, not a generator: most connections are looked at, and most have none.)
    """
    if c.close is _ABORT:
        return []
    found: list[Finding | StillInCloseWait] = []
    facts = c.facts
    for side, peer_side in _SIDES_AND_PEERS:
        peer = facts[peer_side]
        since = peer.fin_ack_time
        if since is None:
            continue
        own = facts[side]
        if own.fin_frame is None:
            if c.end_states[side] is _CLOSE_WAIT:
                frames = [f for f in (peer.fin_frame, peer.fin_ack_frame) if f is not None]
                found.append(StillInCloseWait(c.id, side, frames, since))
            continue
        waited = own.fin_time - since
        if waited < threshold:
            continue
        frames = [f for f in (peer.fin_frame, peer.fin_ack_frame, own.fin_frame) if f is not None]
        summary = (
            f"the {side.value} sat in CLOSE_WAIT for {waited:.3f} s before closing: its "
            "application was slow to close the socket after the peer's FIN"
        )
        found.append(_close_wait_finding(c.id, side, frames, since, waited, threshold,
                                         summary, still=False))  # fmt: skip
    return found


def close_wait_at_end(w: StillInCloseWait, capture_end: float, threshold: float) -> Finding:
    waited = capture_end - w.since
    summary = (
        f"the {w.side.value} acknowledged the {w.side.peer.value}'s FIN and was still in "
        f"CLOSE_WAIT {waited:.3f} s later when the capture ended: its application has "
        "not closed the socket"
    )
    return _close_wait_finding(w.connection, w.side, w.frames, w.since, waited, threshold,
                               summary, still=True)  # fmt: skip


def _close_wait_finding(
    connection, side: Side, frames, since, waited, threshold, summary, *, still: bool
) -> Finding:
    return Finding(
        kind=FindingKind.CLOSE_WAIT_STALL,
        severity=Severity.WARNING if waited >= threshold else Severity.INFO,
        connection=connection,
        frames=frames,
        time=since,
        summary=summary,
        detail={
            "side": side.value,
            "seconds": waited,
            "threshold": threshold,
            "still_in_close_wait": still,
        },
        reference="RFC 793 section 3.5: CLOSE_WAIT ends only when the application calls "
        "close(); no kernel timer ends it",
        advice=f"Look at the {side.value} application: after read() returns 0 (EOF) it "
        "must close() the socket. Sockets stuck in CLOSE_WAIT leak file descriptors and "
        "leave the peer in FIN_WAIT_2. (tcp_fin_timeout bounds the peer's orphaned "
        "FIN_WAIT_2, not this.)",
    )


def data_after_fin(c: Connection) -> Iterator[Finding]:
    for side in (Side.CLIENT, Side.SERVER):
        frames = c.facts[side].data_after_fin_frames
        if not frames:
            continue
        yield Finding(
            kind=FindingKind.DATA_AFTER_FIN,
            severity=Severity.WARNING,
            connection=c.id,
            frames=[c.facts[side].fin_frame, *frames],
            time=next((e.time for e in c.events if e.frame == frames[0]), None),
            summary=f"the {side.value} sent new data after its own FIN (frame "
            f"{c.facts[side].fin_frame}): a protocol violation; a conforming receiver drops it",
            detail={"side": side.value, "frames": frames},
            reference="RFC 9293 section 3.10.7.4: no data may follow a FIN in the sequence space",
            advice="A broken TCP stack, a middlebox rewriting sequence numbers, or a crafted "
            "packet. Capture on both sides of any middlebox to find which.",
        )
