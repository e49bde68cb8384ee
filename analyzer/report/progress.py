"""Progress of a batch: a one-line bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import time
from typing import Any, TextIO


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _count(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(int(n))


class Progress:
    """Counts finished captures; ETA from the bytes done, as captures differ in size.

    ``enabled``: None or False prints nothing (the library's default); True
    draws a bar when ``stream`` is a terminal and writes one line per capture
    otherwise (logs, CI).
    """

    WIDTH = 24

    def __init__(self, total: int, total_bytes: int, enabled: bool | None, stream: TextIO) -> None:
        self.total, self.total_bytes = total, max(total_bytes, 1)
        self.enabled = bool(enabled)
        self.stream = stream
        try:
            self.tty = self.enabled and stream.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self.done = self.bytes = self.packets = self.errors = 0
        self.started = time.monotonic()
        self._drawn = False
        if self.tty and total:
            self._draw()

    def note(self, text: str) -> None:
        if not self.enabled:
            return
        if self._drawn:
            self.stream.write("\r\x1b[K")
        self.stream.write(f"teardown: {text}\n")
        if self._drawn:
            self._draw()
        self.stream.flush()

    def update(self, state: dict[str, Any], size: int) -> None:
        self.done += 1
        self.bytes += size
        if state["status"] == "ok":
            self.packets += state["stats"]["frames"]
        else:
            self.errors += 1
        if not self.enabled:
            return
        if self.tty:
            if state["status"] != "ok":
                self.note(f"error: {state['error']}")
            self._draw()
            return
        where = f"[{self.done}/{self.total}]"
        if state["status"] == "ok":
            s = state["stats"]
            found = sum(s["findings"].values())
            self.stream.write(
                f"teardown: {where} {state['name']}: {s['frames']} packets, "
                f"{s['connections']} connections, {found} findings "
                f"({state.get('seconds', 0):.2f} s)\n"
            )
        else:
            self.stream.write(f"teardown: {where} {state['name']}: error: {state['error']}\n")
        self.stream.flush()

    def _eta(self) -> str:
        elapsed = time.monotonic() - self.started
        if not self.bytes or not elapsed:
            return "--:--"
        rate = self.bytes / elapsed
        return _duration((self.total_bytes - self.bytes) / rate)

    def _draw(self) -> None:
        share = self.done / self.total if self.total else 1.0
        filled = int(self.WIDTH * share)
        bar = "#" * filled + "." * (self.WIDTH - filled)
        errors = f", {self.errors} errors" if self.errors else ""
        self.stream.write(
            f"\r\x1b[K[{bar}] {self.done}/{self.total} files, {_count(self.packets)} packets"
            f"{errors}, {_duration(time.monotonic() - self.started)} elapsed, ETA {self._eta()}"
        )
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
