#!/usr/bin/env python3
"""Build the capture-format test files in tests/data/formats/ (and broken/).

Every packet is built byte by byte with ``struct`` (no scapy: we need malformed
options, odd layouts and full determinism), and every container is written by
hand, so the files are identical on every run.  A few files are derived from the
real captures in /work/shared/corpus with editcap/mergecap (also deterministic
for a given Wireshark version).  For each file we write

* NAME.tshark.tsv   -- tshark's view of every TCP frame (see TSHARK_FIELDS)
* NAME.info.json    -- container facts + frame / segment / fragment counts

and README.md (table of files).  broken/ gets damaged files and broken/README.md.

Run:  /work/main/.venv/bin/python tests/data/formats/make_formats.py
"""

from __future__ import annotations

import gzip
import json
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
BROKEN = HERE / "broken"
CORPUS = Path("/work/shared/corpus")
PUBLIC = CORPUS / "public"
ZEEK = CORPUS / "zeek" / "traces"

# The same fields the reader tests compare (one list, in tests/tshark_reference.py).
sys.path.insert(0, str(HERE.parents[2]))
from tests.tshark_reference import FIELDS as TSHARK_FIELDS  # noqa: E402
from tests.tshark_reference import tshark_fields  # noqa: E402

# --------------------------------------------------------------------------
# packet building
# --------------------------------------------------------------------------

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_ARP = 0x0806
PROTO_TCP = 6
PROTO_UDP = 17
PROTO_ICMP = 1
PROTO_ICMPV6 = 58

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

MAC_C = bytes.fromhex("020000000a01")
MAC_S = bytes.fromhex("020000000b02")


def ip4(s: str) -> bytes:
    return bytes(int(x) for x in s.split("."))


def ip6(s: str) -> bytes:
    import ipaddress

    return ipaddress.IPv6Address(s).packed


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def pseudo(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    if len(src) == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


def tcp_seg(src, dst, sport, dport, seq, ack, flags, win, opts=b"", payload=b"") -> bytes:
    """TCP header + payload with a correct checksum.  opts is raw option bytes
    (padded here with zero bytes to a multiple of 4)."""
    opts = opts + b"\0" * (-len(opts) % 4)
    doff = (20 + len(opts)) // 4
    seq, ack = (
        seq & 0xFFFFFFFF,
        ack & 0xFFFFFFFF,
    )  # sequence space wraps (the IPv6 conversation does)
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, win, 0, 0)
    seg = hdr + opts + payload
    c = csum(pseudo(src, dst, PROTO_TCP, len(seg)) + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp_dgram(src, dst, sport, dport, payload) -> bytes:
    hdr = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0)
    d = hdr + payload
    c = csum(pseudo(src, dst, PROTO_UDP, len(d)) + d) or 0xFFFF
    return d[:6] + struct.pack("!H", c) + d[8:]


def ipv4_pkt(
    src, dst, proto, payload, ttl=64, ident=0, df=True, opts=b"", frag_off=0, mf=False, tos=0
):
    opts = opts + b"\0" * (-len(opts) % 4)
    ihl = 5 + len(opts) // 4
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag_off // 8)
    hdr = struct.pack(
        "!BBHHHBBH4s4s",
        0x40 | ihl,
        tos,
        ihl * 4 + len(payload),
        ident,
        flags,
        ttl,
        proto,
        0,
        src,
        dst,
    )
    hdr += opts
    c = csum(hdr)
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def ipv6_pkt(src, dst, nh, payload, hlim=64, flow=0, tc=0):
    first = (6 << 28) | (tc << 20) | flow
    return struct.pack("!IHBB16s16s", first, len(payload), nh, hlim, src, dst) + payload


def icmp4_echo(ident, seq, data, reply=False):
    m = struct.pack("!BBHHH", 0 if reply else 8, 0, 0, ident, seq) + data
    return m[:2] + struct.pack("!H", csum(m)) + m[4:]


def icmp6_echo(src, dst, ident, seq, data, reply=False):
    m = struct.pack("!BBHHH", 129 if reply else 128, 0, 0, ident, seq) + data
    c = csum(pseudo(src, dst, PROTO_ICMPV6, len(m)) + m)
    return m[:2] + struct.pack("!H", c) + m[4:]


def arp(op, sha, spa, tha, tpa) -> bytes:
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, sha, ip4(spa), tha, ip4(tpa))


# TCP options (raw bytes)
def o_mss(v):
    return struct.pack("!BBH", 2, 4, v)


def o_ws(s):
    return struct.pack("!BBB", 3, 3, s)


O_SACKOK = b"\x04\x02"
NOP = b"\x01"
EOL = b"\x00"


def o_ts(val, ecr):
    return struct.pack("!BBII", 8, 10, val, ecr)


def o_sack(*blocks):
    return struct.pack("!BB", 5, 2 + 8 * len(blocks)) + b"".join(
        struct.pack("!II", a & 0xFFFFFFFF, b & 0xFFFFFFFF) for a, b in blocks
    )


# A record: (kind, ethertype, l3 bytes).  kind is "tcp", "frag", "other".
def conversation(
    v6: bool, cli: str, srv: str, cport: int, sport: int, isn_c: int, isn_s: int, tag: int = 0
):
    """A full TCP conversation: handshake with options, data both ways, a
    SACK-carrying ACK, FIN/ACK close from the server first, and then a second
    connection on the next client port that is refused with RST/ACK."""
    if v6:
        c, s = ip6(cli), ip6(srv)
    else:
        c, s = ip4(cli), ip4(srv)
    ids = {"c": 0x1000 + tag * 0x100, "s": 0x2000 + tag * 0x100}
    ts = {"c": 100000 + tag, "s": 500000 + tag}
    out = []

    def send(frm, seq, ack, flags, win, opts=b"", payload=b"", port=None):
        cp = port or cport
        if frm == "c":
            seg = tcp_seg(c, s, cp, sport, seq, ack, flags, win, opts, payload)
            src, dst, ttl = c, s, 64
        else:
            seg = tcp_seg(s, c, sport, cp, seq, ack, flags, win, opts, payload)
            src, dst, ttl = s, c, 57
        if v6:
            pkt = ipv6_pkt(src, dst, PROTO_TCP, seg, hlim=ttl, flow=0x12345 + tag)
            out.append(("tcp", ETH_IPV6, pkt))
        else:
            pkt = ipv4_pkt(src, dst, PROTO_TCP, seg, ttl=ttl, ident=ids[frm])
            ids[frm] += 1
            out.append(("tcp", ETH_IPV4, pkt))

    def tso(frm):
        ts[frm] += 7
        other = "s" if frm == "c" else "c"
        return NOP + NOP + o_ts(ts[frm], ts[other] if ts[other] > 0 else 0)

    cs, ss = isn_c, isn_s
    req = (
        b"GET /teardown HTTP/1.1\r\nHost: example.test\r\n" + b"X-Pad: " + b"a" * 60 + b"\r\n\r\n"
    )[:120]
    resp1 = bytes((i * 7 + tag) & 0xFF for i in range(400))
    resp2 = bytes((i * 13 + tag) & 0xFF for i in range(200))
    send("c", cs, 0, SYN, 64240, o_mss(1460) + O_SACKOK + o_ts(ts["c"], 0) + NOP + o_ws(7))
    send(
        "s",
        ss,
        cs + 1,
        SYN | ACK,
        65160,
        o_mss(1440) + O_SACKOK + o_ts(ts["s"], ts["c"]) + NOP + o_ws(9),
    )
    cs += 1
    ss += 1
    send("c", cs, ss, ACK, 502, tso("c"))
    send("c", cs, ss, PSH | ACK, 502, tso("c"), req)
    cs += len(req)
    send("s", ss, cs, ACK, 128, tso("s"))
    send("s", ss, cs, ACK, 128, tso("s"), resp1)
    send("s", ss + 400, cs, PSH | ACK, 128, tso("s"), resp2)
    # client ACKs the first 400 bytes and SACKs the second piece (as if re-ordered)
    send("c", cs, ss, ACK, 502, tso("c") + NOP + NOP + o_sack((ss + 400, ss + 600)))
    send("c", cs, ss + 600, ACK, 502, tso("c"))
    ss += 600
    send("s", ss, cs, FIN | ACK, 128, tso("s"))
    send("c", cs, ss + 1, ACK, 502, tso("c"))
    send("c", cs, ss + 1, FIN | ACK, 502, tso("c"))
    send("s", ss + 1, cs + 1, ACK, 128, tso("s"))
    # refused connection: SYN -> RST/ACK
    send(
        "c",
        isn_c + 0x01000000,
        0,
        SYN,
        64240,
        o_mss(1460) + O_SACKOK + NOP + NOP + NOP + o_ws(7),
        port=cport + 1,
    )
    send("s", 0, isn_c + 0x01000001, RST | ACK, 0, port=cport + 1)
    return out


def non_tcp(v6_too: bool = True, with_arp: bool = True, tag: int = 0):
    """ARP who-has/is-at, a UDP (DNS-like) query, ICMP echo request/reply."""
    out = []
    c4, s4 = ip4("192.0.2.10"), ip4("198.51.100.20")
    if with_arp:
        out.append(("other", ETH_ARP, arp(1, MAC_C, "192.0.2.10", b"\0" * 6, "192.0.2.1")))
        out.append(("other", ETH_ARP, arp(2, MAC_S, "192.0.2.1", MAC_C, "192.0.2.10")))
    dns_q = (
        bytes.fromhex("12340100000100000000000007")
        + b"example"
        + bytes.fromhex("04")
        + b"test"
        + bytes.fromhex("0000010001")
    )
    out.append(
        (
            "other",
            ETH_IPV4,
            ipv4_pkt(c4, s4, PROTO_UDP, udp_dgram(c4, s4, 53000 + tag, 53, dns_q), ident=0x3000),
        )
    )
    out.append(
        (
            "other",
            ETH_IPV4,
            ipv4_pkt(c4, s4, PROTO_ICMP, icmp4_echo(0x77, 1, b"ping" * 8), ident=0x3001),
        )
    )
    out.append(
        (
            "other",
            ETH_IPV4,
            ipv4_pkt(
                s4, c4, PROTO_ICMP, icmp4_echo(0x77, 1, b"ping" * 8, True), ttl=57, ident=0x3002
            ),
        )
    )
    if v6_too:
        c6, s6 = ip6("2001:db8::10"), ip6("2001:db8:1::20")
        out.append(
            (
                "other",
                ETH_IPV6,
                ipv6_pkt(c6, s6, PROTO_ICMPV6, icmp6_echo(c6, s6, 0x78, 1, b"ping6" * 4)),
            )
        )
        out.append(
            (
                "other",
                ETH_IPV6,
                ipv6_pkt(c6, s6, PROTO_UDP, udp_dgram(c6, s6, 53100 + tag, 53, dns_q)),
            )
        )
    return out


def interleave(*lists):
    out = []
    n = max(len(x) for x in lists)
    for i in range(n):
        for lst in lists:
            if i < len(lst):
                out.append(lst[i])
    return out


CONV4 = conversation(False, "192.0.2.10", "198.51.100.20", 40000, 80, 0x1A2B3C4D, 0xE0000000)
CONV6 = conversation(
    True, "2001:db8::10", "2001:db8:1::20", 41000, 443, 0x0BADF00D, 0xFFFFFF00, tag=1
)
MIXED = interleave(CONV4, CONV6, non_tcp())  # Ethernet-capable mix (has ARP)
MIXED_IP = [r for r in MIXED if r[1] != ETH_ARP]  # for link types that only carry IP


# --------------------------------------------------------------------------
# link layers
# --------------------------------------------------------------------------


def l2_eth(et, pkt, i=0):
    d, s = (MAC_S, MAC_C) if i % 2 == 0 else (MAC_C, MAC_S)
    return d + s + struct.pack("!H", et) + pkt


def l2_vlan(et, pkt, i=0):
    d, s = (MAC_S, MAC_C) if i % 2 == 0 else (MAC_C, MAC_S)
    return d + s + struct.pack("!HHH", 0x8100, (3 << 13) | 100, et) + pkt


def l2_qinq(et, pkt, i=0):
    d, s = (MAC_S, MAC_C) if i % 2 == 0 else (MAC_C, MAC_S)
    return d + s + struct.pack("!HHHHH", 0x88A8, 200, 0x8100, 100, et) + pkt


def l2_sll(et, pkt, i=0):
    pkttype = 0 if i % 2 else 4  # 4 = outgoing, 0 = to us
    addr = (MAC_C if i % 2 == 0 else MAC_S) + b"\0\0"
    return struct.pack("!HHH8sH", pkttype, 1, 6, addr, et) + pkt


def l2_sll2(et, pkt, i=0):
    pkttype = 0 if i % 2 else 4
    addr = (MAC_C if i % 2 == 0 else MAC_S) + b"\0\0"
    return struct.pack("!HHIHBB8s", et, 0, 3, 1, pkttype, 6, addr) + pkt


def l2_raw(et, pkt, i=0):
    return pkt


def make_null(order: str, af6: int):
    def f(et, pkt, i=0):
        fam = 2 if et == ETH_IPV4 else af6
        return struct.pack(order + "I", fam) + pkt

    return f


# --------------------------------------------------------------------------
# containers
# --------------------------------------------------------------------------

T0_NS = 1_700_000_000_123_456_789  # 2023-11-14T22:13:20.123456789Z


def timestamps(n, start=T0_NS, step=1_234_567_891 // 100):
    """Fixed, strictly increasing ns timestamps with sub-us digits."""
    return [start + i * step + (i * 37 % 1000) for i in range(n)]


def pcap_bytes(records, linktype, order="<", nsec=False, snaplen=262144, major=2, minor=4):
    """records: list of (ts_ns, data, orig_len or None)."""
    magic = 0xA1B23C4D if nsec else 0xA1B2C3D4
    out = [struct.pack(order + "IHHiIII", magic, major, minor, 0, 0, snaplen, linktype)]
    for ts_ns, data, orig in records:
        orig = len(data) if orig is None else orig
        cap = data[:snaplen]
        sec, frac = divmod(ts_ns, 1_000_000_000)
        frac = frac if nsec else frac // 1000
        out.append(struct.pack(order + "IIII", sec, frac, len(cap), orig) + cap)
    return b"".join(out)


def frame_list(recs, wrap, ts=None):
    ts = ts or timestamps(len(recs))
    return [(t, wrap(et, pkt, i), None) for i, (t, (_k, et, pkt)) in enumerate(zip(ts, recs))]


def pad4(b: bytes) -> bytes:
    return b + b"\0" * (-len(b) % 4)


class NG:
    """Minimal pcapng block writer (either byte order)."""

    def __init__(self, order="<"):
        self.o = order

    def opts(self, options):
        if not options:
            return b""
        b = b"".join(struct.pack(self.o + "HH", c, len(v)) + pad4(v) for c, v in options)
        return b + struct.pack(self.o + "HH", 0, 0)

    def block(self, btype, body):
        body = pad4(body)
        n = 12 + len(body)
        return struct.pack(self.o + "II", btype, n) + body + struct.pack(self.o + "I", n)

    def shb(self, options=(), section_len=-1):
        body = struct.pack(self.o + "IHHq", 0x1A2B3C4D, 1, 0, section_len) + self.opts(options)
        return self.block(0x0A0D0D0A, body)

    def idb(self, linktype, snaplen=262144, options=()):
        return self.block(1, struct.pack(self.o + "HHI", linktype, 0, snaplen) + self.opts(options))

    def epb(self, ifid, ticks, data, orig=None, options=()):
        orig = len(data) if orig is None else orig
        hi, lo = ticks >> 32, ticks & 0xFFFFFFFF
        body = (
            struct.pack(self.o + "IIIII", ifid, hi, lo, len(data), orig)
            + pad4(data)
            + self.opts(options)
        )
        return self.block(6, body)

    def spb(self, data, orig=None):
        orig = len(data) if orig is None else orig
        return self.block(3, struct.pack(self.o + "I", orig) + pad4(data))

    def pb(self, ifid, ticks, data, drops=0, orig=None):
        orig = len(data) if orig is None else orig
        hi, lo = ticks >> 32, ticks & 0xFFFFFFFF
        body = struct.pack(self.o + "HHIIII", ifid, drops, hi, lo, len(data), orig) + pad4(data)
        return self.block(2, body)

    def isb(self, ifid, ticks, recv, drop):
        hi, lo = ticks >> 32, ticks & 0xFFFFFFFF
        o = self.opts([(4, struct.pack(self.o + "Q", recv)), (5, struct.pack(self.o + "Q", drop))])
        return self.block(5, struct.pack(self.o + "III", ifid, hi, lo) + o)

    def nrb(self, entries):
        b = b""
        for addr, name in entries:
            rtype = 1 if len(addr) == 4 else 2
            v = addr + name.encode() + b"\0"
            b += struct.pack(self.o + "HH", rtype, len(v)) + pad4(v)
        return self.block(4, b + struct.pack(self.o + "HH", 0, 0))

    def custom(self, btype, pen, data):
        return self.block(btype, struct.pack(self.o + "I", pen) + data)


def s(x: str) -> bytes:
    return x.encode()


def tsresol_opt(code: int):
    return (9, bytes([code]))


def ticks_for(ts_ns: int, resol: int) -> int:
    """Convert ns to pcapng ticks for if_tsresol byte ``resol``."""
    if resol & 0x80:
        return (ts_ns << (resol & 0x7F)) // 1_000_000_000
    return ts_ns * 10**resol // 1_000_000_000


SHB_OPTS = [(4, s("teardown make_formats.py")), (3, s("synthetic"))]


# --------------------------------------------------------------------------
# output bookkeeping
# --------------------------------------------------------------------------

MADE = []  # (name, what, how)


def write(name: str, data: bytes, what: str, how: str, notes: str = "", defrag_dump=False):
    p = HERE / name
    p.write_bytes(data)
    assert len(data) < 100_000, (name, len(data))
    MADE.append(
        {"name": name, "what": what, "how": how, "notes": notes, "defrag_dump": defrag_dump}
    )


def run_tool(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, **kw)


# --------------------------------------------------------------------------
# the files
# --------------------------------------------------------------------------


def make_pcap_variants():
    frames = frame_list(MIXED, l2_eth)
    base_how = (
        "synthetic IPv4+IPv6 conversations (handshake, data both ways, SACK, FIN/ACK close, "
        "refused SYN->RST/ACK) + ARP/UDP/ICMP/ICMPv6, Ethernet"
    )
    write(
        "pcap-le-usec.pcap",
        pcap_bytes(frames, 1),
        "classic pcap, little-endian, microsecond magic a1b2c3d4",
        base_how,
    )
    write(
        "pcap-be-usec.pcap",
        pcap_bytes(frames, 1, order=">"),
        "classic pcap, big-endian, microsecond",
        base_how,
    )
    write(
        "pcap-le-nsec.pcap",
        pcap_bytes(frames, 1, nsec=True),
        "classic pcap, little-endian, nanosecond magic a1b23c4d",
        base_how,
    )
    write(
        "pcap-be-nsec.pcap",
        pcap_bytes(frames, 1, order=">", nsec=True),
        "classic pcap, big-endian, nanosecond",
        base_how,
    )
    v4only = [r for r in MIXED if r[1] != ETH_IPV6]
    write(
        "pcap-snaplen64.pcap",
        pcap_bytes(frame_list(v4only, l2_eth), 1, snaplen=64),
        (
            "snaplen 64: caplen < orig_len for most frames; IPv4 only (IP+TCP base headers fit, "
            "options/payload cut)"
        ),
        "IPv4 part of the base mix, header snaplen=64, records cut at 64 bytes",
        "tcp.len must come from ip.len - ihl - doff, not from caplen. TCP options beyond byte 64 "
        "are cut: tshark "
        "shows no tsval/tsecr/wscale for frames whose option bytes are missing, and tsval "
        "without tsecr when "
        "NOP,NOP,TS is cut after the tsval (frames with 12 option bytes).",
    )
    v6only = [r for r in MIXED if r[1] == ETH_IPV6]
    write(
        "pcap-snaplen64-v6.pcap",
        pcap_bytes(frame_list(v6only, l2_eth), 1, snaplen=64),
        (
            "snaplen 64 with IPv6: 14+40 bytes of headers leave only 10 bytes of the TCP header "
            "(ports, seq, half the ack)"
        ),
        "IPv6 part of the base mix, snaplen=64",
        "TCP header itself is truncated: tshark still matches -Y tcp and shows ports/seq, but "
        "flags, window, ack "
        "and tcp.len are missing or unreliable. A reader should report these as truncated "
        "segments.",
    )
    return frames


def make_linktypes():
    ts = timestamps(len(MIXED))
    write(
        "eth.pcap",
        pcap_bytes(frame_list(MIXED, l2_eth, ts), 1),
        "LINKTYPE_ETHERNET (1), IPv4+IPv6+ARP+UDP+ICMP",
        "same frames as pcap-le-usec.pcap",
    )
    write(
        "eth-vlan.pcap",
        pcap_bytes(frame_list(MIXED, l2_vlan, ts), 1),
        "Ethernet with one 802.1Q tag (0x8100, VID 100, PCP 3)",
        "base mix, tagged",
    )
    write(
        "eth-qinq.pcap",
        pcap_bytes(frame_list(MIXED, l2_qinq, ts), 1),
        "802.1ad QinQ: outer 0x88a8 VID 200, inner 0x8100 VID 100",
        "base mix, double tagged",
    )
    write(
        "sll.pcap",
        pcap_bytes(frame_list(MIXED, l2_sll, ts), 113),
        "Linux cooked SLL (113), 16-byte header, protocol at offset 14",
        "base mix with SLL header (ARPHRD_ETHER)",
    )
    write(
        "sll2.pcap",
        pcap_bytes(frame_list(MIXED, l2_sll2, ts), 276),
        "Linux cooked SLL2 (276), 20-byte header, protocol at offset 0",
        "base mix with SLL2 header (ifindex 3)",
    )
    ts_ip = timestamps(len(MIXED_IP))
    for lt, name, what in [
        (101, "raw-101.pcap", "LINKTYPE_RAW (101): packet starts with the IP header (v4 or v6)"),
        (
            12,
            "raw-dlt12.pcap",
            "DLT_RAW value 12 used as the file's linktype (most BSDs/Linux libpcap DLT_RAW)",
        ),
        (14, "raw-dlt14.pcap", "DLT_RAW value 14 used as the file's linktype (OpenBSD DLT_RAW)"),
    ]:
        write(
            name,
            pcap_bytes(frame_list(MIXED_IP, l2_raw, ts_ip), lt),
            what,
            "base mix without ARP, no link header",
        )
    v4 = [r for r in MIXED_IP if r[1] == ETH_IPV4]
    v6 = [r for r in MIXED_IP if r[1] == ETH_IPV6]
    write(
        "ipv4-228.pcap",
        pcap_bytes(frame_list(v4, l2_raw), 228),
        "LINKTYPE_IPV4 (228): raw IPv4 only",
        "IPv4 part of base mix",
    )
    write(
        "ipv6-229.pcap",
        pcap_bytes(frame_list(v6, l2_raw), 229),
        "LINKTYPE_IPV6 (229): raw IPv6 only",
        "IPv6 part of base mix",
    )

    # BSD NULL: 4-byte AF in the *capturing host's* byte order (= file byte order
    # here); LOOP: always network byte order.
    def null_wrap(order):
        # rotate AF_INET6 through 24 (Net/OpenBSD), 28 (FreeBSD), 30 (Darwin)
        count = [0]

        def f(et, pkt, i=0):
            if et == ETH_IPV4:
                fam = 2
            else:
                fam = (24, 28, 30)[count[0] % 3]
                count[0] += 1
            return struct.pack(order + "I", fam) + pkt

        return f

    write(
        "null-le.pcap",
        pcap_bytes(frame_list(MIXED_IP, null_wrap("<")), 0),
        (
            "BSD NULL (0), little-endian file, AF in host (LE) order: AF_INET=2, AF_INET6 rotating "
            "24/28/30"
        ),
        "base mix without ARP, 4-byte LE family header",
    )
    write(
        "null-be.pcap",
        pcap_bytes(frame_list(MIXED_IP, null_wrap(">")), 0, order=">"),
        "BSD NULL (0), big-endian file, AF in host (BE) order: 2 and 24/28/30",
        "base mix without ARP, 4-byte BE family header",
    )
    write(
        "loop-108.pcap",
        pcap_bytes(frame_list(MIXED_IP, null_wrap(">")), 108),
        "OpenBSD LOOP (108), LE file but AF always network (big-endian) order: 2 and 24/28/30",
        "base mix without ARP, 4-byte BE family header",
    )


def make_ip_variants():
    c, s_ = ip4("192.0.2.30"), ip4("203.0.113.40")
    recs = []
    # IPv4 options: Router Alert (4 B) + Record Route, 2 slots (11 B) + NOP -> 16 bytes, IHL 9
    rr = struct.pack("!BBB", 7, 11, 4) + ip4("10.0.0.1") + b"\0\0\0\0"
    ra = bytes([0x94, 4, 0, 0])
    conv = conversation(
        False, "192.0.2.30", "203.0.113.40", 42000, 8080, 0x11111111, 0x22222222, tag=2
    )
    for i, (_k, et, pkt) in enumerate(conv):
        if i % 2 == 0:
            ihl = (pkt[0] & 0xF) * 4
            seg = pkt[ihl:]
            ttl, ident = pkt[8], struct.unpack("!H", pkt[4:6])[0]
            src, dst = pkt[12:16], pkt[16:20]
            opts = ra + rr + NOP if i % 4 == 0 else NOP + NOP + NOP + EOL
            pkt = ipv4_pkt(src, dst, PROTO_TCP, seg, ttl=ttl, ident=ident, opts=opts)
        recs.append(("tcp", et, pkt))
    del c, s_
    write(
        "ipv4-options.pcap",
        pcap_bytes(frame_list(recs, l2_eth), 1),
        (
            "IPv4 with IP options (IHL 9: Router Alert + Record Route + NOP; IHL 6: NOP NOP "
            "NOP EOL) "
            "on every other frame"
        ),
        "synthetic conversation, options inserted into IPv4 headers",
        "TCP header starts at 14 + IHL*4.",
    )

    # IPv6 extension headers before TCP
    conv6 = conversation(
        True, "2001:db8:2::30", "2001:db8:3::40", 43000, 22, 0x33333333, 0x44444444, tag=3
    )

    def hbh(nh):
        return struct.pack("!BB", nh, 0) + bytes([5, 2, 0, 0, 1, 0])  # router alert + PadN(0)

    def dst_opts(nh):
        return struct.pack("!BB", nh, 0) + bytes([1, 4, 0, 0, 0, 0])  # PadN(4)

    def routing(nh):
        return struct.pack("!BBBBI", nh, 2, 0, 0, 0) + ip6("2001:db8:ffff::1")  # type 0, segleft 0

    layouts = [
        ("hbh", lambda: hbh(PROTO_TCP), 0),
        ("dst", lambda: dst_opts(PROTO_TCP), 60),
        ("hbh+rt+dst", lambda: hbh(43) + routing(60) + dst_opts(PROTO_TCP), 0),
        ("hbh+dst", lambda: hbh(60) + dst_opts(PROTO_TCP), 0),
        ("rt", lambda: routing(PROTO_TCP), 43),
        ("none", lambda: b"", PROTO_TCP),
    ]
    recs6 = []
    for i, (_k, et, pkt) in enumerate(conv6):
        _name, ext, first_nh = layouts[i % len(layouts)]
        if i % len(layouts) == 5:
            recs6.append(("tcp", et, pkt))
            continue
        seg = pkt[40:]
        src, dst, hlim = pkt[8:24], pkt[24:40], pkt[7]
        recs6.append(
            ("tcp", et, ipv6_pkt(src, dst, first_nh, ext() + seg, hlim=hlim, flow=0x12345 + 3))
        )
    write(
        "ipv6-exthdrs.pcap",
        pcap_bytes(frame_list(recs6, l2_eth), 1),
        (
            "IPv6 extension headers before TCP: hop-by-hop, destination options, routing (type 0, "
            "segleft 0) in various chains"
        ),
        "synthetic IPv6 conversation; layouts rotate: HBH / DST / HBH+RT+DST / HBH+DST / RT / none",
        (
            "Walk next-header chain (0, 43, 60) to reach TCP (6). Routing header "
            "segments-left is 0, "
            "so ipv6.dst is the final destination."
        ),
    )

    # IPv4 fragments: the 400-byte server data segment split into two fragments
    conv4 = conversation(
        False, "192.0.2.50", "198.51.100.60", 44000, 80, 0x55555555, 0x66666666, tag=4
    )
    recs4 = []
    for i, (_k, et, pkt) in enumerate(conv4):
        if i == 5:  # server's 400-byte data segment
            ihl = (pkt[0] & 0xF) * 4
            tcp = pkt[ihl:]
            ttl, ident = pkt[8], struct.unpack("!H", pkt[4:6])[0]
            src, dst = pkt[12:16], pkt[16:20]
            cut = 208  # multiple of 8; includes the 32-byte TCP header
            recs4.append(
                (
                    "frag",
                    et,
                    ipv4_pkt(
                        src, dst, PROTO_TCP, tcp[:cut], ttl=ttl, ident=ident, df=False, mf=True
                    ),
                )
            )
            recs4.append(
                (
                    "frag",
                    et,
                    ipv4_pkt(
                        src, dst, PROTO_TCP, tcp[cut:], ttl=ttl, ident=ident, df=False, frag_off=cut
                    ),
                )
            )
        else:
            recs4.append(("tcp", et, pkt))
    # and a UDP datagram fragmented in reverse order (last fragment first)
    c4, s4 = ip4("192.0.2.50"), ip4("198.51.100.60")
    ud = udp_dgram(c4, s4, 5000, 5001, bytes(range(256)) * 2)
    f1 = ipv4_pkt(c4, s4, PROTO_UDP, ud[:264], ident=0x7777, df=False, mf=True)
    f2 = ipv4_pkt(c4, s4, PROTO_UDP, ud[264:], ident=0x7777, df=False, frag_off=264)
    recs4 += [("frag", ETH_IPV4, f2), ("frag", ETH_IPV4, f1)]
    write(
        "ipv4-frag.pcap",
        pcap_bytes(frame_list(recs4, l2_eth), 1),
        (
            "IPv4 fragments: one TCP data segment (400 B) split into 2 fragments (MF, offset 0 / "
            "offset 208); a UDP datagram in 2 fragments, last fragment first"
        ),
        "synthetic conversation, frame 6 split by hand",
        "tshark reassembles by default: the TCP segment appears once, at the frame of the LAST "
        "fragment (frame 7), "
        "with ip.id of the fragments. With -o ip.defragment:FALSE (see .tshark-nodefrag.tsv) "
        "tshark still "
        "dissects the TCP header inside the first fragment (frame 6, offset 0) and reports it "
        "with -Y tcp but with "
        "an empty tcp.len; a reader should report both frames as fragments, not as segments. The "
        "UDP datagram's "
        "fragments are frames 17 (offset 264, no MF) and 18 (offset 0, MF).",
        defrag_dump=True,
    )

    conv6f = conversation(
        True, "2001:db8:4::50", "2001:db8:5::60", 45000, 80, 0x77777777, 0x88888888, tag=5
    )
    recs6f = []
    for i, (_k, et, pkt) in enumerate(conv6f):
        if i == 5:
            seg = pkt[40:]
            src, dst, hlim = pkt[8:24], pkt[24:40], pkt[7]
            cut = 200
            ident = 0xCAFE0001
            fh1 = struct.pack("!BBHI", PROTO_TCP, 0, (0 << 3) | 1, ident)
            fh2 = struct.pack("!BBHI", PROTO_TCP, 0, (cut // 8) << 3, ident)
            recs6f.append(("frag", et, ipv6_pkt(src, dst, 44, fh1 + seg[:cut], hlim=hlim)))
            recs6f.append(("frag", et, ipv6_pkt(src, dst, 44, fh2 + seg[cut:], hlim=hlim)))
        else:
            recs6f.append(("tcp", et, pkt))
    # atomic fragment (RFC 6946): fragment header with offset 0 and M=0 carrying a whole TCP segment
    pkt = conv6f[-3][2]
    seg = pkt[40:]
    fh = struct.pack("!BBHI", PROTO_TCP, 0, 0, 0xCAFE0002)
    atomic = ipv6_pkt(pkt[8:24], pkt[24:40], 44, fh + seg, hlim=pkt[7])
    recs6f.append(("frag", ETH_IPV6, atomic))
    write(
        "ipv6-frag.pcap",
        pcap_bytes(frame_list(recs6f, l2_eth), 1),
        (
            "IPv6 Fragment header (44): one TCP data segment in 2 fragments (M=1 off 0 / off 200); "
            "last frame is an atomic fragment (off 0, M=0) = duplicate of frame 14"
        ),
        "synthetic IPv6 conversation, frame 6 split by hand",
        "tshark reassembles by default (segment shown at frame 7). The atomic fragment is a "
        "complete packet: "
        "tshark shows it as TCP in both modes (it is counted under fragments in info.json since "
        "it has a "
        "fragment header; a reader may choose to treat atomic fragments as segments). See "
        ".tshark-nodefrag.tsv.",
        defrag_dump=True,
    )


def make_tcp_options():
    c, s_ = ip4("192.0.2.70"), ip4("198.51.100.80")
    rows = []
    seq_c, seq_s = 1000, 900000

    def add(frm, flags, opts, payload=b"", ack=0, win=1000):
        if frm == "c":
            seg = tcp_seg(c, s_, 46000, 443, seq_c, ack, flags, win, opts, payload)
            rows.append(
                ("tcp", ETH_IPV4, ipv4_pkt(c, s_, PROTO_TCP, seg, ident=0x4000 + len(rows)))
            )
        else:
            seg = tcp_seg(s_, c, 443, 46000, seq_s, ack, flags, win, opts, payload)
            rows.append(
                ("tcp", ETH_IPV4, ipv4_pkt(s_, c, PROTO_TCP, seg, ttl=50, ident=0x5000 + len(rows)))
            )

    notes = []
    # 1 linux SYN order
    add("c", SYN, o_mss(1460) + O_SACKOK + o_ts(11, 0) + NOP + o_ws(7), win=64240)
    notes.append("1 SYN: MSS,SACK_PERM,TS,NOP,WS (Linux order)")
    # 2 windows SYN/ACK order
    add("s", SYN | ACK, o_mss(1380) + NOP + o_ws(8) + NOP + NOP + O_SACKOK, ack=1001, win=65535)
    notes.append("2 SYN/ACK: MSS,NOP,WS,NOP,NOP,SACK_PERM (Windows order, no TS)")
    seq_c += 1
    seq_s += 1
    # 3 odd order: WS, TS, MSS, SACK_PERM (no NOP alignment at all)
    add("c", ACK, o_ws(14) + o_ts(22, 1) + o_mss(536) + O_SACKOK, ack=seq_s)
    notes.append("3 ACK: WS(14),TS,MSS,SACK_PERM unaligned, unusual order (options on a non-SYN)")
    # 4 SACK with 3 blocks + TS: 40 bytes of options
    add("s", ACK, NOP + NOP + o_ts(33, 22) + NOP + NOP + o_sack((1, 2), (3, 4), (5, 6)), ack=seq_c)
    notes.append("4 ACK: NOP,NOP,TS,NOP,NOP,SACK x3 (40 option bytes, maximal)")
    # 5 SACK 4 blocks, no TS
    add("s", ACK, NOP + NOP + o_sack((10, 20), (30, 40), (50, 60), (70, 80)), ack=seq_c)
    notes.append("5 ACK: NOP,NOP,SACK x4 (no TS)")
    # 6 EOL then junk after EOL (must be ignored)
    add(
        "c",
        PSH | ACK,
        o_ts(44, 33) + EOL + b"\x08\x0a\xde\xad\xbe\xef\x00\x00\x00\x01",
        b"hello",
        ack=seq_s,
    )
    notes.append(
        "6 data: TS, EOL, then bytes that look like another TS (must be ignored after EOL)"
    )
    seq_c += 5
    # 7 only EOL padding with a lonely NOP
    add("s", ACK, NOP + EOL + EOL + EOL, ack=seq_c)
    notes.append("7 ACK: NOP,EOL,EOL,EOL")
    # 8 unknown/experimental option kind 254 (RFC 6994) + TS
    add("c", ACK, b"\xfe\x06\xf9\x89\x00\x01" + NOP + NOP + o_ts(55, 44), ack=seq_s)
    notes.append(
        "8 ACK: experimental kind 254 len 6 (ExID 0xF989 = TFO cookie request per tshark), "
        "NOP,NOP,TS"
    )
    # 9 malformed: option length 0 (kind 30 len 0) -> parser must stop, not loop
    add("s", ACK, NOP + o_ts(66, 55) + b"\x1e\x00\x00\x00", ack=seq_c)
    notes.append(
        "9 ACK: NOP,TS, then kind 30 with length 0 (malformed, parser must stop, not loop forever)"
    )
    # 10 malformed: TS length 10 but only 6 bytes left in header
    add("c", ACK, o_mss(1200) + NOP + NOP + b"\x08\x0a\x00\x00\x00\x07", ack=seq_s)
    notes.append(
        "10 ACK: MSS,NOP,NOP, then TS claiming len 10 with only 6 bytes left (overruns the header)"
    )
    # 11 malformed: MSS with length 3 (wrong fixed length)
    add("s", ACK, b"\x02\x03\x05" + NOP + NOP + NOP + o_ts(77, 66) + NOP + NOP, ack=seq_c)
    notes.append("11 ACK: MSS with len 3 (wrong fixed length), then NOPs and TS")
    # 12 malformed: option length 1
    add("c", ACK, b"\x03\x01" + NOP + NOP + o_ts(88, 77), ack=seq_s)
    notes.append("12 ACK: WS with len 1 (malformed), NOP,NOP,TS")
    # 13 FIN with TS, 14 FIN, 15 RST no options
    add("c", FIN | ACK, NOP + NOP + o_ts(99, 77), ack=seq_s)
    add("s", FIN | ACK, NOP + NOP + o_ts(111, 99), ack=seq_c + 1)
    add("c", RST, b"", ack=0)
    notes.append("13-14 FIN/ACK with TS; 15 bare RST (doff 5, no options)")
    # 16 data offset < 5 (bogus header length)
    seg = bytearray(tcp_seg(c, s_, 46000, 443, seq_c + 1, 0, ACK, 1000))
    seg[12] = 4 << 4
    seg[16:18] = b"\0\0"
    seg[16:18] = struct.pack("!H", csum(pseudo(c, s_, PROTO_TCP, len(seg)) + bytes(seg)))
    rows.append(("tcp", ETH_IPV4, ipv4_pkt(c, s_, PROTO_TCP, bytes(seg), ident=0x4FFF)))
    notes.append(
        "16 bogus data offset 4 (< 5): tshark reports 'Bogus TCP header length'; reader must "
        "reject it"
    )
    write(
        "tcp-options.pcap",
        pcap_bytes(frame_list(rows, l2_eth), 1),
        (
            "TCP option parsing: MSS, WS, SACK_PERM, TS, SACK 1-4 blocks, unusual order, EOL "
            "+ junk, "
            "unknown kind, malformed lengths, bogus doff"
        ),
        "hand-built IPv4 TCP headers",
        "; ".join(notes)
        + ". tshark expert messages (all intended): 6 'Non-zero header padding'; 9 'MPTCP (with "
        "too-short option length = 0 bytes)' (kind 30 is MPTCP); 10 'Timestamps (option length = "
        "10 bytes says option goes past end of options)'; 11 'option length should be 4'; 12 "
        "'Window scale (with too-short option length = 1 byte)'; 16 'Bogus TCP header length (16, "
        "must be at least 20)'. The SACK blocks of frames 4-5 lie below the ACK (tshark: D-SACK).",
    )


def make_pcapng():
    frames = frame_list(MIXED, l2_eth)
    ng = NG("<")
    # single interface, default (usec) resolution, EPB with options on some packets
    blocks = [ng.shb(SHB_OPTS), ng.idb(1, 262144, [(2, s("eth0"))])]
    for i, (t, d, _o) in enumerate(frames):
        opts = [(1, s(f"frame {i + 1}"))] if i % 5 == 0 else []
        if i % 7 == 3:
            opts.append((2, struct.pack("<I", 1 if i % 2 else 2)))  # epb_flags: direction in/out
        blocks.append(ng.epb(0, ticks_for(t, 6), d, options=opts))
    write(
        "pcapng-single-if.pcapng",
        b"".join(blocks),
        (
            "pcapng, 1 section, 1 Ethernet interface, default if_tsresol (usec), EPBs (some with "
            "comment/flags options)"
        ),
        "hand-written blocks, base mix",
    )

    # multi-interface with different link types and resolutions
    ifaces = [
        (1, 6, "eth0 usec (option absent -> default 10^-6)", l2_eth, None),
        (113, 9, "any SLL nsec", l2_sll, 9),
        (101, 0x80 | 20, "tun0 raw 2^-20", l2_raw, 0x80 | 20),
        (108, 3, "lo0 loop msec", make_null(">", 24), 3),
        (276, 0x80 | 10, "any SLL2 2^-10", l2_sll2, 0x80 | 10),
    ]
    blocks = [ng.shb(SHB_OPTS)]
    for lt, _r, name, _w, opt in ifaces:
        o = [(2, s(name))]
        if opt is not None:
            o.append(tsresol_opt(opt))
        blocks.append(ng.idb(lt, 262144, o))
    ts = timestamps(len(MIXED))
    n_if = []
    for i, (t, (_k, et, pkt)) in enumerate(zip(ts, MIXED)):
        k = i % len(ifaces)
        if et == ETH_ARP and ifaces[k][0] in (101, 108):
            k = 0
        lt, res, _n, wrap, _o = ifaces[k]
        blocks.append(ng.epb(k, ticks_for(t, res), wrap(et, pkt, i)))
        n_if.append(k)
    write(
        "pcapng-multi-if.pcapng",
        b"".join(blocks),
        (
            "pcapng, 5 interfaces: Ethernet/usec(default), SLL(113)/nsec, RAW(101)/2^-20, "
            "LOOP(108)/msec, SLL2(276)/2^-10"
        ),
        (
            "hand-written blocks; frames of the base mix assigned round-robin to interfaces (ARP "
            "kept on Ethernet)"
        ),
        "Timestamps are the base ns timestamps floored to each interface's tick; tshark converts "
        "ticks to ns with "
        "truncation, so power-of-2 interfaces show values like .xxxxxx953 (not exact decimals). "
        "frame.interface_id "
        "is the EPB interface id.",
    )

    # several sections: LE section (eth) + BE section (raw + sll) + LE section
    ngb = NG(">")
    v4 = [r for r in MIXED if r[1] == ETH_IPV4]
    v6 = [r for r in MIXED if r[1] == ETH_IPV6]
    ts = timestamps(len(MIXED))
    sec1 = [ng.shb(SHB_OPTS + [(2, s("section 1 LE"))]), ng.idb(1, 65535, [(2, s("s1-eth0"))])]
    for i, (_k, et, pkt) in enumerate(v4):
        sec1.append(ng.epb(0, ticks_for(ts[i], 6), l2_eth(et, pkt, i)))
    sec2 = [
        ngb.shb(SHB_OPTS + [(2, s("section 2 BE"))]),
        ngb.idb(101, 65535, [(2, s("s2-raw")), tsresol_opt(9)]),
        ngb.idb(113, 65535, [(2, s("s2-sll"))]),
    ]
    for i, (_k, et, pkt) in enumerate(v6):
        t = ts[len(v4) + i]
        if i % 2:
            sec2.append(ngb.epb(1, ticks_for(t, 6), l2_sll(et, pkt, i)))
        else:
            sec2.append(ngb.epb(0, ticks_for(t, 9), l2_raw(et, pkt, i)))
    sec3 = [ng.shb(SHB_OPTS + [(2, s("section 3 LE"))]), ng.idb(1, 65535, [(2, s("s3-eth0"))])]
    tail = non_tcp(tag=9)
    for i, (_k, et, pkt) in enumerate(tail):
        sec3.append(ng.epb(0, ticks_for(ts[-1] + (i + 1) * 1000000, 6), l2_eth(et, pkt, i)))
    # the first section declares its length; the others use -1
    body1 = b"".join(sec1[1:])
    sec1[0] = ng.shb(SHB_OPTS + [(2, s("section 1 LE"))], section_len=len(body1))
    write(
        "pcapng-multi-section.pcapng",
        b"".join(sec1) + b"".join(sec2) + b"".join(sec3),
        (
            "pcapng with 3 concatenated sections: LE (Ethernet, section length set), BE (RAW "
            "nsec + "
            "SLL usec), LE (Ethernet, non-TCP only)"
        ),
        "hand-written sections, concatenated (like `cat a.pcapng b.pcapng`)",
        "Interface ids restart at 0 in every section (EPB ids are section-local) and tshark 4.0 "
        "reports "
        "them section-local too (section 2: 0 = s2-raw, 1 = s2-sll), but its "
        "frame.interface_name wrongly "
        "says s1-eth0 for section-2 frames. Byte order changes between sections. Section 1's SHB "
        "has a real "
        "section length; the others have -1.",
    )

    # big-endian single section
    blocks = [ngb.shb(SHB_OPTS), ngb.idb(1, 262144, [(2, s("eth0")), tsresol_opt(9)])]
    for i, (t, d, _o) in enumerate(frames):
        blocks.append(ngb.epb(0, ticks_for(t, 9), d, options=[(1, s("be"))] if i == 0 else []))
    write(
        "pcapng-be.pcapng",
        b"".join(blocks),
        "big-endian pcapng section (BOM 1a2b3c4d read as 4d3c2b1a by LE readers), nsec resolution",
        "hand-written blocks, base mix",
    )

    # simple packet blocks
    blocks = [ng.shb(SHB_OPTS), ng.idb(1, 128, [(2, s("eth0"))])]
    for i, (t, d, _o) in enumerate(frames):
        if i < 4:
            blocks.append(ng.epb(0, ticks_for(t, 6), d[:128], orig=len(d)))
        else:
            blocks.append(ng.spb(d[:128], orig=len(d)))
    write(
        "pcapng-spb.pcapng",
        b"".join(blocks),
        (
            "pcapng Simple Packet Blocks (type 3) after 4 EPBs; IDB snaplen 128 so large "
            "frames are "
            "cut (SPB caplen = min(orig_len, snaplen))"
        ),
        "hand-written blocks, base mix",
        "SPBs carry no interface id (always 0) and no timestamp: tshark leaves frame.time_epoch "
        "empty for them. "
        "Captured length is not stored: it is min(original length, IDB snaplen) and the "
        "block is padded to 4 bytes.",
    )

    # obsolete packet block
    blocks = [ng.shb(SHB_OPTS), ng.idb(1, 262144, [(2, s("eth0"))])]
    for i, (t, d, _o) in enumerate(frames):
        if i % 2:
            blocks.append(ng.pb(0, ticks_for(t, 6), d, drops=i))
        else:
            blocks.append(ng.epb(0, ticks_for(t, 6), d))
    write(
        "pcapng-obsolete-pb.pcapng",
        b"".join(blocks),
        (
            "pcapng obsolete Packet Block (type 2: u16 interface id, u16 drops count) on "
            "every even "
            "frame, EPB on the others"
        ),
        "hand-written blocks, base mix",
    )

    # unknown / custom / other blocks interleaved
    blocks = [ng.shb(SHB_OPTS), ng.idb(1, 262144, [(2, s("eth0"))])]
    extra = [
        ng.custom(0x00000BAD, 32473, b"copyable custom block"),
        ng.custom(0x40000BAD, 32473, b"non-copyable custom block!"),
        ng.block(0x0000ABCD, b"unknown block type 0xABCD"),
        ng.block(0x80000001, b"local-use block type"),
        ng.nrb([(ip4("192.0.2.10"), "client.test"), (ip4("198.51.100.20"), "server.test")]),
        ng.isb(0, ticks_for(T0_NS, 6), 123, 0),
        ng.block(0x00000BAD, b""[:0] + struct.pack("<I", 0)),  # custom block with PEN 0 and no data
    ]
    for i, (t, d, _o) in enumerate(frames):
        if i % 4 == 1:
            blocks.append(extra[(i // 4) % len(extra)])
        blocks.append(ng.epb(0, ticks_for(t, 6), d))
    blocks.append(ng.isb(0, ticks_for(timestamps(len(frames))[-1], 6), len(frames), 0))
    write(
        "pcapng-unknown-blocks.pcapng",
        b"".join(blocks),
        (
            "pcapng with blocks a reader must skip between packets: custom (0xBAD, 0x40000BAD), "
            "unknown 0xABCD, local-use 0x80000001, NRB, ISB"
        ),
        "hand-written blocks, base mix",
        "Only EPBs are frames; all other blocks are skipped using their total length.",
    )

    # a real-looking mergecap-made multi-interface file (tool-made cross-check)
    return frames


def make_gzip_and_real(frames):
    le = (HERE / "pcap-le-usec.pcap").read_bytes()
    write(
        "pcap-gzip.pcap.gz",
        gzip.compress(le, 9, mtime=0),
        "gzip-compressed classic pcap (content = pcap-le-usec.pcap)",
        "python gzip.compress(mtime=0)",
    )
    ng = (HERE / "pcapng-multi-if.pcapng").read_bytes()
    write(
        "pcapng-gzip.pcapng",
        gzip.compress(ng, 9, mtime=0),
        (
            "gzip-compressed pcapng WITHOUT a .gz name (content = pcapng-multi-if.pcapng); "
            "detection "
            "must be by magic 1f8b"
        ),
        "python gzip.compress(mtime=0)",
    )

    tmp = HERE / "_tmp"
    tmp.mkdir(exist_ok=True)
    try:
        # real captures, converted with Wireshark tools
        def tool(name, args, what, how, notes=""):
            out = tmp / name
            run_tool([str(out) if a == "OUT" else a for a in args])
            write(name, out.read_bytes(), what, how, notes)

        tool(
            "real-whois.pcapng",
            ["editcap", "-F", "pcapng", str(PUBLIC / "tcpdump__whois.pcap"), "OUT"],
            "real capture (tcpdump whois.pcap) converted to pcapng by editcap",
            "editcap -F pcapng public/tcpdump__whois.pcap",
        )
        tool(
            "real-dns-tcp-nsec.pcap",
            ["editcap", "-F", "nsecpcap", str(PUBLIC / "tcpdump__dns_tcp.pcap"), "OUT"],
            "real capture (tcpdump dns_tcp.pcap) converted to nanosecond pcap by editcap",
            "editcap -F nsecpcap public/tcpdump__dns_tcp.pcap",
        )
        tool(
            "real-rawip.pcap",
            [
                "editcap",
                "-F",
                "pcap",
                "-C",
                "14",
                "-T",
                "rawip",
                str(PUBLIC / "tcpdump__dns_tcp.pcap"),
                "OUT",
            ],
            (
                "real Ethernet capture turned into LINKTYPE_RAW by chopping the 14-byte Ethernet "
                "header"
            ),
            "editcap -F pcap -C 14 -T rawip public/tcpdump__dns_tcp.pcap",
        )
        tool(
            "real-sll-redis.pcap",
            [
                "editcap",
                "-F",
                "pcap",
                "-r",
                str(PUBLIC / "tcpdump__resp_1_benchmark.pcap"),
                "OUT",
                "1-40",
            ],
            (
                "real Linux cooked (SLL, 113) capture: first 40 frames of tcpdump "
                "resp_1_benchmark.pcap (loopback redis)"
            ),
            "editcap -F pcap -r public/tcpdump__resp_1_benchmark.pcap 1-40",
        )
        # VLAN frames with F5 Ethernet trailer from zeek mixed-vlan-mpls.pcap
        fr = run_tool(
            [
                "tshark",
                "-r",
                str(ZEEK / "mixed-vlan-mpls.pcap"),
                "-Y",
                "vlan",
                "-T",
                "fields",
                "-e",
                "frame.number",
            ]
        ).stdout.split()
        out = tmp / "v.pcap"
        run_tool(["editcap", "-F", "pcap", "-r", str(ZEEK / "mixed-vlan-mpls.pcap"), str(out), *fr])
        write(
            "real-vlan-trailer.pcap",
            out.read_bytes(),
            "real 802.1Q-tagged frames (VLAN 4093) with an F5 Ethernet trailer after the IP packet",
            "editcap -F pcap -r zeek/traces/mixed-vlan-mpls.pcap <the frames matching -Y vlan>",
            (
                "Frames carry trailer bytes beyond the IP total length: payload length must come "
                "from the IP header, not caplen."
            ),
        )
        # mixed real traffic: ARP, STP (802.3/LLC), UDP, TCP
        out = tmp / "w.pcap"
        run_tool(["editcap", "-F", "pcap", "-r", str(ZEEK / "wikipedia.pcap"), str(out), "1-60"])
        write(
            "real-mixed-nontcp.pcap",
            out.read_bytes(),
            (
                "real traffic with ARP, STP (802.3 length field + LLC), UDP (DNS, NBNS, "
                "LLMNR, mDNS "
                "over v4/v6) and TCP"
            ),
            "editcap -F pcap -r zeek/traces/wikipedia.pcap 1-60",
            "802.3 frames have a length (<= 1500) where the ethertype would be: not IP.",
        )
        shutil.copy(ZEEK / "retransmit-timeout.pcapng", tmp / "r.pcapng")
        write(
            "real-macos.pcapng",
            (tmp / "r.pcapng").read_bytes(),
            "real pcapng from macOS merged by mergecap 4.0.0 (SHB options with hardware/os/app)",
            "copied unchanged from zeek/traces/retransmit-timeout.pcapng",
        )
        # mergecap: different link types in one pcapng, tool-made
        out = tmp / "m.pcapng"
        run_tool(
            [
                "mergecap",
                "-F",
                "pcapng",
                "-w",
                str(out),
                str(HERE / "sll2.pcap"),
                str(HERE / "raw-101.pcap"),
                str(HERE / "null-le.pcap"),
            ]
        )
        write(
            "pcapng-mergecap-multi-if.pcapng",
            out.read_bytes(),
            (
                "pcapng made by mergecap from sll2.pcap + raw-101.pcap + null-le.pcap: 3 "
                "IDBs (276, "
                "101, 0), packets interleaved by time"
            ),
            "mergecap -F pcapng -w OUT sll2.pcap raw-101.pcap null-le.pcap",
            "Frames with equal timestamps are merged in input-file order.",
        )
        out = tmp / "g.pcap"
        shutil.copy(PUBLIC / "tcpdump__whois.pcap", out)
        write(
            "real-whois-gzip.pcap",
            gzip.compress(out.read_bytes(), 6, mtime=0),
            "gzip-compressed real pcap named .pcap (no .gz): tcpdump whois.pcap",
            "gzip.compress(public/tcpdump__whois.pcap, mtime=0)",
        )
    finally:
        shutil.rmtree(tmp)


# --------------------------------------------------------------------------
# broken files
# --------------------------------------------------------------------------


def pcap_offsets(data: bytes):
    """(offset, caplen) of each record of a little-endian classic pcap."""
    off, out = 24, []
    while off + 16 <= len(data):
        cap = struct.unpack_from("<I", data, off + 8)[0]
        out.append((off, cap))
        off += 16 + cap
    return out


def make_broken():
    BROKEN.mkdir(exist_ok=True)
    rows = []
    good = (HERE / "pcap-le-usec.pcap").read_bytes()
    recs = pcap_offsets(good)
    n = len(recs)

    def bw(name, data, damage, whole, what, offset):
        (BROKEN / name).write_bytes(data)
        rows.append((name, what, offset, whole, damage))

    last_off, last_cap = recs[-1]
    cut = last_off + 16 + last_cap // 2
    bw(
        "pcap-trunc-mid-data.pcap",
        good[:cut],
        f"file ends inside the last record's packet data: record {n} header at {last_off}, "
        f"its {last_cap} data bytes start at {last_off + 16}, file ends at {cut}",
        n - 1,
        f"pcap-le-usec.pcap cut to {cut} bytes",
        last_off,
    )
    cut = last_off + 7
    bw(
        "pcap-trunc-mid-header.pcap",
        good[:cut],
        f"file ends 7 bytes into record {n}'s 16-byte header (header at {last_off})",
        n - 1,
        f"pcap-le-usec.pcap cut to {cut} bytes",
        last_off,
    )
    k = 5  # 0-based record index whose caplen is corrupted
    off = recs[k][0] + 8
    bad = bytearray(good)
    bad[off : off + 4] = struct.pack("<I", 0xFFFFFFF0)
    bw(
        "pcap-absurd-caplen.pcap",
        bytes(bad),
        f"record {k + 1} caplen field = 0xFFFFFFF0",
        k,
        "pcap-le-usec.pcap with one caplen overwritten",
        off,
    )
    bw(
        "pcap-trunc-global-header.pcap",
        good[:10],
        "file shorter than the 24-byte global header",
        0,
        "pcap-le-usec.pcap cut to 10 bytes",
        10,
    )
    bw(
        "pcap-header-only.pcap",
        good[:24],
        "valid pcap with zero records (not damaged: a reader must accept it and report 0 frames)",
        0,
        "first 24 bytes of pcap-le-usec.pcap",
        24,
    )

    # pcapng cut mid-block
    ng_data = (HERE / "pcapng-single-if.pcapng").read_bytes()
    blocks = []
    o = 0
    while o < len(ng_data):
        bt, bl = struct.unpack_from("<II", ng_data, o)
        blocks.append((o, bt, bl))
        o += bl
    n_epb = sum(1 for b in blocks if b[1] == 6)
    lo, _bt, ll = blocks[-1]
    cut = lo + ll // 2
    bw(
        "pcapng-trunc-mid-block.pcapng",
        ng_data[:cut],
        "file ends in the middle of the last EPB",
        n_epb - 1,
        f"pcapng-single-if.pcapng cut to {cut} bytes",
        lo,
    )
    # total length not a multiple of 4
    k = 6  # 0-based EPB index
    epbs = [b for b in blocks if b[1] == 6]
    eo, _bt, el = epbs[k]
    bad = bytearray(ng_data)
    struct.pack_into("<I", bad, eo + 4, el + 1)
    bw(
        "pcapng-blocklen-not-mult4.pcapng",
        bytes(bad),
        f"EPB #{k + 1} leading block total length = {el + 1} (not a multiple of 4)",
        k,
        "pcapng-single-if.pcapng, one length patched",
        eo + 4,
    )
    bad = bytearray(ng_data)
    struct.pack_into("<I", bad, eo + el - 4, el + 8)
    bw(
        "pcapng-blocklen-trailer-mismatch.pcapng",
        bytes(bad),
        f"EPB #{k + 1} trailing total length = {el + 8}, leading says {el}",
        k,
        "pcapng-single-if.pcapng, trailing length patched",
        eo + el - 4,
    )
    # gzip truncated
    gz = gzip.compress(good, 9, mtime=0)
    cut = len(gz) // 2
    d = zlib.decompressobj(wbits=31)
    avail = d.decompress(gz[:cut])
    whole = sum(1 for off_, cap in pcap_offsets(avail) if off_ + 16 + cap <= len(avail))
    bw(
        "pcap-gzip-truncated.pcap.gz",
        gz[:cut],
        (
            f"gzip stream cut at {cut} of {len(gz)} compressed bytes (no gzip trailer); "
            f"{len(avail)} "
            f"bytes decompress"
        ),
        whole,
        "gzip of pcap-le-usec.pcap, cut in half",
        cut,
    )
    bw(
        "not-a-capture.pcap",
        b"This is not a packet capture.\nJust some text, named .pcap.\n",
        "plain text",
        0,
        "text",
        0,
    )
    bw("empty.pcap", b"", "0-byte file", 0, "empty", 0)
    frames = frame_list(MIXED, l2_eth)
    bw(
        "pcap-linktype-147.pcap",
        pcap_bytes(frames, 147),
        (
            "valid pcap with linktype 147 (USER0): all records are whole but the link type is not "
            "decodable"
        ),
        len(frames),
        "base mix written with linktype 147",
        20,
    )
    # pcapng: SHB missing (starts with an IDB)
    bw(
        "pcapng-no-shb.pcapng",
        ng_data[blocks[1][0] :],
        "pcapng without its Section Header Block (file starts with an IDB, type 1)",
        0,
        "pcapng-single-if.pcapng minus the first block",
        0,
    )

    lines = [
        "# Broken captures",
        "",
        "Made by `../make_formats.py`. Each file is damaged on purpose. *whole records* is the "
        "number of records "
        "that are complete before the damage: a reader must return those (and report the "
        "damage), not crash, and "
        "not invent more. *damage at* is the byte offset (0-based) where the damage starts. "
        "*tshark says* is tshark "
        "4.0.17's message (stderr) for `tshark -r FILE`, and the number of frames it still "
        "printed.",
        "",
        "| file | damage | damage at (byte) | whole records | made from | tshark says |",
        "|---|---|---|---|---|---|",
    ]
    for name, what, offset, whole, damage in rows:
        r = subprocess.run(["tshark", "-r", str(BROKEN / name)], capture_output=True, text=True)
        nframes = len([x for x in r.stdout.splitlines() if x.strip()])
        msg = " ".join(
            r.stderr.replace(
                'Running as user "root" and group "root". This could be dangerous.', ""
            ).split()
        )
        msg = msg.replace(str(BROKEN) + "/", "").replace("|", "\\|") or "(nothing)"
        lines.append(
            f"| {name} | {damage} | {offset} | {whole} | {what} | {nframes} frames; {msg} |"
        )
    lines += [
        "",
        "Notes:",
        "",
        "* For truncated files *damage at* is the start of the incomplete record or block; "
        "for patched fields it is the offset of the patched 4-byte field.",
        "* Offsets and counts are computed by the script from the files it writes, so they "
        "stay right if the base captures change.",
        "* `pcap-header-only.pcap` and `pcap-linktype-147.pcap` are well-formed: the first "
        "has no records, the second has whole records of a link type the reader cannot decode "
        "(expect frames counted, no segments, and a clear 'unsupported link type' message).",
        "* tshark misidentifies `pcapng-no-shb.pcapng` (it tries other formats' heuristics and "
        "lands on CommView); a reader should say it is not a pcap/pcapng file.",
        "* `pcapng-blocklen-not-mult4.pcapng`: tshark rounds the bad length 101 up to 104 and "
        "then reports the trailing-length mismatch.",
    ]
    (BROKEN / "README.md").write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------
# reference dumps
# --------------------------------------------------------------------------


def tshark_dump(path: Path, extra=()):
    options = (*extra, "-o", "tcp.relative_sequence_numbers:FALSE")
    return tshark_fields(path, TSHARK_FIELDS, options=options, display_filter="tcp")


def container_facts(path: Path):
    raw = path.read_bytes()
    is_gz = raw[:2] == b"\x1f\x8b"
    data = gzip.decompress(raw) if is_gz else raw
    magic = data[:4]
    if magic == b"\x0a\x0d\x0d\x0a":
        fmt = "pcapng"
        orders, lts, resols = [], [], []
        o = 0
        order = "<"
        while o + 12 <= len(data):
            bt = struct.unpack_from("<I", data, o)[0]
            if bt == 0x0A0D0D0A:
                order = "<" if data[o + 8 : o + 12] == b"\x4d\x3c\x2b\x1a" else ">"
                orders.append("little" if order == "<" else "big")
            bt, bl = struct.unpack_from(order + "II", data, o)
            if bt == 1:
                lts.append(struct.unpack_from(order + "H", data, o + 8)[0])
                res = "10^-6 (default)"
                p = o + 16
                while p + 4 <= o + bl - 4:
                    code, ln = struct.unpack_from(order + "HH", data, p)
                    if code == 0:
                        break
                    if code == 9:
                        v = data[p + 4]
                        res = f"2^-{v & 0x7F}" if v & 0x80 else f"10^-{v}"
                    p += 4 + ln + (-ln % 4)
                resols.append(res)
            o += bl
        extra = {"sections": len(orders), "section_byte_orders": orders, "if_tsresol": resols}
        if len(set(resols)) == 1:
            res = {"10^-6 (default)": "microsecond", "10^-9": "nanosecond"}.get(
                resols[0], resols[0]
            )
        else:
            res = "per-interface (see if_tsresol)"
        return fmt, is_gz, orders[0], res, lts, extra
    m_le = struct.unpack_from("<I", data)[0]
    order = "<" if m_le in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    m = struct.unpack_from(order + "I", data)[0]
    lt = struct.unpack_from(order + "I", data, 20)[0]
    return (
        "pcap",
        is_gz,
        "little" if order == "<" else "big",
        "nanosecond" if m == 0xA1B23C4D else "microsecond",
        [lt],
        {},
    )


def count_frames(path: Path) -> int:
    r = run_tool(["capinfos", "-c", "-M", "-T", "-r", str(path)], text=True)
    return int(r.stdout.strip().split("\t")[-1])


def count_segments(path: Path):
    """(tcp segments that are not fragments, ip fragments) from tshark with reassembly off."""
    r = run_tool(
        [
            "tshark",
            "-r",
            str(path),
            "-o",
            "ip.defragment:FALSE",
            "-o",
            "ipv6.defragment:FALSE",
            "-T",
            "fields",
            "-E",
            "occurrence=f",
            "-e",
            "tcp.srcport",
            "-e",
            "ip.flags.mf",
            "-e",
            "ip.frag_offset",
            "-e",
            "ipv6.fraghdr.ident",
        ],
        text=True,
    )
    seg = frag = 0
    for line in r.stdout.splitlines():
        tcp, mf, off, f6 = (line.split("\t") + ["", "", "", ""])[:4]
        is_frag = mf in ("1", "True") or (off not in ("", "0")) or f6 != ""
        if is_frag:
            frag += 1
        elif tcp:
            seg += 1
    return seg, frag


def check_clean(path: Path) -> str:
    r = subprocess.run(["tshark", "-r", str(path), "-V"], capture_output=True, text=True)
    out = r.stdout.lower()
    flags = [w for w in ("malformed", "cut short", "bogus", "exception") if w in out]
    return ", ".join(flags)


def make_refs():
    rows = []
    for m in MADE:
        p = HERE / m["name"]
        (HERE / (m["name"] + ".tshark.tsv")).write_text(tshark_dump(p))
        notes = m["notes"]
        if m["defrag_dump"]:
            (HERE / (m["name"] + ".tshark-nodefrag.tsv")).write_text(
                tshark_dump(p, ["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"])
            )
        fmt, gz, order, res, lts, extra = container_facts(p)
        seg, frag = count_segments(p)
        issues = check_clean(p)
        if issues:
            notes = (notes + " " if notes else "") + f"[tshark -V mentions: {issues}]"
        info = {
            "format": fmt,
            "gzip": gz,
            "byte_order": order,
            "time_resolution": res,
            "link_types": lts,
            **extra,
            "frames": count_frames(p),
            "tcp_segments": seg,
            "fragments": frag,
            "size_bytes": p.stat().st_size,
            "what": m["what"],
            "how": m["how"],
            "notes": notes,
        }
        (HERE / (m["name"] + ".info.json")).write_text(json.dumps(info, indent=2) + "\n")
        rows.append((m, info))
    return rows


README_HEAD = """# Capture-format test files

Small captures that exercise every container format and link type the capture
reader must read. Everything here is generated by `make_formats.py` (run it again
to regenerate; output is byte-identical for the same tshark/editcap version, 4.0.17):

    /work/main/.venv/bin/python tests/data/formats/make_formats.py

For each capture `NAME` there is:

* `NAME.tshark.tsv` -- tshark's view of every frame matching `-Y tcp`, made with
  `tshark -r NAME -o tcp.relative_sequence_numbers:FALSE -T fields -E header=y
  -E separator=/t -E occurrence=f -Y tcp -e ...`
  with the fields `{fields}`.
* `NAME.tshark-nodefrag.tsv` (fragment files only) -- the same with
  `-o ip.defragment:FALSE -o ipv6.defragment:FALSE`.
* `NAME.info.json` -- format, gzip, byte order, time resolution, link types,
  `frames` (= `capinfos -c`), `tcp_segments` (TCP frames that are not IP fragments,
  counted by tshark with reassembly off), `fragments` (IPv4 frames with MF set or
  offset > 0, and IPv6 frames with a Fragment header), notes. `byte_order` is
  that of the first section; pcapng files also have `sections`,
  `section_byte_orders` and `if_tsresol` (one entry per IDB, in file order;
  `10^-6 (default)` when the option is absent). `time_resolution` is
  `microsecond`/`nanosecond`, or for pcapng the common `if_tsresol`, or
  `per-interface (see if_tsresol)`.

Synthetic files share one base mix of frames (`MIXED` in the script): an IPv4
conversation 192.0.2.10:40000 -> 198.51.100.20:80 and an IPv6 one
[2001:db8::10]:41000 -> [2001:db8:1::20]:443, each with SYN/SYN-ACK carrying
MSS/SACK_PERM/TS/WS, data both ways (120 B request, 400 + 200 B response), an ACK
with a SACK block, FIN/ACK close by the server first, and a second connection on
the next client port refused with RST/ACK; interleaved with ARP, UDP (DNS query),
ICMP echo and ICMPv6 echo. The IPv6 server's ISN is 0xFFFFFF00, so its sequence
numbers wrap past 2^32 during the response. Timestamps start at
1700000000.123456789 (+~12.3 ms per frame) and are fixed.
Link types that cannot carry ARP use the mix without ARP.

The `real-*` files come from the real captures in /work/shared/corpus
(tcpdump's and Zeek's test suites, both BSD-licensed; see the MANIFEST/ZEEK
notes there), cut or converted with editcap/mergecap as the table says.

Other readers, for reference (checked when these files were made): scapy 2.8.0
`rdpcap` reads every file here with the same frame count as capinfos. dpkt 1.9.8's
`pcapng.Reader` **silently stops** at the second Section Header Block
(`pcapng-multi-section.pcapng`: 18 of 42 frames) and **skips Simple Packet
Blocks** (`pcapng-spb.pcapng`: 4 of 37 frames), so a reader built on dpkt needs
its own handling there.

Things tshark (4.0.17) does that a comparison must know about:

* `tcp.options.sack_perm` is an FT_NONE field: `-T fields` prints the option's
  raw bytes, `0402`, when present and nothing when absent. No field name had to
  change; all 23 requested fields exist in 4.0.17. (The IPv6 fragment header
  fields are `ipv6.fraghdr.*`, not `ipv6.fragment.*`.)
* `tcp.flags` prints as hex (`0x0012`), `ip.id` as hex (`0x1000`),
  `frame.time_epoch` with 9 decimals.
* `ip.version` is filled for IPv6 packets too (6); `ip.ttl`/`ip.id` are empty
  for IPv6, `ipv6.hlim` empty for IPv4.
* `frame.interface_id` is empty for classic pcap files; for pcapng it is the
  **section-local** interface id from the EPB (in `pcapng-multi-section.pcapng`
  every section starts again at 0). tshark 4.0's `frame.interface_name` is wrong
  for later sections (it looks the id up in section 1's interfaces), although
  link type and `if_tsresol` are taken from the right section's IDB.
* IP fragments are reassembled by default: the reassembled TCP segment is
  reported at the frame number of the **last** fragment (with that frame's
  `ip.id`, `tcp.len` = whole segment). With `-o ip.defragment:FALSE` /
  `-o ipv6.defragment:FALSE` (`*.tshark-nodefrag.tsv`) tshark dissects the TCP
  header inside the first fragment (offset 0) and lists it with `-Y tcp`, but
  with an **empty** `tcp.len`; the non-first fragment is not TCP.
* Power-of-2 `if_tsresol` ticks are converted to ns with truncation
  (e.g. `.209876060` for 2^-20).
* SPB frames (no timestamp) have an **empty** `frame.time_epoch` (tshark's
  text output shows a blank time column) and interface 0.
* Frames whose TCP header or options are cut by the snaplen: tshark still
  matches `tcp` and prints only what it could decode (e.g. `tsval` without
  `tsecr` when the TS option is cut after 8 of its 10 bytes; for IPv6 at
  snaplen 64 only ports, seq and hlim).
* Malformed TCP options (`tcp-options.pcap`): tshark skips a wrong-length MSS
  (len 3) and goes on parsing (frame 11 still has TS), but stops at a length 1
  (frame 12: no TS) or an option overrunning the header (frame 10: no TS);
  kind 254 with magic 0xF989 is shown as TFO. For `doff < 5` (frame 16) flags,
  ack and window are empty.

## Files

| file | bytes | frames | tcp seg | frags | link types | what it exercises | how it was made |
|---|---|---|---|---|---|---|---|
"""


def write_readme(rows):
    lines = [README_HEAD.format(fields=" ".join(TSHARK_FIELDS))]
    for m, info in rows:
        lt = ",".join(str(x) for x in info["link_types"])
        gz = " gz" if info["gzip"] else ""
        order = info["byte_order"]
        if len(set(info.get("section_byte_orders", [order]))) > 1:
            order = "/".join(info["section_byte_orders"]) + " sections"
        res = info["time_resolution"]
        if res.startswith("per-interface"):
            res = "if_tsresol " + ", ".join(info["if_tsresol"])
        fmt = f"{info['format']}{gz}, {order}, {res}"
        lines.append(
            f"| `{m['name']}` | {info['size_bytes']} | {info['frames']} | {info['tcp_segments']} "
            f"| {info['fragments']} | {lt} | "
            f"{fmt}: {m['what']}{('. ' + info['notes']) if info['notes'] else ''} | {m['how']} |\n"
        )
    lines.append("\nDeliberately damaged files are in `broken/` (see `broken/README.md`).\n")
    (HERE / "README.md").write_text("".join(lines))


def main():
    for p in HERE.iterdir():
        if p.is_file() and p.name not in ("make_formats.py",):
            p.unlink()
    if BROKEN.exists():
        shutil.rmtree(BROKEN)
    frames = make_pcap_variants()
    make_linktypes()
    make_ip_variants()
    make_tcp_options()
    make_pcapng()
    make_gzip_and_real(frames)
    make_broken()
    rows = make_refs()
    write_readme(rows)
    total = sum(p.stat().st_size for p in HERE.rglob("*") if p.is_file())
    print(f"{len(MADE)} captures, {total} bytes in {HERE}")
    assert total < 2_000_000


if __name__ == "__main__":
    main()
