"""Telling glibc's allocator how the streaming analysis uses memory: it frees
in bulk, and a thread reads ahead.

Without this, peak memory creeps up over a long capture: the heap fragments.
On an allocator other than glibc's, the call does nothing: it has its own
policy.
"""

from __future__ import annotations

import ctypes

# glibc serves blocks below its mmap threshold from the heap, and raises the
# threshold (up to 32 MB) each time a bigger block is freed. The streaming
# engine frees numpy columns of every size all the time, so its heap fragments
# (by a third of the peak on 5M packets). A fixed threshold gives each column
# over 256 KB its own mapping, returned to the system when freed.
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 256 * 1024
# A thread that allocates while another holds the heap's lock gets an arena
# of its own, which glibc maps and trims apart from the main heap: the
# segments read ahead by a thread (``read_ahead``) cost 0.4 s more system
# time on the 3M benchmark, for nothing. One arena for all threads.
M_ARENA_MAX = -8


def _glibc():
    try:
        libc = ctypes.CDLL(None)
        return libc if hasattr(libc, "mallopt") else None
    except OSError:
        return None


_LIBC = _glibc()


def tune_allocator() -> None:
    """For the whole process and the workers it forks later."""
    if _LIBC is not None:
        _LIBC.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        _LIBC.mallopt(M_ARENA_MAX, 1)
