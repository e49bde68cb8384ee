# cython: language_level=3
"""Connections -> findings, dispatched: each detector (one module per family)
is called for the connections that have what it looks at. Compiled: most
connections have none of it, and its ten tests of a compiled ``Connection``'s
fields, read from Python, were a fifth of judging (which took 1.15 -> 1.05 s
on 3M packets)."""

import pickle

from ..connection_types cimport Connection, SideFacts

from ..output.json_text import finding_json_bytes
from .artefacts import ArtefactTally
from .closes import (
    StillInCloseWait,
    close_wait_at_end,
    close_wait_stalls,
    data_after_fin,
    fin_retransmissions,
)
from .resets import reset_findings
from .reuse import reuse_findings

# The order findings are reported in: capture-wide TIME_WAIT pressure first
# (added at the end), then each connection's own findings in id order, then
# 4-tuple reuse in order of the connection that revealed it, then artefacts.
_OWN, _REUSE = 1, 2
# Finding details that name another connection.
CONNECTION_FIELDS = ("previous_connection", "new_connection")


def judge(list connections not None, *, time_wait, close_wait_threshold, capture_end=None):
    """The findings on some connections, each as its place in the report
    (family, connection), the connection it names and the one its detail
    names (0: none), then the finding pickled and its JSON with ``null`` for
    both, ids being final only at the end (``json_text.named_spill`` gives
    them). One of the two is empty: the JSON, when more than ids must wait
    for the end (the side is still in CLOSE_WAIT); else the pickle. And the
    ids of the connections they name.

    Every incarnation of a 4-tuple must come in one call (4-tuple reuse is
    judged between them). ``capture_end``: where the capture ends, if it has
    been read: a side still in CLOSE_WAIT is judged now, not at the end.
    """
    judged = []
    named = set()
    cdef Connection c
    cdef SideFacts client, server

    def keep(family, Connection c, item):
        if capture_end is not None and isinstance(item, StillInCloseWait):
            # (Judged at the end, 7,000 of them on 3M packets were unpickled and
            # written while nothing else ran.)
            item = close_wait_at_end(item, capture_end, close_wait_threshold)
        text, also = _json_before_numbering(item)
        # (Its JSON says all a finding does: it is pickled only when there is none.)
        data = b"" if text else pickle.dumps(item, pickle.HIGHEST_PROTOCOL)
        judged.append((family, c.id, item.connection, also, data, text))
        named.add(item.connection)

    artefacts = ArtefactTally()
    # Each detector is called only when the connection has what it looks at
    # (most connections have none of it): a call costs more than the test.
    for c in connections:
        if c.resets:
            for f in reset_findings(c):
                keep(_OWN, c, f)
        if c.fin_resends:
            for f in fin_retransmissions(c):
                keep(_OWN, c, f)
        client, server = c.facts.values()
        if client.fin_ack_time is not None or server.fin_ack_time is not None:
            for f in close_wait_stalls(c, close_wait_threshold):
                keep(_OWN, c, f)
        if client.data_after_fin_frames or server.data_after_fin_frames:
            for f in data_after_fin(c):
                keep(_OWN, c, f)
        if c.duplicate_frames or c.missed_frames:
            artefacts.add(c)
    for c, f in reuse_findings(connections, time_wait):
        keep(_REUSE, c, f)
    return judged, artefacts, named


def _json_before_numbering(item):
    """The JSON the report will have of ``item``, but for the ids of its
    connection and of the one its detail names, if any (``null`` for both),
    and the provisional id of that other (0: none); or, if more than that
    waits for the end, nothing. (Made where connections are walked: at the
    end, while nothing else can run, turning a pickle into JSON cost half a
    second on 3M packets, and the port reuse findings, which name the
    previous connection, 0.15 s more.)"""
    if isinstance(item, StillInCloseWait):
        return b"", 0
    others = [k for k in CONNECTION_FIELDS if k in item.detail]
    if len(others) > 1:
        return b"", 0  # (``named_spill`` has a place for one)
    if not others:
        return finding_json_bytes(item), 0
    return finding_json_bytes(item, others[0]), item.detail[others[0]] or 0
