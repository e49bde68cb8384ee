"""Capture artefacts: what the capture did, reported as such, never as network anomalies."""

from __future__ import annotations

from collections.abc import Iterator

from ..capture import CaptureInfo
from ..model import Connection
from ..vocabulary import FindingKind, Severity
from .finding import Finding

FRAMES_LISTED = 20


def capture_artefacts(info: CaptureInfo, connections: list[Connection]) -> Iterator[Finding]:
    if info.truncated:
        yield Finding(
            kind=FindingKind.CAPTURE_TRUNCATED,
            severity=Severity.INFO,
            connection=None,
            frames=[info.frames] if info.frames else [],
            time=info.last_time,
            summary=f"the capture file is damaged or cut short after frame {info.frames}; "
            "connections still open at that point may look incomplete",
            detail={"warnings": list(info.warnings), "end_offset": info.end_offset},
            reference="pcap/pcapng record structure",
            advice="A capture killed mid-write (tcpdump without a clean stop) ends in a partial "
            "record; everything before it was analysed.",
        )
    duplicates = [(c.id, f) for c in connections for f in c.duplicate_frames]
    if duplicates:
        yield Finding(
            kind=FindingKind.CAPTURE_DUPLICATE_FRAMES,
            severity=Severity.INFO,
            connection=None,
            frames=[f for _, f in duplicates[:FRAMES_LISTED]],
            time=None,
            summary=f"{len(duplicates)} frames are second copies of the segment before them "
            "(same IP ID, within 10 ms): the capture saw them twice; they were not counted as "
            "retransmissions",
            detail={"count": len(duplicates), "connections": sorted({c for c, _ in duplicates})},
            reference="capture on several interfaces or a SPAN port duplicates frames",
            advice="Capture on one interface, or dedupe with editcap -d.",
        )
    missed = [(c.id, c.missed_frames[0]) for c in connections if c.missed_frames]
    if missed:
        yield Finding(
            kind=FindingKind.CAPTURE_MISSED_SEGMENTS,
            severity=Severity.INFO,
            connection=None,
            frames=[f for _, f in missed[:FRAMES_LISTED]],
            time=None,
            summary=f"in {len(missed)} connections an ACK covers bytes the capture never saw: "
            "the capture missed segments (not a network loss)",
            detail={"connections": [c for c, _ in missed]},
            reference="an ACK for unseen data proves the data was sent",
            advice="Verdicts on these connections rest on fewer packets; capture with a larger "
            "buffer (tcpdump -B) or closer to the host.",
        )
