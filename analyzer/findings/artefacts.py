"""Capture artefacts: what the capture did, reported as such, never as network anomalies."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from ..capture import CaptureInfo
from ..model import Connection
from ..vocabulary import FindingKind, Severity
from .finding import Finding

FRAMES_LISTED = 20


@dataclass
class ArtefactTally:
    """What the artefact findings need of each connection, kept as connections settle.

    Connections are named by id; ``renumbered`` maps them to their final ids.
    Per connection at most ``FRAMES_LISTED`` duplicate frames are kept: the
    finding lists no more than that.
    """

    duplicates: list[tuple[int, list[int], int]] = field(default_factory=list)  # id, frames, n
    missed: list[tuple[int, int]] = field(default_factory=list)  # id, first missed frame

    def add(self, c: Connection) -> None:
        if c.duplicate_frames:
            frames = c.duplicate_frames
            self.duplicates.append((c.id, frames[:FRAMES_LISTED], len(frames)))
        if c.missed_frames:
            self.missed.append((c.id, c.missed_frames[0]))

    def merge(self, other: ArtefactTally) -> None:
        self.duplicates += other.duplicates
        self.missed += other.missed

    def renumbered(self, new_id: Callable[[int], int | None]) -> ArtefactTally:
        """Ids mapped by ``new_id``, in order of the new ids; None drops a connection."""
        duplicates = [(new_id(c), frames, n) for c, frames, n in self.duplicates]
        missed = [(new_id(c), frame) for c, frame in self.missed]
        return ArtefactTally(
            sorted(d for d in duplicates if d[0] is not None),
            sorted(m for m in missed if m[0] is not None),
        )


def capture_artefacts(info: CaptureInfo, tally: ArtefactTally) -> Iterator[Finding]:
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
    if tally.duplicates:
        count = sum(n for _, _, n in tally.duplicates)
        frames = list(
            islice((f for _, listed, _ in tally.duplicates for f in listed), FRAMES_LISTED)
        )
        yield Finding(
            kind=FindingKind.CAPTURE_DUPLICATE_FRAMES,
            severity=Severity.INFO,
            connection=None,
            frames=frames,
            time=None,
            summary=f"{count} frames are second copies of the segment before them "
            "(same IP ID, within 10 ms): the capture saw them twice; they were not counted as "
            "retransmissions",
            detail={"count": count, "connections": [c for c, _, _ in tally.duplicates]},
            reference="capture on several interfaces or a SPAN port duplicates frames",
            advice="Capture on one interface, or dedupe with editcap -d.",
        )
    missed = tally.missed
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
