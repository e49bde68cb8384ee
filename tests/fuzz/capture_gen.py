"""Build capture files byte by byte (struct only), valid or deliberately broken.

Used by the hypothesis suite (tests/test_fuzz_reader.py) and the atheris harness
(tests/fuzz/atheris_reader.py). Every builder takes exact field values, so a test
can put any lie in any length field. Functions that build whole files also
return where each record starts and ends, so a test knows which records lie
wholly before a damaged byte.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass, field

# --- classic pcap -------------------------------------------------------------

PCAP_MAGIC_US = 0xA1B2C3D4
PCAP_MAGIC_NS = 0xA1B23C4D
PCAP_MAGIC_KUZNETSOV = 0xA1B2CD34


@dataclass
class Built:
    """A capture file and the [start, end) byte range of each of its records."""

    data: bytes
    records: list[tuple[int, int]] = field(default_factory=list)
    header_end: int = 0
    # pcapng: indexes into ``records`` of the blocks that are packets (EPB, PB, SPB)
    packet_blocks: set[int] | None = None

    def whole_packets_before(self, offset: int) -> int:
        """How many packet records end at or before ``offset``."""
        indexes = range(len(self.records)) if self.packet_blocks is None else self.packet_blocks
        return sum(1 for i in indexes if self.records[i][1] <= offset)

    def boundary_before(self, offset: int) -> int:
        """The largest record boundary <= offset (0 inside the file header)."""
        if offset < self.header_end:
            return 0
        best = self.header_end
        for _, end in self.records:
            if end <= offset:
                best = max(best, end)
        return best


def pcap_header(
    little: bool = True,
    magic: int = PCAP_MAGIC_US,
    linktype: int = 1,
    snaplen: int = 262144,
    version: tuple[int, int] = (2, 4),
) -> bytes:
    e = "<" if little else ">"
    return struct.pack(e + "IHHiIII", magic, version[0], version[1], 0, 0, snaplen, linktype)


def pcap_record(
    data: bytes,
    little: bool = True,
    ts: tuple[int, int] = (1_700_000_000, 0),
    caplen: int | None = None,
    origlen: int | None = None,
    kuznetsov: bool = False,
) -> bytes:
    e = "<" if little else ">"
    caplen = len(data) if caplen is None else caplen
    origlen = len(data) if origlen is None else origlen
    head = struct.pack(e + "IIII", ts[0], ts[1], caplen, origlen)
    if kuznetsov:
        head += struct.pack(e + "IHBB", 0, 0, 0, 0)
    return head + data


def pcap_file(
    packets: list[bytes],
    little: bool = True,
    ns: bool = False,
    linktype: int = 1,
    kuznetsov: bool = False,
    origlens: list[int] | None = None,
) -> Built:
    magic = PCAP_MAGIC_KUZNETSOV if kuznetsov else PCAP_MAGIC_NS if ns else PCAP_MAGIC_US
    out = bytearray(pcap_header(little, magic, linktype))
    built = Built(b"", header_end=len(out))
    for i, packet in enumerate(packets):
        start = len(out)
        origlen = origlens[i] if origlens else None
        out += pcap_record(
            packet, little, (1_700_000_000 + i, i), origlen=origlen, kuznetsov=kuznetsov
        )
        built.records.append((start, len(out)))
    built.data = bytes(out)
    return built


# --- pcapng -------------------------------------------------------------------

SHB = 0x0A0D0D0A
IDB = 1
PB = 2
SPB = 3
EPB = 6


def _pad4(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 4)


def ng_block(
    block_type: int,
    body: bytes,
    little: bool = True,
    length: int | None = None,
    trailer: int | None = None,
) -> bytes:
    e = "<" if little else ">"
    body = _pad4(body)
    total = 12 + len(body)
    length = total if length is None else length
    trailer = length if trailer is None else trailer
    return struct.pack(e + "II", block_type, length) + body + struct.pack(e + "I", trailer)


def ng_option(code: int, value: bytes, little: bool = True, length: int | None = None) -> bytes:
    e = "<" if little else ">"
    length = len(value) if length is None else length
    return struct.pack(e + "HH", code, length) + _pad4(value)


def ng_shb(little: bool = True, options: bytes = b"") -> bytes:
    e = "<" if little else ">"
    body = struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1) + options
    return ng_block(SHB, body, little)


def ng_idb(
    linktype: int = 1,
    snaplen: int = 0,
    little: bool = True,
    tsresol: int | None = None,
    tsoffset: int | None = None,
    extra_options: bytes = b"",
) -> bytes:
    e = "<" if little else ">"
    opts = extra_options
    if tsresol is not None:
        opts += ng_option(9, bytes([tsresol]), little)
    if tsoffset is not None:
        opts += ng_option(14, struct.pack(e + "q", tsoffset), little)
    if opts:
        opts += ng_option(0, b"", little)
    return ng_block(IDB, struct.pack(e + "HHI", linktype, 0, snaplen) + opts, little)


def ng_epb(
    data: bytes,
    iface: int = 0,
    ts: int = 1_700_000_000_000_000,
    little: bool = True,
    caplen: int | None = None,
    origlen: int | None = None,
) -> bytes:
    e = "<" if little else ">"
    caplen = len(data) if caplen is None else caplen
    origlen = len(data) if origlen is None else origlen
    head = struct.pack(e + "IIIII", iface, ts >> 32 & 0xFFFFFFFF, ts & 0xFFFFFFFF, caplen, origlen)
    return ng_block(EPB, head + data, little)


def ng_pb(data: bytes, iface: int = 0, ts: int = 1_700_000_000_000_000, little: bool = True):
    e = "<" if little else ">"
    hi, lo = ts >> 32 & 0xFFFFFFFF, ts & 0xFFFFFFFF
    head = struct.pack(e + "HHIIII", iface, 0, hi, lo, len(data), len(data))
    return ng_block(PB, head + data, little)


def ng_spb(data: bytes, little: bool = True, origlen: int | None = None) -> bytes:
    e = "<" if little else ">"
    origlen = len(data) if origlen is None else origlen
    return ng_block(SPB, struct.pack(e + "I", origlen) + data, little)


def pcapng_file(blocks: list[bytes], packet_blocks: set[int]) -> Built:
    """Concatenate blocks; every block is a record, ``packet_blocks`` say which are packets."""
    out = bytearray()
    built = Built(b"", packet_blocks=set(packet_blocks))
    for block in blocks:
        start = len(out)
        out += block
        built.records.append((start, len(out)))
    built.data = bytes(out)
    return built


# --- packets ------------------------------------------------------------------


def ethernet(payload: bytes, ethertype: int = 0x0800, vlan_tags: list[int] = ()) -> bytes:
    head = b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02"
    for i, tpid in enumerate(vlan_tags):
        head += struct.pack(">HH", tpid, 100 + i)
    return head + struct.pack(">H", ethertype) + payload


def mpls(payload: bytes, labels: int, bottom: bool = True) -> bytes:
    out = b""
    for i in range(labels):
        last = bottom and i == labels - 1
        out += struct.pack(">I", (16 + i) << 12 | (0x100 if last else 0) | 64)
    return out + payload


def pppoe(payload: bytes, ppp_proto: int = 0x0021, length: int | None = None) -> bytes:
    length = len(payload) + 2 if length is None else length
    return struct.pack(">BBHHH", 0x11, 0, 1, length, ppp_proto) + payload


def ipv4(
    payload: bytes,
    proto: int = 6,
    ihl: int | None = None,
    total: int | None = None,
    frag: int = 0,
    options: bytes = b"",
    src: bytes = b"\x0a\0\0\x01",
    dst: bytes = b"\x0a\0\0\x02",
) -> bytes:
    options = _pad4(options)
    ihl = 5 + len(options) // 4 if ihl is None else ihl
    total = 20 + len(options) + len(payload) if total is None else total
    head = struct.pack(
        ">BBHHHBBH4s4s", 0x40 | (ihl & 0xF), 0, total & 0xFFFF, 1, frag, 64, proto, 0, src, dst
    )
    return head + options + payload


def ipv6(
    payload: bytes,
    next_header: int = 6,
    payload_len: int | None = None,
    src: bytes = b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\x01",
    dst: bytes = b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\x02",
) -> bytes:
    plen = len(payload) if payload_len is None else payload_len
    return struct.pack(">IHBB", 0x60000000, plen & 0xFFFF, next_header, 64) + src + dst + payload


def ipv6_ext(next_header: int, kind: int, length_field: int = 0) -> bytes:
    """One extension header of ``kind`` (0, 43, 44, 51, 60) pointing at ``next_header``."""
    if kind == 44:
        return struct.pack(">BBHI", next_header, 0, 0, 1)
    # AH counts 4-byte units minus 2; the others 8-byte units minus 1.
    size = (length_field + 2) * 4 if kind == 51 else (length_field + 1) * 8
    return struct.pack(">BB", next_header, length_field) + b"\0" * (size - 2)


def tcp(
    payload: bytes = b"",
    flags: int = 0x18,
    data_offset: int | None = None,
    options: bytes = b"",
    sport: int = 40000,
    dport: int = 80,
    seq: int = 1000,
    ack: int = 2000,
) -> bytes:
    options = _pad4(options)
    doff = 5 + len(options) // 4 if data_offset is None else data_offset
    head = struct.pack(
        ">HHIIBBHHH",
        sport,
        dport,
        seq,
        ack,
        (doff & 0xF) << 4 | flags >> 8,
        flags & 0xFF,
        65535,
        0,
        0,
    )
    return head + options + payload


# --- gzip ---------------------------------------------------------------------


def gzip_bytes(data: bytes, level: int = 6) -> bytes:
    return gzip.compress(data, compresslevel=level, mtime=0)


def gzip_members(parts: list[bytes]) -> bytes:
    return b"".join(gzip_bytes(p) for p in parts)


def raw_deflate_bomb(size: int) -> bytes:
    """A gzip stream of ``size`` zero bytes (about size/1000 bytes long)."""
    co = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1 << 20)
    out = bytearray()
    left = size
    while left:
        n = min(left, len(chunk))
        out += co.compress(chunk[:n])
        left -= n
    return bytes(out + co.flush())
