"""A connection's teardown as a Stevens-style ladder diagram in the terminal.

Two columns, client on the left and server on the right; each teardown event is
an arrow in the direction it travelled, labelled with its flags and numbers,
with each side's state after it and the frame number to open in Wireshark.
"""

from __future__ import annotations

from ..model import Connection
from ..vocabulary import Side

STATE_WIDTH = 12
ARROW_WIDTH = 40


def _arrow(label: str, rightward: bool) -> str:
    body = f" {label} "
    dashes = max(ARROW_WIDTH - len(body) - 1, 4)
    left = dashes // 2
    right = dashes - left
    if rightward:
        return "-" * left + body + "-" * right + ">"
    return "<" + "-" * left + body + "-" * right


def ladder(c: Connection) -> str:
    t0 = c.first_time
    head = (
        f"connection {c.id}: {c.client} (client) -> {c.server} (server), "
        f"incarnation {c.incarnation}" + (", roles inferred" if c.roles_inferred else "")
    )
    verdict = f"close: {c.close.value}; active closer: {_text(c.active_closer)}"
    if c.rst_sender:
        verdict += f"; RST from {c.rst_sender.value}"
    if c.time_wait:
        tw = c.time_wait
        ended = tw.ended_by.value if tw.ended_by else "still running at capture end"
        verdict += f"; TIME_WAIT: {tw.side.value} ({ended})"
    lines = [
        head,
        verdict,
        "",
        f"{'frame':>7} {'+time s':>10}  {'client':<{STATE_WIDTH}} "
        f"{'':<{ARROW_WIDTH}} {'server':<{STATE_WIDTH}}  event",
    ]
    for e in c.events:
        label = f"{e.flags} seq={e.seq} ack={e.ack}" + (f" len={e.length}" if e.length else "")
        lines.append(
            f"{e.frame:>7} {e.time - t0:>10.6f}  {e.client_state.value:<{STATE_WIDTH}} "
            f"{_arrow(label, e.sender is Side.CLIENT)} {e.server_state.value:<{STATE_WIDTH}}"
            f"  {e.kind.value}"
        )
    lines.append(
        f"{'end':>7} {'':>10}  {c.end_states[Side.CLIENT].value:<{STATE_WIDTH}} "
        f"{'':<{ARROW_WIDTH}} {c.end_states[Side.SERVER].value}"
    )
    return "\n".join(lines) + "\n"


def _text(side: Side | None) -> str:
    return side.value if side else "none"
