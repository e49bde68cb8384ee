"""Items made by a thread a few ahead of the one that uses them.

The reader's per-record walks and header decoding release the GIL (they are
compiled), as do zlib and most of numpy's copies. So while the engine groups
one batch of segments, a thread reads the next: the first seconds of a
capture, before any connection settles and the workers start, would
otherwise use one core. Once the workers run, the cores are busy and the
thread would only compete for the GIL, and the workers are forked: with no
other thread running, as ``fork`` wants. So ``alone`` stops the thread and
has the rest made in the user's.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_DONE = object()  # what the thread hands over after the last item
# How often a thread waiting to hand over an item looks whether it should stop.
_POLL_SECONDS = 0.01


class ReadAhead(Generic[T]):
    """``items`` in order, made by a thread at most ``depth`` ahead until
    ``alone``. What the thread raises is raised where its item would have
    been. One thread iterates, once, and calls ``alone``."""

    def __init__(self, items: Iterable[T], depth: int = 2) -> None:
        self._source = iter(items)
        self._handed: queue.Queue = queue.Queue(maxsize=depth)
        self._left: list[tuple[object, BaseException | None]] = []  # made as ``alone`` came
        self._alone = threading.Event()
        self._abandoned = threading.Event()
        self._thread = threading.Thread(target=self._make, name="teardown-read-ahead", daemon=True)
        self._thread.start()

    def alone(self) -> None:
        """Stop the thread once its item is made (it is kept); the rest are
        made in this thread, as they are asked for."""
        self._alone.set()
        self._thread.join()

    def __iter__(self) -> Iterator[T]:
        try:
            for item, error in self._entries():
                if error is not None:
                    try:
                        raise error
                    finally:
                        # The error's traceback holds this frame: kept here,
                        # it would hold the traceback and every frame in it
                        # (the engine, its sink, its spills) in a cycle.
                        del error
                if item is _DONE:
                    return
                yield item  # type: ignore[misc]
            yield from self._source
        finally:
            self.close()

    def close(self) -> None:
        """Stop the thread (once its item is made; the item is dropped) and close ``items``."""
        self._abandoned.set()
        self._thread.join()
        self._left.clear()  # (an error among them holds frames: see above)
        close = getattr(self._source, "close", None)
        if close is not None:
            close()

    def _entries(self) -> Iterator[tuple[object, BaseException | None]]:
        """What the thread handed over, in order (``alone`` is called between two)."""
        while not self._alone.is_set():
            yield self._handed.get()
        # The thread has stopped (``alone`` waited for it): what it made is left.
        while True:
            try:
                yield self._handed.get_nowait()
            except queue.Empty:
                break
        yield from self._left

    def _make(self) -> None:
        try:
            for item in self._source:
                if not self._hand(item) or self._alone.is_set():
                    return
            self._hand(_DONE)
        except BaseException as e:  # handed over: raised where its item was awaited
            self._hand(_DONE, e)

    def _hand(self, item, error: BaseException | None = None) -> bool:
        """Hands over an item (or the error instead of one); False if abandoned."""
        while not self._abandoned.is_set():
            if self._alone.is_set():
                self._left.append((item, error))  # (``alone`` waits: no queue)
                return True
            try:
                self._handed.put((item, error), timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False
