# cython: language_level=3
"""Where the records of a classic pcap buffer start.

A record's start depends on the previous record's length, so this walk is
sequential: the one per-record loop of the pcap path, compiled (Cython), as
the per-segment walks are. Everything after it works on whole arrays.
"""

cimport cython

import numpy as np


cdef inline long long _u32(const unsigned char* p, bint little) noexcept nogil:
    if little:
        return p[0] | p[1] << 8 | p[2] << 16 | <long long>p[3] << 24
    return <long long>p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]


@cython.boundscheck(False)
@cython.wraparound(False)
def record_starts(const unsigned char[::1] buf, Py_ssize_t header, bint little,
                  long long max_caplen):
    """The offsets of the whole records in ``buf`` (records with ``header``-byte
    headers whose third 32-bit field is the captured length).

    Returns (starts, the offset after the last whole record, the offset of an
    impossible header or -1, the caplen it claims). Reading must stop at an
    impossible header (a caplen over ``max_caplen``).
    """
    cdef Py_ssize_t n = buf.shape[0], off = 0, count = 0
    cdef long long caplen
    if header < 12:  # the captured length is bytes 8-11
        raise ValueError(f"a record header of {header} bytes")
    starts = np.empty(n // header + 1, np.int64)
    cdef long long[::1] out = starts
    cdef bint impossible = False
    with nogil:  # (a thread reads ahead while the engine works: ``read_ahead``)
        while off + header <= n:
            caplen = _u32(&buf[off + 8], little)
            if caplen > max_caplen:
                impossible = True
                break
            if off + header + caplen > n:
                break
            out[count] = off
            count += 1
            off += header + caplen
    if impossible:
        return starts[:count].copy(), off, off, caplen
    return starts[:count].copy(), off, -1, 0


@cython.boundscheck(False)
@cython.wraparound(False)
def record_fields(const unsigned char[::1] buf, const long long[::1] starts, bint little):
    """The four 32-bit fields of the record headers at ``starts`` (seconds,
    fraction, captured length, original length), each an int64 array: read
    here in one pass, where numpy took a gather per byte of each field."""
    cdef Py_ssize_t n = starts.shape[0], k
    sec, frac, caplen, origlen = [np.empty(n, np.int64) for _ in range(4)]
    cdef long long[::1] s = sec, f = frac, c = caplen, o = origlen
    cdef const unsigned char* p
    cdef Py_ssize_t size = buf.shape[0], bad = -1
    with nogil:
        for k in range(n):
            if starts[k] < 0 or starts[k] + 16 > size:
                bad = k
                break
            p = &buf[starts[k]]
            s[k], f[k] = _u32(p, little), _u32(p + 4, little)
            c[k], o[k] = _u32(p + 8, little), _u32(p + 12, little)
    if bad >= 0:
        raise IndexError(f"a record header at {starts[bad]} past the buffer's {size} bytes")
    return sec, frac, caplen, origlen
