"""Link layers: where the IP header starts in each record.

One small decoder per link type, each vectorised over the records of that link
type. A decoder returns the offset of the network header and the IP version it
announces (4, 6, or 0 for anything that is not IP). Adding a link type means
adding one function and one line to ``DECODERS``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .fields import be16, be32, le32
from .records import NOT_A_PACKET, RecordBatch

ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
VLAN_TAGS = (0x8100, 0x88A8, 0x9100)  # 802.1Q, 802.1ad (QinQ), legacy QinQ
MAX_VLAN_TAGS = 3
ETHERTYPE_PPPOE_SESSION = 0x8864
PPP_IPV4 = 0x0021
PPP_IPV6 = 0x0057
ETHERTYPE_MPLS = (0x8847, 0x8848)
MAX_MPLS_LABELS = 8
# BSD NULL/LOOP address families: AF_INET, then AF_INET6 as BSDs, Linux and
# macOS number it.
AF_INET = 2
AF_INET6 = (10, 24, 28, 30)


def _one_of(values: np.ndarray, choices: tuple[int, ...]) -> np.ndarray:
    """``np.isin(values, choices)`` for a few choices: compared one by one,
    seven times faster on a batch's records (the Ethernet decoder's largest cost)."""
    found = values == choices[0]
    for choice in choices[1:]:
        found |= values == choice
    return found


def _version_from_ethertype(ethertype: np.ndarray) -> np.ndarray:
    return np.where(ethertype == ETHERTYPE_IPV4, 4, np.where(ethertype == ETHERTYPE_IPV6, 6, 0))


def ethernet(b: RecordBatch, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    start = b.data_off[idx]
    end = start + b.caplen[idx]
    net = start + 14
    ok = net <= end
    ethertype = np.zeros(len(idx), np.int64)
    ethertype[ok] = be16(b.buf, start[ok] + 12)
    for _ in range(MAX_VLAN_TAGS):
        tagged = ok & _one_of(ethertype, VLAN_TAGS) & (net + 4 <= end)
        if not tagged.any():
            break
        # The tag's TPID sits where the ethertype was; the real type follows it.
        ethertype[tagged] = be16(b.buf, net[tagged] + 2)
        net[tagged] += 4
    version = _version_from_ethertype(ethertype)
    _pppoe_session(b, ethertype, net, end, version)
    _mpls(b, ethertype, net, end, version)
    return net, np.where(ok, version, 0)


def _pppoe_session(b, ethertype, net, end, version) -> None:
    """PPPoE session: 6-byte PPPoE header, then the 2-byte PPP protocol."""
    pppoe = np.flatnonzero((ethertype == ETHERTYPE_PPPOE_SESSION) & (net + 8 <= end))
    proto = be16(b.buf, net[pppoe] + 6)
    version[pppoe] = np.where(proto == PPP_IPV4, 4, np.where(proto == PPP_IPV6, 6, 0))
    net[pppoe] += 8


def _mpls(b, ethertype, net, end, version) -> None:
    """MPLS label stack: skip labels to the bottom of stack, then read the IP version."""
    labelled = _one_of(ethertype, ETHERTYPE_MPLS) & (net + 4 <= end)
    for _ in range(MAX_MPLS_LABELS):
        idx = np.flatnonzero(labelled)
        if not len(idx):
            return
        bottom = (b.buf[net[idx] + 2] & 1) == 1
        net[idx] += 4
        done = idx[bottom]
        readable = done[net[done] < end[done]]
        nibble = b.buf[net[readable]] >> 4
        version[readable] = np.where(_one_of(nibble, (4, 6)), nibble, 0)
        labelled[done] = False
        labelled[idx[~bottom]] &= net[idx[~bottom]] + 4 <= end[idx[~bottom]]


def _cooked(header: int, proto_at: int):
    def decode(b: RecordBatch, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        start = b.data_off[idx]
        ok = b.caplen[idx] >= header
        proto = np.zeros(len(idx), np.int64)
        proto[ok] = be16(b.buf, start[ok] + proto_at)
        return start + header, np.where(ok, _version_from_ethertype(proto), 0)

    return decode


def raw_ip(b: RecordBatch, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """No link header: the IP version nibble says which IP it is."""
    start = b.data_off[idx]
    ok = b.caplen[idx] >= 1
    version = np.zeros(len(idx), np.int64)
    version[ok] = b.buf[start[ok]] >> 4
    return start, np.where(_one_of(version, (4, 6)), version, 0)


def bsd_loopback(b: RecordBatch, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NULL (host byte order family) and LOOP (network byte order family).

    The capturing host's byte order is not recorded, so accept the family in
    either order; it must agree with the IP version nibble.
    """
    start = b.data_off[idx]
    ok = b.caplen[idx] >= 5
    family_le = np.zeros(len(idx), np.int64)
    family_be = np.zeros(len(idx), np.int64)
    version = np.zeros(len(idx), np.int64)
    family_le[ok] = le32(b.buf, start[ok])
    family_be[ok] = be32(b.buf, start[ok])
    version[ok] = b.buf[start[ok] + 4] >> 4
    is4 = (family_le == AF_INET) | (family_be == AF_INET)
    is6 = _one_of(family_le, AF_INET6) | _one_of(family_be, AF_INET6)
    version = np.where((is4 & (version == 4)) | (is6 & (version == 6)), version, 0)
    return start + 4, version


Decoder = Callable[[RecordBatch, np.ndarray], tuple[np.ndarray, np.ndarray]]

DECODERS: dict[int, Decoder] = {
    0: bsd_loopback,  # LINKTYPE_NULL
    1: ethernet,  # LINKTYPE_ETHERNET
    12: raw_ip,  # DLT_RAW on most BSDs
    14: raw_ip,  # DLT_RAW on OpenBSD
    101: raw_ip,  # LINKTYPE_RAW
    108: bsd_loopback,  # LINKTYPE_LOOP
    113: _cooked(16, 14),  # LINKTYPE_LINUX_SLL
    228: raw_ip,  # LINKTYPE_IPV4
    229: raw_ip,  # LINKTYPE_IPV6
    276: _cooked(20, 0),  # LINKTYPE_LINUX_SLL2
}

NAMES = {
    0: "NULL",
    1: "ETHERNET",
    12: "RAW",
    14: "RAW",
    101: "RAW",
    108: "LOOP",
    113: "LINUX_SLL",
    228: "IPV4",
    229: "IPV6",
    276: "LINUX_SLL2",
}


def network_layer(b: RecordBatch) -> tuple[np.ndarray, np.ndarray, dict[int, int]]:
    """Network-header offset and IP version (0 = not IP) for every record.

    Also returns, per unsupported link type, how many records it had.
    """
    net = np.zeros(len(b), np.int64)
    version = np.zeros(len(b), np.int64)
    unsupported: dict[int, int] = {}
    first = b.linktype[:1]
    # (Mostly one link type a batch: seen without sorting them all.)
    kinds = first.tolist() if (b.linktype == first).all() else np.unique(b.linktype).tolist()
    for linktype in kinds:
        idx = np.flatnonzero(b.linktype == linktype)
        decoder = DECODERS.get(linktype)
        if linktype == NOT_A_PACKET:
            continue
        if decoder is None:
            unsupported[linktype] = len(idx)
            continue
        net[idx], version[idx] = decoder(b, idx)
    return net, version, unsupported
