"""Write a capture of a SYN flood: millions of connections of two packets each.

    python bench/flood.py OUT.pcap [--packets 5000000] [--rate 2000]

The short-connection benchmark (generate.py) reuses a few thousand client
addresses; a flood from spoofed sources does not. Every SYN comes from its
own random address and port (1.0.0.0 - 223.255.255.255) to 192.0.2.30:80,
``--rate`` SYNs a second, and the server answers each with a SYN/ACK (SYN
cookies) that no one acknowledges. So the capture is all per-connection cost:
every connection is an attempt, open (its 4-tuple not yet silent) for two
minutes, and every address is new.

Records use bulk.py's layout (headers only, checksums zero).
"""

from __future__ import annotations

import argparse
import struct
from pathlib import Path

import numpy as np
from bulk import ACK, FRAME_BYTES, RECORD, SYN, TCP_HEADER

SERVER = bytes([192, 0, 2, 30])
SERVER_PORT = 80


def build(packets: int, rate: float, seed: int = 1) -> np.ndarray:
    """SYN, SYN/ACK, SYN, SYN/ACK, ...; the SYN/ACK 100 us after its SYN."""
    rng = np.random.default_rng(seed)
    n = (packets + 1) // 2  # connections
    client = rng.integers(1 << 24, 224 << 24, n, dtype=np.uint64).astype(">u4")
    port = rng.integers(1024, 65536, n, dtype=np.int64)
    isn = rng.integers(0, 1 << 32, n, dtype=np.int64)
    cookie = rng.integers(0, 1 << 32, n, dtype=np.int64)
    syn_us = 1_795_435_200_000_000 + (np.arange(n) * 1e6 / rate).astype(np.int64)

    rec = np.zeros(2 * n, RECORD)
    syn, answer = rec[0::2], rec[1::2]
    for r, t_us in ((syn, syn_us), (answer, syn_us + 100)):
        r["ts_sec"], r["ts_usec"] = t_us // 1_000_000, t_us % 1_000_000
        r["tsval"] = (t_us // 1000) % (1 << 32)
    server = np.frombuffer(SERVER, "V4")[0]
    addresses = client.view("V4")
    syn["src"], syn["dst"], syn["sport"], syn["dport"] = addresses, server, port, SERVER_PORT
    answer["src"], answer["dst"] = server, addresses
    answer["sport"], answer["dport"] = SERVER_PORT, port
    syn["seq"], syn["flags"] = isn, SYN
    answer["seq"], answer["ack"], answer["flags"] = cookie, (isn + 1) % (1 << 32), SYN | ACK
    answer["tsecr"] = syn["tsval"]
    rec["caplen"] = rec["origlen"] = FRAME_BYTES
    rec["eth"] = np.frombuffer(bytes(12) + b"\x08\x00", "V14")[0]
    rec["ver_ihl"], rec["total_len"] = 0x45, 20 + TCP_HEADER
    rec["frag"], rec["ttl"], rec["proto"] = 0x4000, 64, 6
    rec["ip_id"] = np.arange(2 * n) & 0xFFFF
    rec["offset"], rec["window"] = (TCP_HEADER // 4) << 4, 0xFFFF
    rec["nop2"], rec["ts_kind"], rec["ts_len"] = 0x0101, 8, 10
    return rec[:packets]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--packets", type=int, default=5_000_000, help="records in the file")
    ap.add_argument("--rate", type=float, default=2_000.0, help="SYNs a second")
    args = ap.parse_args(argv)
    if args.packets < 2 or args.rate <= 0:
        ap.error("--packets must be at least 2 and --rate positive")
    with open(args.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        f.write(build(args.packets, args.rate).tobytes())
    print(f"{args.out}: {args.packets} packets, {(args.packets + 1) // 2} connections")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
