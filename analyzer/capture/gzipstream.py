"""Gzip decompression that keeps every byte it could decompress.

``gzip.GzipFile`` raises at a cut-off stream and drops what it decompressed in
that call; captures are often cut off (tcpdump killed, copy interrupted), so
this reader decompresses with zlib directly and reports the damage after
returning everything before it. Concatenated gzip members are read in order.
"""

from __future__ import annotations

import zlib
from typing import BinaryIO

GZIP_WBITS = 16 + zlib.MAX_WBITS
READ_BYTES = 1 << 20


class GzipDamage(Exception):
    """The compressed stream is cut off or corrupt after the bytes returned so far."""


class GzipStream:
    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.inflate = zlib.decompressobj(GZIP_WBITS)
        self.ready = bytearray()
        self.pending = b""  # compressed input not yet decompressed
        self.damage: str | None = None
        self.done = False
        self.in_member = False

    def readinto(self, target: memoryview) -> int:
        while len(self.ready) < len(target) and not self.done:
            self._inflate_more()
        if not self.ready and self.damage:
            raise GzipDamage(self.damage)
        n = min(len(target), len(self.ready))
        target[:n] = self.ready[:n]
        del self.ready[:n]
        return n

    def _inflate_more(self) -> None:
        data = self.pending or self.raw.read(READ_BYTES)
        self.pending = b""
        if not data:
            if self.in_member:
                self.damage = "compressed stream ends before its end marker"
            self.done = True
            return
        if not self.in_member:
            # Zero padding after a member is not damage (gzip -t and Python's
            # gzip module skip it); it was reported as corrupt data.
            data = data.lstrip(b"\0")
            if not data:
                return  # only padding so far: the next call reads on
        try:
            self.in_member = True
            # At most READ_BYTES out per call: deflate expands up to ~1000x, so
            # decompressing a whole read at once let a 1 MB file take 1 GB.
            self.ready += self.inflate.decompress(data, READ_BYTES)
            if not self.inflate.eof:
                self.pending = self.inflate.unconsumed_tail
                return
            # Another gzip member may follow (e.g. `cat a.gz b.gz`): it is
            # decompressed by the next call, so many members in one read are
            # bounded the same way.
            self.in_member = False
            self.pending = self.inflate.unused_data
            self.inflate = zlib.decompressobj(GZIP_WBITS)
        except zlib.error as e:
            self.damage = f"compressed data is corrupt ({e})"
            self.done = True

    def close(self) -> None:
        self.raw.close()
