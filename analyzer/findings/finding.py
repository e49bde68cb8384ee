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

    def __reduce__(self):
        # Findings wait pickled until a capture is read, hundreds of thousands
        # of them; pickled by default, each would name its class and two enum
        # classes, and unpickling looked each up again (half its cost).
        return _finding, (
            self.kind.value,
            self.severity.value,
            self.connection,
            self.frames,
            self.time,
            self.summary,
            self.detail,
            self.reference,
            self.advice,
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Finding:
        """Back from ``as_dict`` (or the JSON of it)."""
        return _finding(
            d["kind"],
            d["severity"],
            d["connection"],
            d["frames"],
            d["time"],
            d["summary"],
            d["detail"],
            d["reference"],
            d["advice"],
        )

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


_KINDS = {kind.value: kind for kind in FindingKind}
_SEVERITIES = {severity.value: severity for severity in Severity}


def _finding(kind: str, severity: str, *rest) -> Finding:
    """A finding from its kind's and severity's values (unpickled,
    ``Finding.__reduce__``, or read back, ``Finding.from_dict``)."""
    return Finding(_KINDS[kind], _SEVERITIES[severity], *rest)
