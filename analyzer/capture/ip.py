"""IPv4 and IPv6 headers, and IPv6 extension headers.

For each packet that announces IP, finds the transport header: its offset,
the protocol, and the transport length *from the IP header's length fields*
(not from the captured length, which snaplen may cut). Fragments are marked,
not decoded: their transport header is absent or incomplete. The walk over
the packets is compiled (``ip_headers``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ip_headers import decode

PROTO_TCP = 6


@dataclass
class IPHeaders:
    """Per packet (same order as the input offsets)."""

    ok: np.ndarray  # bool: a whole IP header was captured and its lengths are sane
    proto: np.ndarray  # transport protocol number
    fragment: np.ndarray  # bool: an IP fragment (or IPv6 Fragment header)
    l4_off: np.ndarray  # offset of the transport header in the buffer
    l4_len: np.ndarray  # transport header + payload length, from the IP header
    src: np.ndarray  # (n, 16) uint8; IPv4 as IPv4-mapped IPv6
    dst: np.ndarray
    ttl: np.ndarray
    ip_id: np.ndarray  # -1 for IPv6


def decode_ip(
    buf: np.ndarray,
    net: np.ndarray,
    version: np.ndarray,
    captured_end: np.ndarray,
    wire_len: np.ndarray,
) -> IPHeaders:
    """Decode the IP headers at offsets ``net`` (``version``: 4, 6, or another: not IP).

    ``captured_end`` is where each record's captured bytes end in the buffer;
    ``wire_len`` is the packet length on the wire from the network header on,
    used only when the IP length field is zero (TSO captures, jumbograms).
    Fields of a packet that is not ``ok`` are meaningless.
    """
    n = len(net)
    h = IPHeaders(
        ok=np.zeros(n, bool),
        proto=np.zeros(n, np.int64),
        fragment=np.zeros(n, bool),
        l4_off=np.zeros(n, np.int64),
        l4_len=np.zeros(n, np.int64),
        src=np.zeros((n, 16), np.uint8),
        dst=np.zeros((n, 16), np.uint8),
        ttl=np.zeros(n, np.int64),
        ip_id=np.full(n, -1, np.int64),
    )
    decode(
        np.ascontiguousarray(buf, np.uint8),
        *(np.ascontiguousarray(a, np.int64) for a in (net, version, captured_end, wire_len)),
        h.ok.view(np.uint8),
        h.proto,
        h.fragment.view(np.uint8),
        h.l4_off,
        h.l4_len,
        h.src,
        h.dst,
        h.ttl,
        h.ip_id,
    )
    return h
