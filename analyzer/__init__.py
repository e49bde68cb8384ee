"""teardown: how every TCP connection in a capture ended.

>>> import analyzer
>>> a = analyzer.analyze("captures/graceful-client-close.pcap")
>>> a.connections[0].active_closer
<Side.CLIENT: 'client'>
"""

from .analysis import Analysis, analyze
from .capture import CaptureError
from .model import Connection, Endpoint, Event, Events, TimeWait
from .parameters import Parameters
from .streamed import StreamedAnalysis, stream
from .vocabulary import CloseKind, EventKind, FindingKind, Severity, Side, State, TimeWaitEnd

__all__ = [
    "Analysis",
    "CaptureError",
    "CloseKind",
    "Connection",
    "Endpoint",
    "Event",
    "EventKind",
    "Events",
    "FindingKind",
    "Parameters",
    "Severity",
    "Side",
    "State",
    "StreamedAnalysis",
    "TimeWait",
    "TimeWaitEnd",
    "analyze",
    "stream",
]
