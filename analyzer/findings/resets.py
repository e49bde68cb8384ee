"""Findings about RSTs: lost data, unread data, reset after close, aborts, keepalives, origin."""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Connection, Reset
from ..vocabulary import CloseKind, FindingKind, Severity, Side
from .finding import Finding

RFC793_RESET = "RFC 793 section 3.4 / RFC 9293 section 3.10.7 (reset processing)"


def _data_loss(c: Connection, rst: Reset) -> Finding | None:
    sent, received = rst.unacked_sent or 0, rst.unacked_received or 0
    if not sent and not received:
        return None
    sender, peer = rst.sender.value, rst.sender.peer.value
    parts = []
    if sent:
        parts.append(f"{sent} bytes the {sender} had sent and the {peer} had not acknowledged")
    if received:
        parts.append(f"{received} bytes the {peer} had sent and the {sender} had not acknowledged")
    return Finding(
        kind=FindingKind.RST_DATA_LOSS,
        severity=Severity.ERROR,
        connection=c.id,
        frames=[rst.frame],
        time=rst.time,
        summary=f"RST from the {sender} while data was in flight: "
        + "; ".join(parts)
        + " were lost",
        detail={
            "rst_sender": sender,
            "unacked_bytes": {sender: sent, peer: received},
        },
        reference=RFC793_RESET,
        advice="A reset discards both send queues. If the application chose to abort "
        "(SO_LINGER {1, 0}), let it close() normally instead; if a middlebox or timeout "
        "reset the connection, find what sent it (see rst_suspect_origin).",
    )


def _unread_data(c: Connection, rst: Reset) -> Finding | None:
    """The RST sender acked the peer's data, never answered it, and reset without a FIN.

    A capture cannot see whether an application read its socket. The rule
    assumes request/response: a reset from the side that received the last
    data, when that side is the server (or never sent any data), means the
    data was received by the kernel but not read (Linux's tcp_close sends a
    RST when unread data is queued). A client that resets after the server's
    answer has usually read it: that is an abortive close.
    """
    sender, peer = c.facts[rst.sender], c.facts[rst.sender.peer]
    if rst.sender in c.fin_seq or peer.last_payload_frame is None:
        return None
    if peer.fin_frame is not None and peer.fin_frame < rst.frame:
        # The peer had finished (sent its FIN): its last message wanted no
        # answer (an LDAP unbind, a QUIT). Resetting then is an abortive close.
        return None
    if rst.unacked_received:  # not acked: lost in flight, not unread
        return None
    answered = (
        sender.last_payload_frame is not None
        and sender.last_payload_frame > peer.last_payload_frame
    )
    if answered or (rst.sender is Side.CLIENT and sender.last_payload_frame is not None):
        return None
    return Finding(
        kind=FindingKind.RST_UNREAD_DATA,
        severity=Severity.ERROR,
        connection=c.id,
        frames=[peer.last_payload_frame, rst.frame],
        time=rst.time,
        summary=f"the {rst.sender.value} acknowledged the {rst.sender.peer.value}'s last data "
        f"(frame {peer.last_payload_frame}), never answered it, and reset the connection: its "
        "application closed the socket with data it had not read",
        detail={"rst_sender": rst.sender.value, "unread_data_frame": peer.last_payload_frame},
        reference="RFC 2525 section 2.17; Linux tcp_close() sends RST when the receive "
        "queue holds unread data",
        advice=f"Fix the {rst.sender.value} application: read (or shutdown(SHUT_RD) and drain) "
        "everything the peer sent before close(). The peer's data was acknowledged by the "
        "kernel but never processed; the peer may see ECONNRESET.",
    )


def _after_close(c: Connection, rst: Reset) -> Finding | None:
    closer = rst.sender.value
    late = c.facts[rst.sender.peer].half_close_frames
    fin_frame = c.facts[rst.sender].fin_frame
    if fin_frame is None or fin_frame > rst.frame or not late or late[0] > rst.frame:
        return None
    return Finding(
        kind=FindingKind.RST_AFTER_CLOSE,
        severity=Severity.ERROR,
        connection=c.id,
        frames=[fin_frame, late[0], rst.frame],
        time=rst.time,
        summary=f"the {closer} sent its FIN (frame {fin_frame}) and closed; the "
        f"{rst.sender.peer.value} kept sending (frame {late[0]}) and was reset: that data "
        "was lost",
        detail={"closer": closer, "data_frames_after_fin": late[:20]},
        reference="RFC 9293 section 3.10.7.4 / RFC 2525 section 2.17 (data arriving after close)",
        advice=f"The {closer} closed while the peer still had data for it. Use "
        "shutdown(SHUT_WR) and read until EOF before close() (a half-close), or make the "
        "protocol say when the peer is done sending.",
    )


def _keepalive_timeout(c: Connection, rst: Reset) -> Finding | None:
    probes = c.facts[rst.sender].keepalive_frames
    if not probes or probes[-1] > rst.frame:
        return None
    return Finding(
        kind=FindingKind.KEEPALIVE_TIMEOUT,
        severity=Severity.WARNING,
        connection=c.id,
        frames=[*probes, rst.frame],
        time=rst.time,
        summary=f"{len(probes)} keepalive probes from the {rst.sender.value} went unanswered and "
        f"it reset the connection: the {rst.sender.peer.value} (or the path to it) was gone",
        detail={
            "prober": rst.sender.value,
            "probes": len(probes),
            "probe_frames": probes,
        },
        reference="RFC 1122 section 4.2.3.6; Linux tcp(7): TCP_KEEPIDLE, TCP_KEEPINTVL, "
        "TCP_KEEPCNT",
        advice="The peer or a middlebox on the path dropped the connection silently (crash, "
        "NAT or firewall idle timeout). If a middlebox expires idle flows, keep the keepalive "
        "interval below its timeout.",
    )


def _suspect_origin(c: Connection, rst: Reset) -> Finding | None:
    ttls = c.facts[rst.sender].ttls
    reasons, detail = [], {}
    usual_ttl = max(ttls, key=ttls.get) if ttls else None
    if usual_ttl is not None and sum(ttls.values()) >= 2 and rst.ttl != usual_ttl:
        reasons.append(
            f"its TTL/hop limit is {rst.ttl}, the {rst.sender.value}'s other "
            f"packets have {usual_ttl}"
        )
        detail.update(rst_ttl=rst.ttl, usual_ttl=usual_ttl)
    # A RST may carry the sender's next sequence number, or (answering a
    # segment) that segment's ack, which is the receiver's rcv_nxt (RFC 793).
    # Only a synchronized receiver (one that has acked something) has an
    # rcv_nxt to check against (RFC 5961 section 3.2).
    if rst.receiver_next is not None and rst.seq not in (rst.expected_seq, rst.receiver_next):
        reasons.append(
            f"its sequence number {rst.seq} is neither the sender's next one "
            f"({rst.expected_seq}) nor what the receiver expects ({rst.receiver_next})"
        )
        detail.update(rst_seq=rst.seq, expected_seq=rst.expected_seq)
    if not reasons:
        return None
    return Finding(
        kind=FindingKind.RST_SUSPECT_ORIGIN,
        severity=Severity.WARNING,
        connection=c.id,
        frames=[rst.frame],
        time=rst.time,
        summary=f"RST claiming to come from the {rst.sender.value} looks made by someone else: "
        + "; ".join(reasons),
        detail={"claimed_sender": rst.sender.value, **detail},
        reference="RFC 5961 section 3 (RST acceptability, blind reset attacks); a different "
        "TTL means a different number of hops: a middlebox",
        advice="Look for a firewall, load balancer or IPS between the hosts that resets "
        "flows (idle timeouts, policy); its logs will name the rule. The hosts themselves did "
        "not necessarily close.",
    )


def reset_findings(c: Connection) -> Iterator[Finding]:
    """The first RST ended the connection: only it can say why. Every RST may be forged."""
    for i, rst in enumerate(c.resets):
        suspect = _suspect_origin(c, rst)
        if suspect:
            yield suspect
        if i:
            continue
        # A RST the host probably did not send says nothing of the host's
        # application (unread data, closing early, keepalives); lost data is
        # lost whoever sent it.
        detectors = [_data_loss]
        if suspect is None:
            detectors += [_unread_data, _after_close, _keepalive_timeout]
        causes = [f for f in (d(c, rst) for d in detectors) if f]
        if len(causes) > 1 and causes[0].kind is FindingKind.RST_DATA_LOSS:
            # Data sent after the peer's close and reset is the loss itself:
            # the more specific cause says it, once.
            causes = causes[1:]
        yield from causes
        if not causes and not suspect and c.close is CloseKind.ABORT:
            yield _abortive(c, rst)


def _abortive(c: Connection, rst: Reset) -> Finding:
    return Finding(
        kind=FindingKind.ABORTIVE_CLOSE,
        severity=Severity.INFO,
        connection=c.id,
        frames=[rst.frame],
        time=rst.time,
        summary=f"the {rst.sender.value} ended the connection with a RST instead of a "
        "FIN, with no data in flight",
        detail={"rst_sender": rst.sender.value},
        reference="RFC 9293 section 3.10.4 (ABORT); socket(7) SO_LINGER with a zero timeout",
        advice="An abortive close skips TIME_WAIT but discards anything still queued; "
        "if it is used to avoid TIME_WAIT, prefer connection reuse or letting the "
        "side that can afford TIME_WAIT close first.",
    )
