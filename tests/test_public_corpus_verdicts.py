"""Close kinds and closers on the public corpus, as its MANIFEST.md (checked with tshark) says.

Real captures from the tcpdump and dpkt projects; tests/data/corpus/public/MANIFEST.md
states the behaviour each shows. Each entry: close-kind counts, active-closer counts,
RST senders in connection order.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from analyzer import analyze

PUBLIC = Path(__file__).parent / "data/corpus/public"
EXPECTED = {
    # server (port 80) closes first, plus a mid-stream connection with no SYN/FIN
    "dpkt__http.pcap": ({"graceful": 1, "open": 1}, {"server": 1}, []),
    # three client-initiated FIN closes; the third connection is inside an L2TP tunnel
    "dpkt__nb6-http.pcap": ({"graceful": 2}, {"client": 2}, []),
    # two SYN->RST refusals, three never closed, one FIN close by the passive side (179)
    "tcpdump__bgp-4byte-asn.pcap": (
        {"open": 3, "refused": 2, "graceful": 1},
        {"server": 1},
        ["server", "server"],
    ),
    "tcpdump__dns_tcp.pcap": ({"graceful": 1}, {"client": 1}, []),
    # MP_FASTCLOSE then a RST from the server, no FINs
    "tcpdump__mptcp-fclose.pcap": ({"abort": 1}, {}, ["server"]),
    # two refused with RST, one FIN close by the server (6633)
    "tcpdump__of10_pf5240.pcap": ({"refused": 2, "graceful": 1}, {"server": 1}, ["server"] * 2),
    # 15 short redis connections, all closed by the client
    "tcpdump__resp_1_benchmark.pcap": ({"graceful": 15}, {"client": 15}, []),
    # 18 short connections; one (stream 6) closed first by the server
    "tcpdump__resp_3_malicious.pcap": ({"graceful": 18}, {"client": 17, "server": 1}, []),
    # client FIN, retransmitted with data, then the server's FIN
    "tcpdump__ssh.pcap": ({"graceful": 1}, {"client": 1}, []),
    # a single RST from the server carrying reset-cause text
    "tcpdump__tcp_rst_data.pcap": ({"abort": 1}, {}, ["server"]),
    # TFO connections; one is a SYN and a lone FIN never answered
    "tcpdump__tfo-5c1fa7f9ae91.pcap": ({"graceful": 2, "incomplete": 1}, {"client": 3}, []),
    # server (port 43) is the active closer
    "tcpdump__whois.pcap": ({"graceful": 1}, {"server": 1}, []),
}


@pytest.mark.parametrize(("name", "expected"), EXPECTED.items())
def test_public_capture_verdicts(name, expected):
    kinds, closers, rst_senders = expected
    conns = analyze(str(PUBLIC / name)).connections
    assert Counter(c.close.value for c in conns) == kinds
    assert Counter(c.active_closer.value for c in conns if c.active_closer) == closers
    assert [c.rst_sender.value for c in conns if c.rst_sender] == rst_senders


def test_every_public_capture_is_covered():
    assert {p.name for p in PUBLIC.glob("*.pcap")} == set(EXPECTED)
