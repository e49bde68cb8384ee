"""`teardown report`: batch reports over capture directories.

One directory tree (built in tmp_path from the bundled captures and the format
test files) mixes good captures, gzip, pcapng, a truncated capture, an
unreadable one, a non-capture, an empty file, a FIFO and a hostile file name.
The report must list every good capture's connections and findings exactly as
`teardown analyze` does, list the bad ones in errors.json, and exit as the
issue specifies; resume must redo nothing and lose nothing.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from analyzer import analyze
from analyzer.batch import ReportUsageError, report, slugs, sniff, walk
from analyzer.output.document import analysis_document
from analyzer.report.tables import csv_cell

ROOT = Path(__file__).parent.parent
CAPTURES = ROOT / "captures"
FORMATS = ROOT / "tests/data/formats"
BROKEN = FORMATS / "broken"
HOSTILE = "=HYPERLINK(1)<img src=x onerror=alert(1)>.pcap"
GOOD = [
    "graceful-client-close.pcap",
    "time-wait-assassination.pcap",
    "lost-final-ack.pcap",
    "rst-unread-data.pcap",
    "port-reuse-client-time-wait.pcap",
    "refused.pcap",
]


def build_tree(base: Path) -> Path:
    """incident/ with good, gzip, pcapng, truncated, unreadable, non-capture, empty files."""
    top = base / "incident"
    (top / "hostA").mkdir(parents=True)
    (top / "hostB" / "nested").mkdir(parents=True)
    for name in GOOD:
        shutil.copy(CAPTURES / name, top / "hostA" / name)
    shutil.copy(FORMATS / "pcap-gzip.pcap.gz", top / "hostB" / "nested" / "eth0.pcap.gz")
    shutil.copy(FORMATS / "pcapng-single-if.pcapng", top / "hostB" / "nested" / "eth1.pcapng")
    # Same base name in another directory: must not collide.
    shutil.copy(CAPTURES / "lost-fin.pcap", top / "hostB" / "graceful-client-close.pcap")
    shutil.copy(CAPTURES / "linger-abort.pcap", top / "hostB" / HOSTILE)
    shutil.copy(BROKEN / "pcap-trunc-mid-data.pcap", top / "hostB" / "truncated.pcap")
    shutil.copy(BROKEN / "pcap-trunc-global-header.pcap", top / "hostB" / "header-cut.pcap")
    shutil.copy(BROKEN / "not-a-capture.pcap", top / "hostB" / "not-a-capture.pcap")
    shutil.copy(BROKEN / "empty.pcap", top / "hostB" / "empty.pcap")
    (top / "NOTES.txt").write_text("tcpdump -i any -w eth0.pcap\n")
    (top / "hostB" / "log.gz").write_bytes(gzip.compress(b"just a log line\n"))
    os.mkfifo(top / "hostB" / "fifo.pcap")  # reading it would block: must be skipped
    return top


READ = 6 + 5  # GOOD, eth0.pcap.gz, eth1.pcapng, hostB's two copies, truncated.pcap
SKIPPED = {"not-a-capture.pcap", "empty.pcap", "NOTES.txt", "log.gz", "fifo.pcap"}


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return build_tree(tmp_path_factory.mktemp("tree"))


@pytest.fixture(scope="module")
def made(tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "out"
    return report([str(tree)], out, jobs=2), out


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def by_path(out: Path) -> dict[str, dict]:
    summary = json.loads((out / "summary.json").read_text())
    return {c["path"]: c for c in summary["captures"]}


# --- walking --------------------------------------------------------------------


def test_walk_takes_captures_by_content(tree):
    candidates, skipped = walk([str(tree)])
    assert len(candidates) == READ + 1  # + header-cut.pcap: has a pcap magic, cannot be read
    assert {Path(s.path).name for s in skipped} == SKIPPED
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert reasons["empty.pcap"] == "empty file"
    assert reasons["fifo.pcap"] == "not a regular file"
    assert "gzip" in reasons["log.gz"]
    assert all(c.name.startswith("incident/") for c in candidates)
    assert sniff(str(FORMATS / "pcap-gzip.pcap.gz")) is None
    assert sniff(str(BROKEN / "pcap-gzip-truncated.pcap.gz")) is None


def test_slugs_are_unique_and_safe():
    names = ["a/b.pcap", "a__b.pcap", "x/<y>.pcap", "x/_y_.pcap", "z.pcap"]
    made = slugs(names)
    assert len(set(made.values())) == len(names)
    assert all(set(s) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
               for s in made.values())  # fmt: skip
    assert slugs(names) == made  # stable


def test_csv_cells_are_neutralised():
    assert csv_cell("=1+2") == "'=1+2"
    assert csv_cell("+1") == "'+1"
    assert csv_cell("-1") == "'-1"
    assert csv_cell("@SUM(A1)") == "'@SUM(A1)"
    assert csv_cell("10.0.0.1:80") == "10.0.0.1:80"
    assert csv_cell(-1) == -1  # numbers stay numbers


# --- the report's content -----------------------------------------------------------


def test_report_lists_every_good_capture_as_analyze_does(made, tree):
    summary, out = made
    assert summary.captures == READ
    assert summary.found == READ + 1
    assert not summary.interrupted and not summary.pending
    rows = read_csv(out / "connections.csv")
    findings = read_jsonl(out / "findings.jsonl")
    captures = by_path(out)
    assert len(captures) == READ
    for path, entry in captures.items():
        a = analyze(path)
        doc = json.loads((out / entry["document"]).read_text())
        assert doc == json.loads(json.dumps(analysis_document(a)))
        mine = [r for r in rows if r["capture"].lstrip("'") == entry["name"]]
        assert [int(r["id"]) for r in mine] == [c.id for c in a.connections]
        assert [r["close"] for r in mine] == [c.close.value for c in a.connections]
        theirs = [f for f in findings if f["capture_path"] == path]
        assert [(f["kind"], f["connection"]) for f in theirs] == [
            (f.kind.value, f.connection) for f in a.findings
        ]
        assert entry["connections"] == len(a.connections)
        assert entry["frames"] == a.capture.frames
    assert summary.connections == len(rows)
    assert sum(summary.findings.values()) == len(findings)
    truncated = captures[str(tree / "hostB" / "truncated.pcap")]
    assert truncated["truncated"] and truncated["warnings"]


def test_errors_json_lists_the_bad_files(made, tree):
    _, out = made
    errors = json.loads((out / "errors.json").read_text())
    [bad] = errors["unreadable"]
    assert bad["path"] == str(tree / "hostB" / "header-cut.pcap")
    assert bad["error_kind"] == "unreadable" and "cut short" in bad["error"]
    assert {Path(s["path"]).name for s in errors["skipped"]} == SKIPPED
    summary = json.loads((out / "summary.json").read_text())
    assert summary["totals"]["unreadable"] == 1
    assert summary["totals"]["skipped"] == len(SKIPPED)


def test_report_files_are_self_contained_and_escaped(made):
    _, out = made
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "<img src=x onerror" not in page
    assert "=HYPERLINK(1)&lt;img src=x onerror=alert(1)&gt;.pcap" in page
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page
    assert page.count('src="data:image/') >= 3  # closes chart, ladders, occupancy plots
    links = set(re.findall(r'href="#(ladder-[^"]+)"', page))
    assert links and links == set(re.findall(r'id="(ladder-[^"]+)"', page))
    for link in links:  # each link lands on a drawn ladder
        assert page.index('src="data:image/svg+xml', page.index(f'id="{link}"'))
    names = {r["capture"] for r in read_csv(out / "connections.csv")}
    assert not any(n.startswith(("=", "+", "-", "@")) for n in names)
    assert sorted(p.name for p in out.iterdir()) == [
        ".teardown-report",
        "captures",
        "connections.csv",
        "errors.json",
        "findings.jsonl",
        "index.html",
        "summary.json",
    ]
    assert not list(out.rglob("*.tmp"))


def test_hostile_names_in_csv_are_neutralised(tree, tmp_path, monkeypatch):
    # Named on the command line, the file's name is the capture's name: it starts with "=".
    shutil.copy(tree / "hostB" / HOSTILE, tmp_path / HOSTILE)
    monkeypatch.chdir(tmp_path)
    summary = report([HOSTILE], "out", jobs=1)
    assert summary.captures == 1
    [row] = read_csv(tmp_path / "out" / "connections.csv")
    assert row["capture"] == "'" + HOSTILE
    assert read_jsonl(tmp_path / "out" / "findings.jsonl")[0]["capture"] == HOSTILE


# --- the command line -----------------------------------------------------------------


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 120):
    return subprocess.run(
        [sys.executable, "-m", "analyzer.cli", "report", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )


def test_cli_exit_statuses(tree, tmp_path):
    ok = run_cli(str(tree), "-o", str(tmp_path / "a"), "--jobs", "2")
    assert ok.returncode == 0, ok.stderr
    # Not a terminal: plain log lines, one per capture, and what was skipped.
    lines = [x for x in ok.stderr.splitlines() if x.startswith("teardown: [")]
    assert len(lines) == READ + 1
    assert f"skipped {len(SKIPPED)} files" in ok.stderr
    assert "header-cut.pcap: error:" in ok.stderr
    assert json.loads((tmp_path / "a" / "summary.json").read_text())["totals"]["captures"] == READ

    failing = run_cli(str(tree), "-o", str(tmp_path / "b"), "--fail-on", "error", "-q")
    assert failing.returncode == 1, failing.stderr  # rst_unread_data is an error
    assert failing.stderr == ""

    assert run_cli(str(tmp_path / "missing"), "-o", str(tmp_path / "c")).returncode == 2
    assert run_cli(str(tree)).returncode == 2  # no -o
    assert run_cli(str(tree), "-o", str(tmp_path / "c"), "--jobs", "0").returncode == 2

    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(BROKEN / "pcap-trunc-global-header.pcap", bad / "x.pcap")
    shutil.copy(BROKEN / "not-a-capture.pcap", bad / "y.pcap")
    nothing = run_cli(str(bad), str(BROKEN / "empty.pcap"), "-o", str(tmp_path / "d"))
    assert nothing.returncode == 3, nothing.stderr
    errors = json.loads((tmp_path / "d" / "errors.json").read_text())
    assert len(errors["unreadable"]) == 2  # x.pcap, and empty.pcap named on the command line
    assert "No capture could be read" in (tmp_path / "d" / "index.html").read_text()


# --- resume ---------------------------------------------------------------------------------


class Interrupt:
    """Ctrl-C after ``n`` captures, as the user would press it."""

    def __init__(self, n: int) -> None:
        self.n, self.seen = n, []

    def __call__(self, state) -> None:
        self.seen.append(state["name"])
        if len(self.seen) == self.n:
            raise KeyboardInterrupt


def test_interrupted_run_resumes_without_redoing_or_losing(tree, tmp_path, made):
    _, full = made
    out = tmp_path / "out"
    stop = Interrupt(4)
    first = report([str(tree)], out, jobs=1, on_result=stop)
    assert first.interrupted
    assert first.analysed == stop.seen
    assert len(first.pending) == READ + 1 - 4
    run = json.loads((out / "summary.json").read_text())["run"]
    assert run["interrupted"] and run["pending"] == first.pending
    assert "Incomplete" in (out / "index.html").read_text()

    second = report([str(tree)], out, jobs=2, resume=True)
    assert not second.interrupted and not second.pending
    assert sorted(second.reused) == sorted(first.analysed)  # nothing redone
    assert sorted(second.analysed) == sorted(first.pending)  # the rest, once
    assert (out / "connections.csv").read_text() == (full / "connections.csv").read_text()
    assert (out / "findings.jsonl").read_text() == (full / "findings.jsonl").read_text()

    # Unchanged files and options: nothing to do at all.
    third = report([str(tree)], out, jobs=2, resume=True)
    assert third.analysed == [] and len(third.reused) == READ + 1
    # A changed file is analysed again; so is everything under other options.
    changed = tree / "hostA" / "refused.pcap"
    original = changed.read_bytes()
    try:
        changed.write_bytes((CAPTURES / "three-way-close.pcap").read_bytes())
        fourth = report([str(tree)], out, jobs=2, resume=True)
        assert fourth.analysed == ["incident/hostA/refused.pcap"]
    finally:
        changed.write_bytes(original)
    fifth = report([str(tree)], out, jobs=2, resume=True, time_wait=30.0)
    assert len(fifth.analysed) == READ + 1 and not fifth.reused


COPIES = 5


def test_killed_run_resumes(tree, tmp_path):
    """SIGKILL the whole run (parent and workers) mid-way; --resume finishes it."""
    many = tmp_path / "many"
    for i in range(COPIES):
        shutil.copytree(tree / "hostA", many / f"host{i:02d}")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "analyzer.cli", "report", str(many), "-o", str(out), "--jobs", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    state = out / ".teardown-report"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(state.glob("*.json"))) < 3:
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    states = [json.loads(p.read_text()) for p in state.glob("*.json")]
    done = {s["name"] for s in states}
    total = COPIES * len(GOOD)
    assert 3 <= len(done) < total, "the run finished before it could be killed"
    assert not (out / "summary.json").exists()
    for s in states:  # each finished capture's document is whole
        assert json.loads((out / s["document"]).read_text())["connections"]

    again = run_cli(str(many), "-o", str(out), "--resume", "--jobs", "2")
    assert again.returncode == 0, again.stderr
    run = json.loads((out / "summary.json").read_text())["run"]
    assert set(run["reused"]) == done
    assert len(run["analysed"]) == total - len(done)
    assert not set(run["analysed"]) & done
    assert len(read_csv(out / "connections.csv")) == COPIES * sum(
        len(analyze(str(CAPTURES / n)).connections) for n in GOOD
    )


# --- workers that die or hang -------------------------------------------------------------


def _holders(path: Path) -> list[int]:
    """Pids of the processes that have ``path`` open (Linux /proc)."""
    pids = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            for fd in fd_dir.iterdir():
                if os.readlink(fd) == str(path):
                    pids.append(int(fd_dir.parent.name))
                    break
        except OSError:
            continue
    return pids


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")
def test_a_killed_worker_costs_only_its_capture(tree, tmp_path):
    fifo = tmp_path / "stuck.pcap"
    os.mkfifo(fifo)  # named on the command line it is taken, and its reader blocks

    def kill_its_worker():
        # Opening the write end waits for the worker to open the read end; then
        # the worker blocks reading, with the FIFO open, and can be found.
        writer = os.open(fifo, os.O_WRONLY)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                for pid in set(_holders(fifo)) - {os.getpid()}:
                    os.kill(pid, signal.SIGKILL)
                    return
                time.sleep(0.01)
        finally:
            os.close(writer)

    killer = threading.Thread(target=kill_its_worker)
    killer.start()
    # timeout: a safety net in case the worker is not found; it does not fire otherwise
    summary = report([str(tree / "hostA"), str(fifo)], tmp_path / "out", jobs=2, timeout=60)
    killer.join()
    assert summary.captures == len(GOOD)
    [error] = summary.unreadable
    assert error["path"] == str(fifo) and "killed by SIGKILL" in error["error"]
    # A killed worker's capture is tried again by --resume (it may have been the machine).
    [path] = (tmp_path / "out/.teardown-report").glob("*stuck.pcap.json")
    state = json.loads(path.read_text())
    assert state["error_kind"] == "worker_died"


def test_a_hung_capture_times_out(tree, tmp_path):
    fifo = tmp_path / "hung.pcap"
    os.mkfifo(fifo)
    summary = report([str(tree / "hostA"), str(fifo)], tmp_path / "out", jobs=2, timeout=1.0)
    assert summary.captures == len(GOOD)
    [error] = summary.unreadable
    assert "longer than 1 s" in error["error"]


def test_usage_errors(tmp_path):
    with pytest.raises(ReportUsageError):
        report([str(tmp_path / "missing")], tmp_path / "out")
    with pytest.raises(ReportUsageError):
        report(["-"], tmp_path / "out")


# --- Dask ---------------------------------------------------------------------------------


def _comparable(out: Path) -> dict:
    summary = json.loads((out / "summary.json").read_text())
    del summary["run"]  # timing, scheduler, what this run did
    return summary


def test_dask_local_cluster_makes_the_same_report(tree, tmp_path, made):
    pytest.importorskip("distributed", reason="the dask extra is not installed")
    _, local = made
    out = tmp_path / "dask"
    summary = report([str(tree)], out, scheduler="local", jobs=2)
    assert summary.captures == READ and len(summary.unreadable) == 1
    run = json.loads((out / "summary.json").read_text())["run"]
    assert run["scheduler"] == "local"
    assert _comparable(out) == _comparable(local)
    for name in ("connections.csv", "findings.jsonl", "errors.json"):
        assert (out / name).read_text() == (local / name).read_text(), name
    for doc in (local / "captures").iterdir():
        assert (out / "captures" / doc.name).read_text() == doc.read_text()


# --- the page in a real browser ---------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
def test_index_html_renders_in_headless_chromium(made, tmp_path):
    _, out = made
    page = (out / "index.html").resolve().as_uri()
    shot = out / "screenshot.png"
    common = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
    ]
    dom = subprocess.run([*common, "--dump-dom", page], capture_output=True, text=True, timeout=90)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "Uncaught" not in dom.stderr
    assert "Port-exhaustion risk" in dom.stdout
    assert "Findings by kind and severity" in dom.stdout
    assert "time_wait_assassination" in dom.stdout
    assert "header-cut.pcap" in dom.stdout  # the unreadable capture is named
    assert "<img src=x onerror" not in dom.stdout  # the hostile name stayed text
    taken = subprocess.run(
        [*common, f"--screenshot={shot}", "--window-size=1280,2000", page],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert "Uncaught" not in taken.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
    shot.unlink()  # not part of the report
