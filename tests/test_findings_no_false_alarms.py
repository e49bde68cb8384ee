"""No false alarms: clean closes give no warning or error, and every warning or
error on the public corpus is listed here with the reason it is right."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer import analyze
from analyzer.vocabulary import Severity

ROOT = Path(__file__).parent.parent
CLEAN = [
    "graceful-client-close.pcap",
    "graceful-server-close.pcap",
    "three-way-close.pcap",
    "simultaneous-close.pcap",
    "graceful-close-ipv6.pcap",
    "half-close.pcap",
    "crafted-seq-wrap.pcap",
    "lost-fin.pcap",
    "lost-final-ack.pcap",
    "port-reuse-client-time-wait.pcap",
    "port-reuse-server-time-wait.pcap",
    "refused.pcap",
    "linger-abort.pcap",
    "duplicate-frames.pcap",
    "missed-segment.pcap",
]
# (file, kind, connection): why it is right
PUBLIC_EXPECTED = {
    ("dpkt__http.pcap", "close_wait_stall", 1): "the server (port 80) closed first at frame "
    "40; the client acked at 41 and sent its own FIN only 12 s later (frame 42): a browser "
    "holding a half-closed keep-alive connection, CLOSE_WAIT for 12 s",
}

ZEEK_EXPECTED = {
    ("Teredo.pcap", "rst_suspect_origin", 2): "the RST (frame 50) has TTL 255 while every other "
    "packet from that server has TTL 53: made one hop away, not by the server",
    ("Teredo.pcap", "rst_suspect_origin", 3): "the same for frame 78",
    ("ftp-auth-tls.pcap", "rst_data_loss", 1): "the server sent its FIN (83) and reset (84) while "
    "the client's last 24 bytes (82) were unacknowledged; the RST's seq is the client's ack, so it "
    "is not suspect (RFC 793)",
}


def _serious(a):
    return [f for f in a.findings if f.severity in (Severity.WARNING, Severity.ERROR)]


@pytest.mark.parametrize("name", CLEAN)
def test_clean_captures_raise_nothing_serious(name):
    assert _serious(analyze(str(ROOT / "captures" / name))) == []


def test_public_corpus_warnings_are_all_explained():
    found = set()
    for path in sorted((ROOT / "tests/data/corpus/public").glob("*.pcap")):
        for f in _serious(analyze(str(path))):
            found.add((path.name, f.kind.value, f.connection))
    assert found == set(PUBLIC_EXPECTED)


def test_zeek_corpus_warnings_are_all_explained():
    found = set()
    for path in sorted((ROOT / "tests/data/corpus/zeek").glob("*.pcap*")):
        if path.suffix == ".tsv":
            continue
        for f in _serious(analyze(str(path))):
            found.add((path.name, f.kind.value, f.connection))
    assert found == set(ZEEK_EXPECTED)
