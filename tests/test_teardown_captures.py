"""Teardown verdicts on real Linux captures, against what captures/manifest.json says they show.

The manifest was written from the packets (and the kernel's own `ss` output
during recording), not from this analyzer.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from analyzer import analyze
from analyzer.vocabulary import Side

CAPTURES = Path(__file__).parent.parent / "captures"
MANIFEST = json.loads((CAPTURES / "manifest.json").read_text())
# manifest key_frames name -> event kinds the analyzer may give that frame
KEY_FRAME_KINDS = {
    "syn": {"syn"},
    "syn_ack": {"syn_ack"},
    "handshake_ack": {"handshake_ack"},
    "client_fin": {"fin"},
    "server_fin": {"fin"},
    "first_fin": {"fin"},
    "second_fin": {"fin"},
    "final_ack": {"final_ack"},
    "ack_of_client_fin": {"fin_ack", "final_ack"},
    "ack_of_server_fin": {"fin_ack", "final_ack"},
    # "<side>_fin_ack" names the FIN+ACK of a 3-way close: a FIN first of all.
    "server_fin_ack": {"fin", "fin_ack", "final_ack"},
    "client_fin_ack": {"fin", "fin_ack", "final_ack"},
    "rst": {"rst"},
    "assassinating_rst": {"rst"},
    "client_fin_retransmission": {"fin_retransmission"},
    "server_fin_retransmission": {"fin_retransmission"},
    "time_wait_reack": {"time_wait_ack"},
    "time_wait_ack": {"time_wait_ack"},
    "old_duplicate": {"time_wait_segment"},
    "keepalive_probes": {"keepalive"},
    "data_after_fin": {"data_after_fin"},
}
ENTRIES = [e for e in MANIFEST if "connections" in e]


def _conn_cases():
    for entry in ENTRIES:
        for i, expected in enumerate(entry["connections"]):
            yield pytest.param(entry["file"], i, expected, id=f"{entry['file']}#{i + 1}")


@pytest.fixture(scope="module")
def analyses():
    return {e["file"]: analyze(str(CAPTURES / e["file"])) for e in ENTRIES}


@pytest.mark.parametrize("file", [e["file"] for e in ENTRIES])
def test_connection_count(analyses, file):
    entry = next(e for e in ENTRIES if e["file"] == file)
    assert len(analyses[file].connections) == len(entry["connections"])


@pytest.mark.parametrize(("file", "i", "expected"), list(_conn_cases()))
def test_verdicts(analyses, file, i, expected):
    c = analyses[file].connections[i]
    assert str(c.client) == expected["client"]
    assert str(c.server) == expected["server"]
    assert c.close.value == expected["close"]
    assert (c.active_closer and c.active_closer.value) == expected["active_closer"]
    assert (c.rst_sender and c.rst_sender.value) == expected["rst_sender"]
    assert c.half_close == expected["half_close"]
    if "incarnation" in expected:
        assert c.incarnation == expected["incarnation"]
    if "frames" in expected:
        assert [c.first_frame, c.last_frame] == expected["frames"]
    assert {s.value: n for s, n in c.fin_retransmissions.items()} == expected["fin_retransmissions"]
    assert {s.value: st.value for s, st in c.end_states.items()} == expected["end_states"]
    tw = c.time_wait
    assert (tw and tw.side.value) == expected["time_wait_side"]
    if tw:
        # The manifest says "capture_end" where the JSON says null: still running.
        ended = tw.ended_by.value if tw.ended_by else "capture_end"
        assert ended == expected["time_wait_ended_by"]


@pytest.mark.parametrize(("file", "i", "expected"), list(_conn_cases()))
def test_key_frames(analyses, file, i, expected):
    c = analyses[file].connections[i]
    kinds = {e.frame: e.kind.value for e in c.events}
    checked = 0
    for name, frames in expected.get("key_frames", {}).items():
        if name == "time_wait_start":
            frame_time = {e.frame: e.time for e in c.events}
            assert c.time_wait.start == pytest.approx(frame_time[frames[0]], abs=1e-6)
            checked += 1
        elif name in KEY_FRAME_KINDS:
            for frame in frames:
                assert kinds.get(frame) in KEY_FRAME_KINDS[name], f"{name} frame {frame}"
                checked += 1
    assert checked > 0


def test_time_wait_pileup():
    entry = next(e for e in MANIFEST if e["file"] == "timewait-pileup.pcap")
    summary = entry["summary"]
    a = analyze(str(CAPTURES / entry["file"]))
    assert len(a.connections) == summary["connections"]
    assert Counter(c.close.value for c in a.connections) == summary["close"]
    assert Counter(c.active_closer.value for c in a.connections) == summary["active_closer"]
    assert Counter(c.time_wait.side.value for c in a.connections) == summary["time_wait_side"]
    running = sum(1 for c in a.connections if c.time_wait.ended_by is None)
    assert running == summary["time_wait_at_capture_end"]
    assert (
        Counter(c.end_states[Side.CLIENT].value for c in a.connections)
        == (summary["end_states"]["client"])
    )


# Where the manifest lists abortive_close beside a finding that explains the
# RST, the tool reports only the explaining finding (docs/findings.md).
RST_EXPLAINED = {"rst_unread_data", "keepalive_timeout", "rst_suspect_origin", "rst_data_loss"}


@pytest.mark.parametrize(("file", "i", "expected"), list(_conn_cases()))
def test_findings(analyses, file, i, expected):
    c = analyses[file].connections[i]
    kinds = {f.kind.value for f in analyses[file].findings if f.connection == c.id}
    wanted = set(expected["findings"])
    if wanted & RST_EXPLAINED:
        wanted.discard("abortive_close")
    # port_reuse is reported on the new incarnation; assassination on the TIME_WAIT holder.
    assert kinds == wanted


def test_pileup_port_exhaustion():
    entry = next(e for e in MANIFEST if e["file"] == "timewait-pileup.pcap")
    a = analyze(str(CAPTURES / entry["file"]))
    kinds = [f.kind.value for f in a.findings]
    assert kinds == entry["summary"]["findings"]
    risk = a.findings[0]
    assert risk.detail["peak"] == entry["summary"]["time_wait_at_capture_end"]
    assert risk.detail["rate"] == pytest.approx(entry["summary"]["rate_per_s"], rel=0.01)


def test_time_wait_occupancy_matches_kernel_count():
    """The occupancy rebuilt from the pcap against `ss state time-wait` sampled during recording."""
    samples = json.loads((CAPTURES / "timewait-pileup.ss.json").read_text())["samples"]
    a = analyze(str(CAPTURES / "timewait-pileup.pcap"))
    (host,) = a.time_wait_summary.hosts
    times = [t for t, _ in host.occupancy.series]
    counts = [n for _, n in host.occupancy.series]
    import bisect

    for sample in samples:
        i = bisect.bisect_right(times, sample["t"]) - 1
        rebuilt = counts[i] if i >= 0 else 0
        # ss takes a few ms to list 2000 sockets; the sample time is its midpoint.
        assert abs(rebuilt - sample["time_wait"]) <= 5, sample
    assert host.occupancy.peak == max(s["time_wait"] for s in samples)


@pytest.mark.parametrize(
    "entry", [e for e in ENTRIES if "capture_findings" in e], ids=lambda e: e["file"]
)
def test_capture_findings(analyses, entry):
    """Findings about the capture itself (no connection), where the manifest lists them."""
    a = analyses[entry["file"]]
    kinds = sorted(f.kind.value for f in a.findings if f.connection is None)
    assert kinds == sorted(entry["capture_findings"])


# The frames a finding must point at, by the manifest's key-frame names.
FINDING_FRAMES = {
    "rst_unread_data": ["unread_data", "rst"],
    "rst_data_loss": ["rst"],
    "rst_after_close": ["client_fin", "server_data_after_client_fin", "rst"],
    "abortive_close": ["rst"],
    "fin_retransmission": [
        "client_fin_retransmission",
        "server_fin_retransmission",
        "time_wait_reack",
    ],
    "close_wait_stall": ["ack_of_client_fin"],
    "time_wait_assassination": [
        "old_duplicate",
        "time_wait_ack",
        "assassinating_rst",
        "assassination_new_syn",
        "assassination_time_wait_bare_ack",
        "assassination_client_rst",
    ],
    "keepalive_timeout": ["keepalive_probes", "rst"],
    "rst_suspect_origin": ["suspect_rst"],
    "data_after_fin": ["client_fin", "data_after_fin"],
    "port_reuse": ["syn"],
}


@pytest.mark.parametrize(("file", "i", "expected"), list(_conn_cases()))
def test_finding_frames(analyses, file, i, expected):
    """Each finding points at the frames that prove it."""
    c = analyses[file].connections[i]
    key_frames = expected.get("key_frames", {})
    for f in analyses[file].findings:
        if f.connection != c.id:
            continue
        wanted = {
            frame for name in FINDING_FRAMES[f.kind.value] for frame in key_frames.get(name, [])
        }
        assert wanted <= set(f.frames), (f.kind.value, sorted(wanted), f.frames)
