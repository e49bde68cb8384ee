# cython: language_level=3
"""IPv4 and IPv6 headers, with IPv6 extension headers, one packet at a time (compiled).

``ip.decode_ip`` gives the arrays and documents the fields. On whole arrays
(numpy), gathering each field and the 16-byte addresses took a fifth of the
reader.
"""

cimport cython
from libc.string cimport memcpy, memset

from .wire cimport be16, check_rows

cdef enum:
    IPV6_HOP_BY_HOP = 0
    IPV6_ROUTING = 43
    IPV6_FRAGMENT = 44
    IPV6_AH = 51
    IPV6_DEST_OPTS = 60


cdef inline bint _extension(long long proto) noexcept nogil:
    return (proto == IPV6_HOP_BY_HOP or proto == IPV6_ROUTING or proto == IPV6_FRAGMENT
            or proto == IPV6_AH or proto == IPV6_DEST_OPTS)


@cython.boundscheck(False)
@cython.wraparound(False)
def decode(
    const unsigned char[::1] buf,
    const long long[::1] net,
    const long long[::1] version,
    const long long[::1] captured_end,
    const long long[::1] wire_len,
    unsigned char[::1] ok,
    long long[::1] proto,
    unsigned char[::1] fragment,
    long long[::1] l4_off,
    long long[::1] l4_len,
    unsigned char[:, ::1] src,
    unsigned char[:, ::1] dst,
    long long[::1] ttl,
    long long[::1] ip_id,
):
    """Fill the arrays for the IP headers at ``net`` (the arrays come filled
    with the values of a packet that is not ``ok``: 0, and -1 for ``ip_id``)."""
    cdef Py_ssize_t n = net.shape[0], i, off, end, at, size
    cdef long long ihl, total, remaining, p
    # (bounds checks are off: every read below is inside [net, captured_end))
    check_rows(buf.shape[0], net, captured_end, (
        version.shape[0], wire_len.shape[0], ok.shape[0], proto.shape[0], fragment.shape[0],
        l4_off.shape[0], l4_len.shape[0], src.shape[0], dst.shape[0], ttl.shape[0],
        ip_id.shape[0]))
    if src.shape[1] != 16 or dst.shape[1] != 16:
        raise ValueError("addresses are 16 bytes")
    with nogil:
        for i in range(n):
            off, end = net[i], captured_end[i]
            if version[i] == 4:
                if off + 20 > end:
                    continue
                ihl = (buf[off] & 0x0F) * 4
                total = be16(buf, off + 2)
                if total == 0:  # TSO captures: the length is the wire's
                    total = wire_len[i]
                if ihl < 20 or total < ihl or off + ihl > end:
                    continue
                ok[i] = 1
                fragment[i] = (be16(buf, off + 6) & 0x3FFF) != 0  # MF, or an offset
                ttl[i] = buf[off + 8]
                proto[i] = buf[off + 9]
                ip_id[i] = be16(buf, off + 4)
                # As IPv4-mapped IPv6 addresses.
                memset(&src[i, 0], 0, 10)
                memset(&src[i, 10], 0xFF, 2)
                memcpy(&src[i, 12], &buf[off + 12], 4)
                memset(&dst[i, 0], 0, 10)
                memset(&dst[i, 10], 0xFF, 2)
                memcpy(&dst[i, 12], &buf[off + 16], 4)
                l4_off[i] = off + ihl
                l4_len[i] = total - ihl
            elif version[i] == 6:
                if off + 40 > end:
                    continue
                total = be16(buf, off + 4)
                if total == 0:  # jumbograms, TSO captures
                    total = wire_len[i] - 40
                ok[i] = 1
                proto[i] = buf[off + 6]
                ttl[i] = buf[off + 7]
                memcpy(&src[i, 0], &buf[off + 8], 16)
                memcpy(&dst[i, 0], &buf[off + 24], 16)
                l4_off[i] = off + 40
                l4_len[i] = total
                p, at, remaining = proto[i], off + 40, total
                while _extension(p):
                    if at + 8 > end:
                        ok[i] = 0  # the extension header chain was cut by snaplen
                        break
                    if p == IPV6_FRAGMENT:
                        # An "atomic fragment" (offset 0, no more fragments)
                        # is a whole packet and is processed as one (RFC 6946).
                        if be16(buf, at + 2) & 0xFFF9:
                            fragment[i] = 1
                        size = 8
                    elif p == IPV6_AH:
                        size = (buf[at + 1] + 2) * 4
                    else:
                        size = (buf[at + 1] + 1) * 8
                    p = buf[at]
                    at += size
                    remaining -= size
                if not ok[i] or at == off + 40:  # cut, or no extension header
                    continue
                if remaining < 0:  # the extension headers overrun the payload length
                    ok[i] = 0
                    continue
                proto[i], l4_off[i], l4_len[i] = p, at, remaining
