"""Write the regression corpus: each file once crashed the reader or took too much memory.

Run from the project root: ``.venv/bin/python tests/fuzz/make_corpus.py``. Files the
fuzzers find are saved into corpus/ as they were found; this script only (re)writes
the hand-reduced ones below. See corpus/README.md for what each one did.
"""

from __future__ import annotations

import struct
from pathlib import Path

import capture_gen as g

CORPUS = Path(__file__).parent / "corpus"
PKT = g.ethernet(g.ipv4(g.tcp(b"hi")))
SHB, IDB = g.ng_shb(), g.ng_idb()

FILES = {
    # struct.error: a 12-byte EPB / PB / IDB at the end of the buffer (fixed fields read past it)
    "pcapng-epb-short-at-end.pcapng": SHB + IDB + g.ng_block(g.EPB, b""),
    "pcapng-pb-short-at-end.pcapng": SHB + IDB + g.ng_block(g.PB, b""),
    "pcapng-idb-short-at-end.pcapng": SHB + g.ng_block(g.IDB, b""),
    # a 12-byte SPB gave a record with captured length -4
    "pcapng-spb-short.pcapng": SHB + IDB + g.ng_block(g.SPB, b"") + g.ng_epb(PKT),
    # struct.error: if_tsoffset option whose 8-byte value runs past the block and the file
    "pcapng-tsoffset-cut.pcapng": SHB
    + g.ng_block(g.IDB, struct.pack("<HHI", 1, 0, 0) + struct.pack("<HH", 14, 8)),
    # OverflowError: timestamps beyond int64 nanoseconds
    "pcapng-ts-overflow.pcapng": SHB + IDB + g.ng_epb(PKT, ts=(1 << 64) - 1),
    "pcapng-tsresol-seconds.pcapng": SHB + g.ng_idb(tsresol=0) + g.ng_epb(PKT, ts=1 << 62),
    "pcapng-tsoffset-huge.pcapng": SHB + g.ng_idb(tsoffset=-(1 << 62)) + g.ng_epb(PKT),
    # payload_len wrapped negative in the int32 column (IP length 0 -> 4 GB origlen)
    "pcap-ipv4-len0-origlen-4g.pcap": g.pcap_file(
        [g.ethernet(g.ipv4(g.tcp(b"x"), total=0))], origlens=[0xFFFFFFF0]
    ).data,
    "pcap-ipv6-jumbo-origlen-4g.pcap": g.pcap_file(
        [g.ethernet(g.ipv6(g.tcp(b"x"), payload_len=0), 0x86DD)], origlens=[0xFFFFFFF0]
    ).data,
    # memory: a 1 KB file allocated the reader's whole 16 MB chunk
    "pcap-caplen-4g.pcap": g.pcap_header() + g.pcap_record(b"", caplen=0xFFFFFFFF) + bytes(984),
    # memory: 8 MB of zeros in 8 KB of gzip were decompressed in one go (1000x the file)
    "gzip-bomb-8mb.gz": g.raw_deflate_bomb(8 << 20),
}


def main() -> None:
    CORPUS.mkdir(exist_ok=True)
    for name, data in FILES.items():
        (CORPUS / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
