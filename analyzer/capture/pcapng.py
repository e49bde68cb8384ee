"""pcapng files: sections, interfaces and the three kinds of packet blocks.

Reads Section Header (SHB), Interface Description (IDB, with if_tsresol and
if_tsoffset), Enhanced Packet (EPB), Simple Packet (SPB) and the obsolete
Packet Block (PB); every other block is skipped by its length. A file may hold
several sections, each with its own byte order and interfaces. Interface ids
are numbered within their section in the order their IDBs appear, as
Wireshark's ``frame.interface_id`` does.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .errors import CaptureProblem
from .records import MAX_RECORD_BYTES, NOT_A_PACKET, RecordBatch, RecordBuilder

SHB = 0x0A0D0D0A
IDB = 0x00000001
PB = 0x00000002
SPB = 0x00000003
EPB = 0x00000006
SYSTEMD_JOURNAL = 0x00000009
CUSTOM_BLOCKS = (0x00000BAD, 0x40000BAD)
# Blocks that Wireshark numbers as frames although they hold no packet.
FRAME_BLOCKS = (SYSTEMD_JOURNAL, *CUSTOM_BLOCKS)
BYTE_ORDER_MAGIC = 0x1A2B3C4D
OPT_ENDOFOPT = 0
OPT_IF_TSRESOL = 9
OPT_IF_TSOFFSET = 14
# Non-packet blocks (name resolution, secrets) can be large, but not this large.
MAX_BLOCK_BYTES = 16 * 1024 * 1024
NS_PER_S = 1_000_000_000
# The smallest length each block type can have: its fixed fields plus the
# 12 bytes of type, length and trailer. A shorter block would make the fixed
# fields be read from the next block or past the end of the buffer.
MIN_BLOCK_BYTES = {IDB: 20, PB: 32, SPB: 16, EPB: 32}
# Timestamps are int64 nanoseconds (until 2262); garbage ticks, an absurd
# if_tsresol or if_tsoffset can claim far more, which must not crash the batch.
TS_NS_MIN = -(2**63)
TS_NS_MAX = 2**63 - 1


def is_pcapng(head: bytes) -> bool:
    return len(head) >= 4 and struct.unpack_from("<I", head)[0] == SHB


@dataclass
class Interface:
    section_id: int
    linktype: int
    snaplen: int
    ticks_per_s: int = 1_000_000  # if_tsresol default: microseconds
    offset_s: int = 0

    def ts_ns(self, ticks: int) -> int:
        if self.ticks_per_s == NS_PER_S:
            ns = ticks + self.offset_s * NS_PER_S
        else:
            ns = ticks * NS_PER_S // self.ticks_per_s + self.offset_s * NS_PER_S
        # Clamp rather than overflow the int64 column (garbage ticks or an absurd
        # if_tsresol/if_tsoffset crashed the whole batch): the packet is kept.
        return min(max(ns, TS_NS_MIN), TS_NS_MAX)


def _ticks_per_second(tsresol: int) -> int:
    # MSB clear: 10^-n seconds; MSB set: 2^-n seconds (pcapng spec, if_tsresol).
    exponent = tsresol & 0x7F
    return 2**exponent if tsresol & 0x80 else 10**exponent


def _resolution_name(ticks_per_s: int) -> str:
    return {1_000_000: "us", NS_PER_S: "ns", 1000: "ms"}.get(ticks_per_s, f"1/{ticks_per_s} s")


class PcapngParser:
    """Turns buffers of a pcapng file into record batches, block by block."""

    format = "pcapng"

    def __init__(self, path: str, header: bytes) -> None:
        self.path = path
        self.header_bytes = 0  # the first SHB is parsed as a block
        self.endian = "<"
        self.byte_order = "little"
        self.section_interfaces: list[Interface] = []
        self.interface_count = 0
        self.link_types: set[int] = set()
        self.sections = 0
        self.untimed = 0  # Simple Packet Blocks: no timestamp
        self.time_resolutions: set[str] = set()

    def parse(self, buf: bytes, base: int) -> tuple[RecordBatch, int, CaptureProblem | None]:
        out = RecordBuilder()
        off = 0
        n = len(buf)
        problem = None
        while off + 12 <= n:
            problem, block_len = self._block_length(buf, off, base)
            if problem or off + block_len > n:
                break
            problem = self._block(buf, off, block_len, base, out)
            if problem:
                break
            off += block_len
        return out.build(buf), off, problem

    def _block_length(self, buf: bytes, off: int, base: int) -> tuple[CaptureProblem | None, int]:
        (block_type,) = struct.unpack_from("<I", buf, off)
        if block_type == SHB:
            # The byte order of a section is only known from its SHB.
            (magic,) = struct.unpack_from("<I", buf, off + 8)
            if magic == BYTE_ORDER_MAGIC:
                self.endian = "<"
            elif magic == 0x4D3C2B1A:
                self.endian = ">"
            else:
                return self._damage(base + off, "section header has no byte-order magic"), 0
        (block_len,) = struct.unpack_from(self.endian + "I", buf, off + 4)
        if block_len < 12 or block_len % 4:
            return self._damage(base + off, f"block length {block_len} is impossible"), 0
        if block_len > MAX_BLOCK_BYTES:
            return self._damage(
                base + off, f"block length {block_len} exceeds {MAX_BLOCK_BYTES}"
            ), 0
        return None, block_len

    def _damage(self, offset: int, message: str) -> CaptureProblem:
        return CaptureProblem(self.path, offset, message + "; the file is damaged here")

    def _block(
        self, buf: bytes, off: int, block_len: int, base: int, out: RecordBuilder
    ) -> CaptureProblem | None:
        e = self.endian
        block_type, _ = struct.unpack_from(e + "II", buf, off)
        (trailer,) = struct.unpack_from(e + "I", buf, off + block_len - 4)
        if trailer != block_len:
            return self._damage(
                base + off,
                f"block length {block_len} disagrees with its trailing copy {trailer}",
            )
        if block_len < MIN_BLOCK_BYTES.get(block_type, 12):
            # Without this, a short IDB/EPB/PB at the end of the buffer crashed
            # struct.unpack_from, and a short SPB gave a negative captured length.
            return self._damage(
                base + off, f"block length {block_len} is too short for block type {block_type}"
            )
        if block_type == SHB:
            self.sections += 1
            self.section_interfaces = []
            self.interface_count = 0  # interface ids restart in each section
            self.byte_order = "little" if e == "<" else "big"
        elif block_type == IDB:
            self._interface(buf, off, block_len)
        elif block_type in (EPB, PB):
            if block_type == EPB:
                iface_id, hi, lo, caplen, origlen = struct.unpack_from(e + "IIIII", buf, off + 8)
            else:
                iface_id, _, hi, lo, caplen, origlen = struct.unpack_from(
                    e + "HHIIII", buf, off + 8
                )
            if iface_id >= len(self.section_interfaces):
                return self._damage(base + off, f"packet names unknown interface {iface_id}")
            if caplen > MAX_RECORD_BYTES or 28 + caplen > block_len - 4:
                return self._damage(base + off, f"packet block claims {caplen} captured bytes")
            iface = self.section_interfaces[iface_id]
            self._record(out, off + 28, caplen, origlen, iface.ts_ns((hi << 32) | lo), iface)
        elif block_type == SPB:
            if not self.section_interfaces:
                return self._damage(base + off, "simple packet block before any interface")
            iface = self.section_interfaces[0]
            (origlen,) = struct.unpack_from(e + "I", buf, off + 8)
            caplen = min(origlen, block_len - 16)
            if iface.snaplen:
                caplen = min(caplen, iface.snaplen)
            # SPBs carry no timestamp; they are given time 0 (Wireshark shows none).
            self.untimed += 1
            self._record(out, off + 12, caplen, origlen, 0, iface)
        elif block_type in FRAME_BLOCKS:
            out.data_off.append(off)
            out.caplen.append(0)
            out.origlen.append(0)
            out.ts_ns.append(0)
            out.linktype.append(NOT_A_PACKET)
            out.interface.append(0)
        return None

    def _record(self, out, data_off, caplen, origlen, ts_ns, iface: Interface) -> None:
        out.data_off.append(data_off)
        out.caplen.append(caplen)
        out.origlen.append(origlen)
        out.ts_ns.append(ts_ns)
        out.linktype.append(iface.linktype)
        out.interface.append(iface.section_id)

    def _interface(self, buf: bytes, off: int, block_len: int) -> None:
        e = self.endian
        linktype, _, snaplen = struct.unpack_from(e + "HHI", buf, off + 8)
        iface = Interface(self.interface_count, linktype, snaplen)
        self.interface_count += 1
        opt = off + 16
        end = off + block_len - 4
        while opt + 4 <= end:
            code, length = struct.unpack_from(e + "HH", buf, opt)
            if code == OPT_ENDOFOPT:
                break
            value = opt + 4
            # An option value cut by the block's end is ignored: an if_tsoffset
            # there was read past the end of the buffer (struct.error).
            if code == OPT_IF_TSRESOL and length >= 1 and value < end:
                iface.ticks_per_s = _ticks_per_second(buf[value])
            elif code == OPT_IF_TSOFFSET and length >= 8 and value + 8 <= end:
                (iface.offset_s,) = struct.unpack_from(e + "q", buf, value)
            opt = value + (length + 3) // 4 * 4
        self.time_resolutions.add(_resolution_name(iface.ticks_per_s))
        self.section_interfaces.append(iface)
        self.link_types.add(linktype)
