"""Addresses interned to small integer codes, shared by all batches of a capture.

A capture of a few thousand hosts or a flood from millions of spoofed
sources: the book keeps 16 bytes per address by code, and for IPv4 (nearly
every address) a sorted array of keys to look them up, about 30 bytes in all.
A dict of bytes and a text per address took 180. Texts are made when asked
(``AddressTexts``); a slice of segments takes the few it needs
(``SegmentTable.with_own_addresses``).

Codes are given to a batch's new addresses in the order of their bytes (read
as two little-endian 64-bit numbers, as the batch is sorted), so the same
capture always gets the same codes.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

import numpy as np

_V4_MAPPED = np.uint64(0xFFFF0000)  # bytes 8-11 of ::ffff:a.b.c.d, as a little-endian half
_LOW32 = np.uint64(0xFFFFFFFF)


def address_text(key: bytes) -> str:
    if key[:12] == b"\0" * 10 + b"\xff\xff":
        return socket.inet_ntop(socket.AF_INET, key[12:])
    return socket.inet_ntop(socket.AF_INET6, key)


class AddressTexts(Sequence):
    """Code -> address text, made on each access from the book's bytes."""

    def __init__(self, book: AddressBook) -> None:
        self._book = book

    def __len__(self) -> int:
        return self._book.count

    def __getitem__(self, code: int) -> str:
        if not -len(self) <= code < len(self):
            raise IndexError(f"address code {code} out of range")
        return address_text(self._book.raw[code].tobytes())


class AddressBook:
    def __init__(self) -> None:
        self.count = 0
        self._raw = np.empty((1024, 2), np.uint64)  # by code; grows by doubling
        self._v4_keys = np.empty(0, np.int64)  # IPv4 addresses known, sorted
        self._v4_codes = np.empty(0, np.int32)
        self._v6: dict[bytes, int] = {}  # the rest, by their 16 bytes
        self.texts = AddressTexts(self)

    @property
    def raw(self) -> np.ndarray:
        """Each code's 16 bytes, as two 64-bit halves."""
        return self._raw[: self.count]

    def encode(self, raw: np.ndarray) -> np.ndarray:
        """Codes of 16-byte addresses (an (n, 16) uint8 array); new ones get new codes."""
        if len(raw) == 0:
            return np.empty(0, np.int32)
        # Sorting 16-byte keys is slow; sorting by two 64-bit halves is fast.
        halves = np.ascontiguousarray(raw).view(np.uint64)
        order = np.lexsort((halves[:, 1], halves[:, 0]))
        ordered = halves[order]
        first = np.ones(len(order), bool)
        first[1:] = (ordered[1:] != ordered[:-1]).any(axis=1)
        group = np.cumsum(first) - 1
        distinct = ordered[first]
        codes = np.full(len(distinct), -1, np.int32)

        v4 = (distinct[:, 0] == 0) & ((distinct[:, 1] & _LOW32) == _V4_MAPPED)
        keys = (distinct[v4, 1] >> np.uint64(32)).astype(np.int64)  # ascending, like ``distinct``
        at = np.searchsorted(self._v4_keys, keys)
        known = at < len(self._v4_keys)
        known[known] = self._v4_keys[at[known]] == keys[known]
        v4_codes = np.full(len(keys), -1, np.int32)
        v4_codes[known] = self._v4_codes[at[known]]
        codes[v4] = v4_codes
        v6 = np.flatnonzero(~v4)
        v6_keys = [distinct[i].tobytes() for i in v6.tolist()]
        codes[v6] = [self._v6.get(key, -1) for key in v6_keys]

        new = codes < 0
        if new.any():
            fresh = self.count + np.arange(int(new.sum()), dtype=np.int32)
            codes[new] = fresh
            self._store(distinct[new])
            added = ~known
            self._v4_keys = np.insert(self._v4_keys, at[added], keys[added])
            self._v4_codes = np.insert(self._v4_codes, at[added], codes[v4][added])
            for key, code in zip(v6_keys, codes[v6].tolist()):
                self._v6.setdefault(key, code)
        out = np.empty(len(raw), np.int32)
        out[order] = codes[group]
        return out

    def _store(self, halves: np.ndarray) -> None:
        need = self.count + len(halves)
        if need > len(self._raw):
            grown = np.empty((max(need, 2 * len(self._raw)), 2), np.uint64)
            grown[: self.count] = self._raw[: self.count]
            self._raw = grown
        self._raw[self.count : need] = halves
        self.count = need
