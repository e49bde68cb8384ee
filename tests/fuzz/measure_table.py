"""Print the README's table: per input class, tries, outcomes and peak memory.

Runs the hypothesis strategies of tests/test_fuzz_reader.py (same settings as
the default run, so the same inputs) outside pytest and measures every read
with tracemalloc. From the project root:

    .venv/bin/python tests/fuzz/measure_table.py
"""

from __future__ import annotations

import sys
import time
import tracemalloc
import zlib
from collections import Counter
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import capture_gen as g  # noqa: E402
import test_fuzz_reader as t  # noqa: E402

from analyzer.capture import CaptureError, CaptureReader, read_capture  # noqa: E402

ROWS: list[tuple[str, int, str, float]] = []


def measure(data: bytes, name: str = "measure.bin") -> tuple[str, int]:
    path = t._TMP / name
    path.write_bytes(data)
    tracemalloc.start()
    try:
        cap = read_capture(str(path))
        t.check(cap, str(path))
        damage = [w for w in cap.info.warnings if ": byte " in w]
        outcome = "partial + warning" if damage else "read whole"
    except CaptureError:
        outcome = "clean error"
    except Exception as e:  # noqa: BLE001 - this is what the table is for
        outcome = f"CRASH {type(e).__name__}"
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, peak


def run_class(label: str, strategy, to_files) -> None:
    outcomes: Counter[str] = Counter()
    peaks: list[int] = []

    @t.FUZZ
    @given(strategy)
    def body(case) -> None:
        for data in to_files(case):
            outcome, peak = measure(data)
            outcomes[outcome] += 1
            peaks.append(peak)

    body()
    summary = ", ".join(f"{n} {o}" for o, n in outcomes.most_common())
    ROWS.append((label, sum(outcomes.values()), summary, max(peaks) / 2**20))


def gzip_cases(case):
    built, permille = case
    packed = g.gzip_bytes(built.data)
    return [packed[: len(packed) * permille // 1000]]


def main() -> None:
    t0 = time.time()
    run_class(
        "valid pcap (both byte orders, us/ns, Kuznetsov), random packets",
        t.pcap_files(),
        lambda b: [b.data],
    )
    run_class(
        "valid pcapng (SHB/IDB/EPB/SPB/PB/unknown, 1-2 sections)",
        t.pcapng_files(),
        lambda b: [b.data],
    )
    run_class(
        "IP length 0 with any 32-bit origlen (TSO, jumbograms)",
        st.tuples(t.tcp_segments(), st.integers(0, 2**32 - 1)),
        lambda c: [g.pcap_file([g.ethernet(g.ipv4(c[0], total=0))], origlens=[c[1]]).data],
    )
    run_class(
        "damage at a random byte: cut, garbage, bit flip, absurd field, zeros",
        t.damaged(),
        lambda c: [c[1]],
    )
    run_class(
        "cut inside every kind of record/block (header, data, trailer)",
        t.containers.flatmap(lambda b: st.tuples(st.just(b), st.integers(0, len(b.data)))),
        lambda c: [c[0].data[: c[1]]],
    )
    run_class(
        "lying length fields: caplen, block length/trailer, short blocks",
        st.one_of(t.hostile_pcap(), t.hostile_pcapng()),
        lambda c: [c[0].data],
    )
    run_class(
        "mutations of 12 real/test captures (flip, byte, cut, lie, insert, delete)",
        t.mutated_seeds(),
        lambda d: [d],
    )
    run_class(
        "random bytes (bare, after pcap magic, after pcapng magic)",
        st.tuples(st.binary(max_size=512), st.sampled_from([b"", b"\xd4\xc3\xb2\xa1"])),
        lambda c: [c[1] + c[0]],
    )
    run_class(
        "gzip of generated captures, cut at a random byte",
        st.tuples(t.containers, st.integers(0, 1000)),
        gzip_cases,
    )

    # Targeted memory cases: one try each.
    for name, data in sorted(t.SMALL_HOSTILE.items()):
        data = data + bytes(1024 - len(data) % 1024)
        outcome, peak = measure(data)
        ROWS.append((f"1 KB file: {name}", 1, outcome, peak / 2**20))
    outcome, peak = measure(g.raw_deflate_bomb(256 << 20), "bomb.gz")
    ROWS.append(("gzip bomb: 256 MB of zeros in 250 KB", 1, outcome, peak / 2**20))
    co = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    bomb = co.compress(g.pcap_header()) + co.compress(bytes(32 << 20)) + co.flush()
    outcome, peak = measure(bomb, "records.gz")
    ROWS.append(
        (
            "gzip: pcap + 32 MB of zero-length records (2M frames), 16 MiB chunk",
            1,
            outcome,
            peak / 2**20,
        )
    )
    path = t._TMP / "records.gz"
    tracemalloc.start()
    list(CaptureReader(str(path), chunk_bytes=1 << 20))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    ROWS.append(
        (
            "same, 1 MiB chunk (memory follows the chunk, not the file)",
            1,
            "read whole",
            peak / 2**20,
        )
    )
    corpus = Counter()
    peaks = []
    for path in t.CORPUS_FILES:
        outcome, peak = measure(path.read_bytes(), path.name)
        corpus[outcome] += 1
        peaks.append(peak)
    ROWS.append(
        (
            f"regression corpus ({len(t.CORPUS_FILES)} files)",
            len(t.CORPUS_FILES),
            ", ".join(f"{n} {o}" for o, n in corpus.most_common()),
            max(peaks) / 2**20,
        )
    )

    print("| input class | tries | outcome | peak memory (tracemalloc) |")
    print("|---|---|---|---|")
    for label, tries, outcome, peak in ROWS:
        print(f"| {label} | {tries} | {outcome} | {peak:.2f} MiB |")
    print(f"\n({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
