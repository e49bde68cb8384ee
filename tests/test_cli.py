"""The command line as a user runs it: outputs, ladder, exit codes, stdin."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tests.cli import teardown

ROOT = Path(__file__).parent.parent
CAPTURES = ROOT / "captures"


def test_text_verdict_summary_and_table():
    run = teardown("analyze", str(CAPTURES / "graceful-server-close.pcap"))
    out = run.stdout.decode()
    assert run.returncode == 0
    assert "connections: 1 (graceful 1)" in out
    assert "active closer: server 1" in out
    assert "TIME_WAIT holders: server 1" in out
    assert "CLOSED/TIME_WAIT" in out


def test_ladder_shows_states_and_frames():
    run = teardown("analyze", str(CAPTURES / "simultaneous-close.pcap"), "--conn", "1")
    lines = run.stdout.decode().splitlines()
    assert "close: simultaneous; active closer: both" in lines[1]
    fins = [line for line in lines if line.rstrip().endswith(" fin")]
    assert len(fins) == 2 and all("CLOSING" in line for line in fins[1:])
    assert lines[-1].split()[1:] == ["TIME_WAIT", "TIME_WAIT"]
    assert "->" in fins[0] and "<-" in fins[1]


def test_unknown_connection_is_a_usage_error():
    run = teardown("analyze", str(CAPTURES / "refused.pcap"), "--conn", "7")
    assert run.returncode == 2 and b"no connection 7" in run.stderr
    assert run.stderr.decode().count("\n") == 1


def test_csv_of_unreadable_captures_is_empty():
    bad = ROOT / "tests/data/formats/broken/not-a-capture.pcap"
    run = teardown("analyze", str(bad), "--format", "csv")
    assert run.returncode == 2 and run.stdout == b""
    run = teardown("analyze", str(bad), str(CAPTURES / "refused.pcap"), "--format", "csv")
    lines = run.stdout.decode().splitlines()
    assert run.returncode == 2 and lines[0].startswith("capture,id,") and len(lines) == 2


def test_jsonl_and_csv_have_every_connection():
    path = str(CAPTURES / "port-reuse-client-time-wait.pcap")
    rows = [
        json.loads(x) for x in teardown("analyze", path, "--format", "jsonl").stdout.splitlines()
    ]
    assert [r["incarnation"] for r in rows] == [1, 2]
    assert rows[0]["time_wait"]["ended_by"] == "syn"
    table = list(
        csv.DictReader(io.StringIO(teardown("analyze", path, "--format", "csv").stdout.decode()))
    )
    assert [r["close"] for r in table] == ["graceful", "graceful"]
    assert table[0]["capture"] == path


def test_fail_on_sets_the_exit_status():
    clean = str(CAPTURES / "graceful-client-close.pcap")
    lossy = str(CAPTURES / "rst-unread-data.pcap")
    assert teardown("analyze", clean, "--fail-on", "warning").returncode == 0
    assert teardown("analyze", lossy, "--fail-on", "error").returncode == 1
    assert teardown("analyze", lossy).returncode == 0


def test_stdin_and_gzip(tmp_path):
    import gzip

    data = (CAPTURES / "lost-fin.pcap").read_bytes()
    run = teardown("analyze", "-", "--format", "json", stdin=gzip.compress(data))
    doc = json.loads(run.stdout)
    assert doc["capture"]["compressed"] is True
    assert doc["connections"][0]["fin_retransmissions"]["client"] == 1


def test_unreadable_and_readable_together():
    bad = ROOT / "tests/data/formats/broken/not-a-capture.pcap"
    run = teardown("analyze", str(bad), str(CAPTURES / "refused.pcap"))
    assert run.returncode == 2
    assert run.stderr.decode().count("\n") == 1
    assert b"refused 1" in run.stdout


def test_segments_and_info():
    path = str(CAPTURES / "three-way-close.pcap")
    run = teardown("segments", path, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(run.stdout.decode())))
    assert len(rows) == 10 and rows[0]["frame"] == "1" and rows[0]["flags"] == "2"
    info = teardown("info", path).stdout.decode()
    assert "tcp segments:    10" in info and "ETHERNET (1)" in info


def test_dataframe():
    import analyzer

    df = analyzer.analyze(str(CAPTURES / "timewait-pileup.pcap")).to_dataframe()
    assert len(df) == 2000
    assert set(df["time_wait_side"]) == {"client"}
