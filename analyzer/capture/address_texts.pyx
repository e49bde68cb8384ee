# cython: language_level=3
"""Address texts from the address book's 16-byte keys (compiled).

IPv4 addresses are kept mapped into IPv6 (::ffff:a.b.c.d) and written as
IPv4; both are written by the C library's ``inet_ntop``, as
``socket.inet_ntop`` writes them. Every slice of a capture carries the texts
of its own addresses, thousands each: made one at a time in Python, they took
0.25 s of the reading process's CPU on the 3M benchmark.
"""

cimport cython
from cpython.unicode cimport PyUnicode_DecodeASCII
from libc.string cimport strlen

cdef extern from "<arpa/inet.h>" nogil:
    const char* inet_ntop(int af, const void* src, char* dst, unsigned int size)

cdef extern from "<sys/socket.h>" nogil:
    int AF_INET
    int AF_INET6

# The 12 bytes before an IPv4 address mapped into IPv6.
cdef unsigned char[12] _MAPPED = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]


@cython.boundscheck(False)
@cython.wraparound(False)
def address_texts(const unsigned char[:, ::1] keys not None):
    """The text of each 16-byte key (a row of ``keys``)."""
    if keys.shape[0] and keys.shape[1] != 16:
        raise ValueError(f"address keys of {keys.shape[1]} bytes, not 16")
    cdef list out = []
    cdef Py_ssize_t k, i
    cdef char text[64]  # (INET6_ADDRSTRLEN is 46)
    cdef const unsigned char* key
    cdef bint mapped
    for k in range(keys.shape[0]):
        key = &keys[k, 0]
        mapped = True
        for i in range(12):
            if key[i] != _MAPPED[i]:
                mapped = False
                break
        if mapped:
            inet_ntop(AF_INET, key + 12, text, sizeof(text))
        else:
            inet_ntop(AF_INET6, key, text, sizeof(text))
        out.append(PyUnicode_DecodeASCII(text, strlen(text), NULL))
    return out
