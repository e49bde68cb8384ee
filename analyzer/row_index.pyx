# cython: language_level=3
"""A hash index of the rows of a two-column 64-bit array (compiled): which
row holds a key. ``addresses.AddressBook`` finds address codes with it (a
row is an address's 16 bytes), ``grouping.TupleGroups`` a 4-tuple's latest
group (a row is a group's two endpoints). ``distinct_keys`` numbers the
distinct keys of an array with the same hash, in one pass.

The index holds only row numbers; a key is compared with the row the
number names, so it costs 4 bytes a slot. Open addressing, linear probing,
never more than half full. A key's latest row (the highest number put)
replaces the ones before; rows are never taken out, an index is made anew.

Each index hashes with a secret seed: the keys come from the capture, and
with a known hash a crafted capture (addresses that all land in one run of
slots) would make every lookup a walk over the table. Nothing that comes
out depends on the hash: codes and groups are numbered in sort order.
"""

cimport cython

import os

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


cdef inline unsigned long long _hash(unsigned long long a, unsigned long long b,
                                     unsigned long long seed) noexcept nogil:
    return _mix(a ^ _mix(b ^ seed))


cdef class RowIndex:
    cdef object slots  # int32 row numbers, -1 where empty; a power of two long
    cdef Py_ssize_t used
    cdef Py_ssize_t rows_needed  # one more than the highest row put
    cdef unsigned long long seed

    def __init__(self):
        self.slots = np.full(1024, -1, np.int32)
        self.used = self.rows_needed = 0
        self.seed = int.from_bytes(os.urandom(8), "little")

    @property
    def nbytes(self):
        return self.slots.nbytes

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def lookup(self, const unsigned long long[:, ::1] keys,
               const unsigned long long[:, ::1] rows, int[::1] out):
        """``out[i]``: the latest row of ``rows`` put with key ``keys[i]`` (-1: none)."""
        cdef int[::1] slots = self.slots
        cdef unsigned long long mask = slots.shape[0] - 1, at
        cdef Py_ssize_t i, n = keys.shape[0]
        cdef int row
        if keys.shape[1] != 2 or rows.shape[1] != 2 or out.shape[0] != n:
            raise ValueError("keys, rows and out do not match")
        if rows.shape[0] < self.rows_needed:
            raise ValueError(f"an array of {rows.shape[0]} rows for an index of {self.rows_needed}")
        with nogil:
            for i in range(n):
                at = _hash(keys[i, 0], keys[i, 1], self.seed) & mask
                while True:
                    row = slots[at]
                    if row < 0:
                        break
                    if rows[row, 0] == keys[i, 0] and rows[row, 1] == keys[i, 1]:
                        break
                    at = (at + 1) & mask
                out[i] = row

    def put(self, const unsigned long long[:, ::1] rows, Py_ssize_t first, Py_ssize_t last):
        """Index rows ``first .. last - 1`` of ``rows``, in that order (a key's
        last row is the one it finds)."""
        if not 0 <= first <= last <= rows.shape[0] or rows.shape[1] != 2:
            raise ValueError(f"rows {first}..{last} of an array of {rows.shape[0]}")
        if rows.shape[0] < self.rows_needed:
            raise ValueError(f"an array of {rows.shape[0]} rows for an index of {self.rows_needed}")
        if last - first > np.iinfo(np.int32).max - self.used:
            raise OverflowError("more rows than int32 can number")
        if 2 * (self.used + last - first) > len(self.slots):
            size = len(self.slots)
            while 2 * (self.used + last - first) > size:
                size *= 2
            held = np.sort(self.slots[self.slots >= 0])
            self.slots = np.full(size, -1, np.int32)
            self.used = 0
            self._put(rows, held)
        self._put(rows, np.arange(first, last, dtype=np.int32))
        self.rows_needed = max(self.rows_needed, last)

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef void _put(self, const unsigned long long[:, ::1] rows, const int[::1] which):
        cdef int[::1] slots = self.slots
        cdef unsigned long long mask = slots.shape[0] - 1, at
        cdef Py_ssize_t k, added = 0
        cdef int row, there
        with nogil:
            for k in range(which.shape[0]):
                row = which[k]
                at = _hash(rows[row, 0], rows[row, 1], self.seed) & mask
                while True:
                    there = slots[at]
                    if there < 0:
                        added += 1
                        break
                    if rows[there, 0] == rows[row, 0] and rows[there, 1] == rows[row, 1]:
                        break
                    at = (at + 1) & mask
                slots[at] = row
        self.used += added


@cython.boundscheck(False)
@cython.wraparound(False)
def distinct_keys(const unsigned long long[:, ::1] keys):
    """Which distinct key each row of ``keys`` holds: (``which``, ``firsts``),
    keys numbered in order of first appearance, ``firsts[k]`` the first row
    holding key ``k``, so ``keys[firsts[which[i]]]`` is ``keys[i]``. (A pass
    with a hash table, where finding a batch's 4-tuples sorted its segments.)"""
    cdef Py_ssize_t n = keys.shape[0], size = 1024, i, count = 0
    if keys.shape[1] != 2:
        raise ValueError(f"keys of {keys.shape[1]} columns, not 2")
    while size < 2 * n:
        size *= 2
    slots_array = np.full(size, -1, np.int64)  # the first row of a key
    which_array = np.empty(n, np.int64)
    firsts_array = np.empty(n, np.int64)
    cdef long long[::1] slots = slots_array, which = which_array, firsts = firsts_array
    cdef unsigned long long mask = size - 1, at
    cdef unsigned long long seed = int.from_bytes(os.urandom(8), "little")
    cdef long long first
    with nogil:
        for i in range(n):
            at = _hash(keys[i, 0], keys[i, 1], seed) & mask
            while True:
                first = slots[at]
                if first < 0:
                    slots[at] = i
                    which[i] = count
                    firsts[count] = i
                    count += 1
                    break
                if keys[first, 0] == keys[i, 0] and keys[first, 1] == keys[i, 1]:
                    which[i] = which[first]
                    break
                at = (at + 1) & mask
    return which_array, firsts_array[:count].copy()
