"""Benchmark the reader and the whole analyzer against tshark, side by side.

    python bench/run.py [--packets 3000000] [--capture FILE] [--skip-tshark]
    python bench/run.py --memory-scaling      # end to end on 1M and 5M packets
    python bench/run.py --memory-scaling --bulk   # the same, one bulk-transfer connection
    python bench/run.py --memory-scaling --bulk --streams 100   # 100 long-lived streams
    python bench/run.py --memory-scaling --report # the same through teardown report --jobs 1
    python bench/run.py --memory-scaling --flood  # the same, a SYN flood (flood.py)
    python bench/run.py --small               # ~1 MB capture, start-up included

Each measurement runs in its own child process; wall time is measured around
it and peak memory comes from os.wait4 (ru_maxrss of that child) or, when the
child starts worker processes, from the sum of their proportional set sizes
(sampled every 0.2 s), so the figures include interpreter start-up, imports and
helpers, as a user would see them. Captures
are generated into bench/out/ (git-ignored) when missing; the file cache is
warmed before timing so that every tool reads from memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"

READER_TARGET = 1_000_000  # segments per second
E2E_VS_TSHARK_TARGET = 20.0  # times faster than tshark's TCP analysis
MEMORY_RATIO_TARGET = 1.5  # peak RSS at 5M packets / at 1M packets
MEMORY_5M_TARGET_MB = 1536
SMALL_TARGET_S = 1.0
ONE_PROCESS = "end to end, one process (--jobs 1)"

# The reader alone: the brief's one-liner, except that an ImportError exits
# with a distinct code so that "not available" can be told from a crash.
NOT_AVAILABLE = 97
READER_CODE = (
    "import sys\n"
    "try:\n"
    "    from analyzer.capture import read_segments\n"
    "except ImportError as e:\n"
    "    print(e, file=sys.stderr); sys.exit(97)\n"
    "t = read_segments(sys.argv[1]); print(len(t))\n"
)
TSHARK_FIELDS = ["-e", "frame.number", "-e", "tcp.stream", "-e", "tcp.flags"]
TSHARK_FIELDS += ["-e", "tcp.analysis.flags", "-e", "tcp.connection.fin_active"]


@dataclass
class Result:
    name: str
    wall: float | None = None
    cpu: float | None = None
    rss_mb: float | None = None
    items: int | None = None  # packets (or segments) processed
    note: str = ""

    @property
    def rate(self) -> float | None:
        if self.wall and self.items:
            return self.items / self.wall
        return None


def run_child(
    cmd: list[str], env: dict | None = None, keep_stdout: bool = False
) -> tuple[int, float, float, float, str, str]:
    """Run cmd; return (exit code, wall s, cpu s, peak RSS MB, stdout, stderr).

    Output goes to /dev/null (as `> /dev/null` would) or to temporary files,
    never to pipes, so that we can reap the child ourselves with os.wait4 and
    keep its rusage."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        sink = out if keep_stdout else subprocess.DEVNULL
        proc = subprocess.Popen(cmd, stdout=sink, stderr=err, cwd=ROOT, env=env)
        tree = TreeMemory(proc.pid)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        tree.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped
        out.seek(0)
        err.seek(0)
        return (
            proc.returncode,
            wall,
            ru.ru_utime + ru.ru_stime,
            # The whole process tree when it had helpers, else that child's own peak.
            max(ru.ru_maxrss / 1024, tree.peak_mb),  # Linux reports ru_maxrss in KiB
            out.read().decode(errors="replace"),
            err.read().decode(errors="replace"),
        )


class TreeMemory:
    """Peak memory of a process and its descendants together, sampled.

    ru_maxrss is the peak of the largest single process; with worker processes
    the machine holds the sum. Proportional set size (PSS) splits pages shared
    by a fork between the sharers, so the sum counts each page once.
    """

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.peak_mb = pid, 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(interval,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _sample(self, interval: float) -> None:
        while not self._done.wait(interval):
            pids = _descendants(self.pid)
            if len(pids) > 1:  # one process: ru_maxrss is exact and not sampled
                self.peak_mb = max(self.peak_mb, sum(_pss_kb(p) for p in pids) / 1024)


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def last_line(text: str) -> str:
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return lines[-1][:100] if lines else ""


def bench_reader(path: Path, python: str) -> Result:
    r = Result("reader (read_segments)")
    rc, wall, cpu, rss, out, err = run_child(
        [python, "-c", READER_CODE, str(path)], child_env(), keep_stdout=True
    )
    if rc == NOT_AVAILABLE:
        r.note = "not available: " + last_line(err)
        return r
    if rc != 0:
        r.note = f"failed (exit {rc}): " + last_line(err)
        return r
    r.wall, r.cpu, r.rss_mb = wall, cpu, rss
    try:
        r.items = int(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        r.note = "unexpected output: " + last_line(out)
    return r


def teardown_command(python: str) -> list[str] | None:
    for candidate in (Path(python).parent / "teardown", shutil.which("teardown")):
        if candidate and Path(candidate).exists():
            return [str(candidate)]
    return None


def bench_end_to_end(
    path: Path,
    python: str,
    packets: int,
    name: str = "end to end (teardown analyze)",
    jobs: int | None = None,
) -> Result:
    r = Result(name)
    cmd = teardown_command(python)
    if cmd is None:
        r.note = "not available: no 'teardown' command"
        return r
    extra = ["--jobs", str(jobs)] if jobs else []
    rc, wall, cpu, rss, _out, err = run_child(
        cmd + ["analyze", str(path), "--format", "json", *extra], child_env()
    )
    if rc != 0:
        r.note = f"failed (exit {rc}): " + last_line(err)
    r.wall, r.cpu, r.rss_mb, r.items = wall, cpu, rss, packets
    return r


def bench_tshark(path: Path, packets: int, analysis: bool) -> Result:
    # Same fields both times; (d) only switches the sequence analysis off.
    r = Result("tshark TCP analysis (c)" if analysis else "tshark fields, no analysis (d)")
    opts = [] if analysis else ["-o", "tcp.analyze_sequence_numbers:FALSE"]
    if shutil.which("tshark") is None:
        r.note = "not available: no tshark"
        return r
    rc, wall, cpu, rss, _out, err = run_child(
        ["tshark", "-r", str(path), *opts, "-T", "fields", *TSHARK_FIELDS]
    )
    if rc != 0:
        r.note = f"failed (exit {rc}): " + last_line(err)
    r.wall, r.cpu, r.rss_mb, r.items = wall, cpu, rss, packets
    return r


def ensure_capture(packets: int, concurrency: int, seed: int, python: str) -> tuple[Path, dict]:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"bench-{packets}-c{concurrency}-s{seed}.pcap"
    truth = path.with_name(path.name[: -len(".pcap")] + ".truth.json")
    if not path.exists() or not truth.exists():
        print(f"generating {path.relative_to(ROOT)} ...", flush=True)
        cmd = [python, str(BENCH / "generate.py"), str(path), "--packets", str(packets)]
        cmd += ["--concurrency", str(concurrency), "--seed", str(seed)]
        subprocess.run(cmd, check=True)
    return path, json.loads(truth.read_text())


def warm_cache(path: Path) -> None:
    """Read the file once so that no tool pays for the first disk read."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def compile_bytecode(python: str) -> None:
    """Compile the package's bytecode, as installing it does: an editable
    install (and PYTHONDONTWRITEBYTECODE, which this machine sets) leaves it
    to each run's imports, which then compiled the sources every time (0.03 s
    of each run's start-up)."""
    subprocess.run([python, "-m", "compileall", "-q", str(ROOT / "analyzer")], check=True)


def machine(python: str) -> str:
    probe = "import sys, numpy; print(sys.version.split()[0], numpy.__version__)"
    try:
        pyver, npver = subprocess.run(
            [python, "-c", probe], capture_output=True, text=True, check=True
        ).stdout.split()
    except (subprocess.CalledProcessError, ValueError):
        pyver, npver = platform.python_version(), "?"
    tshark = "absent"
    if shutil.which("tshark"):
        first = subprocess.run(
            ["tshark", "--version"], capture_output=True, text=True
        ).stdout.splitlines()
        found = re.search(r"\d+\.\d+\.\d+", first[0]) if first else None
        tshark = found.group(0) if found else "?"
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"machine: {os.cpu_count()} cores {cpu}, {platform.system()} {platform.release()}; "
        f"python {pyver}, numpy {npver}, tshark {tshark}"
    )


def fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def print_table(results: list[Result], tshark: Result | None, targets: dict[str, str]) -> None:
    head = (
        f"{'measurement':34} {'wall s':>8} {'cpu s':>8} {'pkts/s':>11} "
        f"{'peak MB':>8} {'vs (c)':>7}  target"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        ratio = None
        if tshark and tshark.wall and r.wall and r is not tshark:
            ratio = tshark.wall / r.wall
        times = fmt(ratio, "6.1f") + ("x" if ratio else " ")
        line = (
            f"{r.name:34} {fmt(r.wall, '8.2f')} {fmt(r.cpu, '8.2f')} {fmt(r.rate, '11,.0f')} "
            f"{fmt(r.rss_mb, '8.0f')} {times:>7}  {targets.get(r.name, '')}"
        )
        print(line)
        if r.note:
            print(f"{'':34} {r.note}")


def progress(r: Result) -> Result:
    """One line as each measurement ends: the tshark runs take minutes."""
    took = f"{r.wall:.1f} s" if r.wall is not None else r.note
    print(f"  {r.name}: {took}", flush=True)
    return r


def verdict(ok: bool | None) -> str:
    return "" if ok is None else ("[met]" if ok else "[MISSED]")


def main_compare(args: argparse.Namespace) -> None:
    if args.capture:
        path, truth = Path(args.capture), {}
        if not path.is_file():
            sys.exit(f"no such capture: {path}")
        tp = path.with_name(path.name.removesuffix(".gz").removesuffix(".pcap") + ".truth.json")
        if tp.exists():
            truth = json.loads(tp.read_text())
        packets = truth.get("packets") or args.packets
    else:
        path, truth = ensure_capture(args.packets, args.concurrency, args.seed, args.python)
        packets = truth["packets"]
    size_mb = path.stat().st_size / 1e6
    conns = truth.get("connections")
    print(
        f"capture: {path} ({size_mb:,.0f} MB, {packets:,} packets"
        + (f", {conns:,} connections" if conns else "")
        + (f", concurrency {truth['concurrency_target']}" if conns else "")
        + ")"
    )
    warm_cache(path)

    reader = progress(bench_reader(path, args.python))
    e2e = progress(bench_end_to_end(path, args.python, packets))
    one = progress(bench_end_to_end(path, args.python, packets, ONE_PROCESS, jobs=1))
    results = [reader, e2e, one]
    tshark_c = None
    if not args.skip_tshark:
        tshark_c = progress(bench_tshark(path, packets, analysis=True))
        results += [tshark_c, progress(bench_tshark(path, packets, analysis=False))]
    if reader.items is not None and reader.items != truth.get("tcp_segments", reader.items):
        reader.note = f"segments {reader.items:,} != truth tcp_segments {truth['tcp_segments']:,}"

    reader_ok = None if reader.rate is None else reader.rate >= READER_TARGET
    e2e_ratio = tshark_c.wall / e2e.wall if (tshark_c and tshark_c.wall and e2e.wall) else None
    e2e_ok = None if e2e_ratio is None else e2e_ratio >= E2E_VS_TSHARK_TARGET
    targets = {
        reader.name: f">= {READER_TARGET:,} segments/s {verdict(reader_ok)}",
        e2e.name: f">= {E2E_VS_TSHARK_TARGET:.0f}x tshark (c) {verdict(e2e_ok)}",
        one.name: "the same in one process",
        "tshark TCP analysis (c)": "reference",
        "tshark fields, no analysis (d)": "second reference",
    }
    print()
    print_table(results, tshark_c, targets)
    if reader.items:
        print(f"\nreader: {reader.items:,} segments, {reader.rate:,.0f} segments/s")


def bench_report(path: Path, python: str, packets: int, name: str) -> Result:
    """``teardown report`` over a directory holding only ``path``, one worker."""
    r = Result(name)
    cmd = teardown_command(python)
    if cmd is None:
        r.note = "not available: no 'teardown' command"
        return r
    with tempfile.TemporaryDirectory(dir=OUT) as work:
        inputs = Path(work) / "in"
        inputs.mkdir()
        (inputs / path.name).symlink_to(path)
        report = [*cmd, "report", str(inputs), "-o", str(Path(work) / "out"), "--jobs", "1"]
        rc, wall, cpu, rss, _out, err = run_child(report, child_env())
    if rc != 0:
        r.note = f"failed (exit {rc}): " + last_line(err)
    r.wall, r.cpu, r.rss_mb, r.items = wall, cpu, rss, packets
    return r


def ensure_made_capture(
    kind: str, packets: int, python: str, streams: int = 1
) -> tuple[Path, dict]:
    """``packets`` packets: ``streams`` bulk-transfer connections side by side
    (bulk.py) or a SYN flood (flood.py)."""
    OUT.mkdir(exist_ok=True)
    path = OUT / (f"{kind}-{packets}.pcap" if streams == 1 else f"{kind}-{packets}-x{streams}.pcap")
    if not path.exists():
        print(f"generating {path.relative_to(ROOT)} ...", flush=True)
        cmd = [python, str(BENCH / f"{kind}.py"), str(path), "--packets", str(packets)]
        if streams > 1:
            cmd += ["--connections", str(streams)]
        subprocess.run(cmd, check=True)
    connections = streams if kind == "bulk" else (packets + 1) // 2
    return path, {"packets": packets, "connections": connections}


def main_memory(args: argparse.Namespace) -> None:
    if args.report:
        runs: dict[str, list[Result]] = {"teardown report --jobs 1": []}
    else:
        runs = {"worker processes (default)": [], ONE_PROCESS: []}
    for n in (1_000_000, 5_000_000):
        if args.bulk or args.flood:
            kind = "bulk" if args.bulk else "flood"
            path, truth = ensure_made_capture(kind, n, args.python, args.streams)
        else:
            path, truth = ensure_capture(n, args.concurrency, args.seed, args.python)
        warm_cache(path)
        size_mb = path.stat().st_size / 1e6
        print(f"capture: {path.name} ({size_mb:,.0f} MB, {truth['connections']:,} connections)")
        if args.report:
            name = f"teardown report, {n // 1_000_000}M packets"
            runs["teardown report --jobs 1"].append(
                progress(bench_report(path, args.python, truth["packets"], name))
            )
            continue
        for how, jobs in zip(runs, (None, 1)):
            name = f"end to end, {n // 1_000_000}M packets" + (", --jobs 1" if jobs else "")
            runs[how].append(
                progress(bench_end_to_end(path, args.python, truth["packets"], name, jobs))
            )
    print()
    print_table([r for rows in runs.values() for r in rows], None, {})
    for how, (small, big) in runs.items():
        if not (small.rss_mb and big.rss_mb) or small.note or big.note:
            continue
        ratio = big.rss_mb / small.rss_mb
        ok = ratio <= MEMORY_RATIO_TARGET and big.rss_mb < MEMORY_5M_TARGET_MB
        print(
            f"{how}: peak memory 5M / 1M = {ratio:.2f}x (target <= {MEMORY_RATIO_TARGET}x), "
            f"5M peak {big.rss_mb:,.0f} MB (target < {MEMORY_5M_TARGET_MB:,} MB) {verdict(ok)}"
        )


def main_small(args: argparse.Namespace) -> None:
    # About 1 MB: the generator averages ~330 bytes per packet.
    path, truth = ensure_capture(3000, 50, args.seed, args.python)
    warm_cache(path)
    print(
        f"capture: {path.name} ({path.stat().st_size / 1e6:.2f} MB, {truth['packets']:,} packets)"
    )
    e2e = bench_end_to_end(path, args.python, truth["packets"], "end to end, small capture")
    results, tshark = [e2e], None
    if not args.skip_tshark:
        tshark = bench_tshark(path, truth["packets"], analysis=True)
        results.append(tshark)
    ok = None if e2e.wall is None or e2e.note else e2e.wall < SMALL_TARGET_S
    print()
    targets = {
        e2e.name: f"< {SMALL_TARGET_S:.0f} s, aim well under {verdict(ok)}",
        "tshark TCP analysis (c)": "reference",
    }
    print_table(results, tshark, targets)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packets", type=int, default=3_000_000, help="size of the generated capture")
    ap.add_argument(
        "--concurrency",
        type=int,
        default=2000,
        help="connections open at once in generated captures",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--capture", help="use this capture instead of a generated one")
    ap.add_argument("--skip-tshark", action="store_true", help="do not run the tshark references")
    ap.add_argument(
        "--memory-scaling",
        action="store_true",
        help="end to end on 1M and 5M packets: peak RSS ratio",
    )
    ap.add_argument(
        "--bulk",
        action="store_true",
        help="with --memory-scaling: captures of one bulk-transfer connection (bulk.py)",
    )
    ap.add_argument(
        "--streams",
        type=int,
        default=1,
        help="with --bulk: this many transfers side by side (long-lived streams)",
    )
    ap.add_argument(
        "--flood",
        action="store_true",
        help="with --memory-scaling: captures of a SYN flood from spoofed sources (flood.py)",
    )
    ap.add_argument(
        "--report",
        action="store_true",
        help="with --memory-scaling: through teardown report (one worker) instead",
    )
    ap.add_argument(
        "--small", action="store_true", help="a ~1 MB capture: start-up dominated wall time"
    )
    ap.add_argument(
        "--python",
        default=str(ROOT / ".venv" / "bin" / "python"),
        help="interpreter for the children",
    )
    args = ap.parse_args(argv)
    if (args.bulk or args.flood or args.report) and not args.memory_scaling:
        ap.error("--bulk, --flood and --report go with --memory-scaling")
    if args.streams != 1 and not args.bulk:
        ap.error("--streams goes with --bulk")
    if args.bulk and args.flood:
        ap.error("--bulk or --flood, not both")
    if not Path(args.python).exists():
        args.python = sys.executable
    sys.stdout.reconfigure(line_buffering=True)  # progress shows when piped
    print(machine(args.python))
    compile_bytecode(args.python)
    if args.memory_scaling:
        main_memory(args)
    elif args.small:
        main_small(args)
    else:
        main_compare(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
