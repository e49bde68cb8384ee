"""Connections -> findings: the anomalies an engineer would point at, with evidence.

One module per family; ``find`` runs them all in a fixed order. The kinds are
defined in ``analyzer.vocabulary.FindingKind``; the rules in docs/findings.md.
"""

from __future__ import annotations

from ..capture import CaptureInfo
from ..model import Connection
from ..timewait import TimeWaitSummary
from .artefacts import capture_artefacts
from .closes import close_wait_stalls, data_after_fin, fin_retransmissions
from .finding import Finding
from .pressure import port_exhaustion
from .resets import reset_findings
from .reuse import reuse_findings

__all__ = ["Finding", "find"]


def find(
    info: CaptureInfo,
    connections: list[Connection],
    time_wait_summary: TimeWaitSummary,
    *,
    time_wait: float,
    port_range: tuple[int, int],
    port_share: float,
    close_wait_threshold: float,
) -> list[Finding]:
    capture_end = info.last_time or 0.0
    findings: list[Finding] = list(
        port_exhaustion(time_wait_summary, port_range, port_share, time_wait)
    )
    for c in connections:
        findings += reset_findings(c)
        findings += fin_retransmissions(c)
        findings += close_wait_stalls(c, capture_end, close_wait_threshold)
        findings += data_after_fin(c)
    findings += reuse_findings(connections, time_wait)
    findings += capture_artefacts(info, connections)
    return findings
