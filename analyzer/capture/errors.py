"""How the reader reports damage: one line naming the file and the byte offset."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CaptureProblem:
    """Something wrong at one place in a file.

    ``offset`` is the byte offset in the capture data (for a gzip file, in the
    decompressed stream, which the message says), or None when it is not tied
    to one place.
    """

    path: str
    offset: int | None
    message: str

    def __str__(self) -> str:
        where = f"byte {self.offset}: " if self.offset is not None else ""
        return f"{self.path}: {where}{self.message}"


class CaptureError(Exception):
    """The file cannot be read as a capture at all."""

    def __init__(self, path: str, offset: int | None, message: str) -> None:
        self.problem = CaptureProblem(path, offset, message)
        super().__init__(str(self.problem))
