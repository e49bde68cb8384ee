"""Addresses interned to small integer codes, shared by all batches of a capture.

A capture of a few thousand hosts or a flood from millions of spoofed
sources: the book keeps 16 bytes per address by code, and a hash index of
codes to look them up (``row_index``, 4 bytes a slot, at most half full):
24 to 32 bytes in all. A dict of bytes and a text per address took 180.
Texts are made when asked (``AddressTexts``); a slice of segments takes the
few it needs (``SegmentTable.with_own_addresses``).

Codes are given to a batch's new addresses in the order of their bytes (read
as two little-endian 64-bit numbers, as the batch is sorted), so the same
capture always gets the same codes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..row_index import RowIndex
from .address_texts import address_texts


class AddressTexts(Sequence):
    """Code -> address text, made on each access from the book's bytes."""

    def __init__(self, book: AddressBook) -> None:
        self._book = book

    def __len__(self) -> int:
        return self._book.count

    def __getitem__(self, code: int) -> str:
        if not -len(self) <= code < len(self):
            raise IndexError(f"address code {code} out of range")
        return self.take(np.array([code]))[0]

    def take(self, codes: np.ndarray) -> list[str]:
        """The texts of many codes at once (``SegmentTable.with_own_addresses``:
        a slice's thousands; one at a time cost five times as much)."""
        return address_texts(self._book.raw[codes].view(np.uint8))


class AddressBook:
    def __init__(self) -> None:
        self.count = 0
        self._raw = np.empty((1024, 2), np.uint64)  # by code; grows by doubling
        self._index = RowIndex()  # codes by address
        self.texts = AddressTexts(self)

    @property
    def raw(self) -> np.ndarray:
        """Each code's 16 bytes, as two 64-bit halves."""
        return self._raw[: self.count]

    def encode(self, raw: np.ndarray) -> np.ndarray:
        """Codes of 16-byte addresses (an (n, 16) uint8 array); new ones get new codes."""
        halves = np.ascontiguousarray(raw, np.uint8).reshape(-1, 16).view(np.uint64)
        codes = np.empty(len(halves), np.int32)
        self._index.lookup(halves, self._raw, codes)
        missing = np.flatnonzero(codes < 0)
        if len(missing):
            # Sorting 16-byte keys is slow; sorting by two 64-bit halves is fast.
            new = halves[missing]
            order = np.lexsort((new[:, 1], new[:, 0]))
            ordered = new[order]
            first = np.ones(len(order), bool)
            first[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
            start = self.count
            self._store(ordered[first])
            self._index.put(self._raw, start, self.count)
            codes[missing[order]] = start + np.cumsum(first) - 1
        return codes

    def _store(self, halves: np.ndarray) -> None:
        need = self.count + len(halves)
        if need > len(self._raw):
            grown = np.empty((max(need, 2 * len(self._raw)), 2), np.uint64)
            grown[: self.count] = self._raw[: self.count]
            self._raw = grown
        self._raw[self.count : need] = halves
        self.count = need
