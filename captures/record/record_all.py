"""Re-record the teardown reference captures in captures/.

    sudo /work/main/.venv/bin/python captures/record/record_all.py [--only NAME ...]

Run from the repository root, as root (network namespaces, nftables,
tcpdump). Each kernel scenario builds fresh namespaces td-a / td-b (see
lab.py), records one pcap with tcpdump on a veth, and deletes the namespaces.
The crafted (scapy) captures are written by craft.py, called at the end.

Conventions in every kernel scenario:
  * client = td-a (10.77.0.1 / fd00:77::1), server = td-b (10.77.0.2 / fd00:77::2);
  * server port 5000+N and client port 40000+N for scenario N, so the
    4-tuples in manifest.json do not change between recordings;
  * the capture runs on td-va (the client's veth, inside td-a) unless a
    scenario says otherwise; nftables drops are placed relative to it on
    purpose and each function says where;
  * one Python thread drives both sockets step by step (sockets are created
    in their namespace with setns), so packet order is deterministic.

The tests never run this script: the pcaps it makes are committed, and
manifest.json / MANIFEST.md describe them (re-check frame numbers there after
re-recording; ISNs and timestamps change every time).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import select
import socket
import struct
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lab  # noqa: E402
from lab import IP6_A, IP6_B, IP_A, IP_B, NS_A, NS_B, Lab, client, listener  # noqa: E402

OUT = Path(__file__).resolve().parent.parent  # captures/
NOTES: dict[str, dict] = {}  # side observations (ss output, ...) -> record-notes.json

REQUEST = b"GET /teardown HTTP/1.1\r\nHost: td-b\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


def exchange(cli: socket.socket, conn: socket.socket) -> None:
    """One request/response, then a pause so delayed ACKs go out before the close."""
    cli.sendall(REQUEST)
    assert conn.recv(4096) == REQUEST
    conn.sendall(RESPONSE)
    assert cli.recv(4096) == RESPONSE
    time.sleep(0.1)


def connect(n: int, family: int = socket.AF_INET, reuse: bool = False):
    """Listener on the server port of scenario n, connected client, accepted conn."""
    a, b = (IP6_A, IP6_B) if family == socket.AF_INET6 else (IP_A, IP_B)
    srv = listener(NS_B, b, 5000 + n, family)
    cli = client(NS_A, a, 40000 + n, family, reuse=reuse)
    cli.connect((b, 5000 + n))
    conn, _ = srv.accept()
    return srv, cli, conn


def read_eof(s: socket.socket) -> None:
    assert s.recv(4096) == b"", "expected EOF"


def client_closes(cli: socket.socket, conn: socket.socket) -> None:
    """The client closes first; the server reads the EOF and closes too."""
    cli.close()
    read_eof(conn)
    conn.close()


def reconnect(srv: socket.socket, n: int):
    """The client binds scenario n's port again (SO_REUSEADDR) and connects to
    the same server ip:port: the same 4-tuple. Client socket, accepted conn."""
    cli = client(NS_A, IP_A, 40000 + n, reuse=True)
    cli.connect((IP_B, 5000 + n))
    conn, _ = srv.accept()
    return cli, conn


# --- 1 ------------------------------------------------------------------------
def graceful_client_close() -> None:
    """Client closes first; the server reads EOF and closes 0.3 s later, long
    after its delayed-ACK timer (40 ms) fired: a 4-way close."""
    with Lab() as lb, lb.capture(OUT / "graceful-client-close.pcap"):
        srv, cli, conn = connect(1)
        exchange(cli, conn)
        cli.close()
        read_eof(conn)
        time.sleep(0.3)
        conn.close()
        srv.close()


# --- 2 ------------------------------------------------------------------------
def graceful_server_close() -> None:
    """Server answers and closes at once (HTTP/1.0 style); the client reads
    the response and EOF, then closes 0.3 s later: server holds TIME_WAIT."""
    with Lab() as lb, lb.capture(OUT / "graceful-server-close.pcap"):
        srv, cli, conn = connect(2)
        cli.sendall(REQUEST)
        assert conn.recv(4096) == REQUEST
        conn.sendall(RESPONSE)
        conn.close()
        assert cli.recv(4096) == RESPONSE
        read_eof(cli)
        time.sleep(0.3)
        cli.close()
        srv.close()
        NOTES["graceful-server-close"] = {"ss_time_wait_server_after": lab.ss_time_wait(NS_B)}


# --- 3 ------------------------------------------------------------------------
def three_way_close() -> None:
    """Client closes; the server closes as soon as it reads EOF. Receiving a
    FIN puts Linux in delayed-ACK ("pingpong") mode, so the ACK of the
    client's FIN is still pending when the server's FIN leaves: the kernel
    piggybacks it (FIN+ACK), a 3-way close."""
    with Lab() as lb, lb.capture(OUT / "three-way-close.pcap"):
        srv, cli, conn = connect(3)
        exchange(cli, conn)
        client_closes(cli, conn)
        srv.close()


# --- 4 ------------------------------------------------------------------------
def _shutdown_at(s: socket.socket, deadline: float) -> None:
    while time.time() < deadline:  # spin: both processes leave within microseconds
        pass
    s.shutdown(socket.SHUT_WR)


def _fins(path: Path) -> list[tuple[int, str, int, int]]:
    """(frame, src ip, seq, ack) of every FIN in the pcap (raw sequence numbers)."""
    from scapy.all import IP, TCP, rdpcap  # noqa: PLC0415

    out = []
    for i, p in enumerate(rdpcap(str(path)), 1):
        if TCP in p and p[TCP].flags & 0x01:
            out.append((i, p[IP].src, p[TCP].seq, p[TCP].ack))
    return out


def crossed(path: Path) -> bool:
    """True if the second FIN does not acknowledge the first one."""
    fins = _fins(path)
    if len(fins) < 2:
        return False
    first, second = fins[0], next((f for f in fins[1:] if f[1] != fins[0][1]), None)
    return second is not None and ((second[3] - (first[2] + 1)) % 2**32) >= 2**31


def simultaneous_close() -> None:
    """Both sides shutdown(SHUT_WR) at the same instant from two processes on
    two CPUs. Over a veth the FIN is delivered in microseconds, so the FINs
    cross only when both shutdown() calls overlap; we retry until the capture
    shows the second FIN not acknowledging the first (its ack < first FIN
    seq + 1). If that never happens, the fallback drops the first FIN of
    each side at the receiver's ingress (nftables, after the capture point),
    which forces a crossing."""
    path = OUT / "simultaneous-close.pcap"
    ctx = multiprocessing.get_context("fork")
    for attempt in range(1, 61):
        with Lab() as lb, lb.capture(path, settle=0.5):
            srv, cli, conn = connect(4)
            exchange(cli, conn)
            deadline = time.time() + 0.2
            procs = [ctx.Process(target=_shutdown_at, args=(s, deadline)) for s in (cli, conn)]
            for p in procs:
                p.start()
            for p in procs:
                p.join()
            read_eof(cli)
            read_eof(conn)
            time.sleep(0.3)
            states = {"client": lab.ss_all(NS_A), "server": lab.ss_all(NS_B)}
            cli.close()
            conn.close()
            srv.close()
        if crossed(path):
            NOTES["simultaneous-close"] = {
                "method": "barrier",
                "attempt": attempt,
                "ss_after_close": states,
            }
            print(f"  simultaneous close: FINs crossed on attempt {attempt}")
            return
    print("  simultaneous close: no natural crossing, using the FIN-drop fallback")
    simultaneous_close_by_drops(path)


def simultaneous_close_by_drops(path: Path) -> None:
    """Fallback: drop the first FIN of each side at the *receiver's* ingress
    (prerouting in the other namespace, after the capture point on td-va), so
    both FINs appear in the capture, neither acknowledges the other, and the
    retransmissions complete the close."""
    with Lab() as lb, lb.capture(path, settle=1.0):
        for ns, src in ((NS_B, IP_A), (NS_A, IP_B)):
            lb.nft(ns, _drop_first_fin_rules(src))
        srv, cli, conn = connect(4)
        exchange(cli, conn)
        cli.shutdown(socket.SHUT_WR)
        conn.shutdown(socket.SHUT_WR)
        read_eof(cli)
        read_eof(conn)
        time.sleep(0.5)
        states = {"client": lab.ss_all(NS_A), "server": lab.ss_all(NS_B)}
        cli.close()
        conn.close()
        srv.close()
    NOTES["simultaneous-close"] = {"method": "drop-first-fins", "ss_after_close": states}


def _drop_first_fin_rules(src: str) -> str:
    """nftables (prerouting = ingress of the receiving namespace): drop the
    first FIN from each endpoint of `src`, let later ones (retransmissions) in."""
    return f"""
table inet td_fin {{
  set once {{ type ipv4_addr . inet_service; flags dynamic; }}
  chain pre {{
    type filter hook prerouting priority raw; policy accept;
    ip saddr {src} tcp flags & fin == fin ip saddr . tcp sport @once accept
    ip saddr {src} tcp flags & fin == fin add @once {{ ip saddr . tcp sport }} counter drop
  }}
}}
"""


# --- 5 ------------------------------------------------------------------------
def linger_abort() -> None:
    """SO_LINGER {l_onoff=1, l_linger=0}: close() discards the connection with
    a RST instead of a FIN. Everything was acked before (0.1 s pause), so no
    data is lost."""
    with Lab() as lb, lb.capture(OUT / "linger-abort.pcap"):
        srv, cli, conn = connect(5)
        exchange(cli, conn)
        cli.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        cli.close()
        with contextlib.suppress(ConnectionResetError):
            conn.recv(4096)
        conn.close()
        srv.close()


# --- 6 ------------------------------------------------------------------------
def rst_unread_data() -> None:
    """The client sends a second request; the server's kernel ACKs it but the
    application never reads it and closes: Linux sends RST, not FIN
    (tcp_close: data still in the receive queue)."""
    with Lab() as lb, lb.capture(OUT / "rst-unread-data.pcap"):
        srv, cli, conn = connect(6)
        exchange(cli, conn)
        cli.sendall(b"second request, never read\n")
        time.sleep(0.2)  # arrives and is ACKed by the kernel
        conn.close()
        with contextlib.suppress(ConnectionResetError):
            cli.recv(4096)
        cli.close()
        srv.close()


# --- 7 ------------------------------------------------------------------------
def lost_fin() -> None:
    """The client's first FIN is dropped by nftables at td-b's prerouting hook
    (ingress of the server namespace). The capture on td-va (client side)
    sees that FIN leave; the server never gets it, so it is not ACKed and the
    client retransmits it. The server closes 0.3 s after EOF (4-way)."""
    with Lab() as lb, lb.capture(OUT / "lost-fin.pcap", settle=0.5):
        lb.nft(NS_B, _drop_first_fin_rules(IP_A))
        srv, cli, conn = connect(7)
        exchange(cli, conn)
        cli.close()
        read_eof(conn)  # returns only after the retransmitted FIN arrived
        time.sleep(0.3)
        conn.close()
        srv.close()


# --- 8 ------------------------------------------------------------------------
def lost_final_ack() -> None:
    """The client closes first. After the server has read EOF and before it
    closes, a one-shot nftables rule at td-b's prerouting drops the next
    packet from the client: the client's final ACK of the server's FIN.
    The capture on td-va (client side, before the drop) sees that ACK; the
    server, in LAST_ACK, retransmits its FIN and the client's TIME_WAIT
    socket ACKs it again, which gets through."""
    rules = f"""
table inet td_ack {{
  set once {{ type ipv4_addr . inet_service; flags dynamic; }}
  chain pre {{
    type filter hook prerouting priority raw; policy accept;
    ip saddr {IP_A} tcp sport 40008 ip saddr . tcp sport @once accept
    ip saddr {IP_A} tcp sport 40008 add @once {{ ip saddr . tcp sport }} counter drop
  }}
}}
"""
    with Lab() as lb, lb.capture(OUT / "lost-final-ack.pcap", settle=1.5):
        srv, cli, conn = connect(8)
        exchange(cli, conn)
        cli.close()
        read_eof(conn)
        time.sleep(0.3)  # the server's delayed ACK of the client FIN goes out first
        lb.nft(NS_B, rules)
        conn.close()
        srv.close()
        time.sleep(1.0)
        NOTES["lost-final-ack"] = {
            "ss_client_after": lab.ss_time_wait(NS_A),
            "ss_server_after": lab.ss_all(NS_B),
            "nft_counter": lab.run("nft", "list", "table", "inet", "td_ack", ns=NS_B),
        }


# --- 9 ------------------------------------------------------------------------
def half_close() -> None:
    """Client sends a request and shutdown(SHUT_WR); the server reads it and
    EOF, then sends three response chunks 50 ms apart into the half-closed
    connection, then closes. The client reads to EOF and closes: the client
    was the active closer and holds TIME_WAIT."""
    with Lab() as lb, lb.capture(OUT / "half-close.pcap"):
        srv, cli, conn = connect(9)
        cli.sendall(REQUEST)
        cli.shutdown(socket.SHUT_WR)
        assert conn.recv(4096) == REQUEST
        read_eof(conn)
        for i in range(3):
            conn.sendall(b"chunk %d after the client's FIN\n" % i)
            time.sleep(0.05)
        conn.close()
        data = b""
        while chunk := cli.recv(4096):
            data += chunk
        cli.close()
        srv.close()


# --- 10 -----------------------------------------------------------------------
def close_wait_stall() -> None:
    """The client closes; the server application never closes (it keeps the
    socket open), so the server stays in CLOSE_WAIT and the client in
    FIN_WAIT_2 for the 5 s of the capture."""
    with Lab() as lb, lb.capture(OUT / "close-wait-stall.pcap"):
        srv, cli, conn = connect(10)
        exchange(cli, conn)
        cli.close()
        time.sleep(5.0)
        NOTES["close-wait-stall"] = {"ss_client": lab.ss_all(NS_A), "ss_server": lab.ss_all(NS_B)}
    conn.close()
    srv.close()


# --- 11 -----------------------------------------------------------------------
def refused() -> None:
    """SYN to a port with no listener: the kernel answers RST+ACK."""
    with Lab() as lb, lb.capture(OUT / "refused.pcap"):
        cli = client(NS_A, IP_A, 40011)
        with contextlib.suppress(ConnectionRefusedError):
            cli.connect((IP_B, 5011))
        cli.close()


# --- 12 -----------------------------------------------------------------------
def port_reuse_server_time_wait() -> None:
    """Incarnation 1: server closes first, so the server holds TIME_WAIT.
    One second later the client binds the same local port (SO_REUSEADDR) and
    connects to the same server ip:port. The SYN meets the server's TIME_WAIT
    socket; Linux accepts it (tcp_timewait_state_process: SYN with a newer
    TSval / higher seq -> TCP_TW_SYN) and the new incarnation's server ISN is
    the old snd_nxt + 65537. Incarnation 2 ends with a client close."""
    with Lab() as lb, lb.capture(OUT / "port-reuse-server-time-wait.pcap"):
        srv, cli, conn = connect(12, reuse=True)
        exchange(cli, conn)
        conn.close()
        read_eof(cli)
        cli.close()
        time.sleep(1.0)
        before = lab.ss_time_wait(NS_B)
        cli, conn = reconnect(srv, 12)
        after = lab.ss_time_wait(NS_B)
        exchange(cli, conn)
        client_closes(cli, conn)
        srv.close()
    NOTES["port-reuse-server-time-wait"] = {
        "ss_time_wait_server_before_reconnect": before,
        "ss_time_wait_server_after_reconnect": after,
    }


def port_reuse_client_time_wait() -> None:
    """Incarnation 1: client closes first, so the client holds TIME_WAIT.
    With net.ipv4.tcp_tw_reuse=1 in td-a (the default 2 only allows it on
    loopback), 1.1 s later (tcp_tw_reuse_delay is 1 s) the client binds the
    same port (SO_REUSEADDR) and connect() takes over its own TIME_WAIT
    4-tuple (tcp_twsk_unique; needs timestamps). The new client ISN is the
    old snd_nxt + 65537."""
    with Lab() as lb, lb.capture(OUT / "port-reuse-client-time-wait.pcap"):
        lab.run("sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1", ns=NS_A)
        srv, cli, conn = connect(12, reuse=True)
        exchange(cli, conn)
        client_closes(cli, conn)
        time.sleep(1.1)
        before = lab.ss_time_wait(NS_A)
        cli, conn = reconnect(srv, 12)
        after = lab.ss_time_wait(NS_A)
        exchange(cli, conn)
        client_closes(cli, conn)
        srv.close()
    NOTES["port-reuse-client-time-wait"] = {
        "ss_time_wait_client_before_reconnect": before,
        "ss_time_wait_client_after_reconnect": after,
    }


# --- 13 -----------------------------------------------------------------------
def graceful_close_ipv6() -> None:
    """Scenario 1 over IPv6: client closes first, server 0.3 s after EOF."""
    with Lab() as lb, lb.capture(OUT / "graceful-close-ipv6.pcap"):
        srv, cli, conn = connect(13, socket.AF_INET6)
        exchange(cli, conn)
        cli.close()
        read_eof(conn)
        time.sleep(0.3)
        conn.close()
        srv.close()


# --- 14 -----------------------------------------------------------------------
def time_wait_assassination() -> None:
    """RFC 1337 hazard H1. After a client-first close, A = client (td-a)
    holds TIME_WAIT and B = server (td-b) has no socket left (its listener is
    closed too). From td-b we re-send, through a raw socket, an exact copy of
    the server's old response segment (seq far below B's FIN, old TSval):
    A's TIME_WAIT socket answers with an ACK (out-of-window segment); B's
    kernel has no socket for it and answers with a RST whose seq is exactly
    A's rcv_nxt; with net.ipv4.tcp_rfc1337=0 in td-a the RST kills A's
    TIME_WAIT. `ss -tan state time-wait` in td-a before and after proves it."""
    from scapy.all import IP, TCP, rdpcap  # noqa: PLC0415

    path = OUT / "time-wait-assassination.pcap"
    with Lab() as lb, lb.capture(path, settle=0.5):
        srv, cli, conn = connect(14)
        exchange(cli, conn)
        cli.close()
        read_eof(conn)
        time.sleep(0.3)
        conn.close()
        srv.close()
        time.sleep(0.5)
        before = lab.run("ss", "-tan", "state", "time-wait", ns=NS_A)
        old = next(
            p[IP]
            for p in rdpcap(str(path))
            if TCP in p and p[IP].src == IP_B and len(p[TCP].payload) > 0
        )
        raw = lab.sock(NS_B, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        raw.sendto(bytes(old), (IP_A, 0))
        raw.close()
        time.sleep(0.3)
        after = lab.run("ss", "-tan", "state", "time-wait", ns=NS_A)
    NOTES["time-wait-assassination"] = {
        "rfc1337_sysctl_in_td-a": "net.ipv4.tcp_rfc1337 = 0 (set by lab.Lab in both namespaces)",
        "ss_time_wait_client_before_injection": before,
        "ss_time_wait_client_after_injection": after,
    }
    assert "40014" in before and "40014" not in after, (before, after)


# --- 15 -----------------------------------------------------------------------
def keepalive_timeout() -> None:
    """After the exchange the client enables keepalive with TCP_KEEPIDLE=1,
    TCP_KEEPINTVL=1, TCP_KEEPCNT=3 and an nftables rule at td-b's *output*
    hook drops everything the server sends: the server still receives the
    probes and answers them, but its answers never reach the wire, so the
    capture on td-va shows unanswered probes (seq = snd_nxt - 1, no payload)
    and finally the client's RST when the probe count is exhausted (the
    client's recv() fails with ETIMEDOUT)."""
    rules = f"""
table inet td_ka {{
  chain out {{
    type filter hook output priority raw; policy accept;
    ip saddr {IP_B} tcp sport 5015 counter drop
  }}
}}
"""
    with Lab() as lb, lb.capture(OUT / "keepalive-timeout.pcap"):
        srv, cli, conn = connect(15)
        exchange(cli, conn)
        lb.nft(NS_B, rules)
        cli.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
        cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
        cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
        select.select([cli], [], [], 15)
        try:
            cli.recv(4096)
            err = "no error"
        except OSError as e:
            err = repr(e)
        NOTES["keepalive-timeout"] = {
            "client_recv_error": err,
            "ss_server_end": lab.ss_all(NS_B),
        }
        cli.close()
        conn.close()
        srv.close()


# --- 16 -----------------------------------------------------------------------
def timewait_pileup(n_conns: int = 2000, rate: float = 500.0) -> None:
    """n_conns short connections at ~rate per second, no payload; the client
    closes first (so the client holds every TIME_WAIT), the server closes
    when it reads EOF. A thread samples `ss -Htan state time-wait | wc -l` in
    td-a every 0.2 s (epoch seconds, like the pcap timestamps) from before the
    first connection until 2 s after the last. Snaplen 128 keeps the pcap
    small (frames are ~66-74 bytes anyway)."""
    samples: list[dict] = []
    stop = threading.Event()

    def sampler() -> None:
        while not stop.is_set():
            t0 = time.time()
            n = len(lab.ss_time_wait(NS_A))
            samples.append({"t": round((t0 + time.time()) / 2, 6), "time_wait": n})
            stop.wait(max(0.0, 0.2 - (time.time() - t0)))

    with Lab() as lb, lb.capture(OUT / "timewait-pileup.pcap", snaplen=128):
        srv = listener(NS_B, IP_B, 5016)
        th = threading.Thread(target=sampler)
        th.start()
        time.sleep(0.5)
        start = time.time()
        for i in range(n_conns):
            cli = lab.sock(NS_A)
            cli.connect((IP_B, 5016))
            conn, _ = srv.accept()
            client_closes(cli, conn)
            delay = start + (i + 1) / rate - time.time()
            if delay > 0:
                time.sleep(delay)
        end = time.time()
        time.sleep(2.0)
        stop.set()
        th.join()
        srv.close()
    doc = {
        "description": "kernel TIME_WAIT count in td-a (client) during timewait-pileup.pcap",
        "command": "ip netns exec td-a ss -Htan state time-wait | wc -l",
        "interval_s": 0.2,
        "time": "epoch seconds (midpoint of the ss call), same clock as the pcap timestamps",
        "connections": n_conns,
        "first_connect": round(start, 6),
        "last_close": round(end, 6),
        "samples": samples,
    }
    (OUT / "timewait-pileup.ss.json").write_text(json.dumps(doc, indent=1) + "\n")
    NOTES["timewait-pileup"] = {
        "connections": n_conns,
        "duration_s": round(end - start, 3),
        "rate_per_s": round(n_conns / (end - start), 1),
        "max_time_wait_sampled": max(s["time_wait"] for s in samples),
    }


# --- 21 -----------------------------------------------------------------------
def rst_data_loss() -> None:
    """After the exchange an nftables rule at td-b's *output* hook drops every
    segment the server sends (after the capture point is irrelevant here:
    the server's packets never reach the wire). The client sends 3000 bytes
    (1448 + 1448 + 104, one segment each); the server's kernel receives and
    ACKs them, but the ACKs are dropped, so on the wire the bytes stay
    unacknowledged. net.ipv4.tcp_early_retrans=0 in td-a turns the tail loss
    probe off (it would resend the last segment after ~8 ms); 50 ms later
    (before the 200 ms RTO, so no retransmission) the client sets SO_LINGER
    {1, 0} and closes: RST+ACK with seq = its snd_nxt while 3000 sent bytes
    are unacked as seen."""
    rules = f"""
table inet td_loss {{
  chain out {{
    type filter hook output priority raw; policy accept;
    ip saddr {IP_B} tcp sport 5021 counter drop
  }}
}}
"""
    with Lab() as lb, lb.capture(OUT / "rst-data-loss.pcap"):
        srv, cli, conn = connect(21)
        exchange(cli, conn)
        lb.nft(NS_B, rules)
        lab.run("sysctl", "-qw", "net.ipv4.tcp_early_retrans=0", ns=NS_A)
        cli.sendall(b"U" * 3000)
        time.sleep(0.05)
        cli.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        cli.close()
        time.sleep(0.1)
        try:
            got = conn.recv(65536)
            server_read = f"{len(got)} bytes"
        except OSError as e:
            server_read = repr(e)
        NOTES["rst-data-loss"] = {
            "server_recv_after_rst": server_read,
            "ss_server_after_rst": lab.ss_all(NS_B),
            "nft_counter": lab.run("nft", "list", "table", "inet", "td_loss", ns=NS_B),
        }
        conn.close()
        srv.close()


# --- 22 -----------------------------------------------------------------------
def rst_after_close() -> None:
    """The client reads the response and close()s (full close: FIN). The
    server's kernel ACKs the FIN (delayed ACK, ~40 ms). 0.1 s after the
    client's close the server application, which did not notice, sends more
    data. The client's socket is orphaned in FIN_WAIT_2 with its receive
    side shut: Linux answers new data with a RST (tcp_rcv_state_process,
    LINUX_MIB_TCPABORTONDATA; RFC 1122 4.2.2.13), seq = the data's ack.
    The server never sent a FIN."""
    with Lab() as lb, lb.capture(OUT / "rst-after-close.pcap"):
        srv, cli, conn = connect(22)
        exchange(cli, conn)
        cli.close()
        time.sleep(0.1)
        conn.sendall(b"more data the client will never read\n")
        time.sleep(0.1)
        try:
            conn.sendall(b"x")
            err = "no error"
        except OSError as e:
            err = repr(e)
        NOTES["rst-after-close"] = {
            "server_send_after_rst": err,
            "ss_client_after": lab.ss_all(NS_A),
            "ss_server_after": lab.ss_all(NS_B),
        }
        conn.close()
        srv.close()


# --- 23 -----------------------------------------------------------------------
def syn_meets_time_wait() -> None:
    """The server closes first (3-way close: the client's FIN+ACK is
    piggybacked), so the server holds TIME_WAIT; the listener stays open.
    0.5 s later a SYN on the same 4-tuple is injected from td-a through an
    IPPROTO_RAW socket (the client's kernel knows nothing of it): ISN =
    the old client ISN - 100000 (below the old client sequence space, so
    not after the TIME_WAIT socket's rcv_nxt) and only an MSS option (no
    timestamps, so tw_ts_recent cannot prove it newer).
    tcp_timewait_state_process does not accept it (no TCP_TW_SYN) and
    answers with a bare ACK (seq = old server snd_nxt, ack = old client
    snd_nxt). The client's kernel has no socket for the 4-tuple and answers
    that ACK with a RST whose seq = its ack = the TIME_WAIT's rcv_nxt; with
    net.ipv4.tcp_rfc1337=0 in td-b that RST kills the server's TIME_WAIT.
    `ss -tan state time-wait` in td-b before and after proves it."""
    from scapy.all import IP, TCP, rdpcap  # noqa: PLC0415

    path = OUT / "syn-meets-time-wait.pcap"
    with Lab() as lb, lb.capture(path, settle=0.5):
        srv, cli, conn = connect(23, reuse=True)
        exchange(cli, conn)
        conn.close()
        read_eof(cli)
        cli.close()
        time.sleep(0.5)
        before = lab.run("ss", "-tan", "state", "time-wait", ns=NS_B)
        first_syn = next(p for p in rdpcap(str(path)) if TCP in p and p[TCP].flags == "S")
        isn = (first_syn[TCP].seq - 100_000) % 2**32
        syn = IP(src=IP_A, dst=IP_B, ttl=64, flags="DF") / TCP(
            sport=40023, dport=5023, flags="S", seq=isn, window=64240, options=[("MSS", 1460)]
        )
        raw = lab.sock(NS_A, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        raw.sendto(bytes(syn), (IP_B, 0))
        raw.close()
        time.sleep(0.3)
        after = lab.run("ss", "-tan", "state", "time-wait", ns=NS_B)
        srv.close()
    NOTES["syn-meets-time-wait"] = {
        "rfc1337_sysctl_in_td-b": "net.ipv4.tcp_rfc1337 = 0 (set by lab.Lab in both namespaces)",
        "injected_isn": isn,
        "old_client_isn": first_syn[TCP].seq,
        "ss_time_wait_server_before_injection": before,
        "ss_time_wait_server_after_injection": after,
    }
    assert "40023" in before and "40023" not in after, (before, after)


# --- 24 -----------------------------------------------------------------------
def duplicate_frames() -> None:
    """A short graceful client-first close (3-way) captured with
    `tcpdump -i any` inside td-b after td-vb was enslaved to a bridge br0
    that carries the server's address (lab.bridge_server_side): every frame
    is seen on two interfaces, the bridge port td-vb and br0, a few
    microseconds apart, with the same IP ID. Link type Linux cooked v2
    (SLL2), which names the interface of each copy. This is a server-side
    capture point, unlike the other kernel captures."""
    with Lab() as lb:
        lab.bridge_server_side()
        # Snaplen 256 (every frame here is shorter, none is truncated): with
        # -s 0 on `any` libpcap sizes the ring's slots for 256 KiB frames and
        # the kernel dropped a burst of six in trials.
        with lb.capture(OUT / "duplicate-frames.pcap", ns=NS_B, dev="any", snaplen=256):
            srv, cli, conn = connect(24)
            exchange(cli, conn)
            client_closes(cli, conn)
            srv.close()


# --- 25 -----------------------------------------------------------------------
def missed_segment() -> None:
    """The client sends its request in three 400-byte segments (TCP_NODELAY,
    20 ms apart; quick-ACK mode makes the server ACK each one), gets the
    response, then a 3-way client-first close. The capture is then edited:
    `editcap -d` deletes the frame of the second request segment, so the
    server's ACK of it covers 400 bytes the file never shows."""
    full = OUT / "record" / "missed-segment.full.pcap"
    with Lab() as lb, lb.capture(full):
        srv, cli, conn = connect(25)
        cli.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        got = b""
        for i in range(3):
            cli.sendall(bytes([ord("a") + i]) * 400)
            time.sleep(0.02)
        while len(got) < 1200:
            got += conn.recv(4096)
        conn.sendall(RESPONSE)
        assert cli.recv(4096) == RESPONSE
        time.sleep(0.1)
        client_closes(cli, conn)
        srv.close()
    from scapy.all import TCP, rdpcap  # noqa: PLC0415

    data = [
        i
        for i, p in enumerate(rdpcap(str(full)), 1)
        if TCP in p and p[TCP].dport == 5025 and len(p[TCP].payload) > 0
    ]
    assert len(data) == 3, data
    out = OUT / "missed-segment.pcap"
    lab.run("editcap", "-F", "pcap", str(full), str(out), str(data[1]))
    full.unlink()
    NOTES["missed-segment"] = {
        "deleted_frame": data[1],
        "command": f"editcap -F pcap missed-segment.full.pcap missed-segment.pcap {data[1]}",
    }


# --- 26 -----------------------------------------------------------------------
def close_wait_long() -> None:
    """Like close-wait-stall, but the server application closes 12 s after
    the client's FIN: the server sits in CLOSE_WAIT for ~12 s (longer than
    the 10 s --close-wait-threshold) inside the capture, then sends its FIN;
    the client's orphaned FIN_WAIT_2 socket (tcp_fin_timeout 60 s) ACKs it
    and enters TIME_WAIT."""
    with Lab() as lb, lb.capture(OUT / "close-wait-long.pcap"):
        srv, cli, conn = connect(26)
        exchange(cli, conn)
        cli.close()
        time.sleep(11.0)
        mid = {"ss_client_at_11s": lab.ss_all(NS_A), "ss_server_at_11s": lab.ss_all(NS_B)}
        time.sleep(1.0)
        conn.close()
        srv.close()
        time.sleep(0.1)
        mid["ss_time_wait_client_after"] = lab.ss_time_wait(NS_A)
        NOTES["close-wait-long"] = mid


# --- 27 -----------------------------------------------------------------------
def idle_and_late_reuse() -> None:
    """The silence rule on a real kernel (docs/verdicts.md, "Connections").

    A connection exchanges once, idles 130 s (longer than the 120 s a 4-tuple
    may be silent before its handshake completes, far shorter than the 7,875 s
    once established: it stays one connection), exchanges again and the client
    closes. 75 s after that close (longer than TIME_WAIT's 60 s plus the 10 s
    margin; ss shows the client's TIME_WAIT gone) the client binds the same
    port again and opens a new connection on the same 4-tuple, which starts
    afresh."""
    with Lab() as lb, lb.capture(OUT / "idle-and-late-reuse.pcap"):
        srv, cli, conn = connect(27, reuse=True)
        exchange(cli, conn)
        time.sleep(130.0)
        exchange(cli, conn)
        client_closes(cli, conn)
        time.sleep(75.0)
        before = lab.ss_time_wait(NS_A)
        cli, conn = reconnect(srv, 27)
        exchange(cli, conn)
        client_closes(cli, conn)
        srv.close()
    NOTES["idle-and-late-reuse"] = {"ss_time_wait_client_before_reconnect": before}


SCENARIOS = {
    "graceful-client-close": graceful_client_close,
    "graceful-server-close": graceful_server_close,
    "three-way-close": three_way_close,
    "simultaneous-close": simultaneous_close,
    "linger-abort": linger_abort,
    "rst-unread-data": rst_unread_data,
    "lost-fin": lost_fin,
    "lost-final-ack": lost_final_ack,
    "half-close": half_close,
    "close-wait-stall": close_wait_stall,
    "refused": refused,
    "port-reuse-server-time-wait": port_reuse_server_time_wait,
    "port-reuse-client-time-wait": port_reuse_client_time_wait,
    "graceful-close-ipv6": graceful_close_ipv6,
    "time-wait-assassination": time_wait_assassination,
    "keepalive-timeout": keepalive_timeout,
    "timewait-pileup": timewait_pileup,
    "rst-data-loss": rst_data_loss,
    "rst-after-close": rst_after_close,
    "syn-meets-time-wait": syn_meets_time_wait,
    "duplicate-frames": duplicate_frames,
    "missed-segment": missed_segment,
    "close-wait-long": close_wait_long,
    "idle-and-late-reuse": idle_and_late_reuse,
}


def main() -> None:
    import craft  # noqa: PLC0415

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--only", nargs="*", help="scenario names (default: all); 'crafted' for the scapy ones"
    )
    args = ap.parse_args()
    names = args.only or [*SCENARIOS, "crafted"]
    notes_file = OUT / "record" / "record-notes.json"
    if notes_file.exists():
        NOTES.update(json.loads(notes_file.read_text()))
    try:
        for name in names:
            print(f"recording {name}")
            if name == "crafted":
                craft.write_all(OUT)
            else:
                SCENARIOS[name]()
    finally:
        lab.delete_namespaces()
        notes_file.write_text(json.dumps(NOTES, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
