"""The compiled IP and TCP header decoders against a plain reading of the
RFCs, on any bytes: headers cut by the snaplen, impossible lengths, zero
length fields, IPv6 extension chains, TCP options of every kind, EOL,
options repeated."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.capture.ip import decode_ip
from analyzer.capture.pcap_records import record_fields, record_starts
from analyzer.capture.tcp import decode_tcp


def _oracle(data: bytes, length: int) -> dict | None:
    """One header at the start of ``data`` (the captured bytes), ``length``
    bytes of header and payload by the IP header; None: not decodable."""
    if len(data) < 20:
        return None
    hlen = (data[12] >> 4) * 4
    if hlen < 20 or hlen > length:
        return None
    out = {
        "sport": int.from_bytes(data[0:2], "big"),
        "dport": int.from_bytes(data[2:4], "big"),
        "seq": int.from_bytes(data[4:8], "big"),
        "ack": int.from_bytes(data[8:12], "big"),
        "flags": (data[12] & 0x0F) << 8 | data[13],
        "window": int.from_bytes(data[14:16], "big"),
        "payload_len": min(max(length - hlen, 0), 2**31 - 1),
        "tsval": -1, "tsecr": -1, "mss": -1, "wscale": -1, "sack_perm": False,
    }  # fmt: skip
    options, cut = data[20:hlen], hlen > len(data)
    at = 0
    while at < len(options):
        kind = options[at]
        if kind == 0:
            break
        if kind == 1:
            at += 1
            continue
        if at + 1 >= len(options):
            break
        size = options[at + 1]
        if size < 2 or (at + size > len(options) and not cut):
            break
        value = options[at + 2 : at + size]
        if kind == 2 and size == 4 and len(value) == 2:
            out["mss"] = int.from_bytes(value, "big")
        elif kind == 3 and size == 3 and len(value) == 1:
            out["wscale"] = value[0]
        elif kind == 4 and size == 2:
            out["sack_perm"] = True
        elif kind == 8 and size == 10:
            if len(value) >= 4:
                out["tsval"] = int.from_bytes(value[:4], "big")
            if len(value) == 8:
                out["tsecr"] = int.from_bytes(value[4:], "big")
        at += size
    return out


option = st.one_of(
    st.just(b"\x01"),
    st.just(b"\x00"),
    st.binary(min_size=4, max_size=4).map(lambda v: b"\x02\x04" + v[:2]),
    st.integers(0, 255).map(lambda s: bytes([3, 3, s])),
    st.just(b"\x04\x02"),
    st.binary(min_size=8, max_size=8).map(lambda v: b"\x08\x0a" + v),
    st.tuples(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=12)).map(
        lambda t: bytes(t[:2]) + t[2]
    ),
)


def _laid_out(pad: bytes, records: list[bytes]):
    """A buffer of the records after ``pad``; where each starts and ends in it."""
    sizes = np.array([len(r) for r in records], np.int64)
    ends = len(pad) + np.cumsum(sizes)
    return np.frombuffer(pad + b"".join(records), np.uint8), ends - sizes, ends


@st.composite
def headers(draw):
    options = b"".join(draw(st.lists(option, max_size=8)))[:40]
    # A data offset that covers the options (padded), or any.
    words = draw(st.just(min(15, (23 + len(options)) // 4)) | st.integers(0, 15))
    fixed = bytearray(draw(st.binary(min_size=20, max_size=20)))
    fixed[12] = words << 4 | (fixed[12] & 0x0F)
    data = bytes(fixed) + options.ljust(4 * words - 20, b"\0") + draw(st.binary(max_size=20))
    # Cut by the snaplen anywhere, often inside the options.
    captured = draw(st.integers(0, len(data)) | st.integers(20, 20 + len(options)))
    # (a zero IP length falls back to the record's 32-bit length: any, even negative)
    length = draw(st.just(len(data)) | st.integers(0, 80) | st.integers(-(2**32), 2**33))
    return data[:captured], length


@settings(max_examples=1000, deadline=None)
@given(st.lists(headers(), min_size=1, max_size=20), st.binary(max_size=8))
def test_decoded_as_the_rfc_reads(rows, pad):
    buf, off, end = _laid_out(pad, [data for data, _ in rows])
    t = decode_tcp(
        buf,
        off,
        np.array([length for _, length in rows]),
        end,
    )
    for i, (data, length) in enumerate(rows):
        expected = _oracle(data, length)
        assert bool(t.ok[i]) == (expected is not None)
        if expected is not None:
            got = {name: getattr(t, name)[i].item() for name in expected}
            assert got == expected


V4_MAPPED = bytes(10) + b"\xff\xff"
EXTENSIONS = (0, 43, 44, 51, 60)  # RFC 8200 section 4 (and AH, RFC 4302)


def _ip_oracle(data: bytes, version: int, wire_len: int) -> dict | None:
    """The IP header at the start of ``data`` (the captured bytes); None: not decodable."""
    if version == 4:
        if len(data) < 20:
            return None
        ihl = (data[0] & 0x0F) * 4
        total = int.from_bytes(data[2:4], "big") or wire_len
        if ihl < 20 or total < ihl or ihl > len(data):
            return None
        return {
            "proto": data[9], "ttl": data[8], "ip_id": int.from_bytes(data[4:6], "big"),
            "fragment": int.from_bytes(data[6:8], "big") & 0x3FFF != 0,
            "src": V4_MAPPED + data[12:16], "dst": V4_MAPPED + data[16:20],
            "l4_off": ihl, "l4_len": total - ihl,
        }  # fmt: skip
    if version != 6 or len(data) < 40:
        return None
    proto, at = data[6], 40
    remaining = int.from_bytes(data[4:6], "big") or wire_len - 40
    fragment = False
    while proto in EXTENSIONS:
        if at + 8 > len(data):
            return None
        if proto == 44:
            fragment |= int.from_bytes(data[at + 2 : at + 4], "big") & 0xFFF9 != 0
            size = 8
        elif proto == 51:
            size = (data[at + 1] + 2) * 4
        else:
            size = (data[at + 1] + 1) * 8
        proto, at, remaining = data[at], at + size, remaining - size
    if at > 40 and remaining < 0:  # extension headers that overrun the payload length
        return None
    return {
        "proto": proto, "ttl": data[7], "ip_id": -1, "fragment": fragment,
        "src": data[8:24], "dst": data[24:40], "l4_off": at, "l4_len": remaining,
    }  # fmt: skip


# A fragment header's offset and M flag: an atomic fragment, the first or a later one.
fragment_field = st.sampled_from([b"\x00\x00", b"\x00\x01", b"\x00\x06", b"\x05\x38"])
extension = st.tuples(
    st.sampled_from(EXTENSIONS), st.integers(0, 3), st.binary(min_size=6, max_size=6),
    fragment_field,
).map(
    lambda t: (t[0], bytes([0, t[1]]) + (t[3] + t[2][2:] if t[0] == 44 else t[2]) + bytes(8 * t[1]))
)  # fmt: skip


@st.composite
def ip_packets(draw):
    version = draw(st.sampled_from([4, 6, 5]))
    if version == 6:
        fixed = bytearray(draw(st.binary(min_size=40, max_size=40)))
        chain = draw(st.lists(extension, max_size=3))
        body = b""
        for k, (_, header) in enumerate(chain):
            following = chain[k + 1][0] if k + 1 < len(chain) else draw(st.integers(0, 255))
            body += bytes([following]) + header[1:]
        if chain:
            fixed[6] = chain[0][0]
        # The payload length often just covers the chain (or just does not).
        payload = draw(st.integers(0, 0xFFFF) | st.integers(-8, 8).map(lambda d: len(body) + d))
        fixed[4:6] = max(payload, 0).to_bytes(2, "big")
        data = bytes(fixed) + body
    else:
        data = draw(st.binary(min_size=20, max_size=60))
    data += draw(st.binary(max_size=30))
    captured = draw(st.integers(0, len(data)) | st.just(len(data)))
    return data[:captured], version, draw(st.integers(0, 200))


@settings(max_examples=1000, deadline=None)
@given(st.lists(ip_packets(), min_size=1, max_size=20), st.binary(max_size=8))
def test_ip_decoded_as_the_rfcs_read(packets, pad):
    buf, net, end = _laid_out(pad, [data for data, _, _ in packets])
    h = decode_ip(
        buf,
        net,
        np.array([v for _, v, _ in packets]),
        end,
        np.array([w for _, _, w in packets]),
    )
    for i, (data, version, wire_len) in enumerate(packets):
        expected = _ip_oracle(data, version, wire_len)
        assert bool(h.ok[i]) == (expected is not None)
        if expected is not None:
            expected["l4_off"] += int(net[i])
            got = {
                name: (getattr(h, name)[i].tobytes() if name in ("src", "dst")
                       else getattr(h, name)[i].item())
                for name in expected
            }  # fmt: skip
            assert got == expected


def test_decoders_refuse_offsets_outside_the_buffer():
    buf = np.zeros(64, np.uint8)
    with pytest.raises(ValueError, match="outside the buffer"):
        decode_tcp(buf, np.array([0]), np.array([40]), np.array([65]))
    with pytest.raises(ValueError, match="outside the buffer"):
        decode_ip(buf, np.array([-1]), np.array([4]), np.array([20]), np.array([20]))


def _records_oracle(buf: bytes, header: int, little: bool, max_caplen: int):
    """``record_starts`` read plainly: whole records, then where reading stops."""
    order = "little" if little else "big"
    starts, off = [], 0
    while off + header <= len(buf):
        caplen = int.from_bytes(buf[off + 8 : off + 12], order)
        if caplen > max_caplen:
            return starts, off, off, caplen
        if off + header + caplen > len(buf):
            break
        starts.append(off)
        off += header + caplen
    return starts, off, -1, 0


@settings(max_examples=300, deadline=None)
@given(
    records=st.lists(st.tuples(st.integers(0, 40), st.integers(0, 2**32 - 1)), max_size=12),
    tail=st.binary(max_size=30),
    header=st.sampled_from([16, 24]),
    little=st.booleans(),
    max_caplen=st.sampled_from([0, 20, 2**32]),
)
def test_record_walks_read_as_plainly(records, tail, header, little, max_caplen):
    """The compiled pcap record walks (GIL released) on records of any
    length, a cut or impossible last one, either byte order."""
    order = "little" if little else "big"
    buf = b""
    for caplen, stamp in records:
        head = stamp.to_bytes(4, order) + (stamp // 3).to_bytes(4, order)
        head += caplen.to_bytes(4, order) + (caplen + 7).to_bytes(4, order)
        buf += head + bytes(header - 16) + bytes(range(caplen))
    buf += tail
    data = np.frombuffer(buf, np.uint8)
    starts, off, bad, caplen = record_starts(data, header, little, max_caplen)
    assert (starts.tolist(), off, bad, caplen) == _records_oracle(buf, header, little, max_caplen)
    fields = [a.tolist() for a in record_fields(data, starts, little)]
    expected = [
        [int.from_bytes(buf[s + k : s + k + 4], order) for s in starts.tolist()]
        for k in (0, 4, 8, 12)
    ]
    assert fields == expected


def test_record_fields_refuses_a_start_outside_the_buffer():
    buf = np.zeros(40, np.uint8)
    with pytest.raises(IndexError, match="a record header at 30 past the buffer's 40 bytes"):
        record_fields(buf, np.array([0, 16, 30], np.int64), True)
    with pytest.raises(IndexError, match="at -1"):
        record_fields(buf, np.array([-1], np.int64), True)
