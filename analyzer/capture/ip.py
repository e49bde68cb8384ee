"""IPv4 and IPv6 headers, vectorised, with IPv6 extension headers walked per packet.

For each packet that announces IP, finds the transport header: its offset,
the protocol, and the transport length *from the IP header's length fields*
(not from the captured length, which snaplen may cut). Fragments are marked,
not decoded: their transport header is absent or incomplete.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fields import be16

PROTO_TCP = 6
# IPv6 extension headers that may stand between the fixed header and TCP.
IPV6_HOP_BY_HOP = 0
IPV6_ROUTING = 43
IPV6_FRAGMENT = 44
IPV6_AH = 51
IPV6_DEST_OPTS = 60
IPV6_EXTENSIONS = (IPV6_HOP_BY_HOP, IPV6_ROUTING, IPV6_FRAGMENT, IPV6_AH, IPV6_DEST_OPTS)


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
    ip_id: np.ndarray


_V4_MAPPED_PREFIX = np.array([0] * 10 + [0xFF, 0xFF], np.uint8)


def _addresses(buf: np.ndarray, at: np.ndarray, width: int) -> np.ndarray:
    out = np.zeros((len(at), 16), np.uint8)
    cols = buf[at[:, None] + np.arange(width)]
    if width == 4:
        out[:, :12] = _V4_MAPPED_PREFIX
        out[:, 12:] = cols
    else:
        out[:] = cols
    return out


def decode_ip(
    buf: np.ndarray,
    net: np.ndarray,
    version: np.ndarray,
    captured_end: np.ndarray,
    wire_len: np.ndarray,
) -> IPHeaders:
    """Decode the IP headers at offsets ``net``.

    ``captured_end`` is where each record's captured bytes end in the buffer;
    ``wire_len`` is the packet length on the wire from the network header on,
    used only when the IP length field is zero (TSO captures, jumbograms).
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
    _decode_v4(buf, net, captured_end, wire_len, h, np.flatnonzero(version == 4))
    _decode_v6(buf, net, captured_end, wire_len, h, np.flatnonzero(version == 6))
    return h


def _decode_v4(buf, net, captured_end, wire_len, h: IPHeaders, idx: np.ndarray) -> None:
    idx = idx[net[idx] + 20 <= captured_end[idx]]
    off = net[idx]
    ihl = (buf[off] & 0x0F).astype(np.int64) * 4
    total = be16(buf, off + 2)
    total = np.where(total == 0, wire_len[idx], total)
    sane = (ihl >= 20) & (total >= ihl) & (off + ihl <= captured_end[idx])
    idx, off, ihl, total = idx[sane], off[sane], ihl[sane], total[sane]
    frag = be16(buf, off + 6)
    h.ok[idx] = True
    h.fragment[idx] = (frag & 0x3FFF) != 0  # MF set or a non-zero offset
    h.ttl[idx] = buf[off + 8]
    h.proto[idx] = buf[off + 9]
    h.ip_id[idx] = be16(buf, off + 4)
    h.src[idx] = _addresses(buf, off + 12, 4)
    h.dst[idx] = _addresses(buf, off + 16, 4)
    h.l4_off[idx] = off + ihl
    h.l4_len[idx] = total - ihl


def _decode_v6(buf, net, captured_end, wire_len, h: IPHeaders, idx: np.ndarray) -> None:
    idx = idx[net[idx] + 40 <= captured_end[idx]]
    off = net[idx]
    payload = be16(buf, off + 4)
    payload = np.where(payload == 0, wire_len[idx] - 40, payload)
    h.ok[idx] = True
    h.proto[idx] = buf[off + 6]
    h.ttl[idx] = buf[off + 7]
    h.src[idx] = _addresses(buf, off + 8, 16)
    h.dst[idx] = _addresses(buf, off + 24, 16)
    h.l4_off[idx] = off + 40
    h.l4_len[idx] = payload
    # Extension headers are rare: walk them one packet at a time.
    for i in idx[np.isin(h.proto[idx], IPV6_EXTENSIONS)].tolist():
        _walk_extensions(buf, int(captured_end[i]), h, i)


def _walk_extensions(buf: np.ndarray, end: int, h: IPHeaders, i: int) -> None:
    proto = int(h.proto[i])
    at = int(h.l4_off[i])
    remaining = int(h.l4_len[i])
    while proto in IPV6_EXTENSIONS:
        if at + 8 > end:
            h.ok[i] = False  # the extension header chain was cut by snaplen
            return
        if proto == IPV6_FRAGMENT:
            # An "atomic fragment" (offset 0, no more fragments) is a whole
            # packet and is processed as one (RFC 6946).
            offset_and_more = (int(buf[at + 2]) << 8) | int(buf[at + 3])
            h.fragment[i] |= (offset_and_more & 0xFFF9) != 0
            size = 8
        elif proto == IPV6_AH:
            size = (int(buf[at + 1]) + 2) * 4
        else:
            size = (int(buf[at + 1]) + 1) * 8
        proto = int(buf[at])
        at += size
        remaining -= size
    if remaining < 0:
        h.ok[i] = False
        return
    h.proto[i], h.l4_off[i], h.l4_len[i] = proto, at, remaining
