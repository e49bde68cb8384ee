"""Coverage-guided fuzzing of the capture reader with atheris (libFuzzer for Python).

Not part of the default test run (that is tests/test_fuzz_reader.py): this is
for longer local runs. See tests/fuzz/README.md for the commands, e.g.

    .venv/bin/pip install atheris
    mkdir -p /tmp/teardown-fuzz-corpus
    .venv/bin/python tests/fuzz/atheris_reader.py /tmp/teardown-fuzz-corpus \\
        tests/data/formats tests/data/formats/broken tests/fuzz/corpus \\
        -max_total_time=600 -rss_limit_mb=2048 -timeout=20 -max_len=65536

An input that starts like a capture (pcap, pcapng or gzip magic: the seeds)
is read as it is. Any other is turned into a file by its first two bytes: the
rest as it is, behind a valid pcap header (byte order, resolution and link
type from those bytes), or behind a valid pcapng SHB + IDB; and perhaps
gzip-compressed and cut short. The reader must return or raise CaptureError; what it
returns must be sane (the same invariants as the hypothesis suite). Anything
else is a crash: libFuzzer writes the input as crash-<sha1> in the working
directory. Copy it to tests/fuzz/corpus/ and fix the reader.
"""

from __future__ import annotations

import os
import struct
import sys
import tempfile
import zlib

import atheris

with atheris.instrument_imports(include=["analyzer.capture", "analyzer.segments"]):
    import numpy as np

    from analyzer.capture import CaptureError, read_capture

LINK_TYPES = [0, 1, 12, 14, 101, 108, 113, 147, 228, 229, 276]
PCAP_MAGICS = [0xA1B2C3D4, 0xA1B23C4D, 0xA1B2CD34]
MAGICS = {
    *(struct.pack(e + "I", m) for m in PCAP_MAGICS for e in "<>"),
    struct.pack("<I", 0x0A0D0D0A),
}
# tmpfs when there is one: the harness writes one file per input.
TMP_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
PATH = os.path.join(TMP_DIR, f"teardown-atheris-{os.getpid()}.bin")


def make_file(data: bytes) -> bytes:
    """The file to read for one fuzz input (see the module doc)."""
    if data[:4] in MAGICS or data[:2] == b"\x1f\x8b":
        return data  # a capture (e.g. a seed) as it is
    if len(data) < 2:
        return data
    mode, choice, rest = data[0], data[1], data[2:]
    e = "<" if mode & 8 else ">"
    linktype = LINK_TYPES[choice % len(LINK_TYPES)]
    if mode & 3 == 0:
        body = rest
    elif mode & 3 == 1:
        magic = PCAP_MAGICS[(choice >> 4) % len(PCAP_MAGICS)]
        body = struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype) + rest
    else:
        shb = struct.pack(e + "IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28)
        idb = struct.pack(e + "IIHHII", 1, 20, linktype, 0, 0, 20)
        body = shb + idb + rest
    if mode & 4:
        packed = zlib.compress(body, 1, wbits=16 + zlib.MAX_WBITS)
        body = packed[: len(packed) - (mode >> 4)]  # perhaps cut short
    return body


def check(data: bytes) -> None:
    with open(PATH, "wb") as f:
        f.write(make_file(data))
    try:
        cap = read_capture(PATH)
    except CaptureError as e:
        assert "\n" not in str(e)
        return
    seg, info = cap.segments, cap.info
    assert len(seg) == info.tcp_segments
    if len(seg):
        assert seg.frame[0] >= 1 and seg.frame[-1] <= info.frames
        assert np.all(np.diff(seg.frame) > 0)
        assert np.all(seg.payload_len >= 0)
    for warning in info.warnings:
        assert "\n" not in warning and warning.startswith(PATH + ": ")
    if info.truncated:
        assert any(f"{PATH}: byte " in w for w in info.warnings)


def main() -> None:
    atheris.Setup(sys.argv, check)
    try:
        atheris.Fuzz()
    finally:
        if os.path.exists(PATH):
            os.unlink(PATH)


if __name__ == "__main__":
    main()
