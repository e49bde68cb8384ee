"""The finding record, shared by every detector."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..vocabulary import FindingKind, Severity


@dataclass
class Finding:
    """One anomaly, with the frames that prove it and what to do about it."""

    kind: FindingKind
    severity: Severity
    connection: int | None  # connection id, or None for capture-wide findings
    frames: list[int]
    time: float | None
    summary: str  # one plain-language sentence
    detail: dict[str, Any] = field(default_factory=dict)
    reference: str = ""  # the RFC or kernel behaviour behind it
    advice: str = ""  # what to change, right for today's kernels

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "severity": self.severity.value,
            "connection": self.connection,
            "frames": self.frames,
            "time": self.time,
            "summary": self.summary,
            "detail": self.detail,
            "reference": self.reference,
            "advice": self.advice,
        }
