"""What a walk counts per side beyond its events (``walk.SideWalk.facts``)."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.segments import ACK, RST
from analyzer.walk import ROW_COLUMNS, ConnectionWalk

_SEGMENT = st.tuples(st.booleans(), st.sampled_from([64, 128, 255]), st.booleans())


def _rows(segments) -> np.ndarray:
    """Bare ACKs (RST+ACK where the last item says) of a connection caught
    mid-stream: (from the server, TTL, is a RST)."""
    rows = np.zeros((len(segments), len(ROW_COLUMNS) + 1), np.int64)
    for k, (from_server, ttl, rst) in enumerate(segments):
        row = dict(frame=k + 1, ts_ns=10**18 + k * 1000, flags=ACK | (RST if rst else 0),
                   seq=1000, ack=2000, payload_len=0, tsval=-1, ttl=ttl, ip_id=-1)  # fmt: skip
        rows[k, :-1] = [row[name] for name in ROW_COLUMNS]
        rows[k, -1] = from_server
    return rows


@settings(max_examples=200, deadline=None)
@given(st.lists(_SEGMENT, max_size=30), st.integers(0, 30))
def test_ttls_are_counted_per_side_in_the_order_first_seen_without_resets(segments, cut):
    walk = ConnectionWalk(False, 60.0)
    rows = _rows(segments)
    cut = min(cut, len(rows))
    walk.run(rows, 0, cut)  # (in two runs, as a connection walked ahead is)
    walk.run(rows, cut, len(rows))
    for side, from_server in ((walk.client, False), (walk.server, True)):
        ttls = [ttl for server, ttl, rst in segments if server == from_server and not rst]
        expected = dict(Counter(ttls))  # (a Counter keeps the order keys came in)
        assert list(side.facts.ttls.items()) == list(expected.items())
