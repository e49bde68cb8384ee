# cython: language_level=3
"""A hash table of address codes (compiled), for ``addresses.AddressBook``.

The table holds only codes; an address is compared with the book's 16 bytes
of the code found (as two 64-bit halves), so the table costs 4 bytes a slot.
Open addressing, linear probing, never more than half full.
"""

cimport cython

import numpy as np


cdef inline unsigned long long _mix(unsigned long long x) noexcept nogil:
    # MurmurHash3's 64-bit finaliser: every input bit moves every output bit
    # (an IPv4 address is 32 bits among 96 constant ones).
    x ^= x >> 33
    x *= 0xFF51AFD7ED558CCDULL
    x ^= x >> 33
    x *= 0xC4CEB9FE1A85EC53ULL
    x ^= x >> 33
    return x


cdef inline unsigned long long _hash(unsigned long long a, unsigned long long b) noexcept nogil:
    return _mix(a ^ _mix(b))


cdef class AddressTable:
    cdef object slots  # int32 codes, -1 where empty; a power of two long
    cdef Py_ssize_t used

    def __init__(self):
        self.slots = np.full(1024, -1, np.int32)
        self.used = 0

    @property
    def nbytes(self):
        return self.slots.nbytes

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def lookup(self, const unsigned long long[:, ::1] keys,
               const unsigned long long[:, ::1] raw, int[::1] out):
        """``out[i]``: the code of address ``keys[i]`` (-1: not known);
        ``raw``: the book's addresses by code."""
        cdef int[::1] slots = self.slots
        cdef unsigned long long mask = slots.shape[0] - 1, at
        cdef Py_ssize_t i, n = keys.shape[0]
        cdef int code
        if keys.shape[1] != 2 or raw.shape[1] != 2 or out.shape[0] != n:
            raise ValueError("keys, raw and out do not match")
        with nogil:
            for i in range(n):
                at = _hash(keys[i, 0], keys[i, 1]) & mask
                while True:
                    code = slots[at]
                    if code < 0:
                        break
                    if code >= raw.shape[0]:
                        with gil:
                            raise ValueError(f"code {code} is not in the book")
                    if raw[code, 0] == keys[i, 0] and raw[code, 1] == keys[i, 1]:
                        break
                    at = (at + 1) & mask
                out[i] = code

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def insert(self, const unsigned long long[:, ::1] raw, Py_ssize_t first, Py_ssize_t last):
        """Add the codes ``first .. last - 1`` of the book ``raw``: the next
        codes after those held (``first`` of them), of new addresses."""
        if first != self.used or not first <= last <= raw.shape[0] or raw.shape[1] != 2:
            raise ValueError(f"codes {first}..{last} of a book of {raw.shape[0]} "
                             f"after {self.used}")
        if 2 * (self.used + last - first) > len(self.slots):
            size = len(self.slots)
            while 2 * (self.used + last - first) > size:
                size *= 2
            self.slots = np.full(size, -1, np.int32)
            self.used = 0
            self._put(raw, 0, first)  # the codes held so far
        self._put(raw, first, last)

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef void _put(self, const unsigned long long[:, ::1] raw, Py_ssize_t first,
                   Py_ssize_t last):
        cdef int[::1] slots = self.slots
        cdef unsigned long long mask = slots.shape[0] - 1, at
        cdef Py_ssize_t code
        with nogil:
            for code in range(first, last):
                at = _hash(raw[code, 0], raw[code, 1]) & mask
                while slots[at] >= 0:
                    at = (at + 1) & mask
                slots[at] = <int>code
        self.used += last - first
