"""Check a generated capture's truth file against tshark, independently.

    python bench/check_truth.py OUT.pcap [OUT.truth.json]

Splits connections with tshark's tcp.stream (which starts a new stream on a
reused 4-tuple's SYN), classifies each with the rules of TEARDOWN.md
sections 3-4 using raw sequence numbers, and compares the close-kind and
closer counts with the truth. It guards the generator, not the analyzer:
run it after changing generate.py. Exit status 1 on a mismatch.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
M = 1 << 32


def after(a: int, b: int) -> bool:
    """a >= b in sequence space (modulo 2^32)."""
    return (a - b) % M < 1 << 31


def classify(packets: list[tuple[int, int, int, int]]) -> tuple[str, str]:
    client_port = packets[0][0]  # the generator's streams start with the SYN
    synack = False
    fin_seq: dict[str, int] = {}
    fin_acked: set[str] = set()
    fin_order: list[tuple[str, int]] = []  # (side, ack field of its FIN)
    rst: tuple[str, bool] | None = None  # (sender, after a finished close)
    for port, flags, seq, ack in packets:
        side = "client" if port == client_port else "server"
        peer = "server" if side == "client" else "client"
        synack |= flags & (SYN | ACK) == SYN | ACK
        if flags & ACK and peer in fin_seq and after(ack, fin_seq[peer] + 1):
            fin_acked.add(peer)
        if flags & FIN and side not in fin_seq:
            fin_seq[side] = seq
            fin_order.append((side, ack))
        if flags & RST and rst is None:
            rst = (side, len(fin_acked) == 2)
    if not synack:
        return ("refused", rst[0]) if rst else ("attempt", "none")
    if len(fin_acked) == 2 and (rst is None or rst[1]):
        (first, _), (_, second_ack) = fin_order
        if not after(second_ack, fin_seq[first] + 1):
            return "simultaneous", "both"
        return "graceful", first
    if rst:
        return "abort", fin_order[0][0] if fin_order else rst[0]
    if fin_order:
        return "incomplete", fin_order[0][0]
    return "open", "none"


def main(argv: list[str]) -> int:
    if not argv or len(argv) > 2:
        print(__doc__, file=sys.stderr)
        return 2
    pcap = Path(argv[0])
    if len(argv) == 2:
        truth_file = Path(argv[1])
    else:
        stem = pcap.name.removesuffix(".gz").removesuffix(".pcap")
        truth_file = pcap.with_name(stem + ".truth.json")
    truth = json.loads(truth_file.read_text())
    cmd = ["tshark", "-r", str(pcap), "-Y", "tcp", "-T", "fields"]
    cmd += ["-o", "tcp.analyze_sequence_numbers:FALSE"]
    for f in ("tcp.stream", "tcp.srcport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw"):
        cmd += ["-e", f]
    streams: dict[str, list[tuple[int, int, int, int]]] = defaultdict(list)
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as p:
        for line in p.stdout:
            stream, port, flags, seq, ack = line.rstrip("\n").split("\t")
            streams[stream].append((int(port), int(flags, 16), int(seq), int(ack or 0)))
    kinds: Counter[str] = Counter()
    closers: Counter[str] = Counter()
    for packets in streams.values():
        kind, closer = classify(packets)
        kinds[kind] += 1
        closers[closer] += 1
    ok = True
    for name, got, want in (
        ("connections", {"all": len(streams)}, {"all": truth["connections"]}),
        ("close kinds", kinds, truth["close_kinds"]),
        ("closers", closers, truth["active_closer"]),
    ):
        same = {k: v for k, v in got.items() if v} == {k: v for k, v in want.items() if v}
        ok &= same
        print(f"{name:12} {'ok' if same else 'MISMATCH'}  tshark {dict(got)}  truth {dict(want)}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
