"""The compiled TCP header decoder against a plain reading of RFC 9293's
header and option rules, on any bytes: headers cut by the snaplen, impossible
data offsets and option lengths, EOL, options repeated."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

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
    length = draw(st.just(len(data)) | st.integers(0, 80))
    return data[:captured], length


@settings(max_examples=1000, deadline=None)
@given(st.lists(headers(), min_size=1, max_size=20), st.binary(max_size=8))
def test_decoded_as_the_rfc_reads(rows, pad):
    buf, off, end = bytearray(pad), [], []
    for data, _ in rows:
        off.append(len(buf))
        buf += data
        end.append(len(buf))
    t = decode_tcp(
        np.frombuffer(bytes(buf), np.uint8),
        np.array(off),
        np.array([length for _, length in rows]),
        np.array(end),
    )
    for i, (data, length) in enumerate(rows):
        expected = _oracle(data, length)
        assert bool(t.ok[i]) == (expected is not None)
        if expected is not None:
            got = {name: getattr(t, name)[i].item() for name in expected}
            assert got == expected
