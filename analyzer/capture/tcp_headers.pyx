# cython: language_level=3
"""TCP headers and their options, one segment at a time (compiled).

Options have no fixed layout, so reading them is a walk per segment; done on
whole arrays for the common layouts and in Python for the rest, TCP took a
third of the reader. ``tcp.decode_tcp`` gives the arrays and documents the fields.
"""

cimport cython

from .wire cimport be16, be32, check_rows

cdef enum:
    OPT_EOL = 0
    OPT_NOP = 1
    OPT_MSS = 2
    OPT_WSCALE = 3
    OPT_SACK_PERM = 4
    OPT_TIMESTAMP = 8
    INT32_MAX = 2147483647


@cython.boundscheck(False)
@cython.wraparound(False)
def decode(
    const unsigned char[::1] buf,
    const long long[::1] off,
    const long long[::1] length,
    const long long[::1] captured_end,
    unsigned char[::1] ok,
    unsigned short[::1] sport,
    unsigned short[::1] dport,
    unsigned int[::1] seq,
    unsigned int[::1] ack,
    unsigned short[::1] flags,
    unsigned short[::1] window,
    int[::1] payload_len,
    long long[::1] tsval,
    long long[::1] tsecr,
    int[::1] mss,
    short[::1] wscale,
    unsigned char[::1] sack_perm,
):
    """Fill the arrays for the TCP headers at ``off`` (``length``: header and
    payload, from the IP header; ``captured_end``: where the record's captured
    bytes end). A row whose 20-byte header was not captured or whose header
    length is impossible gets ``ok`` 0 and nothing else; the other arrays must
    come filled with the values for "absent" (-1, False)."""
    cdef Py_ssize_t n = off.shape[0], i, at, end, size, have
    cdef long long hlen
    cdef unsigned char kind
    cdef bint cut
    # (bounds checks are off: every read below is inside [off, captured_end))
    check_rows(buf.shape[0], off, captured_end, (
        length.shape[0], ok.shape[0], sport.shape[0], dport.shape[0], seq.shape[0],
        ack.shape[0], flags.shape[0], window.shape[0], payload_len.shape[0], tsval.shape[0],
        tsecr.shape[0], mss.shape[0], wscale.shape[0], sack_perm.shape[0]))
    with nogil:
        for i in range(n):
            at = off[i]
            end = captured_end[i]
            if at + 20 > end:
                ok[i] = 0
                continue
            hlen = (buf[at + 12] >> 4) * 4
            if hlen < 20 or hlen > length[i]:
                ok[i] = 0
                continue
            ok[i] = 1
            sport[i] = <unsigned short>be16(buf, at)
            dport[i] = <unsigned short>be16(buf, at + 2)
            seq[i] = <unsigned int>be32(buf, at + 4)
            ack[i] = <unsigned int>be32(buf, at + 8)
            flags[i] = (buf[at + 12] & 0x0F) << 8 | buf[at + 13]
            window[i] = <unsigned short>be16(buf, at + 14)
            # Clipped: a zero IP length falls back to the record's 32-bit
            # original length, which wrapped to a negative payload.
            payload_len[i] = <int>min(max(length[i] - hlen, 0), INT32_MAX)
            # The options, up to EOL or an option whose length is impossible.
            # When the snaplen cut them, an option's fields that were captured
            # whole are still read, as tshark does.
            cut = at + hlen > end
            end = min(at + hlen, end)
            at += 20
            while at < end:
                kind = buf[at]
                if kind == OPT_EOL:
                    break
                if kind == OPT_NOP:
                    at += 1
                    continue
                if at + 1 >= end:
                    break
                size = buf[at + 1]
                if size < 2 or (at + size > end and not cut):
                    break
                have = min(size, end - at) - 2  # the option's value bytes captured
                if kind == OPT_MSS and size == 4 and have == 2:
                    mss[i] = <int>be16(buf, at + 2)
                elif kind == OPT_WSCALE and size == 3 and have == 1:
                    wscale[i] = buf[at + 2]
                elif kind == OPT_SACK_PERM and size == 2:
                    sack_perm[i] = 1
                elif kind == OPT_TIMESTAMP and size == 10:
                    if have >= 4:
                        tsval[i] = be32(buf, at + 2)
                    if have == 8:
                        tsecr[i] = be32(buf, at + 6)
                at += size
