"""Connections -> findings: the anomalies an engineer would point at, with evidence.

One module per family, called by ``judging`` (compiled). The kinds are defined
in ``analyzer.vocabulary.FindingKind``; the rules in docs/findings.md.
``FindingCollector`` gathers them as connections settle and puts them in their
final order when the capture has been read.
"""

from __future__ import annotations

import json
import pickle
from array import array
from collections.abc import Iterator

import numpy as np

from ..capture import CaptureInfo
from ..numbering import FinalIds
from ..output.json_text import json_text, named_spill
from ..spill import _RUN_BYTES, Spill
from ..timewait import TimeWaitSummary
from .artefacts import ArtefactTally, capture_artefacts
from .closes import StillInCloseWait, close_wait_at_end
from .finding import Finding
from .judging import CONNECTION_FIELDS, judge
from .pressure import port_exhaustion

__all__ = ["ArtefactTally", "Finding", "FindingCollector", "ReportedFindings", "judge"]


class FindingCollector:
    """Findings gathered slice by slice; ``finish`` orders and numbers them.

    Until the whole capture is read a connection's id is provisional (its
    first frame); ``finish`` maps every id to the final one. Meanwhile the
    findings wait on disk (``Spill``), as their JSON but for those ids, or
    pickled when more than that waits for the end (``judge``): a capture of
    millions of connections has hundreds of thousands of them.
    """

    def __init__(self, *, time_wait: float, close_wait_threshold: float) -> None:
        self.time_wait = time_wait
        self.close_wait_threshold = close_wait_threshold
        self._spill = Spill()  # each pickled, if its JSON could not be made yet
        self._texts = Spill()  # the JSON of each, if made as it was judged (``judge``)
        # Per finding: its place in the report (family, connection), the
        # connection it names and the one its detail names (0: none).
        self._family, self._place = array("b"), array("q")
        self._named, self._also = array("q"), array("q")
        self.artefacts = ArtefactTally()

    def keep(
        self, judged: list[tuple[int, int, int, int, bytes, bytes]], artefacts: ArtefactTally
    ) -> None:
        """Findings from ``judge`` (made here or in another process)."""
        data, texts = [], []
        for family, place, named, also, item, text in judged:
            self._family.append(family)
            self._place.append(place)
            self._named.append(named)
            self._also.append(also)
            data.append(item)
            texts.append(text)
        self._spill.add(self._spill.writer.each(data))
        self._texts.add(self._texts.writer.each(texts))
        self.artefacts.merge(artefacts)

    def finish(
        self,
        info: CaptureInfo,
        time_wait_summary: TimeWaitSummary,
        new_id: FinalIds,
        *,
        capture_end: float,
        port_range: tuple[int, int],
        port_share: float,
    ) -> ReportedFindings:
        """All findings in order, connections renamed by ``new_id`` (left out: dropped)."""
        place = np.frombuffer(self._place, np.int64)
        # Stable: a connection's findings keep the order they were made in.
        order = np.lexsort((place, np.frombuffer(self._family, np.int8)))
        order = order[new_id.of(place[order]) > 0]
        named = new_id.of(np.frombuffer(self._named, np.int64)[order])
        also = new_id.of(np.frombuffer(self._also, np.int64)[order])
        return ReportedFindings(
            first=list(port_exhaustion(time_wait_summary, port_range, port_share, self.time_wait)),
            spill=self._spill,
            texts=self._texts,
            order=order,
            named=named,
            also=also,
            last=list(capture_artefacts(info, self.artefacts.renumbered(new_id))),
            judge=lambda item, named: self._judged(item, named, new_id, capture_end),
        )

    def _judged(self, item, named: int, new_id: FinalIds, capture_end: float) -> Finding:
        if isinstance(item, StillInCloseWait):
            item = close_wait_at_end(item, capture_end, self.close_wait_threshold)
        item.connection = named or None
        for name in CONNECTION_FIELDS:
            if name in item.detail:
                item.detail[name] = new_id(item.detail[name])
        return item


def _numbered(f: Finding, named: int, also: int) -> Finding:
    """A finding read back from its JSON (``judge``), given the final ids of its
    connection and of the one its detail names (0: none)."""
    f.connection = named or None
    for name in CONNECTION_FIELDS:
        if name in f.detail:
            f.detail[name] = also or None
    return f


class ReportedFindings:
    """A capture's findings in report order, read back from disk one at a time.

    Iterating again reads them again; ``list()`` holds them all. What is
    known at the end (TIME_WAIT pressure, capture artefacts) is kept in memory.
    """

    def __init__(self, *, first, spill, texts, order, named, also, last, judge) -> None:
        self._first, self._spill, self._order, self._last = first, spill, order, last
        self._texts, self._named, self._also, self._judge = texts, named, also, judge

    def __len__(self) -> int:
        return len(self._first) + len(self._order) + len(self._last)

    def __iter__(self) -> Iterator[Finding]:
        yield from self._first
        pickles, texts = self._spill.read(self._order), self._texts.read(self._order)
        for data, text, named, also in zip(
            pickles, texts, self._named.tolist(), self._also.tolist()
        ):
            if text:
                yield _numbered(Finding.from_dict(json.loads(text)), named, also)
            else:
                yield self._judge(pickle.loads(data), named)
        yield from self._last

    def json_texts(self) -> Iterator[str]:
        """The findings' JSON (``json_text`` of each ``as_dict()``), in report
        order, in texts of one or several joined by commas.

        Most were written as they were judged, all but their connection ids
        (``judge``), and are given them here by compiled code; the rest are
        read back as findings and written now.
        """
        for f in self._first:
            yield json_text(f.as_dict())
        fds, files, offsets, sizes = self._texts.locations(self._order)
        unwritten = np.flatnonzero(sizes == 0)
        pickles = self._spill.read(self._order[unwritten])
        start = 0
        for end in [*unwritten.tolist(), len(sizes)]:
            if start < end:
                part = slice(start, end)
                yield from named_spill(
                    fds, files[part], offsets[part], sizes[part],
                    self._named[part], self._also[part], _RUN_BYTES,
                )  # fmt: skip
            if end < len(sizes):
                finding = self._judge(pickle.loads(next(pickles)), int(self._named[end]))
                yield json_text(finding.as_dict())
            start = end + 1
        for f in self._last:
            yield json_text(f.as_dict())
