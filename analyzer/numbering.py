"""Connections' final ids: 1, 2, ... in order of their first frames.

While a capture is read a connection's id is provisional, its first frame:
connections settle out of order (``engine``). Once all are known, and the
connection limit has cut their list, ``FinalIds`` maps the one to the other.
"""

from __future__ import annotations

import numpy as np


class FinalIds:
    """``first_frames``: the kept connections' first frames, ascending;
    connection ``i + 1`` is the one at ``i``."""

    def __init__(self, first_frames: np.ndarray) -> None:
        self.first_frames = first_frames

    def __call__(self, provisional: int) -> int | None:
        """The final id of the connection whose first frame is ``provisional``
        (None: left out by the connection limit)."""
        # (One at a time: a port reuse finding names two connections, and an
        # array for each cost twenty times the search.)
        i = int(np.searchsorted(self.first_frames, provisional))
        if i < len(self.first_frames) and self.first_frames[i] == provisional:
            return i + 1
        return None

    def of(self, provisional: np.ndarray) -> np.ndarray:
        """The final ids of many at once; 0 for those left out."""
        provisional = np.asarray(provisional, np.int64)
        i = np.searchsorted(self.first_frames, provisional)
        found = i < len(self.first_frames)
        found[found] = self.first_frames[i[found]] == provisional[found]
        return np.where(found, i + 1, 0)
