"""TCP headers and the options that matter for teardown, vectorised.

Options are decoded on whole arrays for the two layouts Linux sends almost
always (NOP NOP TS on established segments; MSS SACK-perm TS NOP WS on SYNs);
any other layout is walked per segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fields import be16, be32

OPT_EOL = 0
OPT_NOP = 1
OPT_MSS = 2
OPT_WSCALE = 3
OPT_SACK_PERM = 4
OPT_TIMESTAMP = 8
INT32_MAX = 2**31 - 1


@dataclass
class TCPHeaders:
    ok: np.ndarray  # bool: the 20-byte header was captured and its length is sane
    sport: np.ndarray
    dport: np.ndarray
    seq: np.ndarray
    ack: np.ndarray
    flags: np.ndarray
    window: np.ndarray
    payload_len: np.ndarray
    tsval: np.ndarray
    tsecr: np.ndarray
    mss: np.ndarray
    wscale: np.ndarray
    sack_perm: np.ndarray


def decode_tcp(
    buf: np.ndarray, off: np.ndarray, length: np.ndarray, captured_end: np.ndarray
) -> TCPHeaders:
    """Decode TCP headers at ``off``; ``length`` is header+payload from the IP header."""
    n = len(off)
    ok = off + 20 <= captured_end
    safe = np.where(ok, off, 0)  # keep indexing inside the buffer for rejected rows
    hlen = (buf[safe + 12] >> 4).astype(np.int64) * 4
    ok &= (hlen >= 20) & (hlen <= length)
    t = TCPHeaders(
        ok=ok,
        sport=be16(buf, safe),
        dport=be16(buf, safe + 2),
        seq=be32(buf, safe + 4),
        ack=be32(buf, safe + 8),
        flags=((buf[safe + 12] & 0x0F).astype(np.int64) << 8) | buf[safe + 13],
        window=be16(buf, safe + 14),
        # Clipped to the int32 column: a zero IP length falls back to the
        # record's 32-bit original length, which wrapped to a negative payload.
        payload_len=np.clip(length - hlen, 0, INT32_MAX),
        tsval=np.full(n, -1, np.int64),
        tsecr=np.full(n, -1, np.int64),
        mss=np.full(n, -1, np.int64),
        wscale=np.full(n, -1, np.int64),
        sack_perm=np.zeros(n, bool),
    )
    opt = safe + 20
    opt_end = np.minimum(safe + hlen, captured_end)
    opt_len = np.where(ok, opt_end - opt, 0)
    done = opt_len <= 0
    # Established segments from Linux: NOP NOP TS(10).
    cand = np.flatnonzero(opt_len == 12)
    o = opt[cand]
    hit = (buf[o] == 1) & (buf[o + 1] == 1) & (buf[o + 2] == 8) & (buf[o + 3] == 10)
    cand, o = cand[hit], o[hit]
    t.tsval[cand], t.tsecr[cand] = be32(buf, o + 4), be32(buf, o + 8)
    done[cand] = True
    # SYN and SYN-ACK from Linux: MSS(4) SACK-perm(2) TS(10) NOP WS(3).
    cand = np.flatnonzero(opt_len == 20)
    o = opt[cand]
    hit = (
        (buf[o] == 2)
        & (buf[o + 1] == 4)
        & (buf[o + 4] == 4)
        & (buf[o + 5] == 2)
        & (buf[o + 6] == 8)
        & (buf[o + 7] == 10)
        & (buf[o + 16] == 1)
        & (buf[o + 17] == 3)
        & (buf[o + 18] == 3)
    )
    cand, o = cand[hit], o[hit]
    t.mss[cand] = be16(buf, o + 2)
    t.sack_perm[cand] = True
    t.tsval[cand], t.tsecr[cand] = be32(buf, o + 8), be32(buf, o + 12)
    t.wscale[cand] = buf[o + 19]
    done[cand] = True
    cut = np.where(ok, safe + hlen > captured_end, False)
    for i in np.flatnonzero(~done).tolist():
        _walk_options(bytes(buf[opt[i] : opt_end[i]]), t, i, bool(cut[i]))
    return t


def _walk_options(data: bytes, t: TCPHeaders, i: int, cut: bool) -> None:
    """Any option layout; stops at EOL or at an option whose length is impossible.

    When snaplen ``cut`` the options, an option's fields that were captured
    whole are still read, as tshark does.
    """
    at = 0
    while at < len(data):
        kind = data[at]
        if kind == OPT_EOL:
            return
        if kind == OPT_NOP:
            at += 1
            continue
        if at + 1 >= len(data):
            return
        size = data[at + 1]
        if size < 2 or (at + size > len(data) and not cut):
            return
        value = data[at + 2 : at + size]
        if kind == OPT_MSS and size == 4 and len(value) == 2:
            t.mss[i] = int.from_bytes(value, "big")
        elif kind == OPT_WSCALE and size == 3 and len(value) == 1:
            t.wscale[i] = value[0]
        elif kind == OPT_SACK_PERM and size == 2:
            t.sack_perm[i] = True
        elif kind == OPT_TIMESTAMP and size == 10:
            if len(value) >= 4:
                t.tsval[i] = int.from_bytes(value[:4], "big")
            if len(value) == 8:
                t.tsecr[i] = int.from_bytes(value[4:], "big")
        at += size
