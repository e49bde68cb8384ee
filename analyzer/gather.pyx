# cython: language_level=3
"""Segment columns gathered into the rows of an int64 block (compiled).

The per-segment walks (``teardown``, ``zeek``) read segments in connection
order as rows of an int64 array (``blocks``). Gathered by numpy, each column
went through a temporary array and a second, strided copy into the block,
with a numpy call per column and block. On 3M packets, in one process, the
walk's rows took 0.24 s that way and take 0.15 s; Zeek's, whose random reads
are most of their cost, 0.26 and 0.25 s.
"""

cimport cython

ctypedef fused column_t:
    long long
    int
    unsigned int
    unsigned short
    short
    unsigned char


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void _column(const column_t[::1] values, const long long[::1] rows,
                  long long[:, ::1] out, Py_ssize_t k) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(rows.shape[0]):
        out[i, k] = values[rows[i]]


@cython.boundscheck(False)
@cython.wraparound(False)
def gather(columns, const long long[::1] rows not None, long long[:, ::1] out not None,
           Py_ssize_t first=0):
    """``out[i, first + k] = columns[k][rows[i]]`` for every column ``k`` (1-D,
    contiguous, of a width ``column_t`` lists) and row ``i``."""
    cdef Py_ssize_t n = rows.shape[0], i, k
    cdef long long lowest = 0, highest = -1
    if out.shape[0] != n or not 0 <= first <= out.shape[1] - len(columns):
        raise ValueError(f"{len(columns)} columns of {n} rows into a block of shape "
                         f"{tuple(out.shape)[:2]} from column {first}")
    if n:
        lowest = highest = rows[0]
        for i in range(n):
            lowest, highest = min(lowest, rows[i]), max(highest, rows[i])
    for k, values in enumerate(columns):
        if lowest < 0 or highest >= len(values):
            raise IndexError(f"rows {lowest}..{highest} of a column of {len(values)}")
        _gather_one(values, rows, out, first + k)


cdef _gather_one(values, const long long[::1] rows, long long[:, ::1] out, Py_ssize_t k):
    kind = values.dtype.str[1:]
    if kind == "i8":
        _column[cython.longlong](values, rows, out, k)
    elif kind == "i4":
        _column[cython.int](values, rows, out, k)
    elif kind == "u4":
        _column[cython.uint](values, rows, out, k)
    elif kind == "u2":
        _column[cython.ushort](values, rows, out, k)
    elif kind == "i2":
        _column[cython.short](values, rows, out, k)
    elif kind in ("u1", "b1"):
        _column[cython.uchar](values.view("u1"), rows, out, k)
    else:
        raise TypeError(f"a column of {values.dtype}")
