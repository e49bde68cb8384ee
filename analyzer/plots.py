"""Pictures drawn from an analysis: the ladder diagram and the TIME_WAIT occupancy curve.

The notebook and the HTML report draw with these same functions. They need
matplotlib (extra ``report``), imported when a function is called so the CLI
starts fast without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .model import Connection
from .timewait import Occupancy
from .vocabulary import EventKind, Side

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

KIND_COLOURS = {
    EventKind.FIN: "tab:blue",
    EventKind.FIN_RETRANSMISSION: "tab:orange",
    EventKind.RST: "tab:red",
    EventKind.FIN_ACK: "tab:green",
    EventKind.FINAL_ACK: "tab:green",
    EventKind.TIME_WAIT_ACK: "tab:purple",
    EventKind.TIME_WAIT_SEGMENT: "tab:brown",
    EventKind.DATA_AFTER_FIN: "tab:red",
}


def _panels(size: tuple[float, float], nrows: int = 1, ncols: int = 1):
    """A new figure and its axes, made without pyplot.

    No backend is selected or switched, so these figures work the same in a
    script, in the HTML report and in Jupyter (where ``display(fig)`` shows them)
    without disturbing the session's own matplotlib backend.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    flat = [a for row in axes for a in row]
    return fig, flat


def _figure(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    """The given axes and their figure, or a new figure of one panel (see ``_panels``)."""
    if ax is not None:
        return ax.figure, ax
    fig, (ax,) = _panels(size)
    return fig, ax


@dataclass
class _Step:
    """One arrow of a ladder diagram."""

    frame: int
    time: float
    from_client: bool
    label: str
    colour: str
    client_state: str | None  # states after it (None: not shown)
    server_state: str | None


def _draw_ladder(c: Connection, steps: list[_Step], ax: Axes | None) -> Figure:
    """Client left, server right, one arrow per step, time down; frames and times at the left.

    Step spacing is even (not to time scale) so that microsecond closes stay readable.
    """
    fig, ax = _figure(ax, (9, 0.55 * len(steps) + 1.6))
    left, right = 0.0, 1.0
    ax.plot([left, left], [0, len(steps) + 0.5], color="black", lw=1.5)
    ax.plot([right, right], [0, len(steps) + 0.5], color="black", lw=1.5)
    ax.text(left, -0.35, f"client\n{c.client}", ha="center", va="bottom", fontsize=9)
    ax.text(right, -0.35, f"server\n{c.server}", ha="center", va="bottom", fontsize=9)
    for i, step in enumerate(steps, 1):
        start, end = (left, right) if step.from_client else (right, left)
        ax.annotate(
            "",
            xy=(end, i + 0.3),
            xytext=(start, i),
            arrowprops={"arrowstyle": "->", "color": step.colour, "lw": 1.4},
        )
        ax.text(0.5, i + 0.08, step.label, ha="center", va="bottom", fontsize=8, color=step.colour)
        if step.client_state:
            ax.text(left - 0.03, i + 0.15, step.client_state, ha="right", va="center", fontsize=8)
            ax.text(right + 0.03, i + 0.15, step.server_state, ha="left", va="center", fontsize=8)
        label = f"#{step.frame}  +{step.time - c.first_time:.6f}s"
        ax.text(-0.55, i + 0.15, label, ha="left", va="center", fontsize=7, color="gray")
    ax.set_xlim(-0.58, 1.45)
    ax.set_ylim(len(steps) + 0.8, -0.9)
    ax.axis("off")
    closer = c.active_closer.value if c.active_closer else "none"
    title = f"connection {c.id}: {c.close.value}, active closer {closer}"
    if c.rst_sender:
        title += f", RST from {c.rst_sender.value}"
    ax.set_title(title, fontsize=10)
    return fig


def ladder_figure(c: Connection, ax: Axes | None = None, *, teardown_only: bool = False):
    """Stevens-style ladder of the connection's teardown events.

    Each arrow is labelled with its flags and event kind, with each side's
    state after it; ``teardown_only`` leaves out the handshake.
    """
    handshake = (EventKind.SYN, EventKind.SYN_ACK, EventKind.HANDSHAKE_ACK)
    steps = [
        _Step(
            frame=e.frame,
            time=e.time,
            from_client=e.sender is Side.CLIENT,
            label=f"{e.flags}  {e.kind.value}" + (f"  len={e.length}" if e.length else ""),
            colour=KIND_COLOURS.get(e.kind, "dimgray"),
            client_state=e.client_state.value,
            server_state=e.server_state.value,
        )
        for e in c.events
        if not (teardown_only and e.kind in handshake)
    ]
    return _draw_ladder(c, steps, ax)


def occupancy_figure(
    occupancy: Occupancy,
    ax: Axes | None = None,
    *,
    title: str = "TIME_WAIT sockets",
    limit: int | None = None,
    capture_end: float | None = None,
    forecast: float | None = None,
):
    """The TIME_WAIT count over time as a step curve.

    Past ``capture_end`` the curve is a projection (each TIME_WAIT ends 2*MSL
    after it began) and is drawn dashed. ``limit`` draws the ephemeral port
    count, ``forecast`` the steady-state population (rate x 2*MSL).
    """
    fig, ax = _figure(ax, (8, 3.2))
    if occupancy.series:
        t0 = occupancy.series[0][0]
        times = [t - t0 for t, _ in occupancy.series]
        counts = [n for _, n in occupancy.series]
        seen = len(times)
        if capture_end is not None:
            seen = sum(1 for t in times if t <= capture_end - t0)
            ax.axvline(capture_end - t0, color="gray", lw=1, ls=":")
            ax.text(
                capture_end - t0,
                0,
                " capture ends",
                color="gray",
                fontsize=8,
                rotation=90,
                va="bottom",
            )
        ax.step(times[:seen], counts[:seen], where="post", color="tab:blue", lw=1.5)
        if seen < len(times):
            ax.step(
                times[max(seen - 1, 0) :],
                counts[max(seen - 1, 0) :],
                where="post",
                color="tab:blue",
                lw=1.2,
                ls="--",
                label="projected expiry",
            )
            ax.legend(loc="center right", fontsize=8)
        ax.set_xlabel("seconds since the first TIME_WAIT")
        ax.annotate(
            f"peak {occupancy.peak}",
            xy=(occupancy.peak_time - t0, occupancy.peak),
            xytext=(5, 5),
            textcoords="offset points",
            fontsize=8,
        )
    if forecast:
        ax.axhline(forecast, color="tab:orange", ls=":", lw=1)
        # Labels at opposite ends (forecast right, above; limit left, below)
        # so that they stay readable when the two lines are close.
        ax.text(
            0.99,
            forecast,
            f"forecast at this rate: {forecast:.0f}",
            color="tab:orange",
            ha="right",
            va="bottom",
            fontsize=8,
            transform=ax.get_yaxis_transform(),
        )
    if limit:
        ax.axhline(limit, color="tab:red", ls="--", lw=1)
        ax.text(
            0.01,
            limit,
            f"ephemeral ports: {limit}",
            color="tab:red",
            va="top",
            fontsize=8,
            transform=ax.get_yaxis_transform(),
        )
    top = max(occupancy.peak, forecast or 0, limit or 0)
    ax.set_ylim(bottom=0, top=top * 1.15 + 1)  # room for the labels above the lines
    ax.set_ylabel("sockets in TIME_WAIT")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    return fig


# --- Added for the notebook walkthrough (and usable by the HTML report) ---------------

_MOD = 1 << 32


def _relative(value: int, base: int | None) -> int | None:
    """``value - base`` modulo 2^32, or None when the base (an ISN) is unknown."""
    return None if base is None else (int(value) - base) % _MOD


def packet_ladder_figure(c: Connection, segments, ax: Axes | None = None):
    """Like :func:`ladder_figure`, but one arrow per captured segment of the connection.

    ``segments`` is the capture's segment table (``analyzer.capture.read_segments``).
    Data segments and plain ACKs that are not teardown events are drawn in grey,
    so that what happened before a RST (data sent, acked, never answered) is visible.
    Sequence and acknowledgment numbers are relative to each side's ISN when the
    handshake was captured; states are those of the last teardown event so far.
    """
    import numpy as np

    from .segments import ACK, flags_text

    addresses = segments.addresses
    src_ip = np.array([addresses[i] for i in segments.src]) if len(segments) else np.array([])
    dst_ip = np.array([addresses[i] for i in segments.dst]) if len(segments) else np.array([])
    frames = segments.frame
    in_span = (frames >= c.first_frame) & (frames <= c.last_frame)
    forward = (
        (src_ip == c.client.ip)
        & (segments.sport == c.client.port)
        & (dst_ip == c.server.ip)
        & (segments.dport == c.server.port)
    )
    backward = (
        (src_ip == c.server.ip)
        & (segments.sport == c.server.port)
        & (dst_ip == c.client.ip)
        & (segments.dport == c.client.port)
    )
    rows = np.flatnonzero(in_span & (forward | backward))
    by_frame = {e.frame: e for e in c.events}
    steps = []
    client_state = server_state = None
    for r in rows:
        frame = int(frames[r])
        from_client = bool(forward[r])
        own_isn, peer_isn = (
            (c.isn_client, c.isn_server) if from_client else (c.isn_server, c.isn_client)
        )
        flags = int(segments.flags[r])
        seq = _relative(segments.seq[r], own_isn)
        ack = _relative(segments.ack[r], peer_isn) if flags & ACK else None
        length = int(segments.payload_len[r])
        numbers = f"seq={seq if seq is not None else int(segments.seq[r])}"
        if ack is not None:
            numbers += f" ack={ack}"
        if length:
            numbers += f" len={length}"
        event = by_frame.get(frame)
        if event is not None:
            colour = KIND_COLOURS.get(event.kind, "dimgray")
            label = f"{flags_text(flags)} {numbers}  {event.kind.value}"
            client_state, server_state = event.client_state.value, event.server_state.value
        else:
            colour = "darkgray" if not length else "black"
            label = f"{flags_text(flags)} {numbers}"
        time = segments.ts_ns[r] / 1e9
        steps.append(_Step(frame, time, from_client, label, colour, client_state, server_state))
    return _draw_ladder(c, steps, ax)


def kernel_count_overlay(
    ax: Axes,
    occupancy: Occupancy,
    samples: list[tuple[float, int]],
    *,
    label: str = "kernel count (ss)",
):
    """Draw a host's own TIME_WAIT counts (e.g. ``ss state time-wait | wc -l``) on
    the axes of :func:`occupancy_figure`, on the same time origin (the first TIME_WAIT).

    ``samples`` are (epoch seconds, count) pairs on the capture's clock.
    """
    if not occupancy.series or not samples:
        return ax
    t0 = occupancy.series[0][0]
    ax.plot(
        [t - t0 for t, _ in samples],
        [n for _, n in samples],
        "o",
        color="tab:red",
        markersize=4,
        label=label,
        zorder=3,
    )
    ax.legend(loc="best", fontsize=8)
    return ax


def pileup_figure(
    occupancy: Occupancy,
    *,
    rate: float | None,
    time_wait: float = 60.0,
    port_range: tuple[int, int] = (32768, 60999),
    capture_end: float | None = None,
    kernel_samples: list[tuple[float, int]] | None = None,
    title: str = "TIME_WAIT pile-up",
):
    """Two panels for a TIME_WAIT pile-up toward one destination.

    Left: the client-held TIME_WAIT count the capture shows (step curve, from the
    analysis), with the kernel's own counts on the same axes if given. Right: what
    happens if the measured ``rate`` of new connections continues: the population
    grows by ``rate`` per second until the first TIME_WAITs expire after
    ``time_wait`` seconds, levelling at rate x time_wait; if that exceeds the
    ephemeral port count, connect() fails (EADDRNOTAVAIL) when the line crosses it.
    """
    fig, (seen, ahead) = _panels((12, 3.8), 1, 2)
    ports = port_range[1] - port_range[0] + 1
    t0 = occupancy.series[0][0] if occupancy.series else 0.0
    # Left: the capture as recorded.
    if occupancy.series:
        end = (capture_end if capture_end is not None else occupancy.series[-1][0]) - t0
        points = [(t - t0, n) for t, n in occupancy.series if t - t0 <= end]
        if points:
            points.append((end, points[-1][1]))
        seen.step(
            [t for t, _ in points],
            [n for _, n in points],
            where="post",
            color="tab:blue",
            lw=1.8,
            label="from the capture (teardown)",
        )
        right_edge = end
        if kernel_samples:
            kernel_count_overlay(seen, occupancy, kernel_samples)
            right_edge = max(end, max(t for t, _ in kernel_samples) - t0)
        if right_edge > end:
            # Past the capture the analysis knows each TIME_WAIT's deadline: project it.
            later = [(t - t0, n) for t, n in occupancy.series if end < t - t0 <= right_edge]
            xs = [end] + [t for t, _ in later] + [right_edge]
            ys = [points[-1][1]] + [n for _, n in later] + [(later or points)[-1][1]]
            seen.step(xs, ys, where="post", color="tab:blue", lw=1.2, ls="--")
            seen.axvline(end, color="gray", lw=1, ls=":")
            seen.text(end, 0, " capture ends", color="gray", fontsize=8, va="bottom")
        seen.set_xlim(
            min(-0.3, *(t - t0 for t, _ in kernel_samples or [(t0, 0)])) - 0.1, right_edge + 0.3
        )
        seen.annotate(
            f"peak {occupancy.peak}",
            xy=(occupancy.peak_time - t0, occupancy.peak),
            xytext=(-60, -15),
            textcoords="offset points",
            fontsize=9,
        )
        seen.legend(loc="upper left", fontsize=8)
    seen.set_xlabel("seconds since the first TIME_WAIT")
    seen.set_ylabel("sockets in TIME_WAIT")
    seen.set_title("what the capture shows", fontsize=10)
    seen.grid(alpha=0.3)
    # Right: the steady-rate projection against the port range.
    horizon = time_wait * 2
    ahead.axhline(ports, color="tab:red", ls="--", lw=1.2)
    ahead.text(
        horizon,
        ports,
        f"ephemeral ports {port_range[0]}-{port_range[1]}: {ports}\n"
        f"(sustains at most {int(ports // time_wait)} new connections/s) ",
        color="tab:red",
        ha="right",
        va="top",
        fontsize=8,
    )
    if rate:
        steady = rate * time_wait
        xs = [0.0, time_wait, horizon]
        ys = [0.0, steady, steady]
        ahead.plot(xs, ys, color="tab:orange", lw=1.8, label=f"{rate:.0f} new connections/s")
        ahead.text(
            horizon,
            steady,
            f"steady state: {rate:.0f}/s x {time_wait:.0f} s = {steady:.0f}",
            color="tab:orange",
            ha="right",
            va="bottom" if steady > ports else "top",
            fontsize=8,
        )
        if steady >= ports:
            t_out = ports / rate
            ahead.axvline(t_out, color="tab:red", lw=1, ls=":")
            ahead.annotate(
                f"ports run out at {t_out:.1f} s:\nconnect() -> EADDRNOTAVAIL",
                xy=(t_out, ports),
                xytext=(t_out * 0.15, ports * 0.55),
                fontsize=8,
                color="tab:red",
                arrowprops={"arrowstyle": "->", "color": "tab:red"},
            )
    if occupancy.series and capture_end is not None:
        end = capture_end - t0
        ahead.step(
            [t - t0 for t, _ in occupancy.series if t - t0 <= end] + [end],
            [n for t, n in occupancy.series if t - t0 <= end]
            + [max(n for t, n in occupancy.series if t - t0 <= end)],
            where="post",
            color="tab:blue",
            lw=1.8,
            label="captured",
        )
    ahead.set_xlim(0, horizon)
    ahead.set_ylim(0, max(ports, (rate or 0) * time_wait) * 1.15)
    ahead.set_xlabel("seconds since the first TIME_WAIT")
    ahead.set_title(f"if the rate continues (TIME_WAIT = {time_wait:.0f} s)", fontsize=10)
    ahead.legend(loc="lower right", fontsize=8)
    ahead.grid(alpha=0.3)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def sequence_space_figure(connections: list[Connection], ax: Axes | None = None):
    """Where each incarnation of one 4-tuple put its sequence numbers, per side.

    One panel per side (``ax``: draw only the client's panel there); each
    incarnation is a bar from its ISN to its snd_nxt at the end, relative to the
    first incarnation's ISN of that side (modulo 2^32, shown signed). The shaded
    zone lies at or below the previous incarnation's snd_nxt: a new ISN there is
    not "greater". RFC 1122 4.2.2.13 asks the side that held TIME_WAIT for a new
    ISN above it; BSD-derived stacks and Linux ask the same of the new SYN unless
    TCP timestamps show it is newer (RFC 6191). Where the spaces overlap, old
    duplicates can fall inside the new connection's window.
    """
    from matplotlib.ticker import FuncFormatter

    if ax is not None:
        fig = ax.figure
        axes = [ax, None]
    else:
        fig, axes = _panels((10, 1.4 + 1.0 * len(connections) * 2), 2, 1)
    for panel, side in zip(axes, (Side.CLIENT, Side.SERVER)):
        if panel is None:
            continue
        isns = [c.isn_client if side is Side.CLIENT else c.isn_server for c in connections]
        base = next((i for i in isns if i is not None), None)
        if base is None:
            panel.set_axis_off()
            continue

        def rel(v: int, base: int = base) -> int:
            d = (v - base) % _MOD
            return d - _MOD if d >= (1 << 31) else d

        spans = []
        for c, isn in zip(connections, isns):
            if isn is not None:
                last = c.next_seq.get(side, isn)
                spans.append((c, isn, last, rel(isn), rel(last)))
        lo = min(min(a, b) for *_, a, b in spans)
        hi = max(max(a, b) for *_, a, b in spans)
        margin = max((hi - lo) * 0.08, 10)
        lo, hi = lo - margin, hi + margin

        def align(x: float, lo: float = lo, hi: float = hi) -> str:
            return "right" if x > lo + 0.6 * (hi - lo) else "left"

        previous = None
        for row, (c, isn, last, start, end) in enumerate(spans):
            if previous is not None:
                old_last, old_end = previous
                panel.axvspan(lo, old_end, ymin=0, ymax=1, color="tab:red", alpha=0.07)
                panel.axvline(old_end, color="tab:red", lw=1, ls="--")
                jump = (isn - old_last) % _MOD
                above = 0 < jump < (1 << 31)
                note = (
                    f"new ISN = previous snd_nxt + {jump:,}: greater"
                    if above
                    else f"new ISN = previous snd_nxt - {_MOD - jump:,}: NOT greater, "
                    "inside the old space"
                )
                panel.text(
                    start,
                    row + 0.22,
                    note,
                    fontsize=8,
                    va="top",
                    ha=align(start),
                    color="tab:green" if above else "tab:red",
                )
            panel.plot(
                [start, max(end, start + (hi - lo) * 0.004)],
                [row, row],
                color="tab:blue",
                lw=7,
                solid_capstyle="butt",
            )
            panel.plot([start], [row], "|", color="black", markersize=16)
            panel.text(
                start,
                row - 0.22,
                f"frames {c.first_frame}-{c.last_frame}: ISN {isn}, snd_nxt {last} "
                f"({(last - isn) % _MOD:,} sequence numbers: SYN, data, FIN)",
                fontsize=8,
                va="bottom",
                ha=align(start),
            )
            previous = (last, end)
        panel.set_xlim(lo, hi)
        panel.set_yticks(range(len(spans)))
        panel.set_yticklabels([f"incarnation {c.incarnation}" for c, *_ in spans], fontsize=8)
        panel.set_ylim(len(spans) - 0.45, -0.7)
        panel.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
        panel.set_xlabel(
            f"{side.value} sequence number minus incarnation 1's ISN (mod 2^32)", fontsize=8
        )
        panel.grid(axis="x", alpha=0.3)
        endpoint = connections[0].client if side is Side.CLIENT else connections[0].server
        panel.set_title(f"{side.value} {endpoint}", fontsize=9)
    fig.tight_layout()
    return fig


def figure_data_uri(fig, fmt: str = "svg", *, dpi: int = 90, tight: bool = True) -> str:
    """A figure as a ``data:`` URI (SVG with text kept as text, or PNG).

    For self-contained HTML: an ``<img src=...>`` of it needs no file and no
    network, and its ids and styles cannot clash with the page's. ``tight``
    trims the margins (it draws the figure twice).
    """
    import base64
    import io

    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "teardown"}):
        fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight" if tight else None)
    mime = "image/svg+xml" if fmt == "svg" else f"image/{fmt}"
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def close_kinds_figure(counts: dict[str, dict[str, int]], ax: Axes | None = None):
    """Horizontal stacked bars: for each close kind, how many connections each side closed.

    ``counts[kind][closer]`` is a number of connections; closers are client,
    server, both and none.
    """
    kinds = [k for k in counts if sum(counts[k].values())]
    fig, ax = _figure(ax, (8, 0.42 * max(len(kinds), 1) + 1.1))
    colours = {"client": "tab:blue", "server": "tab:orange", "both": "tab:purple"}
    colours["none"] = "lightgray"
    left = [0] * len(kinds)
    for closer, colour in colours.items():
        values = [counts[k].get(closer, 0) for k in kinds]
        if any(values):
            ax.barh(kinds, values, left=left, color=colour, label=f"closed by {closer}")
            left = [a + b for a, b in zip(left, values)]
    for y, total in enumerate(left):
        ax.text(total, y, f" {total}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("connections")
    ax.set_title("How connections ended, and who closed first", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return fig
