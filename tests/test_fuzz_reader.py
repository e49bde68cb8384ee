"""Hostile input: no file makes the capture reader crash, hang or balloon.

Property-based (hypothesis, derandomized so every run tries the same inputs):
valid containers with garbage packets, random IP/TCP/link headers with lying
length fields, mutations of the real test captures, damage at every kind of
boundary, and gzip variants. Each read must either return or raise
CaptureError; what it returns must be sane (see ``check``); damage must keep
every whole record before it and name the byte offset where it starts.
Plus targeted memory/time bounds, the regression corpus (tests/fuzz/corpus/),
and the CLI on broken inputs. See tests/fuzz/README.md.
"""

from __future__ import annotations

import atexit
import gzip
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.capture import Capture, CaptureError, CaptureReader, read_capture
from analyzer.segments import COLUMNS

sys.path.insert(0, str(Path(__file__).parent / "fuzz"))
import capture_gen as g  # noqa: E402

HERE = Path(__file__).parent
FORMATS = HERE / "data" / "formats"
CORPUS = HERE / "fuzz" / "corpus"
SEED_NAMES = [
    "eth.pcap",
    "eth-qinq.pcap",
    "ipv4-options.pcap",
    "ipv6-exthdrs.pcap",
    "pcap-be-nsec.pcap",
    "pcapng-multi-section.pcapng",
    "pcapng-spb.pcapng",
    "pcapng-obsolete-pb.pcapng",
    "pcapng-unknown-blocks.pcapng",
    "pcapng-be.pcapng",
    "sll2.pcap",
    "tcp-options.pcap",
]
SEEDS = [(FORMATS / name).read_bytes() for name in SEED_NAMES]
PKT = g.ethernet(g.ipv4(g.tcp(b"hello")))

_TMP = Path(tempfile.mkdtemp(prefix="teardown-fuzz-"))
atexit.register(shutil.rmtree, _TMP, True)

# The default run tries the same 200 inputs per property every time (derandomized).
# For a longer, random search: TEARDOWN_FUZZ_EXAMPLES=20000 pytest tests/test_fuzz_reader.py
LONG_RUN = os.environ.get("TEARDOWN_FUZZ_EXAMPLES")
FUZZ = settings(
    max_examples=int(LONG_RUN or 200),
    deadline=None,
    derandomize=not LONG_RUN,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --- reading and the invariants ----------------------------------------------


def check(cap: Capture, path: str) -> None:
    """What any returned capture must satisfy, however broken the file."""
    seg, info = cap.segments, cap.info
    frames = seg.frame
    assert len(seg) == info.tcp_segments
    if len(seg):
        assert frames[0] >= 1 and frames[-1] <= info.frames
        assert np.all(np.diff(frames) > 0), "frame numbers must strictly increase"
        assert np.all(seg.payload_len >= 0)
        assert set(np.unique(seg.ip_version).tolist()) <= {4, 6}
        assert seg.src.min() >= 0 and seg.dst.min() >= 0
        assert max(seg.src.max(), seg.dst.max()) < len(seg.addresses)
    for name, dtype in COLUMNS.items():
        assert seg.columns[name].dtype == dtype
    assert info.frames >= info.tcp_segments + info.fragments + info.undecodable
    for warning in info.warnings:
        assert "\n" not in warning and warning.startswith(path + ": ")
    if info.truncated:
        assert any(f"{path}: byte " in w for w in info.warnings), info.warnings


def read(data: bytes, name: str = "input.bin") -> Capture | None:
    """Read ``data`` as a file; None when the reader refused it with CaptureError."""
    path = _TMP / name
    path.write_bytes(data)
    try:
        cap = read_capture(str(path))
    except CaptureError as e:
        assert "\n" not in str(e) and str(e).startswith(f"{path}: "), str(e)
        return None
    check(cap, str(path))
    return cap


def rows(cap: Capture | None) -> list[tuple]:
    """Segments as comparable tuples (addresses as text)."""
    if cap is None:
        return []
    return [tuple(r.values()) for r in cap.segments.rows()]


def assert_prefix_kept(damaged: Capture | None, whole_prefix: Capture | None) -> None:
    """Everything read from the undamaged prefix is read, identically, from the damaged file."""
    want = rows(whole_prefix)
    got = rows(damaged)
    assert got[: len(want)] == want
    if whole_prefix is not None:
        assert damaged is not None
        assert damaged.info.frames >= whole_prefix.info.frames


# --- strategies: packets -----------------------------------------------------

small_bytes = st.binary(max_size=64)


def mostly(draw, good, bad: st.SearchStrategy):
    """``good`` three times in four, else a value drawn from ``bad``: enough sane
    layers get through for the layer above them to be exercised too."""
    # (hypothesis favours 0 and the bounds; a middle value is the rare, bad case)
    return draw(bad) if draw(st.integers(0, 7)) in (3, 4) else good


tcp_options = st.lists(
    st.one_of(
        st.sampled_from(
            [
                b"\x01",  # NOP
                b"\x00",  # EOL
                b"\x02\x04\x05\xb4",  # MSS
                b"\x03\x03\x07",  # WS
                b"\x04\x02",  # SACK-perm
                b"\x08\x0a" + bytes(8),  # TS
                b"\x02\x00",  # length 0
                b"\x08\x01",  # length 1
                b"\x08\xff\x00",  # length beyond the header
                b"\x05",  # kind with no length byte
            ]
        ),
        st.binary(max_size=6),
    ),
    max_size=8,
).map(b"".join)


@st.composite
def tcp_segments(draw) -> bytes:
    options = draw(tcp_options)[:40]
    return g.tcp(
        payload=draw(small_bytes),
        flags=draw(st.integers(0, 0xFFF)),
        data_offset=mostly(draw, None, st.integers(0, 15)),
        options=options,
        seq=draw(st.integers(0, 2**32 - 1)),
    )


ext_kinds = st.sampled_from([0, 43, 44, 51, 60])


@st.composite
def ipv6_packets(draw, payload: bytes) -> bytes:
    kinds = draw(st.lists(ext_kinds, max_size=6))
    final = draw(st.sampled_from([6, 6, 17, 59, 0, 43, 44, 51, 60]))  # ext headers may "loop"
    chain = b""
    for i, kind in enumerate(kinds):
        nxt = kinds[i + 1] if i + 1 < len(kinds) else final
        chain += g.ipv6_ext(nxt, kind, draw(st.integers(0, 255)) if kind != 44 else 0)
    first = kinds[0] if kinds else final
    body = chain + payload
    plen = mostly(draw, None, st.one_of(st.just(0), st.integers(0, 0xFFFF)))
    return g.ipv6(body, next_header=first, payload_len=plen)


@st.composite
def ip_packets(draw) -> bytes:
    payload = mostly(draw, draw(tcp_segments()), small_bytes)
    if draw(st.booleans()):
        return g.ipv4(
            payload,
            proto=mostly(draw, 6, st.sampled_from([17, 1, 255])),
            ihl=mostly(draw, None, st.integers(0, 15)),  # None: the true length
            # 0: "use the wire length" (TSO), which the record's origlen gives
            total=mostly(draw, None, st.one_of(st.just(0), st.integers(0, 0xFFFF))),
            frag=mostly(draw, 0, st.sampled_from([0x2000, 0x0001, 0x4000, 0xFFFF])),
            options=draw(st.binary(max_size=40)) if draw(st.booleans()) else b"",
        )
    return draw(ipv6_packets(payload))


LINK_KINDS = st.sampled_from(["eth", "vlan", "mpls", "pppoe", "raw", "null", "sll", "sll2"])


@st.composite
def link_frames(draw, kind: str | None = None) -> tuple[int, bytes]:
    """(linktype, frame bytes), perhaps cut short."""
    kind = kind or draw(LINK_KINDS)
    ip = mostly(draw, draw(ip_packets()), small_bytes)
    v6 = len(ip) > 0 and ip[0] >> 4 == 6
    ethertype = 0x86DD if v6 else 0x0800
    if kind == "eth":
        frame = g.ethernet(ip, mostly(draw, ethertype, st.sampled_from([0x0806, 0x88CC])))
        linktype = 1
    elif kind == "vlan":
        tags = draw(st.lists(st.sampled_from([0x8100, 0x88A8, 0x9100]), max_size=6))
        frame, linktype = g.ethernet(ip, ethertype, tags), 1
    elif kind == "mpls":
        labels = mostly(draw, draw(st.integers(1, 3)), st.integers(0, 12))
        bottom = mostly(draw, True, st.just(False))  # no bottom-of-stack label
        frame, linktype = g.ethernet(g.mpls(ip, labels, bottom), 0x8847), 1
    elif kind == "pppoe":
        proto = mostly(draw, 0x0057 if v6 else 0x0021, st.sampled_from([0x0021, 0xC021]))
        frame, linktype = g.ethernet(g.pppoe(ip, proto), 0x8864), 1
    elif kind == "raw":
        frame, linktype = ip, draw(st.sampled_from([12, 14, 101, 228, 229]))
    elif kind == "null":
        family = mostly(draw, 30 if v6 else 2, st.sampled_from([10, 24, 28, 99]))
        order = draw(st.sampled_from(["<I", ">I"]))
        frame, linktype = struct.pack(order, family) + ip, draw(st.sampled_from([0, 108]))
    elif kind == "sll":
        frame, linktype = bytes(14) + struct.pack(">H", ethertype) + ip, 113
    else:
        frame, linktype = struct.pack(">H", ethertype) + bytes(18) + ip, 276
    if draw(st.integers(0, 7)) in (3, 4):
        frame = frame[: draw(st.integers(0, len(frame)))]  # snaplen
    return linktype, frame


packet_lists = st.lists(link_frames(), max_size=6)


# --- strategies: containers --------------------------------------------------


ORIGLENS = st.one_of(st.integers(0, 2**32 - 1), st.sampled_from([0, 13, 54, 0xFFFFFFFF]))


@st.composite
def pcap_files(draw) -> g.Built:
    kind = draw(LINK_KINDS)  # one link type per file; some frames may still lie about it
    own = link_frames(kind)
    frames = draw(st.lists(st.one_of(own, own, own, link_frames()), max_size=6))
    linktype = frames[0][0] if frames else draw(st.sampled_from([1, 101, 147]))
    origlens = None
    if frames and draw(st.booleans()):
        # origlen is only a claim (used when an IP length field is 0): any value is valid.
        origlens = draw(st.lists(ORIGLENS, min_size=len(frames), max_size=len(frames)))
    return g.pcap_file(
        [f for _, f in frames],
        origlens=origlens,
        little=draw(st.booleans()),
        ns=draw(st.booleans()),
        linktype=linktype,
        kuznetsov=draw(st.integers(0, 9)) == 0,
    )


@st.composite
def pcapng_files(draw) -> g.Built:
    blocks: list[bytes] = []
    packets: set[int] = set()
    for _ in range(draw(st.integers(1, 2))):  # sections
        little = draw(st.booleans())
        blocks.append(g.ng_shb(little))
        links = draw(st.lists(st.sampled_from([1, 1, 101, 113, 228, 229, 276, 0, 147]), max_size=3))
        for lt in links:
            blocks.append(
                g.ng_idb(
                    lt,
                    snaplen=draw(st.sampled_from([0, 0, 65535, 60])),
                    little=little,
                    tsresol=draw(st.one_of(st.none(), st.integers(0, 255))),
                    tsoffset=draw(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1))),
                )
            )
        for linktype, frame in draw(packet_lists):
            kind = draw(st.sampled_from(["epb", "epb", "spb", "pb", "unknown"]))
            ifaces = [i for i, lt in enumerate(links) if lt == linktype] or [0]
            iface = draw(st.sampled_from(ifaces))
            if not links or kind == "unknown":
                block_type = draw(st.sampled_from([4, 5, 0x7FFF0001, 0x80000001]))
                blocks.append(g.ng_block(block_type, frame, little))
                continue
            packets.add(len(blocks))
            ts = draw(st.integers(0, 2**64 - 1))
            if kind == "epb":
                origlen = draw(st.one_of(st.none(), ORIGLENS))
                blocks.append(g.ng_epb(frame, iface, ts, little, origlen=origlen))
            elif kind == "pb":
                blocks.append(g.ng_pb(frame, iface, ts, little))
            else:
                blocks.append(g.ng_spb(frame, little))
    return g.pcapng_file(blocks, packets)


containers = st.one_of(pcap_files(), pcapng_files())


# --- properties: valid containers -------------------------------------------


@FUZZ
@given(pcap_files())
def test_valid_pcap_with_random_packets(built: g.Built) -> None:
    cap = read(built.data)
    assert cap is not None
    assert cap.info.frames == len(built.records)
    assert not cap.info.truncated, cap.info.warnings


@FUZZ
@given(pcapng_files())
def test_valid_pcapng_with_random_packets(built: g.Built) -> None:
    cap = read(built.data)
    assert cap is not None
    assert cap.info.frames == len(built.packet_blocks)
    assert not cap.info.truncated, cap.info.warnings


@settings(FUZZ, max_examples=60)
@given(
    st.booleans(),
    st.lists(st.tuples(tcp_segments(), st.integers(0, 2**32 - 1)), min_size=1, max_size=4),
)
def test_zero_ip_length_takes_any_wire_length(v6: bool, segments) -> None:
    """IP length 0 (TSO, jumbograms) falls back to the record's 32-bit origlen."""
    if v6:
        frames = [g.ethernet(g.ipv6(seg, payload_len=0), 0x86DD) for seg, _ in segments]
    else:
        frames = [g.ethernet(g.ipv4(seg, total=0)) for seg, _ in segments]
    cap = read(g.pcap_file(frames, origlens=[o for _, o in segments]).data)
    assert cap is not None and cap.info.frames == len(frames)


# --- properties: damage keeps what is whole before it ------------------------

# Values to write over a 4-byte field: zero, tiny, just under the minimum of a
# block type, not a multiple of 4, 256 KiB + 1, 16 MiB, 2 GiB, 4 GiB.
LIES = [0, 1, 3, 8, 12, 13, 16, 20, 28, 101, 0x40001, 0x01000000, 0x7FFFFFFF, 0xFFFFFFFF]


@st.composite
def damaged(draw) -> tuple[g.Built, bytes, int]:
    """(original, damaged bytes, first damaged offset)."""
    built = draw(containers)
    data = built.data
    at = draw(st.integers(0, len(data)))
    how = draw(st.sampled_from(["cut", "cut-record", "garbage", "flip", "lie", "zeros"]))
    if how == "cut":
        return built, data[:at], at
    if how == "cut-record" and built.records:
        # Cut inside a record's header, exactly at its start, or one byte short of its end.
        start, end = draw(st.sampled_from(built.records))
        at = draw(st.sampled_from([start, start + 1, start + 4, start + 8, start + 12, end - 1]))
        return built, data[:at], at
    if how == "garbage":
        return built, data[:at] + draw(st.binary(min_size=1, max_size=80)), at
    if how == "zeros":
        return built, data[:at] + bytes(draw(st.integers(1, 64))), at
    if at == len(data):
        return built, data + b"\0", at
    if how == "flip":
        flipped = bytearray(data)
        flipped[at] ^= 1 << draw(st.integers(0, 7))
        return built, bytes(flipped), at
    # "lie": overwrite a 4-byte field (a length, a caplen, a trailer...) with an absurd value.
    fmt = draw(st.sampled_from(["<I", ">I"]))
    lied = bytearray(data)
    lied[at : at + 4] = struct.pack(fmt, draw(st.sampled_from(LIES)))
    return built, bytes(lied), at


@FUZZ
@given(damaged())
def test_damage_keeps_every_whole_record_before_it(case) -> None:
    built, data, at = case
    boundary = built.boundary_before(at)
    whole_prefix = read(built.data[:boundary], "prefix.bin")
    got = read(data)
    assert_prefix_kept(got, whole_prefix)


@FUZZ
@given(containers, st.data())
def test_truncation_warns_at_the_cut_record(built: g.Built, data) -> None:
    """A file cut inside record R keeps every record before R and warns at R's start."""
    records = [r for r in built.records if r[0] >= built.header_end]
    if not records:
        return
    start, end = data.draw(st.sampled_from(records))
    at = data.draw(st.integers(start, end))
    got = read(built.data[:at])
    if at < 4:  # not even the pcapng magic is left
        assert got is None or got.info.frames == 0
        return
    assert got is not None
    assert got.info.frames == built.whole_packets_before(at)
    if at in (start, end):
        assert not got.info.truncated, got.info.warnings
    else:
        assert got.info.truncated
        assert any(f"byte {start}: file ends inside a record" in w for w in got.info.warnings)


BLOCK_TYPES = [g.EPB, g.IDB, g.SPB, g.PB, g.SHB, 4, 5, 0xBAD, 9, 0x7FFF0001]


@st.composite
def hostile_block(draw, little: bool) -> bytes:
    """A pcapng block whose length, trailer or fields may lie."""
    block_type = draw(st.sampled_from(BLOCK_TYPES))
    body = draw(st.binary(max_size=48))
    true_len = 12 + len(body) + (-len(body) % 4)
    lie = st.one_of(st.sampled_from(LIES), st.sampled_from([true_len - 4, true_len + 4]))
    length = draw(st.one_of(st.none(), lie))
    trailer = draw(st.one_of(st.none(), lie))
    if block_type in (g.EPB, g.PB) and draw(st.booleans()):
        # Plausible fixed fields (interface 0) with a lying captured length.
        e = "<" if little else ">"
        caplen = draw(st.sampled_from([*LIES, len(body)]))
        body = struct.pack(e + "IIIII", 0, 0, 0, caplen, caplen) + body
    return g.ng_block(block_type, body, little, length, trailer)


@st.composite
def hostile_pcapng(draw) -> tuple[g.Built, int]:
    """(file, index of the first hostile block): good blocks, then lies and good ones mixed."""
    little = draw(st.booleans())
    good = [g.ng_shb(little), g.ng_idb(1, little=little)]
    good += [g.ng_epb(f, 0, little=little) for _, f in draw(st.lists(link_frames(), max_size=3))]
    rest = draw(
        st.lists(
            st.one_of(hostile_block(little), st.just(g.ng_epb(PKT, 0, little=little))),
            min_size=1,
            max_size=6,
        )
    )
    return g.pcapng_file(good + rest, set(range(2, len(good)))), len(good)


@st.composite
def hostile_pcap(draw) -> tuple[g.Built, int]:
    """(file, index of the first lying record): whole records, then records with lying lengths."""
    little = draw(st.booleans())
    good = [f for _, f in draw(st.lists(link_frames(), max_size=3))]
    built = g.pcap_file(good, little=little)
    data = bytearray(built.data)
    for _ in range(draw(st.integers(1, 5))):
        body = draw(st.binary(max_size=40))
        caplen = draw(st.one_of(st.sampled_from(LIES), st.integers(0, 2 * len(body) + 20)))
        start = len(data)
        data += g.pcap_record(body, little, caplen=caplen, origlen=draw(ORIGLENS))
        built.records.append((start, len(data)))
    built.data = bytes(data)
    return built, len(good)


@FUZZ
@given(st.one_of(hostile_pcap(), hostile_pcapng()))
def test_lying_length_fields(case) -> None:
    """Records before the first lie are all read; the lie never crashes or balloons."""
    built, first_lie = case
    boundary = built.records[first_lie - 1][1] if first_lie else built.header_end
    whole_prefix = read(built.data[:boundary], "prefix.bin")
    got = read(built.data)
    assert_prefix_kept(got, whole_prefix)


# --- properties: mutations of real captures ---------------------------------


@st.composite
def mutated_seeds(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "byte", "cut", "lie", "insert", "delete"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[at:]
        elif op == "lie":
            data[at : at + 4] = struct.pack(
                draw(st.sampled_from(["<I", ">I"])), draw(st.sampled_from(LIES))
            )
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            del data[at : at + draw(st.integers(1, 32))]
    return bytes(data)


@FUZZ
@given(mutated_seeds())
def test_mutated_real_captures(data: bytes) -> None:
    read(data)


@FUZZ
@given(st.binary(max_size=512), st.sampled_from([b"", b"\xd4\xc3\xb2\xa1", b"\x0a\x0d\x0d\x0a"]))
def test_random_bytes(data: bytes, magic: bytes) -> None:
    read(magic + data)


# --- properties: gzip ---------------------------------------------------------


@FUZZ
@given(containers, st.data())
def test_gzip_variants(built: g.Built, data) -> None:
    whole = read(built.data, "plain.bin")
    packed = g.gzip_bytes(built.data)
    how = data.draw(st.sampled_from(["cut", "corrupt", "members", "trailing", "padding"]))
    if how == "cut":
        got = read(packed[: data.draw(st.integers(0, len(packed)))])
        assert rows(got) == rows(whole)[: len(rows(got))]
    elif how == "corrupt":
        at = data.draw(st.integers(0, len(packed) - 1))
        bad = bytearray(packed)
        bad[at] ^= 1 << data.draw(st.integers(0, 7))
        read(bytes(bad))
    elif how == "members":
        # `cat a.gz b.gz`: the same bytes split across members read the same.
        cut = data.draw(st.integers(0, len(built.data)))
        got = read(g.gzip_members([built.data[:cut], built.data[cut:]]))
        assert rows(got) == rows(whole)
    elif how == "trailing":
        got = read(packed + data.draw(st.binary(min_size=1, max_size=32)))
        assert rows(got) == rows(whole)
    else:
        # Zero padding after the last member (tape blocks) is not damage: `gzip -t` passes.
        # (2 MiB + 5: padding that spans several reads of the compressed file)
        got = read(packed + bytes(data.draw(st.sampled_from([1, 512, 2 * 2**20 + 5]))))
        assert rows(got) == rows(whole)
        assert got is None or got.info.truncated == whole.info.truncated


# --- targeted: memory and time bounds ----------------------------------------


def peak_bytes(data: bytes, name: str = "mem.bin") -> tuple[int, Capture | None, float]:
    """tracemalloc peak (bytes) and wall time of reading ``data`` (checked as usual)."""
    path = _TMP / name
    path.write_bytes(data)
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        cap: Capture | None = read_capture(str(path))
    except CaptureError:
        cap = None
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    if cap is not None:
        check(cap, str(path))
    return peak, cap, elapsed


MB = 1 << 20
SHB_IDB = g.ng_shb() + g.ng_idb()

SMALL_HOSTILE = {
    "pcap record claims 4 GB": g.pcap_header() + g.pcap_record(b"", caplen=0xFFFFFFFF),
    "pcap record claims 256 KB": g.pcap_header() + g.pcap_record(b"", caplen=262144),
    "pcapng block claims 4 GB": SHB_IDB + struct.pack("<II", 6, 0xFFFFFFFC),
    "pcapng block claims 16 MB": SHB_IDB + struct.pack("<II", 6, 16 * MB - 4),
    "pcapng EPB caplen 4 GB": SHB_IDB + g.ng_epb(PKT, caplen=0xFFFFFFFF),
    "pcapng SHB claims 4 GB": g.ng_block(g.SHB, struct.pack("<I", 0x1A2B3C4D), length=0xFFFFFFFC),
    "pcap zero-length records": g.pcap_header() + g.pcap_record(b"") * 60,
    "pcapng EPB huge origlen": SHB_IDB + g.ng_epb(PKT, origlen=0xFFFFFFFF),
}


@pytest.mark.parametrize("name", sorted(SMALL_HOSTILE))
def test_small_hostile_input_small_memory(name: str) -> None:
    data = SMALL_HOSTILE[name] + bytes(1024 - len(SMALL_HOSTILE[name]) % 1024)
    peak, _, elapsed = peak_bytes(data)
    assert peak < 2 * MB, f"{name}: {peak} bytes for a {len(data)}-byte file"
    assert elapsed < 2


def test_gzip_bomb_is_bounded() -> None:
    # 256 MB of zeros in ~250 KB of gzip: not a capture, refused after the first chunk.
    bomb = g.raw_deflate_bomb(256 * MB)
    peak, cap, elapsed = peak_bytes(bomb, "bomb.gz")
    assert cap is None
    assert peak < 8 * MB and elapsed < 5


def test_gzip_bomb_of_records_is_bounded() -> None:
    # A valid pcap header then 4 MB of zero-length records (256 Ki frames, the
    # worst case per byte) in 4 KB of gzip: read whole, with memory bounded by
    # the reader's chunk (256 KiB here, 16 MiB by default), not the decompressed size.
    co = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = co.compress(g.pcap_header()) + co.compress(bytes(4 * MB)) + co.flush()
    path = _TMP / "records.gz"
    path.write_bytes(bomb)
    tracemalloc.start()
    reader = CaptureReader(str(path), chunk_bytes=256 * 1024)
    batches = list(reader)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert sum(len(b) for b in batches) == 0
    assert reader.info.frames == MB // 4 and not reader.info.warnings
    assert peak < 4 * MB


def test_one_megabyte_of_garbage_after_a_header_is_quick() -> None:
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, MB, np.uint8).tobytes()
    for head in (g.pcap_header(), g.ng_shb()):
        peak, _, elapsed = peak_bytes(head + noise)
        assert elapsed < 5 and peak < 16 * MB


def test_many_small_records_read_in_proportion() -> None:
    # 20000 one-byte packets and 20000 empty ones: all counted, nothing decoded.
    data = g.pcap_file([b"\x45"] * 20000 + [b""] * 20000).data
    peak, cap, elapsed = peak_bytes(data)
    assert cap is not None and cap.info.frames == 40000 and len(cap.segments) == 0
    assert elapsed < 5 and peak < 16 * MB


# --- the regression corpus ---------------------------------------------------

CORPUS_FILES = sorted(p for p in CORPUS.iterdir() if p.is_file() and p.suffix != ".md")


def test_corpus_is_there() -> None:
    assert len(CORPUS_FILES) >= 10


@pytest.mark.parametrize("path", CORPUS_FILES, ids=[p.name for p in CORPUS_FILES])
def test_corpus_file_reads(path: Path) -> None:
    """Every input that once crashed the reader now returns or raises CaptureError."""
    peak, _, elapsed = peak_bytes(path.read_bytes(), path.name)
    assert peak < 8 * MB and elapsed < 5


# --- the command line on broken inputs ---------------------------------------

CLI_INPUTS = [
    *(
        FORMATS / "broken" / name
        for name in [
            "empty.pcap",
            "not-a-capture.pcap",
            "pcap-trunc-global-header.pcap",
            "pcap-absurd-caplen.pcap",
            "pcap-gzip-truncated.pcap.gz",
            "pcapng-blocklen-trailer-mismatch.pcapng",
        ]
    ),
    *(CORPUS / name for name in ["pcapng-epb-short-at-end.pcapng", "pcapng-ts-overflow.pcapng"]),
]


@pytest.mark.parametrize("path", sorted(CLI_INPUTS), ids=lambda p: p.name)
@pytest.mark.parametrize("command", [["info"], ["segments", "--format", "csv"]])
def test_cli_on_broken_input(path: Path, command: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "analyzer.cli", *command, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in proc.stderr + proc.stdout
    err = proc.stderr.splitlines()
    if proc.returncode == 2:
        assert len(err) == 1 and err[0].startswith(f"teardown: {path}: "), proc.stderr
        assert proc.stdout == ""
    else:
        assert proc.returncode == 0, proc.stderr
        # `info` prints warnings with its report; `segments` on stderr.
        warnings = err if command[0] == "segments" else proc.stdout.splitlines()
        assert all(line.startswith("warning: ") for line in err)
        if command[0] == "info" and "truncated:       yes" in proc.stdout:
            assert any(line.startswith(f"warning: {path}: byte ") for line in warnings)


def test_cli_stdin_closed_and_piped() -> None:
    cli = f"{sys.executable} -m analyzer.cli"
    closed = subprocess.run(
        ["sh", "-c", f"exec {cli} info - <&-"], capture_output=True, text=True, timeout=60
    )
    assert closed.returncode == 2 and closed.stderr == "teardown: -: standard input is closed\n"
    piped = subprocess.run(
        [sys.executable, "-m", "analyzer.cli", "segments", "-"],
        input=(FORMATS / "broken" / "pcap-gzip-truncated.pcap.gz").read_bytes(),
        capture_output=True,
        timeout=60,
    )
    assert piped.returncode == 0
    err = piped.stderr.decode().splitlines()
    assert err and all(line.startswith("warning: -: byte ") for line in err), err


def test_gzip_helpers_roundtrip() -> None:
    assert gzip.decompress(g.gzip_members([b"a", b"b"])) == b"ab"
