"""Write a capture of one long bulk transfer: the case where one connection holds most packets.

    python bench/bulk.py OUT.pcap [--packets 5000000] [--connections 1]

The short-connection benchmark (generate.py) keeps every connection small, so
it never shows what one huge connection costs: a single 4-tuple's segments
wait in memory until it falls silent, and are walked in one piece. This
capture is that case: a client uploads to 192.0.2.20:5001 (iperf-like) in
1448-byte segments, the server ACKs every second one, and the client closes
gracefully at the end. The sequence space wraps past 2^32 after about 3M
data segments.

Records are stored truncated to their headers (the IP total length still
counts the payload, as with tcpdump -s 66), so the file stays small; IP and TCP
checksums are left zero, since nothing here reads them.

With ``--connections N``, N such transfers from client ports 40000, 40001, ...
run side by side, their segments interleaved one by one (long-lived streams,
none of them huge): the packets are split evenly between them.
"""

from __future__ import annotations

import argparse
import struct
from pathlib import Path

import numpy as np

MSS = 1448
STEP_US = 10  # between segments on the wire
CLIENT = bytes([198, 18, 0, 1])
SERVER = bytes([192, 0, 2, 20])
CLIENT_PORT, SERVER_PORT = 40_000, 5001
CLIENT_ISN, SERVER_ISN = 1_000_000, 2_000_000_000

FIN, SYN, PSH, ACK = 0x01, 0x02, 0x08, 0x10
TCP_HEADER = 32  # 20 + NOP NOP TS

# One record: pcap record header (16), Ethernet (14), IPv4 (20), TCP with timestamps (32).
RECORD = np.dtype(
    [
        ("ts_sec", "<u4"), ("ts_usec", "<u4"), ("caplen", "<u4"), ("origlen", "<u4"),
        ("eth", "V14"),
        ("ver_ihl", "u1"), ("tos", "u1"), ("total_len", ">u2"), ("ip_id", ">u2"),
        ("frag", ">u2"), ("ttl", "u1"), ("proto", "u1"), ("ip_sum", ">u2"),
        ("src", "V4"), ("dst", "V4"),
        ("sport", ">u2"), ("dport", ">u2"), ("seq", ">u4"), ("ack", ">u4"),
        ("offset", "u1"), ("flags", "u1"), ("window", ">u2"), ("tcp_sum", ">u2"), ("urg", ">u2"),
        ("nop2", ">u2"), ("ts_kind", "u1"), ("ts_len", "u1"), ("tsval", ">u4"), ("tsecr", ">u4"),
    ]
)  # fmt: skip
FRAME_BYTES = RECORD.itemsize - 16


def build(packets: int) -> np.ndarray:
    """Every record: 3 handshake segments, data with an ACK per two, then the close."""
    body_count = packets - 7  # 3 handshake and 4 closing segments around it
    data = (2 * body_count + 2) // 3  # two data segments to each ACK
    rec = np.zeros(packets, RECORD)
    from_client = np.zeros(packets, bool)
    seq = np.zeros(packets, np.int64)
    ack = np.zeros(packets, np.int64)
    flags = np.zeros(packets, np.uint8)
    length = np.zeros(packets, np.int64)
    c_next, s_next = CLIENT_ISN + 1, SERVER_ISN + 1

    # Handshake.
    from_client[[0, 2]] = True
    seq[:3] = [CLIENT_ISN, SERVER_ISN, c_next]
    ack[:3] = [0, c_next, s_next]
    flags[:3] = [SYN, SYN | ACK, ACK]

    # Data (client) and ACKs (server): d d a d d a ...
    body = np.arange(3, 3 + body_count)
    is_data = np.arange(body_count) % 3 != 2
    sent = np.cumsum(is_data)  # data segments up to and including this one
    from_client[body] = is_data
    seq[body] = np.where(is_data, c_next + MSS * (sent - 1), s_next)
    ack[body] = np.where(is_data, s_next, c_next + MSS * sent)
    flags[body] = np.where(is_data, ACK | PSH, ACK)
    length[body] = np.where(is_data, MSS, 0)
    c_fin = c_next + MSS * data

    # Close: the client's FIN, the server's ACK and FIN, the client's last ACK.
    tail = np.arange(packets - 4, packets)
    from_client[tail] = [True, False, False, True]
    seq[tail] = [c_fin, s_next, s_next, c_fin + 1]
    ack[tail] = [s_next, c_fin + 1, c_fin + 1, s_next + 1]
    flags[tail] = [FIN | ACK, ACK, FIN | ACK, ACK]

    t_us = 1_795_435_200_000_000 + STEP_US * np.arange(packets, dtype=np.int64)
    rec["ts_sec"], rec["ts_usec"] = t_us // 1_000_000, t_us % 1_000_000
    rec["caplen"] = FRAME_BYTES
    rec["origlen"] = FRAME_BYTES + length
    eth = np.frombuffer(bytes(12) + b"\x08\x00", "V14")[0]
    rec["eth"] = eth
    rec["ver_ihl"], rec["total_len"] = 0x45, 20 + TCP_HEADER + length
    rec["frag"], rec["ttl"], rec["proto"] = 0x4000, 64, 6
    rec["ip_id"] = np.arange(packets) & 0xFFFF
    c, s = np.frombuffer(CLIENT, "V4")[0], np.frombuffer(SERVER, "V4")[0]
    rec["src"] = np.where(from_client, c, s)
    rec["dst"] = np.where(from_client, s, c)
    rec["sport"] = np.where(from_client, CLIENT_PORT, SERVER_PORT)
    rec["dport"] = np.where(from_client, SERVER_PORT, CLIENT_PORT)
    rec["seq"], rec["ack"] = seq % (1 << 32), ack % (1 << 32)
    rec["offset"], rec["flags"], rec["window"] = (TCP_HEADER // 4) << 4, flags, 0xFFFF
    rec["nop2"], rec["ts_kind"], rec["ts_len"] = 0x0101, 8, 10
    tsval = (t_us // 1000) % (1 << 32)
    rec["tsval"] = tsval
    rec["tsecr"] = np.where(np.arange(packets) == 0, 0, tsval - 1)
    return rec


def side_by_side(packets: int, connections: int) -> np.ndarray:
    """``connections`` transfers of ``packets // connections`` records each, interleaved."""
    one = build(packets // connections)
    from_client = one["sport"] == CLIENT_PORT
    out = np.empty(len(one) * connections, RECORD)
    for i in range(connections):
        rec = one.copy()
        rec["sport"] = np.where(from_client, CLIENT_PORT + i, SERVER_PORT)
        rec["dport"] = np.where(from_client, SERVER_PORT, CLIENT_PORT + i)
        out[i::connections] = rec
    t_us = 1_795_435_200_000_000 + STEP_US * np.arange(len(out), dtype=np.int64)
    out["ts_sec"], out["ts_usec"] = t_us // 1_000_000, t_us % 1_000_000
    out["ip_id"] = np.arange(len(out)) & 0xFFFF
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--packets", type=int, default=5_000_000, help="records in the file (>= 10)")
    ap.add_argument("--connections", type=int, default=1, help="transfers side by side")
    args = ap.parse_args(argv)
    if not 1 <= args.connections <= 20_000 or args.packets < 10 * args.connections:
        ap.error("--connections must be 1 to 20,000, with at least 10 packets each")
    records = side_by_side(args.packets, args.connections)
    with open(args.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        f.write(records.tobytes())
    print(f"{args.out}: {len(records)} packets, {args.connections} connection(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
