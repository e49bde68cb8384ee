"""Generate a large, realistic classic-pcap capture of short TCP connections.

    python bench/generate.py OUT.pcap --packets 3000000 [--concurrency 2000]
        [--seed 1] [--gzip] [--nanosecond] [--snaplen N]

Writes OUT.pcap and OUT.truth.json (the ground truth: packets, connections,
close kinds, active closers, ...), so that an analyzer can be checked at a
scale where nobody reads the packets by hand.

How it stays fast (3M packets in a few seconds): a connection is an instance
of a *template*, a short script of segments built once in Python by a tiny
TCP model (``Script``). Connections that share a template (same close
variant, request, response, address family, timestamps on/off) are then
instantiated together with numpy: times, sequence numbers, acks, TCP
timestamps and IP IDs are per-template offsets plus per-connection bases.
Headers are filled as numpy structured arrays, one per header layout, and
checksums are computed vectorised (payloads come from a small catalogue whose
one's-complement sums are precomputed). Only the final interleaving of header
and payload bytes is a Python loop, one step per packet, in chunks.

The capture point sits on the path between client and server: ``hc`` is the
round trip from the capture point to the client and back, ``hs`` the same to
the server. A segment "reaches" the other side half a round trip after it is
captured, which is how the model decides what each side has received when it
sends (and so its ack number and TSecr), and which segments can be lost
*past* the capture point (seen in the capture, never received).
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
CLIENT, SERVER = 0, 1
SIDE_NAME = ("client", "server")
KINDS = ("graceful", "simultaneous", "abort", "refused", "attempt", "incomplete", "open")
CLOSERS = ("client", "server", "both", "none")

# Time is a linear form over these per-connection parameters (seconds):
#   one   constant 1
#   hc    round trip capture point <-> client
#   hs    round trip capture point <-> server
#   ds    server application think time (request -> response)
#   eps   spacing of back-to-back segments of one burst (serialisation)
#   idle  idle time before the close (client think time / keep-alive timeout)
#   rto   retransmission timeout of the side that retransmits
#   cd    passive closer's application delay between its ACK and its FIN
#   iv    interval between the exchanges of a long-lived connection
SYMBOLS = ("one", "hc", "hs", "ds", "eps", "idle", "rto", "cd", "iv")
# Representative values, used only to decide the order of events inside a
# template; the parameter ranges drawn per connection keep the same order
# (and instantiate() checks that they do).
REP = np.array([1.0, 0.030, 0.0004, 0.002, 0.000012, 1.0, 0.25, 0.005, 10.0])


def tf(**coef: float) -> np.ndarray:
    """A time form: coefficients over SYMBOLS."""
    v = np.zeros(len(SYMBOLS))
    for name, c in coef.items():
        v[SYMBOLS.index(name)] = c
    return v


# Option layouts of the TCP header; the value is the options length in bytes.
OPT_NONE, OPT_TS, OPT_SYN, OPT_SYN_NOTS, OPT_SYNACK, OPT_SYNACK_NOTS = range(6)
OPT_LEN = (0, 12, 20, 12, 20, 12)
OPT_HAS_TS = (False, True, True, False, True, False)

# Windows (raw field). Linux: SYN 64240 (v4) / 64800 (v6), wscale 7 after.
WIN_CLIENT, WIN_SERVER, WIN_CLIENT_NOTS = 501, 509, 256


# ---------------------------------------------------------------------------
# Payload catalogue: every payload is one of a few hundred byte strings, so
# their checksums are computed once.


def _http_request(i: int) -> bytes:
    paths = ("/", "/index.html", "/api/v1/items?p=2", "/static/app.js", "/img/logo.png", "/login")
    cookie_len = (0, 40, 120, 250, 400, 620)[i]
    head = (
        f"GET {paths[i]} HTTP/1.1\r\nHost: www.example.com\r\n"
        "User-Agent: teardown-bench/1.0\r\nAccept: */*\r\n"
    )
    if cookie_len:
        head += "Cookie: sid=" + ("x" * cookie_len) + "\r\n"
    return (head + "\r\n").encode()


BODY_SIZES = (0, 120, 612, 1270, 2900, 4500, 7300, 11800)
BODY_WEIGHTS = (0.05, 0.15, 0.25, 0.2, 0.15, 0.1, 0.06, 0.04)
N_REQUESTS = 6


def _http_response(body: int) -> bytes:
    text = b"<p>The quick brown fox jumps over the lazy dog.</p>\n"
    payload = (text * (body // len(text) + 1))[:body]
    head = (
        "HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Mon, 23 Nov 2026 12:00:00 GMT\r\n"
        f"Content-Type: text/html\r\nContent-Length: {body}\r\nConnection: keep-alive\r\n\r\n"
    )
    return head.encode() + payload


def _ones_sum(b: bytes) -> int:
    """Sum of big-endian 16-bit words (odd tail padded), not yet folded."""
    if len(b) % 2:
        b += b"\0"
    return int(np.frombuffer(b, dtype=">u2").sum(dtype=np.uint64))


class Catalogue:
    def __init__(self) -> None:
        self.data: list[bytes] = [b""]
        self.index: dict[bytes, int] = {b"": 0}

    def add(self, b: bytes) -> int:
        if b not in self.index:
            self.index[b] = len(self.data)
            self.data.append(b)
        return self.index[b]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        lens = np.array([len(b) for b in self.data], dtype=np.int64)
        sums = np.array([_ones_sum(b) for b in self.data], dtype=np.uint64)
        return lens, sums


CAT = Catalogue()
REQ_PIDS = [CAT.add(_http_request(i)) for i in range(N_REQUESTS)]
# The small request/response of the exchanges on long-lived connections.
POLL_REQ = CAT.add(b"GET /poll HTTP/1.1\r\nHost: www.example.com\r\n\r\n")
POLL_RESP = CAT.add(_http_response(120))


def segment_size(v6: bool, ts: bool) -> int:
    """Payload per full segment: MSS minus the timestamps option if used."""
    return (1440 if v6 else 1460) - (12 if ts else 0)


def response_pids(resp: int, v6: bool, ts: bool) -> list[int]:
    stream = _http_response(BODY_SIZES[resp])
    s = segment_size(v6, ts)
    return [CAT.add(stream[k : k + s]) for k in range(0, len(stream), s)]


# ---------------------------------------------------------------------------
# Templates: a small TCP model that writes one connection's segments.


@dataclass
class Row:
    side: int
    flags: int
    seq: int  # relative to the sender's ISN
    ack: int  # relative to the receiver's ISN; meaningless without ACK
    pid: int
    t: np.ndarray
    echo: int  # row whose TSval this row echoes (-1: none)
    opt: int
    lost: bool
    window: int


@dataclass
class Template:
    kind: str
    closer: str
    rst_sender: str | None = None
    three_way: bool = False
    fin_retx: tuple[int, int] = (0, 0)
    rows: list[Row] = field(default_factory=list)
    client_end: int = 0  # client's snd_nxt at the end, relative to its ISN
    server_end: int = 0
    name: str = ""
    # Script.finish() adds one numpy array per row attribute: side, flags,
    # seq, ack, has_ack, pid, tform (rows x symbols), echo, opt, window, lost
    # and nth (index of the row among its side's rows, for IP IDs).


class Script:
    """Builds a Template: tracks snd_nxt per side and what each side received."""

    def __init__(self, ts: bool, v6: bool, lens: dict[int, int]):
        self.ts, self.v6, self.lens = ts, v6, lens
        self.rows: list[Row] = []
        self.nxt = [0, 0]

    def _received(self, side: int, t: np.ndarray) -> list[int]:
        """Peer rows that reached `side` before it sent at capture time t."""
        h = REP[1] if side == CLIENT else REP[2]
        now = t @ REP
        return [
            i
            for i, r in enumerate(self.rows)
            if r.side != side and not r.lost and r.t @ REP + h <= now + 1e-12
        ]

    def _span(self, r: Row) -> tuple[int, int]:
        return r.seq, r.seq + self.lens[r.pid] + bool(r.flags & SYN) + bool(r.flags & FIN)

    def send(
        self,
        side: int,
        flags: int,
        t: np.ndarray,
        pid: int = 0,
        seq: int | None = None,
        lost: bool = False,
        bare: bool = False,
        with_ack: bool = True,
    ) -> Row:
        got = self._received(side, t)
        # Cumulative ack: merge what arrived, starting at the peer's ISN.
        rcv = 0
        for a, b in sorted(self._span(self.rows[i]) for i in got):
            if a <= rcv:
                rcv = max(rcv, b)
        if with_ack and got:
            flags |= ACK
        echo = max(got, key=lambda i: self.rows[i].t @ REP) if got else -1
        if flags & SYN and side == CLIENT:
            opt = OPT_SYN if self.ts else OPT_SYN_NOTS
        elif flags & SYN:
            opt = OPT_SYNACK if self.ts else OPT_SYNACK_NOTS
        else:
            opt = OPT_TS if self.ts and not bare else OPT_NONE
        if flags & SYN:
            # Linux's initial windows: 45 * MSS rounded, v6 and v4 differ.
            window = 64800 if self.v6 else (64240 if side == CLIENT else 65160)
        elif bare:
            window = 0
        elif side == CLIENT:
            window = WIN_CLIENT if self.ts else WIN_CLIENT_NOTS
        else:
            window = WIN_SERVER
        fresh = seq is None
        if fresh:
            seq = self.nxt[side]
        row = Row(side, flags, seq, rcv, pid, t, echo, opt, lost, window)
        self.rows.append(row)
        if fresh:
            self.nxt[side] = self._span(row)[1]
        return row

    def finish(self, tp: Template) -> Template:
        # Rows in capture order (stable: call order breaks ties).
        order = sorted(range(len(self.rows)), key=lambda i: self.rows[i].t @ REP)
        where = {old: new for new, old in enumerate(order)}
        rows = [self.rows[i] for i in order]
        for r in rows:
            r.echo = where.get(r.echo, -1) if r.echo >= 0 else -1
        tp.rows = rows
        tp.client_end = self.nxt[CLIENT]
        tp.server_end = self.nxt[SERVER]
        tp.side = np.array([r.side for r in rows], dtype=np.uint8)
        tp.flags = np.array([r.flags for r in rows], dtype=np.uint8)
        tp.seq = np.array([r.seq for r in rows], dtype=np.uint64)
        tp.ack = np.array([r.ack for r in rows], dtype=np.uint64)
        tp.has_ack = (tp.flags & ACK) != 0
        tp.pid = np.array([r.pid for r in rows], dtype=np.int32)
        tp.tform = np.array([r.t for r in rows])  # rows x symbols
        tp.echo = np.array([r.echo for r in rows], dtype=np.int64)
        tp.opt = np.array([r.opt for r in rows], dtype=np.uint8)
        tp.window = np.array([r.window for r in rows], dtype=np.uint16)
        tp.lost = np.array([r.lost for r in rows], dtype=bool)
        # nth segment of its side: IP IDs count up per socket.
        tp.nth = np.zeros(len(rows), dtype=np.uint16)
        seen = [0, 0]
        for i, r in enumerate(rows):
            tp.nth[i] = seen[r.side]
            seen[r.side] += 1
        return tp


def _handshake_and_exchange(s: Script, req: int, resp: list[int]) -> np.ndarray:
    """SYN, SYN/ACK, ACK, a request, the response burst, the client's ACKs.

    Returns the time of the client's last ACK."""
    s.send(CLIENT, SYN, tf())
    s.send(SERVER, SYN, tf(hs=1))
    s.send(CLIENT, 0, tf(hs=1, hc=1))
    t_req = tf(hs=1, hc=1, eps=1)
    s.send(CLIENT, PSH, t_req, pid=req)
    t0 = t_req + tf(hs=1, ds=1)
    for k, pid in enumerate(resp):
        s.send(SERVER, PSH if k == len(resp) - 1 else 0, t0 + tf(eps=k), pid=pid)
    # Linux acks every second full segment, and (quick-ack) the last one.
    t_last = t_req
    for k in range(len(resp)):
        if k % 2 == 1 or k == len(resp) - 1:
            t_last = t0 + tf(eps=k, hc=1)
            s.send(CLIENT, 0, t_last)
    return t_last


# Close variants: name -> (weight, builder). Builders get (script, req, resp)
# and return the Template metadata (kind, closer, ...).


def _v_cf4(s, req, resp):
    t = _handshake_and_exchange(s, req, resp) + tf(idle=1)
    s.send(CLIENT, FIN, t)
    s.send(SERVER, 0, t + tf(hs=1))
    s.send(SERVER, FIN, t + tf(hs=1, cd=1))
    s.send(CLIENT, 0, t + tf(hs=1, cd=1, hc=1))
    return Template("graceful", "client")


def _v_cf3(s, req, resp):
    t = _handshake_and_exchange(s, req, resp) + tf(idle=1)
    s.send(CLIENT, FIN, t)
    s.send(SERVER, FIN, t + tf(hs=1))
    s.send(CLIENT, 0, t + tf(hs=1, hc=1))
    return Template("graceful", "client", three_way=True)


def _v_sf4(s, req, resp):
    t = _handshake_and_exchange(s, req, resp) + tf(idle=1)
    s.send(SERVER, FIN, t)
    s.send(CLIENT, 0, t + tf(hc=1))
    s.send(CLIENT, FIN, t + tf(hc=1, cd=1))
    s.send(SERVER, 0, t + tf(hc=1, cd=1, hs=1))
    return Template("graceful", "server")


def _v_sf3(s, req, resp):
    t = _handshake_and_exchange(s, req, resp) + tf(idle=1)
    s.send(SERVER, FIN, t)
    s.send(CLIENT, FIN, t + tf(hc=1))
    s.send(SERVER, 0, t + tf(hc=1, hs=1))
    return Template("graceful", "server", three_way=True)


def _v_sim_client_first(s, req, resp):
    # The server's FIN leaves before the client's FIN reaches it (half of hs
    # later): its ack does not cover the client's FIN.
    t = _handshake_and_exchange(s, req, resp) + tf(idle=1)
    s.send(CLIENT, FIN, t)
    s.send(SERVER, FIN, t + tf(hs=0.5))
    s.send(SERVER, 0, t + tf(hs=1))
    s.send(CLIENT, 0, t + tf(hs=0.5, hc=1))
    return Template("simultaneous", "both")


def _v_sim_server_first(s, req, resp):
    t = _handshake_and_exchange(s, req, resp) + tf(idle=1)
    s.send(SERVER, FIN, t)
    s.send(CLIENT, FIN, t + tf(hc=0.5))
    s.send(SERVER, 0, t + tf(hc=0.5, hs=1))
    s.send(CLIENT, 0, t + tf(hc=1))
    return Template("simultaneous", "both")


def _v_final_ack_lost(s, req, resp):
    # Client-first 4-way close; the client's final ACK passes the capture
    # point and is lost before the server: the server retransmits its FIN
    # and the client (in TIME_WAIT) acks again.
    t = _handshake_and_exchange(s, req, resp) + tf(idle=1)
    s.send(CLIENT, FIN, t)
    s.send(SERVER, 0, t + tf(hs=1))
    fin = s.send(SERVER, FIN, t + tf(hs=1, cd=1))
    s.send(CLIENT, 0, t + tf(hs=1, cd=1, hc=1), lost=True)
    s.send(SERVER, FIN, t + tf(hs=1, cd=1, rto=1), seq=fin.seq)
    s.send(CLIENT, 0, t + tf(hs=1, cd=1, rto=1, hc=1))
    return Template("graceful", "client", fin_retx=(0, 1))


def _v_server_fin_lost(s, req, resp):
    t = _handshake_and_exchange(s, req, resp) + tf(idle=1)
    fin = s.send(SERVER, FIN, t, lost=True)
    s.send(SERVER, FIN, t + tf(rto=1), seq=fin.seq)
    s.send(CLIENT, 0, t + tf(rto=1, hc=1))
    s.send(CLIENT, FIN, t + tf(rto=1, hc=1, cd=1))
    s.send(SERVER, 0, t + tf(rto=1, hc=1, cd=1, hs=1))
    return Template("graceful", "server", fin_retx=(0, 1))


def _v_client_fin_lost(s, req, resp):
    t = _handshake_and_exchange(s, req, resp) + tf(idle=1)
    fin = s.send(CLIENT, FIN, t, lost=True)
    s.send(CLIENT, FIN, t + tf(rto=1), seq=fin.seq)
    s.send(SERVER, FIN, t + tf(rto=1, hs=1))
    s.send(CLIENT, 0, t + tf(rto=1, hs=1, hc=1))
    return Template("graceful", "client", three_way=True, fin_retx=(1, 0))


def _v_abort_client(s, req, resp):
    t = _handshake_and_exchange(s, req, resp) + tf(idle=1)
    s.send(CLIENT, RST, t)
    return Template("abort", "client", rst_sender="client")


def _v_abort_server_inflight(s, req, resp):
    # The server writes the response and resets at once (SO_LINGER {1,0}):
    # its segments are still unacked when the RST passes. The client's ACKs,
    # sent before the RST reached it, meet no socket: the server's kernel
    # answers each with a bare RST (seq = their ack).
    s.send(CLIENT, SYN, tf())
    s.send(SERVER, SYN, tf(hs=1))
    s.send(CLIENT, 0, tf(hs=1, hc=1))
    t_req = tf(hs=1, hc=1, eps=1)
    s.send(CLIENT, PSH, t_req, pid=req)
    t0 = t_req + tf(hs=1, ds=1)
    for k, pid in enumerate(resp):
        s.send(SERVER, PSH if k == len(resp) - 1 else 0, t0 + tf(eps=k), pid=pid)
    s.send(SERVER, RST, t0 + tf(eps=len(resp)))
    for k in range(1, len(resp), 2):
        a = s.send(CLIENT, 0, t0 + tf(eps=k, hc=1))
        s.send(SERVER, RST, t0 + tf(eps=k, hc=1, hs=1), seq=a.ack, bare=True, with_ack=False)
    return Template("abort", "server", rst_sender="server")


def _v_abort_client_unacked(s, req, resp):
    # The client sends its request and resets before the server acks it.
    s.send(CLIENT, SYN, tf())
    s.send(SERVER, SYN, tf(hs=1))
    s.send(CLIENT, 0, tf(hs=1, hc=1))
    s.send(CLIENT, PSH, tf(hs=1, hc=1, eps=1), pid=req)
    s.send(CLIENT, RST, tf(hs=1, hc=1, eps=2))
    return Template("abort", "client", rst_sender="client")


def _v_fin_then_rst(s, req, resp):
    # The client closes (full close); the server still sends data; the
    # client's kernel answers the data with a bare RST (seq = its ack).
    t = _handshake_and_exchange(s, req, resp) + tf(idle=1)
    s.send(CLIENT, FIN, t)
    d = s.send(SERVER, PSH, t + tf(hs=1), pid=POLL_RESP)
    s.send(CLIENT, RST, t + tf(hs=1, hc=1), seq=d.ack, bare=True, with_ack=False)
    return Template("abort", "client", rst_sender="client")


def _v_refused(s, req, resp):
    s.send(CLIENT, SYN, tf())
    s.send(SERVER, RST, tf(hs=1), bare=True)  # server ISN forced to 0: seq 0
    return Template("refused", "server", rst_sender="server")


def _v_attempt(s, req, resp):
    # Linux retries an unanswered SYN after 1 s, then 2 s later (same ISN).
    for at in (0.0, 1.0, 3.0):
        s.send(CLIENT, SYN, tf(one=at), seq=0)
    s.nxt[CLIENT] = 1
    return Template("attempt", "none")


def _v_close_wait_leak(s, req, resp):
    # The client closes; the server acks and never closes (CLOSE_WAIT).
    t = _handshake_and_exchange(s, req, resp) + tf(idle=1)
    s.send(CLIENT, FIN, t)
    s.send(SERVER, 0, t + tf(hs=1))
    return Template("incomplete", "client")


def _v_fin_wait2(s, req, resp):
    t = _handshake_and_exchange(s, req, resp) + tf(idle=1)
    s.send(SERVER, FIN, t)
    s.send(CLIENT, 0, t + tf(hc=1))
    return Template("incomplete", "server")


VARIANTS = {
    "client_first_4way": (0.28, _v_cf4),
    "client_first_3way": (0.21, _v_cf3),
    "server_first_4way": (0.12, _v_sf4),
    "server_first_3way": (0.10, _v_sf3),
    "simultaneous_client_first": (0.015, _v_sim_client_first),
    "simultaneous_server_first": (0.015, _v_sim_server_first),
    "final_ack_lost": (0.015, _v_final_ack_lost),
    "server_fin_lost": (0.01, _v_server_fin_lost),
    "client_fin_lost": (0.01, _v_client_fin_lost),
    "abort_client": (0.06, _v_abort_client),
    "abort_server_inflight": (0.03, _v_abort_server_inflight),
    "abort_client_unacked": (0.02, _v_abort_client_unacked),
    "fin_then_rst": (0.02, _v_fin_then_rst),
    "refused": (0.04, _v_refused),
    "attempt": (0.03, _v_attempt),
    "close_wait_leak": (0.015, _v_close_wait_leak),
    "fin_wait2": (0.01, _v_fin_wait2),
}
VARIANT_NAMES = list(VARIANTS)
# Variants whose idle time is a server keep-alive timeout, not a client pause.
SERVER_IDLE = {
    "server_first_4way",
    "server_first_3way",
    "simultaneous_server_first",
    "server_fin_lost",
    "fin_wait2",
}
# Variants that use neither request nor response (their template key ignores them).
NO_DATA = {"refused", "attempt", "abort_client_unacked"}
OPEN = "open"  # long-lived; key extra = number of exchanges after the first


def _open(s, req, resp, exchanges):
    t = _handshake_and_exchange(s, req, resp)
    for i in range(1, exchanges + 1):
        tr = t + tf(iv=i)
        s.send(CLIENT, PSH, tr, pid=POLL_REQ)
        tp = tr + tf(hs=1, ds=1)
        s.send(SERVER, PSH, tp, pid=POLL_RESP)
        s.send(CLIENT, 0, tp + tf(hc=1))
    return Template("open", "none")


_TEMPLATES: dict[tuple, Template] = {}
_PAYLOAD_LEN: dict[int, int] = {}  # catalogue id -> length, for Script


def template(variant: int, req: int, resp: int, v6: bool, ts: bool, extra: int = 0) -> Template:
    key = (variant, req, resp, v6, ts, extra)
    tp = _TEMPLATES.get(key)
    if tp is None:
        rp = response_pids(resp, v6, ts)  # may grow the catalogue
        for p in range(len(_PAYLOAD_LEN), len(CAT.data)):
            _PAYLOAD_LEN[p] = len(CAT.data[p])
        s = Script(ts, v6, _PAYLOAD_LEN)
        if variant < 0:
            meta = _open(s, REQ_PIDS[req], rp, extra)
        else:
            meta = VARIANTS[VARIANT_NAMES[variant]][1](s, REQ_PIDS[req], rp)
        tp = s.finish(meta)
        tp.name = VARIANT_NAMES[variant] if variant >= 0 else OPEN
        _TEMPLATES[key] = tp
    return tp


# ---------------------------------------------------------------------------
# Connections: draw parameters, place them in time, assign ports.


@dataclass
class Conns:
    """One entry per connection (incarnation); numpy arrays."""

    variant: np.ndarray  # index into VARIANT_NAMES, -1 for open
    req: np.ndarray
    resp: np.ndarray
    v6: np.ndarray
    ts: np.ndarray
    extra: np.ndarray
    params: np.ndarray  # n x len(SYMBOLS)
    start: np.ndarray = None
    end: np.ndarray = None
    nrows: np.ndarray = None


def draw_conns(rng: np.random.Generator, n: int) -> Conns:
    weights = np.array([w for w, _ in VARIANTS.values()])
    variant = rng.choice(len(VARIANTS), size=n, p=weights / weights.sum())
    names = np.array(VARIANT_NAMES)[variant]
    req = rng.integers(0, N_REQUESTS, n)
    resp = rng.choice(len(BODY_SIZES), size=n, p=BODY_WEIGHTS)
    no_data = np.isin(names, list(NO_DATA))
    req[no_data & np.isin(names, ["refused", "attempt"])] = 0
    resp[no_data] = 0
    v6 = rng.random(n) < 0.2
    ts = rng.random(n) < 0.9
    return Conns(variant, req, resp, v6, ts, np.zeros(n, dtype=np.int64), draw_params(rng, names))


def draw_params(rng: np.random.Generator, names: np.ndarray) -> np.ndarray:
    n = len(names)
    p = np.zeros((n, len(SYMBOLS)))
    p[:, 0] = 1.0
    # Client round trips: mostly internet-like (median ~30 ms), never below
    # 2 ms so that hc >> hs and 10 * eps (the templates' event order).
    hc = np.clip(rng.lognormal(np.log(0.03), 0.8, n), 0.002, 0.3)
    p[:, 1] = hc
    # Capture point near the server; hs > 10 * eps keeps a response burst
    # shorter than one server round trip.
    p[:, 2] = rng.uniform(0.0002, 0.001, n)
    p[:, 3] = 0.00005 + np.minimum(rng.exponential(0.002, n), 0.05)
    p[:, 4] = rng.uniform(0.000008, 0.000015, n)  # ~1 Gb/s back-to-back
    server_idle = np.isin(names, list(SERVER_IDLE))
    p[:, 5] = np.where(
        server_idle,
        rng.uniform(1.0, 5.0, n),  # keep-alive timeout
        0.01 + rng.exponential(0.5, n),  # client think time, then close
    )
    p[:, 6] = 0.2 + hc + rng.uniform(0.0, 0.02, n)  # Linux: srtt + max(4 rttvar, 200 ms)
    p[:, 7] = rng.uniform(0.0002, 0.02, n)
    p[:, 8] = rng.uniform(5.0, 30.0, n)
    return p


CONN_FIELDS = ("variant", "req", "resp", "v6", "ts", "extra", "params")


def concat_conns(a: Conns, b: Conns) -> Conns:
    return Conns(*(np.concatenate([getattr(a, f), getattr(b, f)]) for f in CONN_FIELDS))


def take(c: Conns, idx: np.ndarray) -> Conns:
    return Conns(*(getattr(c, f)[idx] for f in CONN_FIELDS))


def template_groups(c: Conns) -> Iterator[tuple[Template, np.ndarray]]:
    """(template, indexes of its connections) for each template key in use."""
    # One integer key per connection: a 1-D unique is much faster than rows.
    key = c.variant + 1
    for col, size in ((c.req, N_REQUESTS), (c.resp, len(BODY_SIZES)), (c.v6, 2), (c.ts, 2)):
        key = key * size + col
    key = key * (1 << 20) + c.extra
    uniq, inv = np.unique(key, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    bounds = np.searchsorted(inv[order], np.arange(len(uniq) + 1))
    for g, k in enumerate(uniq.tolist()):
        k, extra = divmod(k, 1 << 20)
        k, ts = divmod(k, 2)
        k, v6 = divmod(k, 2)
        k, resp = divmod(k, len(BODY_SIZES))
        variant, req = divmod(k, N_REQUESTS)
        tp = template(variant - 1, req, resp, bool(v6), bool(ts), extra)
        yield tp, order[bounds[g] : bounds[g + 1]]


def relative_times(c: Conns) -> tuple[np.ndarray, np.ndarray]:
    """Per connection: number of rows and duration (last row time)."""
    nrows = np.zeros(len(c.variant), dtype=np.int64)
    dur = np.zeros(len(c.variant))
    for tp, sel in template_groups(c):
        nrows[sel] = len(tp.rows)
        dur[sel] = c.params[sel] @ tp.tform[-1]
    return nrows, dur


# ---------------------------------------------------------------------------
# Packets.

PKT_DTYPE = np.dtype(
    [
        ("t", np.float64),
        ("conn", np.int64),
        ("side", np.uint8),
        ("flags", np.uint8),
        ("seq", np.uint32),
        ("ack", np.uint32),
        ("pid", np.int32),
        ("opt", np.uint8),
        ("tsval", np.uint32),
        ("tsecr", np.uint32),
        ("ipid", np.uint16),
        ("win", np.uint16),
    ]
)


def instantiate(tp: Template, idx: np.ndarray, g: dict) -> np.ndarray:
    """All packets of the connections idx (same template), vectorised."""
    n, r = len(idx), len(tp.rows)
    times = g["start"][idx, None] + g["params"][idx] @ tp.tform.T  # n x r
    # The templates' event order must hold for every drawn parameter set.
    bad = (np.diff(times, axis=1) < -1e-12).any(axis=1)
    assert not bad.any(), f"rows out of order in {tp.name}: params {g['params'][idx[bad][0]]}"
    h = np.where(tp.side == CLIENT, 1, 2)  # column of hc / hs
    hh = g["params"][idx][:, h]
    for i in range(r):
        e = tp.echo[i]
        if e >= 0:
            ok = (times[:, e] + hh[:, i] <= times[:, i] + 1e-9).all()
            assert ok, f"{tp.name}: echoed row not yet received"
    out = np.empty(n * r, dtype=PKT_DTYPE)
    o = out.reshape(n, r)
    o["t"] = times
    o["conn"] = idx[:, None]
    o["side"] = tp.side
    o["flags"] = tp.flags
    isn = np.where(tp.side == CLIENT, g["isn_c"][idx, None], g["isn_s"][idx, None])
    peer = np.where(tp.side == CLIENT, g["isn_s"][idx, None], g["isn_c"][idx, None])
    o["seq"] = (isn + tp.seq) & 0xFFFFFFFF
    o["ack"] = np.where(tp.has_ack, (peer + tp.ack) & 0xFFFFFFFF, 0)
    o["pid"] = tp.pid
    o["opt"] = tp.opt
    # TSval: the sender's millisecond clock plus its per address-pair offset
    # (Linux >= 4.13), so it keeps growing across incarnations of a 4-tuple.
    off = np.where(tp.side == CLIENT, g["tsoff_c"][idx, None], g["tsoff_s"][idx, None])
    tsval = (np.floor((times + g["t_epoch"]) * 1000).astype(np.uint64) + off) & 0xFFFFFFFF
    o["tsval"] = tsval
    echo = np.where(tp.echo >= 0, tp.echo, 0)
    o["tsecr"] = np.where(tp.echo >= 0, tsval[:, echo], 0)
    base = np.where(tp.side == CLIENT, g["ipid_c"][idx, None], g["ipid_s"][idx, None])
    o["ipid"] = (base + tp.nth) & 0xFFFF
    o["win"] = tp.window
    return out


# ---------------------------------------------------------------------------
# Header layouts (structured dtypes, one per IP version x TCP options).

REC = [("ts_sec", "<u4"), ("ts_frac", "<u4"), ("caplen", "<u4"), ("origlen", "<u4")]
ETH = [("eth_dst", "u1", (6,)), ("eth_src", "u1", (6,)), ("eth_type", ">u2")]
IP4 = [
    ("vihl", "u1"),
    ("tos", "u1"),
    ("tot_len", ">u2"),
    ("ip_id", ">u2"),
    ("frag", ">u2"),
    ("ttl", "u1"),
    ("proto", "u1"),
    ("ip_sum", ">u2"),
    ("src", ">u4"),
    ("dst", ">u4"),
]
IP6 = [
    ("vtcfl", ">u4"),
    ("plen", ">u2"),
    ("nh", "u1"),
    ("hlim", "u1"),
    ("src_hi", ">u8"),
    ("src_lo", ">u8"),
    ("dst_hi", ">u8"),
    ("dst_lo", ">u8"),
]
TCP = [
    ("sport", ">u2"),
    ("dport", ">u2"),
    ("seq", ">u4"),
    ("ack", ">u4"),
    ("off", "u1"),
    ("flags", "u1"),
    ("win", ">u2"),
    ("tcp_sum", ">u2"),
    ("urp", ">u2"),
]
_TS = [
    ("o_nop1", "u1"),
    ("o_nop2", "u1"),
    ("o_tsk", "u1"),
    ("o_tsl", "u1"),
    ("tsval", ">u4"),
    ("tsecr", ">u4"),
]
# Linux SYN and SYN/ACK: MSS, SACK_PERM, TS, NOP, WS.
_SYN = [
    ("o_mssk", "u1"),
    ("o_mssl", "u1"),
    ("mss", ">u2"),
    ("o_sackk", "u1"),
    ("o_sackl", "u1"),
    ("o_tsk", "u1"),
    ("o_tsl", "u1"),
    ("tsval", ">u4"),
    ("tsecr", ">u4"),
    ("o_nop1", "u1"),
    ("o_wsk", "u1"),
    ("o_wsl", "u1"),
    ("ws", "u1"),
]
# A stack without timestamps (Windows-like SYN): MSS, NOP, WS, NOP, NOP, SACK_PERM.
_SYN_NOTS = [
    ("o_mssk", "u1"),
    ("o_mssl", "u1"),
    ("mss", ">u2"),
    ("o_nop1", "u1"),
    ("o_wsk", "u1"),
    ("o_wsl", "u1"),
    ("ws", "u1"),
    ("o_nop2", "u1"),
    ("o_nop3", "u1"),
    ("o_sackk", "u1"),
    ("o_sackl", "u1"),
]
# Linux's SYN/ACK when the SYN had no timestamps: MSS, NOP, NOP, SACK_PERM, NOP, WS.
_SYNACK_NOTS = [
    ("o_mssk", "u1"),
    ("o_mssl", "u1"),
    ("mss", ">u2"),
    ("o_nop1", "u1"),
    ("o_nop2", "u1"),
    ("o_sackk", "u1"),
    ("o_sackl", "u1"),
    ("o_nop3", "u1"),
    ("o_wsk", "u1"),
    ("o_wsl", "u1"),
    ("ws", "u1"),
]
OPT_FIELDS = ([], _TS, _SYN, _SYN_NOTS, _SYN, _SYNACK_NOTS)
OPT_CONST = {
    "o_nop1": 1,
    "o_nop2": 1,
    "o_nop3": 1,
    "o_tsk": 8,
    "o_tsl": 10,
    "o_mssk": 2,
    "o_mssl": 4,
    "o_sackk": 4,
    "o_sackl": 2,
    "o_wsk": 3,
    "o_wsl": 3,
}
ARP = [
    ("htype", ">u2"),
    ("ptype", ">u2"),
    ("hlen", "u1"),
    ("plen_", "u1"),
    ("op", ">u2"),
    ("sha", "u1", (6,)),
    ("spa", ">u4"),
    ("tha", "u1", (6,)),
    ("tpa", ">u4"),
    ("pad", "u1", (18,)),
]

LAYOUTS = [
    np.dtype(REC + ETH + (IP6 if v6 else IP4) + TCP + OPT_FIELDS[o])
    for v6 in (0, 1)
    for o in range(6)
]
ARP_LAYOUT = len(LAYOUTS)
LAYOUTS.append(np.dtype(REC + ETH + ARP))

MAC_SERVER = np.array([0x02, 0x42, 0xAC, 0x11, 0x00, 0x02], dtype=np.uint8)
MAC_ROUTER = np.array([0x02, 0x42, 0xAC, 0x11, 0x00, 0x01], dtype=np.uint8)
V4_CLIENT_BASE = (198 << 24) | (18 << 16)  # 198.18.0.0/15, the benchmarking range
V4_SERVERS = np.array([0xC0000200 + 10 + k for k in range(4)], dtype=np.uint64)  # 192.0.2.10-13
V6_PREFIX_CLIENT = 0x20010DB8000C0000  # 2001:db8:c::/64 clients
V6_PREFIX_SERVER = 0x20010DB800050000  # 2001:db8:5::/64 servers
N_SERVERS6 = 2
SERVER_PORTS = np.array([80, 8080])


def _fold(s: np.ndarray) -> np.ndarray:
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (s & 0xFFFF) + (s >> 16)


def _words(u8: np.ndarray, a: int, b: int) -> np.ndarray:
    """Sum of the big-endian 16-bit words of columns a..b of a byte matrix."""
    blk = u8[:, a:b].astype(np.uint64)
    return (blk[:, 0::2] * 256 + blk[:, 1::2]).sum(axis=1)


def build_headers(
    pk: np.ndarray, lay: int, g: dict, pay_len: np.ndarray, pay_sum: np.ndarray, snaplen: int
) -> bytes:
    """Record + Ethernet + IP + TCP headers of packets pk (all of layout lay)."""
    dt = LAYOUTS[lay]
    n = len(pk)
    h = np.zeros(n, dtype=dt)
    h["ts_sec"] = pk["ts"] // g["unit"]
    h["ts_frac"] = pk["ts"] % g["unit"]
    to_server = pk["side"] == CLIENT
    if lay == ARP_LAYOUT:
        wire = 60
        h["caplen"] = min(wire, snaplen)
        h["origlen"] = wire
        h["eth_dst"] = 0xFF
        h["eth_src"] = MAC_ROUTER
        h["eth_type"] = 0x0806
        h["htype"], h["ptype"], h["hlen"], h["plen_"], h["op"] = 1, 0x0800, 6, 4, 1
        h["sha"] = MAC_ROUTER
        h["spa"] = (192 << 24) | (2 << 8) | 1
        h["tpa"] = V4_SERVERS[pk["conn"] % len(V4_SERVERS)]
        return h.tobytes()
    v6, opt = divmod(lay, 6)
    conn = pk["conn"]
    plen = pay_len[pk["pid"]]
    thl = 20 + OPT_LEN[opt]
    ip_hl = 40 if v6 else 20
    wire = 14 + ip_hl + thl + plen
    h["caplen"] = np.minimum(wire, snaplen)
    h["origlen"] = wire
    h["eth_dst"] = np.where(to_server[:, None], MAC_SERVER, MAC_ROUTER)
    h["eth_src"] = np.where(to_server[:, None], MAC_ROUTER, MAC_SERVER)
    cport, sport = g["cport"][conn], g["sport"][conn]
    h["sport"] = np.where(to_server, cport, sport)
    h["dport"] = np.where(to_server, sport, cport)
    h["seq"], h["ack"], h["flags"], h["win"] = pk["seq"], pk["ack"], pk["flags"], pk["win"]
    h["off"] = (thl // 4) << 4
    for name, *_ in OPT_FIELDS[opt]:
        if name in OPT_CONST:
            h[name] = OPT_CONST[name]
    if OPT_HAS_TS[opt]:
        h["tsval"], h["tsecr"] = pk["tsval"], pk["tsecr"]
    if opt in (OPT_SYN, OPT_SYN_NOTS, OPT_SYNACK, OPT_SYNACK_NOTS):
        h["mss"] = 1440 if v6 else 1460
        h["ws"] = 8 if opt == OPT_SYN_NOTS else 7
    caddr, saddr = g["caddr"][conn], g["saddr"][conn]
    if v6:
        h["eth_type"] = 0x86DD
        h["vtcfl"] = (6 << 28) | np.where(to_server, g["flow_c"][conn], g["flow_s"][conn])
        h["plen"] = thl + plen
        h["nh"], h["hlim"] = 6, 64
        c_hi, s_hi = np.uint64(V6_PREFIX_CLIENT), np.uint64(V6_PREFIX_SERVER)
        h["src_hi"] = np.where(to_server, c_hi, s_hi)
        h["dst_hi"] = np.where(to_server, s_hi, c_hi)
        h["src_lo"] = np.where(to_server, caddr, saddr)
        h["dst_lo"] = np.where(to_server, saddr, caddr)
    else:
        h["eth_type"] = 0x0800
        h["vihl"], h["ttl"], h["proto"], h["frag"] = 0x45, 64, 6, 0x4000  # DF
        h["tot_len"] = 20 + thl + plen
        h["ip_id"] = pk["ipid"]
        h["src"] = np.where(to_server, caddr, saddr)
        h["dst"] = np.where(to_server, saddr, caddr)
    u8 = h.view(np.uint8).reshape(n, dt.itemsize)
    ip0 = 16 + 14
    t0 = ip0 + ip_hl
    # TCP checksum: pseudo-header + header + payload (precomputed sum).
    pseudo = _words(u8, t0 - 32, t0) if v6 else _words(u8, ip0 + 12, ip0 + 20)
    s = pseudo + 6 + (thl + plen).astype(np.uint64) + _words(u8, t0, t0 + thl) + pay_sum[pk["pid"]]
    h["tcp_sum"] = ~_fold(s) & 0xFFFF
    if not v6:
        h["ip_sum"] = ~_fold(_words(u8, ip0, ip0 + 20)) & 0xFFFF
    return h.tobytes()


# ---------------------------------------------------------------------------


def generate(args: argparse.Namespace) -> dict:
    rng = np.random.default_rng(args.seed)
    n_target = args.packets
    conc = args.concurrency

    # 1. Short connections: draw more than needed, keep a prefix that fits.
    cand = draw_conns(rng, n_target // 3 + 100)
    nrows, dur = relative_times(cand)
    rate = conc / dur.mean()  # new connections per second (Little's law)
    n_est = int(np.searchsorted(np.cumsum(nrows), n_target))
    span = n_est / rate  # capture duration, roughly

    # 2. Long-lived ("open") connections: start early, poll every iv seconds
    # until the end, never close. Few of them, so memory stays bounded by the
    # concurrency of the short ones.
    n_open = max(2, conc // 100)
    op = draw_conns(rng, n_open)
    op.variant[:] = -1
    op.resp[:] = rng.integers(0, 3, n_open)
    op_start = rng.uniform(0, 0.1 * span, n_open)
    op.extra[:] = (
        np.floor((0.95 * span - op_start - 1.0) / op.params[:, 8]).clip(0).astype(np.int64)
    )
    op_rows, op_dur = relative_times(op)

    # Keep a few non-TCP frames (ARP) so frame numbers != segment indexes;
    # they also top the file up to exactly --packets records.
    budget = n_target - int(op_rows.sum()) - max(1, n_target // 2000)
    if budget < 2:
        sys.exit("--packets too small for the open connections; lower --concurrency")
    n_conn = int(np.searchsorted(np.cumsum(nrows), budget, side="right"))
    c = take(cand, np.arange(n_conn))
    c_rows, c_dur = nrows[:n_conn], dur[:n_conn]
    c_start = np.cumsum(rng.exponential(1.0 / rate, n_conn))

    conns = concat_conns(c, op)
    start = np.concatenate([c_start, op_start])
    end = start + np.concatenate([c_dur, op_dur])
    n_all = len(start)
    names = np.array(VARIANT_NAMES + [OPEN])[conns.variant]  # variant -1 is "open"
    total_tcp = int(c_rows.sum() + op_rows.sum())
    n_arp = n_target - total_tcp

    # 3. Addresses: many clients, a few servers; IPv6 for the v6 connections.
    n_cl4 = max(100, 2 * conc)
    n_cl6 = max(25, conc // 2)
    v6 = conns.v6
    client = np.where(v6, rng.integers(0, n_cl6, n_all), rng.integers(0, n_cl4, n_all))
    server = np.where(
        v6, rng.integers(0, N_SERVERS6, n_all), rng.integers(0, len(V4_SERVERS), n_all)
    )
    sport = SERVER_PORTS[rng.integers(0, len(SERVER_PORTS), n_all)]
    caddr = np.where(v6, client + 0x100, V4_CLIENT_BASE + 256 + client).astype(np.uint64)
    saddr = np.where(v6, server + 0x10, V4_SERVERS[server]).astype(np.uint64)
    client_key = client + v6 * n_cl4  # one id space for both families

    # 4. Client ports: each client counts up by 2 through 32768-60999 from a
    # random offset (like Linux's connect()), so ports are unique per client.
    order = np.lexsort((start, client_key))
    ck = client_key[order]
    first = np.r_[0, np.flatnonzero(np.diff(ck)) + 1]
    rank = np.arange(n_all) - np.repeat(first, np.diff(np.r_[first, n_all]))
    assert rank.max() < 14116, "too many connections per client"
    port_base = rng.integers(0, 28232, client_key.max() + 1)
    cport = np.empty(n_all, dtype=np.int64)
    cport[order] = 32768 + (port_base[ck] + 2 * rank) % 28232

    isn_c = rng.integers(0, 2**32, n_all, dtype=np.uint64)
    isn_s = rng.integers(0, 2**32, n_all, dtype=np.uint64)
    # Some sequence spaces wrap past 2^32 inside the connection.
    wrap_c = rng.random(n_all) < 0.01
    isn_c[wrap_c] = 2**32 - rng.integers(1, 300, wrap_c.sum()).astype(np.uint64)
    wrap_s = rng.random(n_all) < 0.02
    isn_s[wrap_s] = 2**32 - rng.integers(1, 2000, wrap_s.sum()).astype(np.uint64)
    isn_s[names == "refused"] = 0  # the RST/ACK of a refused SYN has seq 0

    # 5. 4-tuple reuse: some connections take the client port of the previous
    # connection from the same client to the same server endpoint, once that
    # one has ended (some within 60 s, i.e. during its TIME_WAIT, some later).
    # The new ISN is above the old incarnation's last sequence number, as
    # RFC 6191 wants for a SYN that meets TIME_WAIT.
    client_end = np.zeros(n_all, dtype=np.uint64)
    server_end = np.zeros(n_all, dtype=np.uint64)
    for tp, sel in template_groups(conns):
        client_end[sel] = tp.client_end
        server_end[sel] = tp.server_end
    kinds = per_variant("kind", conns.variant)
    reusable = np.isin(kinds, ["graceful", "simultaneous", "abort", "refused"])
    dest = (server + v6 * 16) * 65536 + sport
    gorder = np.lexsort((start, dest, client_key))
    prev = np.full(n_all, -1)
    ckg, dg = client_key[gorder], dest[gorder]
    same = (ckg[1:] == ckg[:-1]) & (dg[1:] == dg[:-1])
    prev[gorder[1:][same]] = gorder[:-1][same]
    want = (rng.random(n_all) < args.reuse) & (conns.variant >= 0)
    reused = np.zeros(n_all, dtype=bool)
    gap = np.full(n_all, np.nan)
    for j in np.flatnonzero(want)[np.argsort(start[want], kind="stable")]:
        i = prev[j]
        if i < 0 or not reusable[i] or end[i] + 0.05 > start[j]:
            continue
        cport[j] = cport[i]
        step = np.uint64(rng.integers(1 << 16, 1 << 26))
        isn_c[j] = (isn_c[i] + client_end[i] + step) & np.uint64(0xFFFFFFFF)
        reused[j] = True
        gap[j] = start[j] - end[i]

    t_epoch = 1795435200.0  # 2026-11-24 08:00:00 UTC
    unit = 1_000_000_000 if args.nanosecond else 1_000_000
    g = {
        "start": start,
        "params": conns.params,
        "isn_c": isn_c,
        "isn_s": isn_s,
        # Hash-like TS offsets per (client, server) address pair.
        "tsoff_c": ((client_key * 2654435761 + server * 40503 + 12345) % 2**32).astype(np.uint64),
        "tsoff_s": ((server * 2246822519 + client_key * 3266489917 + 777) % 2**32).astype(
            np.uint64
        ),
        "ipid_c": rng.integers(0, 65536, n_all).astype(np.uint64),
        "ipid_s": rng.integers(0, 65536, n_all).astype(np.uint64),
        "t_epoch": t_epoch,
        "unit": unit,
        "cport": cport,
        "sport": sport,
        "caddr": caddr,
        "saddr": saddr,
        "flow_c": rng.integers(0, 1 << 20, n_all),
        "flow_s": rng.integers(0, 1 << 20, n_all),
    }

    # 6. Packets of every template group, then one global sort by time.
    parts = []
    for tp, sel in template_groups(conns):
        parts.append(instantiate(tp, sel, g))
    arp = np.zeros(n_arp, dtype=PKT_DTYPE)
    arp["t"] = rng.uniform(0, end.max(), n_arp)
    arp["conn"] = rng.integers(0, 1 << 30, n_arp)
    arp["opt"] = 255
    pk = np.concatenate(parts + [arp])
    del parts
    ns = np.round(pk["t"] * 1e9).astype(np.int64) + int(t_epoch) * 1_000_000_000
    ts = ns // (1_000_000_000 // unit)  # in the file's unit, so ties sort as stored
    del ns
    order = np.argsort(ts, kind="stable")
    pk = pk[order]
    ts = ts[order]
    del order
    is_arp = pk["opt"] == 255
    layout = np.where(is_arp, ARP_LAYOUT, conns.v6[np.where(is_arp, 0, pk["conn"])] * 6 + pk["opt"])

    pay_lens, pay_sums = CAT.arrays()
    write_capture(args, pk, ts, layout, g, pay_lens, pay_sums)

    # 7. Ground truth.
    wrapped = (isn_c + client_end > 2**32) | (isn_s + server_end > 2**32)
    closer = per_variant("closer", conns.variant)
    rst_sender = per_variant("rst_sender", conns.variant)
    count = {n: int((names == n).sum()) for n in VARIANT_NAMES + [OPEN]}
    truth = {
        "packets": n_target,
        "tcp_segments": total_tcp,
        "non_tcp_frames": n_arp,
        "connections": n_all,
        "ipv4_connections": int((~v6).sum()),
        "ipv6_connections": int(v6.sum()),
        "close_kinds": {k: int((kinds == k).sum()) for k in KINDS},
        "active_closer": {cl: int((closer == cl).sum()) for cl in CLOSERS},
        "by_kind_and_closer": {
            k: {cl: n for cl in CLOSERS if (n := int(((kinds == k) & (closer == cl)).sum()))}
            for k in KINDS
        },
        "rst_sender": {s: int((rst_sender == s).sum()) for s in SIDE_NAME},
        "graceful_three_way": int(sum(count[n] for n in VARIANT_NAMES if _meta(n).three_way)),
        "fin_retransmissions": {
            s: int(sum(count[n] * _meta(n).fin_retx[i] for n in VARIANT_NAMES))
            for i, s in enumerate(SIDE_NAME)
        },
        "timestamps_option_connections": int(conns.ts.sum()),
        "reused_4tuples": {
            "incarnations_reusing_a_4tuple": int(reused.sum()),
            "gap_under_60s": int((gap < 60).sum()),
            "gap_60s_or_more": int((gap >= 60).sum()),
        },
        "sequence_wraps": int(wrapped.sum()),
        "variants": count,
        "duration_s": round(float((ts[-1] - ts[0]) / unit), 3),
        "new_connections_per_s": round(float(rate), 1),
        "concurrency_target": conc,
        "concurrency_peak": peak_concurrency(start, end),
        "seed": args.seed,
        "timestamp_resolution": "ns" if args.nanosecond else "us",
        "snaplen": args.snaplen,
        "notes": (
            "closer: side of the first FIN; if no FIN, the sender of the first RST; "
            "'both' for a simultaneous close; 'none' for attempt and open. "
            "Reuse gaps run from the previous incarnation's last segment to the new SYN."
        ),
    }
    return truth


def _meta(name: str) -> Template:
    """Template metadata of a variant (independent of payload choices)."""
    if name == OPEN:
        return Template("open", "none")
    return template(VARIANT_NAMES.index(name), 0, 1, False, True)


def per_variant(attr: str, variant: np.ndarray) -> np.ndarray:
    """A metadata attribute for each connection; variant -1 (open) is last."""
    table = np.array([getattr(_meta(n), attr) or "" for n in VARIANT_NAMES + [OPEN]])
    return table[variant]


def peak_concurrency(start: np.ndarray, end: np.ndarray) -> int:
    ev = np.concatenate([start, end])
    step = np.concatenate([np.ones(len(start)), -np.ones(len(end))])
    return int(np.cumsum(step[np.argsort(ev, kind="stable")]).max())


@contextlib.contextmanager
def open_sink(path: Path, compress: bool) -> Iterator[BinaryIO]:
    if not compress:
        with open(path, "wb", buffering=1 << 22) as f:
            yield f
    elif shutil.which("gzip"):
        # gzip in a child process: compression runs on the other core.
        with (
            open(path, "wb") as f,
            subprocess.Popen(["gzip", "-1", "-c"], stdin=subprocess.PIPE, stdout=f) as gz,
        ):
            yield gz.stdin
    else:
        with gzip.open(path, "wb", compresslevel=1) as f:
            yield f


def write_capture(args, pk, ts, layout, g, pay_lens, pay_sums) -> None:
    snaplen = args.snaplen
    magic = 0xA1B23C4D if args.nanosecond else 0xA1B2C3D4
    # magic, version 2.4, thiszone, sigfigs, snaplen, LINKTYPE_ETHERNET
    fields = (magic, 2, 4, 0, 0, snaplen, 1)
    file_header = np.array([fields], dtype="<u4,<u2,<u2,<i4,<u4,<u4,<u4").tobytes()
    # Payload bytes actually stored, per layout (a snaplen cuts them short).
    hdr_len = [dt.itemsize - 16 for dt in LAYOUTS]
    stored = [[b[: max(0, snaplen - n)] for b in CAT.data] for n in hdr_len]
    size = [dt.itemsize for dt in LAYOUTS]
    sub_dtype = np.dtype([("ts", np.int64)] + [(n, pk.dtype[n]) for n in pk.dtype.names])
    chunk = 250_000
    with open_sink(Path(args.out), args.gzip) as sink:
        sink.write(file_header)
        for a in range(0, len(pk), chunk):
            p, lay, t = pk[a : a + chunk], layout[a : a + chunk], ts[a : a + chunk]
            headers = {}
            pos = np.empty(len(p), dtype=np.int64)  # index within its layout's block
            for L in np.unique(lay).tolist():
                sel = np.flatnonzero(lay == L)
                sub = np.empty(len(sel), dtype=sub_dtype)
                sub["ts"] = t[sel]
                for n in pk.dtype.names:
                    sub[n] = p[n][sel]
                headers[L] = build_headers(sub, L, g, pay_lens, pay_sums, snaplen)
                pos[sel] = np.arange(len(sel))
            # The one per-packet Python loop: header slice, then payload.
            out = []
            app = out.append
            for L, k, pid in zip(lay.tolist(), pos.tolist(), p["pid"].tolist()):
                s = size[L] * k
                app(headers[L][s : s + size[L]])
                app(stored[L][pid])
            sink.write(b"".join(out))


def truth_path(out: Path) -> Path:
    name = out.name
    for suffix in (".gz", ".pcap"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return out.with_name(name + ".truth.json")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="output capture (classic pcap; gzip-compressed with --gzip)")
    ap.add_argument("--packets", type=int, default=3_000_000, help="records in the file (exact)")
    ap.add_argument("--concurrency", type=int, default=2000, help="connections open at once")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gzip", action="store_true", help="gzip the capture")
    ap.add_argument("--nanosecond", action="store_true", help="ns timestamps (default us)")
    ap.add_argument("--snaplen", type=int, default=262144, help="stored bytes per frame (>= 96)")
    ap.add_argument("--reuse", type=float, default=0.05, help="share that tries to reuse a 4-tuple")
    args = ap.parse_args(argv)
    if args.snaplen < 96:
        ap.error("--snaplen must be >= 96 (whole headers)")
    t0 = time.perf_counter()
    truth = generate(args)
    truth["generation_seconds"] = round(time.perf_counter() - t0, 2)
    tp = truth_path(Path(args.out))
    tp.write_text(json.dumps(truth, indent=2) + "\n")
    print(
        f"{args.out}: {truth['packets']} packets, {truth['connections']} connections, "
        f"{truth['duration_s']} s of traffic, in {truth['generation_seconds']} s; truth in {tp}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
