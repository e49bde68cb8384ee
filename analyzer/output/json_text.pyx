# cython: language_level=3
"""JSON text made directly, byte for byte what ``json`` makes (compact separators).

``connection_json(c)`` is what ``json`` makes of ``document.connection_dict(c)``
without the id (tests/test_json_output.py checks it on every capture and on
any values), ``connection_json_bytes(c)`` the same as the bytes a spool
keeps; ``json_text(value)`` is what it makes of any value of dicts, lists,
strings, numbers, booleans and None (the findings), ``series_json(times,
counts)`` what it makes of an occupancy's series, from its arrays, and
``host_items_json`` and ``destination_items_json`` what it makes of the
TIME_WAIT hosts and destinations, from their tables' columns. Ints and
floats are written as ``repr`` writes them, non-finite floats as ``json``
does. In a connection every string but Zeek's is a vocabulary word, flag
letters or an address text, which need no escaping; other strings are
escaped as ``json`` escapes them.

Connections are most of a document, and rendering them with templates and
the JSON encoder took a fifth of the analysis; the findings and the TIME_WAIT
series are written at the end of a run, while nothing else can run. This
module is compiled (Cython) and writes into one growing buffer.
"""

cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_DecodeASCII
from cpython.exc cimport PyErr_CheckSignals
from libc.errno cimport EINTR, errno
from libc.math cimport isfinite, isnan, llround
from posix.unistd cimport pread
from libc.string cimport memcpy, strlen

cdef extern from "<string.h>" nogil:
    void* memmem(const void* haystack, size_t haystacklen, const void* needle, size_t needlelen)

from ..connection_types cimport Connection, TimeWait
from ..event_row cimport EventRow

import json
import os
from json.encoder import encode_basestring_ascii

from ..model import EVENT_ROW, Events
from ..segments import FLAG_TEXTS
from ..vocabulary import EventKind, Side, State


cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object o)
    char* PyOS_double_to_string(double val, char format_code, int precision, int flags,
                                int* ptype) except NULL
    int Py_DTSF_ADD_DOT_0


cdef object _dumps = json.JSONEncoder(separators=(",", ":")).encode

if sizeof(EventRow) != EVENT_ROW.size:
    raise ImportError("event_row.pxd and model.EVENT_ROW differ")
# The words of packed events (``model.Events``), quoted, by code: kept as
# bytes, and read through C arrays (a list's item per word took a fifth of
# writing an event).
cdef list _SIDE_WORDS = [f'"{v}"'.encode() for v in Side]
cdef list _KIND_WORDS = [f'"{v}"'.encode() for v in EventKind]
cdef list _STATE_WORDS = [f'"{v}"'.encode() for v in State]
cdef list _FLAG_WORDS = [f'"{v}"'.encode() for v in FLAG_TEXTS]


cdef struct _Words:
    Py_ssize_t n
    const char** text
    Py_ssize_t* size


cdef _Words _side_words, _kind_words, _state_words, _flag_words


cdef int _point_at(_Words* words, list texts) except -1:
    cdef Py_ssize_t k
    words.n = len(texts)
    words.text = <const char**>PyMem_Malloc(words.n * sizeof(char*))
    words.size = <Py_ssize_t*>PyMem_Malloc(words.n * sizeof(Py_ssize_t))
    if words.text == NULL or words.size == NULL:
        raise MemoryError()
    for k in range(words.n):
        words.text[k] = <bytes>texts[k]
        words.size[k] = len(<bytes>texts[k])
    return 0


_point_at(&_side_words, _SIDE_WORDS)
_point_at(&_kind_words, _KIND_WORDS)
_point_at(&_state_words, _STATE_WORDS)
_point_at(&_flag_words, _FLAG_WORDS)
# The most an event's JSON can take: its keys (under 100 characters), its
# words, four ints of up to 20 characters and a float as repr writes it (at
# most 24).
cdef Py_ssize_t _EVENT_ROOM = 512
if 100 + 4 * 20 + 24 + sum(max(map(len, words)) for words in (
        _SIDE_WORDS, _KIND_WORDS, _STATE_WORDS, _STATE_WORDS, _FLAG_WORDS)) > _EVENT_ROOM:
    raise ImportError("an event's JSON may outgrow _EVENT_ROOM")


@cython.final
cdef class _Text:
    """ASCII text, appended to."""

    cdef char* data
    cdef Py_ssize_t size, capacity

    def __cinit__(self):
        self.capacity = 4096
        self.data = <char*>PyMem_Malloc(self.capacity)
        if self.data == NULL:
            raise MemoryError()

    def __dealloc__(self):
        PyMem_Free(self.data)

    cdef int reserve(self, Py_ssize_t more) except -1:
        cdef char* grown
        if self.size + more <= self.capacity:
            return 0
        while self.capacity < self.size + more:
            self.capacity *= 2
        grown = <char*>PyMem_Realloc(self.data, self.capacity)
        if grown == NULL:
            raise MemoryError()
        self.data = grown
        return 0

    cdef int put(self, const char* s, Py_ssize_t n) except -1:
        self.reserve(n)
        memcpy(self.data + self.size, s, n)
        self.size += n
        return 0

    cdef int lit(self, bytes s) except -1:
        return self.put(s, len(s))

    cdef int text(self, object s) except -1:
        """A str (a vocabulary word is one) as it is."""
        cdef Py_ssize_t n
        cdef const char* p = PyUnicode_AsUTF8AndSize(s, &n)
        return self.put(p, n)

    cdef int string(self, object s) except -1:
        """A str in quotes, escaped as ``json`` escapes it."""
        cdef Py_ssize_t n, k
        cdef const unsigned char* p
        if type(s) is str and PyUnicode_IS_ASCII(s):
            # Most strings (words, sentences, addresses) need no escape: written
            # as they are, without encode_basestring_ascii's new str.
            p = <const unsigned char*>PyUnicode_AsUTF8AndSize(s, &n)
            for k in range(n):
                if p[k] < 32 or p[k] > 126 or p[k] == 34 or p[k] == 92:  # '"', '\\'
                    break
            else:
                self.lit(b'"')
                self.put(<const char*>p, n)
                return self.lit(b'"')
        return self.text(encode_basestring_ascii(s))

    cdef int word(self, object s) except -1:
        """A str in quotes (no escaping needed), or null."""
        if s is None:
            return self.lit(b"null")
        self.lit(b'"')
        self.text(s)
        return self.lit(b'"')

    cdef int integer(self, object x) except -1:
        """An int, or null."""
        if x is None:
            return self.lit(b"null")
        return self.whole(x)

    cdef int whole(self, long long v) except -1:
        # (negated as unsigned: -v overflows for the smallest int64)
        cdef unsigned long long u = 0ULL - <unsigned long long>v if v < 0 else <unsigned long long>v
        cdef char digits[24]
        cdef int n = 0
        while True:  # (snprintf took as long as all the rest)
            digits[23 - n] = 48 + u % 10
            n += 1
            u //= 10
            if u == 0:
                break
        if v < 0:
            digits[23 - n] = 45  # "-"
            n += 1
        return self.put(digits + 24 - n, n)

    cdef int number(self, object x) except -1:
        """A float as ``json`` writes it (``repr``), or null."""
        if x is None:
            return self.lit(b"null")
        return self.real(x)

    cdef int real(self, double v) except -1:
        cdef char* s
        cdef long long micros
        if not isfinite(v):
            return self.text(_dumps(v))
        micros = _whole_micros(v)
        if micros >= 0:
            return self.micros(micros)
        s = PyOS_double_to_string(v, b"r", 0, Py_DTSF_ADD_DOT_0, NULL)
        try:
            self.put(s, strlen(s))
        finally:
            PyMem_Free(s)
        return 0

    cdef int micros(self, long long micros) except -1:
        """``micros`` / 10^6 (not negative) with its trailing zeros cut, as repr writes it."""
        self.whole(micros // 1000000)
        return self.fraction(micros % 1000000)

    cdef int fraction(self, long long fraction) except -1:
        """The decimal point and ``fraction`` millionths (below 10^6) as ``micros`` writes them."""
        cdef char digits[6]
        cdef int k, n = 6
        if fraction == 0:
            return self.lit(b".0")
        while fraction % 10 == 0:
            fraction //= 10
            n -= 1
        for k in range(n - 1, -1, -1):
            digits[k] = 48 + fraction % 10
            fraction //= 10
        self.lit(b".")
        return self.put(digits, n)

    cdef int real_or_null(self, double v) except -1:
        """A float, or null for NaN (a column's None)."""
        if isnan(v):
            return self.lit(b"null")
        return self.real(v)

    cdef int count(self, const char* key, long long n, const char* before) except -1:
        """``before``, ``key`` and ``n``, if ``n`` is not 0 (a side that held TIME_WAIT)."""
        if n:
            self.put(before, strlen(before))
            self.put(key, strlen(key))
            self.whole(n)
        return 0

    cdef int series(self, const double[:] times, const long long[:] counts,
                    Py_ssize_t a, Py_ssize_t b) except -1:
        """``[[time, count], ...]`` of points ``a .. b - 1``."""
        cdef Py_ssize_t k
        cdef long long micros
        # The whole seconds of the last time written: a series' times are sorted,
        # and many share them (copied, not written again: the 3M benchmark's 782k
        # points, 0.105 -> 0.092 s).
        cdef long long second = -1
        cdef Py_ssize_t second_at = 0, second_size = 0
        self.lit(b"[")
        for k in range(a, b):
            self.lit(b",[" if k > a else b"[")
            micros = _whole_micros(times[k])
            if micros < 0:
                self.real(times[k])
            elif micros // 1000000 == second:
                self.reserve(second_size)
                memcpy(self.data + self.size, self.data + second_at, second_size)
                self.size += second_size
                self.fraction(micros % 1000000)
            else:
                second, second_at = micros // 1000000, self.size
                self.micros(micros)
                second_size = 0
                while self.data[second_at + second_size] != 46:  # "."
                    second_size += 1
            self.lit(b",")
            self.whole(counts[k])
            self.lit(b"]")
        return self.lit(b"]")

    cdef inline void key(self, const char* s) noexcept:
        """A constant (a key and its punctuation), in room reserved already."""
        cdef Py_ssize_t n = strlen(s)  # (of a literal: folded by the compiler)
        memcpy(self.data + self.size, s, n)
        self.size += n

    cdef inline void pick(self, _Words* words, Py_ssize_t k) noexcept:
        """Word ``k``, in room reserved already."""
        memcpy(self.data + self.size, words.text[k], words.size[k])
        self.size += words.size[k]

    cdef int events(self, bytes packed) except -1:
        """Packed events (``model.Events``), joined by commas."""
        cdef const EventRow* e = <const EventRow*><const char*>packed
        cdef Py_ssize_t k, n = len(packed) // sizeof(EventRow)
        for k in range(n):
            if not (0 <= e[k].flags < _flag_words.n and e[k].sender < _side_words.n
                    and e[k].kind < _kind_words.n and e[k].client_state < _state_words.n
                    and e[k].server_state < _state_words.n):
                raise ValueError("a packed event with a code out of range")
            self.reserve(_EVENT_ROOM)
            self.key(b',{"frame":' if k else b'{"frame":')
            self.whole(e[k].frame)
            self.key(b',"time":')
            self.real(e[k].time)
            self.key(b',"from":')
            self.pick(&_side_words, e[k].sender)
            self.key(b',"flags":')
            self.pick(&_flag_words, e[k].flags)
            self.key(b',"seq":')
            self.whole(e[k].seq)
            self.key(b',"ack":')
            self.whole(e[k].ack)
            self.key(b',"len":')
            self.whole(e[k].length)
            self.key(b',"kind":')
            self.pick(&_kind_words, e[k].kind)
            self.key(b',"states":{"client":')
            self.pick(&_state_words, e[k].client_state)
            self.key(b',"server":')
            self.pick(&_state_words, e[k].server_state)
            self.key(b"}}")
        return 0

    cdef int boolean(self, object x) except -1:
        return self.lit(b"true" if x else b"false")

    cdef int by_side(self, dict values, bint words) except -1:
        """{side: value} as an object of numbers (or of words)."""
        cdef bint first = True
        self.lit(b"{")
        for side, value in values.items():
            if not first:
                self.lit(b",")
            first = False
            self.word(side)
            self.lit(b":")
            if words:
                self.word(value)
            else:
                self.integer(value)
        return self.lit(b"}")

    cdef int value(self, object x) except -1:
        """Any value as ``json`` writes it."""
        cdef type kind = type(x)
        cdef bint first = True
        if x is None:
            return self.lit(b"null")
        if x is True:
            return self.lit(b"true")
        if x is False:
            return self.lit(b"false")
        if kind is str:
            return self.string(x)
        if kind is int:
            try:
                return self.whole(x)
            except OverflowError:  # beyond 64 bits
                return self.text(repr(x))
        if kind is float:
            return self.number(x)
        if kind is list or kind is tuple:
            self.lit(b"[")
            for item in x:
                if not first:
                    self.lit(b",")
                first = False
                self.value(item)
            return self.lit(b"]")
        if kind is dict and all(type(key) is str for key in x):
            return self.members(x, None)
        # Anything else (a subclass, a dict with other keys): json itself.
        return self.text(_dumps(x))

    cdef int members(self, dict x, object nulled) except -1:
        """A dict of str keys as ``json`` writes it, but with ``null`` as the
        value of key ``nulled`` (None: of none)."""
        cdef bint first = True
        self.lit(b"{")
        for key, item in x.items():
            if not first:
                self.lit(b",")
            first = False
            self.string(key)
            self.lit(b":")
            self.value(None if nulled is not None and key == nulled else item)
        return self.lit(b"}")

    cdef str result(self):
        return PyUnicode_DecodeASCII(self.data, self.size, NULL)

    cdef bytes result_bytes(self):
        return PyBytes_FromStringAndSize(self.data, self.size)


def connection_json(c):
    """``document.connection_dict(c)``'s JSON without the id, which is
    provisional (the first frame) until ``numbered_spill`` adds the final one
    (``spool.ConnectionSpool``)."""
    return _connection(c).result()


def connection_json_bytes(c):
    """``connection_json(c)`` as ASCII bytes: what a spool keeps (no str is made
    on the way)."""
    return _connection(c).result_bytes()


cdef _Text _connection(Connection c):
    cdef _Text t = _Text()
    cdef TimeWait tw = c.time_wait
    # (Unpacked: an Endpoint is a tuple, and unpacking it skips two
    # attribute lookups each.)
    client_ip, client_port = c.client
    server_ip, server_port = c.server
    t.lit(b'{"client":{"ip":')
    t.word(client_ip)
    t.lit(b',"port":')
    t.integer(client_port)
    t.lit(b'},"server":{"ip":')
    t.word(server_ip)
    t.lit(b',"port":')
    t.integer(server_port)
    t.lit(b'},"roles_inferred":')
    t.boolean(c.roles_inferred)
    t.lit(b',"incarnation":')
    t.integer(c.incarnation)
    t.lit(b',"first_frame":')
    t.integer(c.first_frame)
    t.lit(b',"last_frame":')
    t.integer(c.last_frame)
    t.lit(b',"first_time":')
    t.number(c.first_time)
    t.lit(b',"last_time":')
    t.number(c.last_time)
    t.lit(b',"isn":{"client":')
    t.integer(c.isn_client)
    t.lit(b',"server":')
    t.integer(c.isn_server)
    t.lit(b'},"close":')
    t.word(c.close)
    t.lit(b',"active_closer":')
    t.word(c.active_closer)
    t.lit(b',"rst_sender":')
    t.word(c.rst_sender)
    t.lit(b',"half_close":')
    t.boolean(c.half_close)
    t.lit(b',"fin_retransmissions":')
    t.by_side(c.fin_retransmissions, False)
    t.lit(b',"end_states":')
    t.by_side(c.end_states, True)
    t.lit(b',"time_wait":{"side":')
    if tw is None:
        t.lit(b'null,"start":null,"end":null,"ended_by":null,"start_estimated":false}')
    else:
        t.word(tw.side)
        t.lit(b',"start":')
        t.number(tw.start)
        t.lit(b',"end":')
        t.number(tw.end)
        t.lit(b',"ended_by":')
        t.word(tw.ended_by)
        t.lit(b',"start_estimated":')
        t.boolean(tw.start_estimated)
        t.lit(b"}")
    t.lit(b',"packets":')
    t.by_side(c.packets, False)
    t.lit(b',"payload_bytes":')
    t.by_side(c.payload_bytes, False)
    t.lit(b',"events":[')
    events = c.events
    # (Most are the walk's: no call to see that.)
    t.events((events if type(events) is Events else Events.of(events)).packed)
    t.lit(b"]")
    if c.zeek is not None:
        t.lit(b',"zeek":{')
        first = True
        for key, value in c.zeek.items():
            if not first:
                t.lit(b",")
            first = False
            t.string(key)
            t.lit(b":")
            t.string(value)
        t.lit(b"}")
    t.lit(b"}")
    return t


def json_text(value):
    """``value`` as ``json`` writes it with compact separators."""
    cdef _Text t = _Text()
    t.value(value)
    return t.result()


def finding_json_bytes(f, nulled=None):
    """``json_text(f.as_dict())`` (a ``findings.Finding``) as ASCII bytes, but
    for ``null`` as its connection and as the value of its detail's key
    ``nulled`` (None: none is), written from its fields (``findings.judge``:
    the dict of it, and of its detail, took a third of the writing)."""
    cdef _Text t = _Text()
    t.lit(b'{"kind":')
    t.value(f.kind.value)
    t.lit(b',"severity":')
    t.value(f.severity.value)
    t.lit(b',"connection":null,"frames":')
    t.value(f.frames)
    t.lit(b',"time":')
    t.value(f.time)
    t.lit(b',"summary":')
    t.value(f.summary)
    t.lit(b',"detail":')
    detail = f.detail
    if type(detail) is dict and all(type(key) is str for key in detail):
        t.members(detail, nulled)
    else:
        t.value(detail if nulled is None else {**detail, nulled: None})
    t.lit(b',"reference":')
    t.value(f.reference)
    t.lit(b',"advice":')
    t.value(f.advice)
    t.lit(b"}")
    return t.result_bytes()


def series_json(const double[:] times not None, const long long[:] counts not None):
    """``[[time, count], ...]``: what ``json`` makes of ``list(zip(times,
    counts))`` (an occupancy's series, ``timewait.Occupancy``), without a pair
    made per point."""
    cdef _Text t = _Text()
    if counts.shape[0] != times.shape[0]:
        raise ValueError("times and counts differ in length")
    t.series(times, counts, 0, times.shape[0])
    return t.result()


def host_items_json(list names, const long long[:] rows not None, occupancies,
                    Py_ssize_t run_bytes):
    """The JSON items of ``timewait.HostTable``'s hosts (``HostTimeWait.as_dict``
    of each, series and all) joined by commas, in texts of about ``run_bytes``:
    host ``k`` is ``names[k]``, its occupancy row ``rows[k]`` of
    ``occupancies`` (a ``timewait.OccupancyTable``)."""
    cdef _Occupancies o = _Occupancies(occupancies)
    cdef _Items items = _Items(run_bytes)
    cdef _Text t
    cdef Py_ssize_t k, n = len(names)
    if rows.shape[0] != n:
        raise ValueError("a host table's columns differ in length")
    for k in range(n):
        t = items.next()
        t.lit(b'{"host":')
        t.string(names[k])
        o.peak(t, rows[k])
        o.series(t, rows[k])
        t.lit(b"}")
    return items.texts_made()


def destination_items_json(
    list clients, list servers, const long long[:] connections not None,
    const double[:] rates not None, const double[:] forecasts not None,
    const long long[:] held_by_client not None, const long long[:] held_by_server not None,
    const unsigned char[:] client_held_first not None, const long long[:] rows not None,
    occupancies, Py_ssize_t run_bytes,
):
    """The JSON items of ``timewait.DestinationTable``'s destinations
    (``DestinationTimeWait.as_dict`` of each, series and all) joined by commas,
    in texts of about ``run_bytes``, from its columns: a rate or forecast of
    NaN is None, an occupancy row of -1 the empty occupancy."""
    cdef _Occupancies o = _Occupancies(occupancies)
    cdef _Items items = _Items(run_bytes)
    cdef _Text t
    cdef Py_ssize_t k, n = len(clients)
    if not (len(servers) == connections.shape[0] == rates.shape[0] == forecasts.shape[0]
            == held_by_client.shape[0] == held_by_server.shape[0]
            == client_held_first.shape[0] == rows.shape[0] == n):
        raise ValueError("a destination table's columns differ in length")
    for k in range(n):
        t = items.next()
        t.lit(b'{"client":')
        t.string(clients[k])
        t.lit(b',"server":')
        t.string(servers[k])
        t.lit(b',"connections":')
        t.whole(connections[k])
        t.lit(b',"rate":')
        t.real_or_null(rates[k])
        o.peak(t, rows[k])
        t.lit(b',"forecast":')
        t.real_or_null(forecasts[k])
        t.lit(b',"time_wait_holders":{')
        # (The side that held TIME_WAIT there first, first; a side that never did, left out.)
        if client_held_first[k]:
            t.count(b'"client":', held_by_client[k], b"")
            t.count(b'"server":', held_by_server[k], b"," if held_by_client[k] else b"")
        else:
            t.count(b'"server":', held_by_server[k], b"")
            t.count(b'"client":', held_by_client[k], b"," if held_by_server[k] else b"")
        t.lit(b"}")
        o.series(t, rows[k])
        t.lit(b"}")
    return items.texts_made()


@cython.final
cdef class _Items:
    """Items written one after another, joined by commas, in texts of about
    ``run_bytes`` (a text ends with the item that reaches it)."""

    cdef _Text text
    cdef list texts
    cdef Py_ssize_t run_bytes

    def __cinit__(self, Py_ssize_t run_bytes):
        self.text, self.texts, self.run_bytes = _Text(), [], run_bytes

    cdef _Text next(self):
        """Where the next item goes (after a comma, or in a new text)."""
        if self.text.size >= self.run_bytes:
            self.texts.append(self.text.result())
            self.text = _Text()
        elif self.text.size:
            self.text.lit(b",")
        return self.text

    cdef list texts_made(self):
        """The texts, the last one too."""
        if self.text.size:
            self.texts.append(self.text.result())
            self.text = _Text()
        return self.texts


@cython.final
cdef class _Occupancies:
    """The columns of a ``timewait.OccupancyTable``, read through memoryviews."""

    cdef const long long[:] first, stop, peaks, counts
    cdef const double[:] peak_times, times

    def __cinit__(self, table):
        self.first, self.stop = table.first, table.stop
        self.peaks, self.peak_times = table.peaks, table.peak_times
        self.times, self.counts = table.times, table.counts
        n = self.first.shape[0]
        if not (self.stop.shape[0] == self.peaks.shape[0] == self.peak_times.shape[0] == n
                and self.times.shape[0] == self.counts.shape[0]):
            raise ValueError("an occupancy table's columns differ in length")

    cdef int peak(self, _Text t, long long row) except -1:
        """``,"peak":...,"peak_time":...`` of row ``row`` (-1: no intervals)."""
        t.lit(b',"peak":')
        if row < 0:
            return t.lit(b'0,"peak_time":null')
        t.whole(self.peaks[row])
        t.lit(b',"peak_time":')
        return t.real(self.peak_times[row])

    cdef int series(self, _Text t, long long row) except -1:
        """``,"series":[...]`` of row ``row`` (-1: no intervals)."""
        t.lit(b',"series":')
        if row < 0:
            return t.lit(b"[]")
        if not (0 <= self.first[row] <= self.stop[row] <= self.times.shape[0]):
            raise IndexError(f"occupancy row {row} beyond its series")
        return t.series(self.times, self.counts, self.first[row], self.stop[row])


cdef inline long long _whole_micros(double v) noexcept:
    """``v`` in whole microseconds if ``Text.micros`` of them is ``repr(v)``; else -1.

    Capture times are whole microseconds, mostly. When the decimal of v to 6
    places rounds back to v, it is repr(v): below 2^33 doubles are closer
    than 1e-6 apart, so no shorter decimal, and no other of 6 places, rounds
    to v. (repr's general algorithm took more than half of the rendering.)
    """
    cdef long long micros
    if 1e-4 <= v < 8589934592.0:
        micros = llround(v * 1e6)
        if <double>micros / 1e6 == v:
            return micros
    return -1


cdef class _Runs:
    """Items read back from spill files, each written into texts of about
    ``chunk_bytes`` joined by commas (``texts``) as a subclass writes it
    (``item``): item ``k`` is ``sizes[k]`` bytes at ``offsets[k]`` of the file
    open as ``fds[files[k]]``. Items that lie end to end on a file are read
    together, up to ``chunk_bytes`` at once. (Compiled: items settle out of
    order, so most runs are a few items, and a loop of Python per run took as
    long as the copying.)"""

    cdef list fds
    cdef const int[:] files
    cdef const long long[:] offsets, sizes
    cdef Py_ssize_t n, chunk_bytes, room
    cdef char* buf
    cdef bint as_bytes  # the texts as ASCII bytes (else str)

    def __cinit__(self, list fds, const int[:] files not None,
                  const long long[:] offsets not None, const long long[:] sizes not None,
                  Py_ssize_t chunk_bytes, Py_ssize_t smallest):
        cdef Py_ssize_t k
        self.fds, self.files, self.offsets, self.sizes = fds, files, offsets, sizes
        self.n, self.chunk_bytes = files.shape[0], chunk_bytes
        if offsets.shape[0] != self.n or sizes.shape[0] != self.n:
            raise ValueError("files, offsets and sizes differ in length")
        for k in range(self.n):
            if not 0 <= files[k] < len(fds):
                raise ValueError(f"item {k} on file {files[k]} of {len(fds)}")
            if offsets[k] < 0 or sizes[k] < smallest:
                raise ValueError(f"item {k} of {sizes[k]} bytes at {offsets[k]}")

    def __dealloc__(self):
        PyMem_Free(self.buf)

    def texts(self):
        cdef Py_ssize_t k = 0, b, j
        cdef long long at
        cdef _Text t = _Text()
        while k < self.n:
            b, at = self.read(k), 0
            for j in range(k, b):
                if t.size:
                    t.lit(b",")
                self.item(t, j, self.buf + at)
                at += self.sizes[j]
            k = b
            if t.size >= self.chunk_bytes:
                yield t.result_bytes() if self.as_bytes else t.result()
                t.size = 0  # (a copy was given: the grown buffer is written again)
        if t.size:
            yield t.result_bytes() if self.as_bytes else t.result()

    cdef int item(self, _Text t, Py_ssize_t j, const char* data) except -1:
        """Writes item ``j``, whose bytes are ``data``."""
        raise NotImplementedError

    cdef Py_ssize_t read(self, Py_ssize_t k) except -1:
        """Reads the run of items from ``k`` into ``buf``; the item after it."""
        cdef Py_ssize_t b = k + 1
        cdef long long length = self.sizes[k], done = 0, got
        cdef int fd, failure
        while (b < self.n and self.files[b] == self.files[k]
               and self.offsets[b] == self.offsets[b - 1] + self.sizes[b - 1]
               and length + self.sizes[b] <= self.chunk_bytes):
            length += self.sizes[b]
            b += 1
        if length > self.room:
            PyMem_Free(self.buf)
            self.room = max(length, self.chunk_bytes)
            self.buf = <char*>PyMem_Malloc(self.room)
            if self.buf == NULL:
                self.room = 0
                raise MemoryError()
        fd = self.fds[self.files[k]]
        while done < length:
            with nogil:
                got = pread(fd, self.buf + done, length - done, self.offsets[k] + done)
                failure = errno if got < 0 else 0
            if failure == EINTR:
                PyErr_CheckSignals()  # (raises if a handler did; else read again)
                continue
            if failure:
                raise OSError(failure, f"{os.strerror(failure)}: reading a spill file "
                                       f"(descriptor {fd}) at {self.offsets[k] + done}")
            if got == 0:
                raise OSError(f"a spill file (descriptor {fd}) ends before offset "
                              f"{self.offsets[k] + length}")
            done += got
        return b


cdef class _Numbered(_Runs):
    """Connections' JSON, each given its id as its first key."""

    cdef long long first_id

    cdef int item(self, _Text t, Py_ssize_t j, const char* data) except -1:
        if data[0] != 123:  # "{"
            raise ValueError(f"item {j} is not a JSON object")
        t.lit(b'{"id":')
        t.whole(self.first_id + j)
        t.lit(b",")
        return t.put(data + 1, self.sizes[j] - 1)


# Where a finding written before the end names its connection (``findings.judge``):
# its third key, after two words (``Finding.as_dict``), so the first such text.
cdef bytes _NO_CONNECTION = b'"connection":null'
# ... and where its detail names another (``findings._CONNECTION_FIELDS``), after
# that: the only key that ends so. (Neither can be inside a string, where
# every quote is escaped.)
cdef bytes _NO_OTHER_CONNECTION = b'_connection":null'


cdef class _Named(_Runs):
    """Findings' JSON, each given the id of its connection (0: none) in place
    of ``null`` in ``_NO_CONNECTION``, and the id of the connection its detail
    names, if not 0, in place of ``null`` in ``_NO_OTHER_CONNECTION``."""

    cdef const long long[:] named, also

    cdef int item(self, _Text t, Py_ssize_t j, const char* data) except -1:
        cdef Py_ssize_t cut = _null_at(data, self.sizes[j], _NO_CONNECTION, j, "connection")
        cdef Py_ssize_t other
        t.put(data, cut)
        if self.named[j]:
            t.whole(self.named[j])
        else:
            t.lit(b"null")
        if not self.also[j]:
            return t.put(data + cut + 4, self.sizes[j] - cut - 4)
        other = cut + 4 + _null_at(data + cut + 4, self.sizes[j] - cut - 4,
                                   _NO_OTHER_CONNECTION, j, "other connection")
        t.put(data + cut + 4, other - cut - 4)
        t.whole(self.also[j])
        return t.put(data + other + 4, self.sizes[j] - other - 4)


cdef Py_ssize_t _null_at(const char* data, Py_ssize_t size, bytes key, Py_ssize_t j,
                         str what) except -1:
    """Where the ``null`` that ends ``key`` is, first in ``data`` (item ``j``,
    where ``what`` is named)."""
    cdef const char* found = <const char*>memmem(data, size, <const char*>key, len(key))
    if found == NULL:
        raise ValueError(f"item {j} names no place for its {what}")
    return found - data + len(key) - 4


def numbered_spill(list fds, const int[:] files not None, const long long[:] offsets not None,
                   const long long[:] sizes not None, long long first_id,
                   Py_ssize_t chunk_bytes=1 << 20, bint as_bytes=False):
    """Connections' JSON texts (``connection_json``) read from spill files
    (``_Runs``) and given the ids ``first_id``, ``first_id + 1``, ..., as texts
    of about ``chunk_bytes`` each, their items joined by commas: the runs of a
    document's connection list (``as_bytes``: as ASCII bytes, not str)."""
    cdef _Numbered runs = _Numbered(fds, files, offsets, sizes, chunk_bytes, 2)
    runs.first_id = first_id
    runs.as_bytes = as_bytes
    return runs.texts()


def named_spill(list fds, const int[:] files not None, const long long[:] offsets not None,
                const long long[:] sizes not None, const long long[:] named not None,
                const long long[:] also not None, Py_ssize_t chunk_bytes=1 << 20):
    """Findings' JSON texts, written before their connections had ids
    (``findings.judge``), read from spill files (``_Runs``) and given the ids
    ``named`` (0: none) and, in a detail naming another connection, ``also``
    (0: none), as texts of about ``chunk_bytes`` each, their items joined by
    commas: runs of a document's findings list."""
    cdef _Named runs = _Named(fds, files, offsets, sizes, chunk_bytes, 1)
    if named.shape[0] != runs.n or also.shape[0] != runs.n:
        raise ValueError("named, also and the items differ in length")
    runs.named, runs.also = named, also
    return runs.texts()
