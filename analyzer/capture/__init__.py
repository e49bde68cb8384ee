"""Capture files in, segment tables out: see ``reader`` for the flow."""

from .errors import CaptureError, CaptureProblem
from .reader import Capture, CaptureInfo, CaptureReader, read_capture, read_segments

__all__ = [
    "Capture",
    "CaptureError",
    "CaptureInfo",
    "CaptureProblem",
    "CaptureReader",
    "read_capture",
    "read_segments",
]
