"""Segments made from numpy columns a block of positions at a time.

The per-segment walks (``teardown``, ``zeek``) read segments in connection
order as rows of an int64 array made from the columns (a copy, gathered by
the order: ``gather``). Made a block at a time, they stay bounded however many segments
are walked, even inside one connection of millions of segments.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

BLOCK = 200_000


class Blocks:
    """Items at positions ``0 .. count - 1``; ``make(a, b)`` makes those at ``a .. b - 1``."""

    def __init__(self, count: int, make: Callable[[int, int], Any]) -> None:
        self.count, self.make, self.size = count, make, BLOCK
        self.start = self.end = 0
        self.items: Any = []

    def spans(self, lo: int, hi: int) -> Iterator[tuple[Any, int, int]]:
        """(block, i, j) whose ``block[i:j]`` are the items at positions ``lo`` .. ``hi - 1``."""
        if not 0 <= lo <= hi <= self.count:
            raise IndexError(f"positions {lo}..{hi} outside 0..{self.count}")
        pos = lo
        while pos < hi:
            if not self.start <= pos < self.end:
                self.items = []  # the old block leaves memory before the next is made
                self.start, self.end = pos, min(pos + self.size, self.count)
                self.items = self.make(self.start, self.end)
            stop = min(hi, self.end)
            yield self.items, pos - self.start, stop - self.start
            pos = stop
