"""Benchmark `teardown report`: captures per second, and the speed-up of --jobs 2 over --jobs 1.

    python bench/batch.py [--copies 5] [--jobs 1 2] [--scheduler local]

Builds bench/out/batch/in/ from copies of the bundled captures (captures/*.pcap,
one directory per copy, like one directory per host), then runs the report as
a user would (`teardown report DIR -o OUT`, a child process, start-up
included) once per --jobs value, each into a fresh OUT. Prints wall time,
captures/s, packets/s and the speed-up over the first --jobs value. Not a test:
it asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out" / "batch"


def build(copies: int) -> Path:
    source = sorted((ROOT / "captures").glob("*.pcap"))
    tree = OUT / "in"
    want = copies * len(source)
    if tree.is_dir() and sum(1 for _ in tree.rglob("*.pcap")) == want:
        return tree
    shutil.rmtree(tree, ignore_errors=True)
    for i in range(copies):
        host = tree / f"host{i:03d}"
        host.mkdir(parents=True)
        for path in source:
            shutil.copy(path, host / path.name)
    return tree


def run(tree: Path, jobs: int, scheduler: str | None) -> dict:
    out = OUT / f"report-j{jobs}{'-' + scheduler if scheduler else ''}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "analyzer.cli", "report", str(tree), "-o", str(out), "-q"]
    cmd += ["--jobs", str(jobs)] + (["--scheduler", scheduler] if scheduler else [])
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"report failed ({done.returncode}): {done.stderr}")
    totals = json.loads((out / "summary.json").read_text())["totals"]
    return {"jobs": jobs, "wall": wall, **totals}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=5, help="copies of the bundled captures")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--scheduler", help="e.g. local: a Dask LocalCluster")
    args = parser.parse_args()
    tree = build(args.copies)
    files = sum(1 for _ in tree.rglob("*.pcap"))
    size = sum(p.stat().st_size for p in tree.rglob("*.pcap"))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}"
    )
    print(f"input: {files} captures, {size / 1e6:.1f} MB, in {tree}")
    results = [run(tree, jobs, args.scheduler) for jobs in args.jobs]
    base = results[0]["wall"]
    print(f"{'jobs':>4} {'wall s':>8} {'captures/s':>11} {'packets/s':>10} {'speed-up':>9}")
    for r in results:
        print(
            f"{r['jobs']:>4} {r['wall']:>8.2f} {r['captures'] / r['wall']:>11.1f} "
            f"{r['packets'] / r['wall']:>10.0f} {base / r['wall']:>8.2f}x"
        )


if __name__ == "__main__":
    main()
