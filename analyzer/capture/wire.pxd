# cython: language_level=3
"""What the compiled header walks (``ip_headers``, ``tcp_headers``) share:
reading big-endian fields, and the checks that let them read without bounds
checks."""


cdef inline long long be16(const unsigned char[::1] b, Py_ssize_t at) noexcept nogil:
    return <long long>b[at] << 8 | b[at + 1]


cdef inline long long be32(const unsigned char[::1] b, Py_ssize_t at) noexcept nogil:
    return <long long>b[at] << 24 | <long long>b[at + 1] << 16 | b[at + 2] << 8 | b[at + 3]


cdef inline int check_rows(Py_ssize_t size, const long long[::1] start,
                           const long long[::1] end, tuple lengths) except -1:
    """Every array (``lengths``) is as long as ``start``, and each row's bytes
    ``start .. end - 1`` lie in a buffer of ``size`` bytes."""
    cdef Py_ssize_t i, n = start.shape[0]
    for length in lengths:
        if length != n:
            raise ValueError("the arrays differ in length")
    for i in range(n):
        if start[i] < 0 or end[i] > size:
            raise ValueError(f"row {i} lies outside the buffer")
    return 0
