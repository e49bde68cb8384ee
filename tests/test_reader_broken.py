"""Damaged files: keep every whole record before the damage, name the byte offset, never crash.

The files and where their damage starts are described in
tests/data/formats/broken/README.md. Offsets here are where the damaged record
(or block) starts, which is where reading had to stop.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.capture import CaptureError, read_capture
from tests.cli import teardown

BROKEN = Path(__file__).parent / "data/formats/broken"

# file -> (whole frames kept, byte offset named in the warning)
PARTIAL = {
    "pcap-trunc-mid-data.pcap": (36, 4746),
    "pcap-trunc-mid-header.pcap": (36, 4746),
    "pcap-absurd-caplen.pcap": (5, 482),
    "pcapng-trunc-mid-block.pcapng": (36, 5660),
    "pcapng-blocklen-not-mult4.pcapng": (6, 776),
    "pcapng-blocklen-trailer-mismatch.pcapng": (6, 776),
    "pcap-gzip-truncated.pcap.gz": (15, 1590),
}
UNREADABLE = {
    "empty.pcap": "empty file",
    "not-a-capture.pcap": "not a pcap or pcapng capture",
    "pcap-trunc-global-header.pcap": "file header is cut short",
    "pcapng-no-shb.pcapng": "not a pcap or pcapng capture",
}


@pytest.mark.parametrize(("name", "expected"), PARTIAL.items())
def test_partial_files_keep_whole_records(name, expected):
    frames, offset = expected
    info = read_capture(str(BROKEN / name)).info
    assert info.frames == frames
    assert info.truncated
    assert any(f": byte {offset}: " in w for w in info.warnings), info.warnings
    assert all(w.startswith(str(BROKEN / name)) for w in info.warnings)


@pytest.mark.parametrize(("name", "message"), UNREADABLE.items())
def test_unreadable_files_raise_one_clear_error(name, message):
    with pytest.raises(CaptureError) as e:
        read_capture(str(BROKEN / name))
    text = str(e.value)
    assert message in text and "byte 0" in text and "\n" not in text


def test_well_formed_oddities():
    assert read_capture(str(BROKEN / "pcap-header-only.pcap")).info.frames == 0
    info = read_capture(str(BROKEN / "pcap-linktype-147.pcap")).info
    assert info.frames == 37 and info.tcp_segments == 0
    assert any("link type 147 is not supported" in w for w in info.warnings)


@pytest.mark.parametrize("name", [*PARTIAL, *UNREADABLE])
def test_cli_never_shows_a_traceback(name):
    run = teardown("analyze", str(BROKEN / name), text=True)
    assert "Traceback" not in run.stderr
    if name in UNREADABLE:
        assert run.returncode == 2
        assert run.stderr.count("\n") == 1 and run.stderr.startswith("teardown: ")
    else:
        assert run.returncode == 0
        assert "warning:" in run.stdout
