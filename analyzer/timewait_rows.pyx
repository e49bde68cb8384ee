# cython: language_level=3
"""The rows ``timewait.TimeWaitLedger`` keeps of a slice's connections, made
by a compiled loop (in Python, a tuple per row and numpy's conversion of the
tuples to records took a twelfth of a worker's time).

``fill_rows`` writes into record arrays that ``timewait.time_wait_rows``
makes, of its ``_SYN_ROW`` and ``_HELD_ROW`` types, and returns how many
rows of each it wrote.
"""

from .connection_types cimport Connection, TimeWait

from .vocabulary import Side

cdef object CLIENT = Side.CLIENT
cdef object SERVER = Side.SERVER
cdef object BOTH = Side.BOTH


def fill_rows(list connections, dict code, syns, held):
    """Per connection (``c.id``, its client's and server's address codes in
    ``code``, the server's port): a ``syns`` row (and ``c.first_time``) if a
    client SYN was seen, and a ``held`` row per side holding TIME_WAIT (1
    where the client holds it, and its start and end). ``syns`` needs a row
    per connection, ``held`` two."""
    cdef long long[:] syn_conn = syns["conn"], held_conn = held["conn"]
    cdef int[:] syn_client = syns["client"], syn_server = syns["server"]
    cdef int[:] held_client = held["client"], held_server = held["server"]
    cdef unsigned short[:] syn_port = syns["port"], held_port = held["port"]
    cdef double[:] syn_time = syns["time"], held_start = held["start"], held_end = held["end"]
    cdef signed char[:] by_client = held["by_client"]
    cdef Py_ssize_t n_syn = 0, n_held = 0, k
    cdef long long conn_id
    cdef int client, server
    cdef unsigned short port
    cdef double start, end
    cdef Connection c
    cdef TimeWait tw
    if syn_conn.shape[0] < len(connections) or held_conn.shape[0] < 2 * len(connections):
        raise ValueError("too few rows for the connections")
    for c in connections:
        tw = c.time_wait
        has_syn = c.isn_client is not None
        if not has_syn and tw is None:
            continue
        conn_id, port = c.id, c.server.port
        client, server = code[c.client.ip], code[c.server.ip]
        if has_syn:  # a new connection: a client SYN was seen
            syn_conn[n_syn], syn_client[n_syn], syn_server[n_syn] = conn_id, client, server
            syn_port[n_syn], syn_time[n_syn] = port, c.first_time
            n_syn += 1
        if tw is None:
            continue
        side = tw.side
        start, end = tw.start, tw.end
        for k in range(2):
            if side is not BOTH and side is not (CLIENT if k == 0 else SERVER):
                continue
            held_conn[n_held], held_client[n_held], held_server[n_held] = conn_id, client, server
            held_port[n_held], by_client[n_held] = port, k == 0
            held_start[n_held], held_end[n_held] = start, end
            n_held += 1
    return n_syn, n_held
