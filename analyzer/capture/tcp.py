"""TCP headers and the options that matter for teardown.

The walk over each segment's options is compiled (``tcp_headers``); this
module gives its results as arrays of the segment columns' types.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..segments import COLUMNS
from .tcp_headers import decode


@dataclass
class TCPHeaders:
    ok: np.ndarray  # bool: the 20-byte header was captured and its length is sane
    sport: np.ndarray
    dport: np.ndarray
    seq: np.ndarray
    ack: np.ndarray
    flags: np.ndarray
    window: np.ndarray
    payload_len: np.ndarray  # header and payload from the IP header, less the header
    tsval: np.ndarray  # -1: no timestamp option
    tsecr: np.ndarray
    mss: np.ndarray  # -1: no MSS option
    wscale: np.ndarray  # -1: no window scale option
    sack_perm: np.ndarray


def decode_tcp(
    buf: np.ndarray, off: np.ndarray, length: np.ndarray, captured_end: np.ndarray
) -> TCPHeaders:
    """Decode TCP headers at ``off``; ``length`` is header+payload from the IP header.

    Fields of a row that is not ``ok`` are meaningless. Options are read up
    to EOL or an option whose length is impossible; when the snaplen cut
    them, an option's fields that were captured whole are still read, as
    tshark does.
    """
    n = len(off)
    absent = {"tsval": -1, "tsecr": -1, "mss": -1, "wscale": -1, "sack_perm": False}
    t = TCPHeaders(
        ok=np.zeros(n, bool),
        **{
            name: np.full(n, absent.get(name, 0), COLUMNS[name])
            for name in TCPHeaders.__dataclass_fields__
            if name != "ok"
        },
    )
    decode(
        np.ascontiguousarray(buf, np.uint8),
        *(np.ascontiguousarray(a, np.int64) for a in (off, length, captured_end)),
        t.ok.view(np.uint8),
        t.sport, t.dport, t.seq, t.ack, t.flags, t.window, t.payload_len,
        t.tsval, t.tsecr, t.mss, t.wscale, t.sack_perm.view(np.uint8),
    )  # fmt: skip
    return t
