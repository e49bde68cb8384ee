"""Crafted (scapy, not kernel) captures: behaviours a healthy Linux pair will
not produce on demand. Every packet is synthetic, deterministic (fixed ISNs,
IP IDs and times) and marked "crafted" in manifest.json.

    crafted-middlebox-rst.pcap   RST with a TTL / IP ID unlike the host's own
    crafted-data-after-fin.pcap  payload sent after the sender's own FIN
    crafted-isn-overlap.pcap     new incarnation inside TIME_WAIT whose ISN
                                 lies inside the old sequence space
    crafted-seq-wrap.pcap        both sequence spaces wrap across 2**32
"""

from __future__ import annotations

from pathlib import Path

from scapy.all import IP, TCP, Ether, Raw, wrpcap

MAC_C, MAC_S = "02:77:00:00:00:01", "02:77:00:00:00:02"
IP_C, IP_S = "10.77.0.1", "10.77.0.2"
T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, fixed so the files are byte-identical
M32 = 2**32


class Conn:
    """One TCP incarnation between client (c) and server (s) that keeps both
    sides' snd_nxt / rcv_nxt, IP IDs and TSvals so that only the packets a
    scenario deliberately bends look abnormal."""

    def __init__(
        self, pkts: list, cport: int, sport: int, cisn: int, sisn: int, t: float, ts=(1000, 5000)
    ):
        self.pkts, self.t = pkts, t
        self.port = {"c": cport, "s": sport}
        self.nxt = {"c": cisn, "s": sisn}  # next sequence number each side sends
        self.rcv = {"c": 0, "s": 0}  # what each side acks
        self.ipid = {"c": 0x1000, "s": 0x5000}
        self.tsval = {"c": ts[0], "s": ts[1]}
        self.ts_recent = {"c": 0, "s": 0}

    def send(self, side: str, flags: str, data: bytes = b"", dt: float = 0.0002, **over) -> int:
        """Append one segment from `side`; returns its 1-based frame number.
        `over` may override seq, ack, ttl, ipid, tsval (for the bent packets)."""
        peer = "s" if side == "c" else "c"
        self.t += dt
        self.tsval[side] += max(1, int(dt * 1000))
        seq = over.get("seq", self.nxt[side])
        ack = over.get("ack", self.rcv[side]) if "A" in flags else 0
        opts = [
            ("NOP", None),
            ("NOP", None),
            ("Timestamp", (over.get("tsval", self.tsval[side]), self.ts_recent[side])),
        ]
        if "S" in flags:
            ts = (self.tsval[side], self.ts_recent[side])
            opts = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", ts), ("NOP", None), ("WScale", 7)]
        if "R" in flags:
            opts = []
        src, dst = (IP_C, IP_S) if side == "c" else (IP_S, IP_C)
        smac, dmac = (MAC_C, MAC_S) if side == "c" else (MAC_S, MAC_C)
        ipid = over.get("ipid", self.ipid[side])
        self.ipid[side] = (self.ipid[side] + 1) % 65536
        p = (
            Ether(src=smac, dst=dmac)
            / IP(src=src, dst=dst, ttl=over.get("ttl", 64), id=ipid, flags="DF")
            / TCP(
                sport=self.port[side],
                dport=self.port[peer],
                flags=flags,
                seq=seq,
                ack=ack,
                window=0 if flags == "R" else 502,
                options=opts,
            )  # fmt: skip
        )
        if data:
            p = p / Raw(data)
        p.time = self.t
        self.pkts.append(p)
        if "seq" not in over:  # normal segment: advance sender, receiver state
            adv = len(data) + ("S" in flags) + ("F" in flags)
            self.nxt[side] = (self.nxt[side] + adv) % M32
            self.rcv[peer] = self.nxt[side]
            self.ts_recent[peer] = self.tsval[side]
        return len(self.pkts)

    def handshake(self) -> None:
        self.send("c", "S", dt=0)
        self.send("s", "SA")
        self.send("c", "A")


REQUEST = b"GET /teardown HTTP/1.1\r\nHost: td-b\r\n\r\n"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


def middlebox_rst(out: Path) -> None:
    """Request acked by the server, then a RST that claims to come from the
    server (right 4-tuple, right seq = server snd_nxt) but carries TTL 57 and
    IP ID 0 while every other server packet has TTL 64 and IDs 0x5000...:
    a firewall / load balancer forged it."""
    pk: list = []
    c = Conn(pk, 40017, 5017, 1_000_000_000, 2_000_000_000, T0)
    c.handshake()
    c.send("c", "PA", REQUEST, dt=0.001)
    c.send("s", "A", dt=0.00005)
    c.send("s", "R", dt=0.5, ttl=57, ipid=0, seq=c.nxt["s"])
    wrpcap(str(out / "crafted-middlebox-rst.pcap"), pk)


def data_after_fin(out: Path) -> None:
    """Client sends a request, gets the answer, sends FIN (frame 8); the
    server ACKs the FIN; then the client sends 24 bytes of new payload with
    seq = its FIN seq + 1 (frame 10): data after its own FIN. The server keeps
    acking only up to the FIN, then closes; the client ACKs."""
    pk: list = []
    c = Conn(pk, 40018, 5018, 1_100_000_000, 2_100_000_000, T0)
    c.handshake()
    c.send("c", "PA", REQUEST, dt=0.001)
    c.send("s", "A", dt=0.00005)
    c.send("s", "PA", RESPONSE, dt=0.0001)
    c.send("c", "A", dt=0.00005)
    c.send("c", "FA", dt=0.1)
    c.send("s", "A", dt=0.04)
    c.send("c", "PA", b"late data after my FIN\r\n", dt=0.05, seq=c.nxt["c"])
    c.send("s", "A", dt=0.00005)  # duplicate ACK: ack stays at FIN + 1
    c.send("s", "FA", dt=0.2)
    c.send("c", "A", dt=0.00005)
    wrpcap(str(out / "crafted-data-after-fin.pcap"), pk)


def isn_overlap(out: Path) -> None:
    """Incarnation 1: client ISN 1_000_000_000 sends 3000 bytes; the server
    answers and closes first, so the server holds TIME_WAIT (frame 13 is the
    server's last ACK). 2 s later the client reuses the 4-tuple with ISN
    1_000_001_000: *below* its old snd_nxt (1_000_003_002), i.e. inside the
    old incarnation's sequence space. Its TSval is newer, so a TIME_WAIT
    host following RFC 6191 accepts it; the server's SYN-ACK uses
    old snd_nxt + 65537 as Linux does. Incarnation 2 closes client-first."""
    pk: list = []
    c1 = Conn(pk, 40019, 5019, 1_000_000_000, 3_000_000_000, T0)
    c1.handshake()
    for i in range(3):
        c1.send("c", "PA", bytes([65 + i]) * 1000, dt=0.0005)
    c1.send("s", "A", dt=0.00005)
    c1.send("s", "PA", RESPONSE, dt=0.0001)
    c1.send("c", "A", dt=0.00005)
    c1.send("s", "FA", dt=0.0001)
    c1.send("c", "A", dt=0.04)
    c1.send("c", "FA", dt=0.3)
    c1.send("s", "A", dt=0.00005)
    c2 = Conn(pk, 40019, 5019, 1_000_001_000, (c1.nxt["s"] + 65537) % M32, c1.t,
              ts=(c1.tsval["c"] + 2000, c1.tsval["s"] + 2000))  # fmt: skip
    c2.send("c", "S", dt=2.0)
    c2.send("s", "SA")
    c2.send("c", "A")
    c2.send("c", "PA", REQUEST, dt=0.001)
    c2.send("s", "A", dt=0.00005)
    c2.send("s", "PA", RESPONSE, dt=0.0001)
    c2.send("c", "A", dt=0.00005)
    c2.send("c", "FA", dt=0.1)
    c2.send("s", "FA", dt=0.0001)
    c2.send("c", "A", dt=0.00005)
    wrpcap(str(out / "crafted-isn-overlap.pcap"), pk)


def seq_wrap(out: Path) -> None:
    """Client ISN 2**32 - 1500 sends 3 x 1000 bytes: the second segment
    crosses 2**32 (seq 4294966797, ends at 501). Server ISN 2**32 - 100
    answers 300 bytes that also cross 2**32. Then a 4-way client-first close
    with FIN sequence numbers that are small after the wrap."""
    pk: list = []
    c = Conn(pk, 40020, 5020, M32 - 1500, M32 - 100, T0)
    c.handshake()
    for i in range(3):
        c.send("c", "PA", bytes([97 + i]) * 1000, dt=0.0005)
    c.send("s", "A", dt=0.00005)
    c.send("s", "PA", b"r" * 300, dt=0.0001)
    c.send("c", "A", dt=0.04)
    c.send("c", "FA", dt=0.1)
    c.send("s", "A", dt=0.04)
    c.send("s", "FA", dt=0.3)
    c.send("c", "A", dt=0.00005)
    wrpcap(str(out / "crafted-seq-wrap.pcap"), pk)


def write_all(out: Path) -> None:
    for f in (middlebox_rst, data_after_fin, isn_overlap, seq_wrap):
        f(out)
