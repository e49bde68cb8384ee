"""Pictures drawn from an analysis: the ladder diagram and the TIME_WAIT occupancy curve.

The notebook and the HTML report draw with these same functions. They need
matplotlib (extra ``report``), imported when a function is called so the CLI
starts fast without it.
"""

from __future__ import annotations

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


def _figure(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=size)
    return fig, ax


def ladder_figure(c: Connection, ax: Axes | None = None, *, teardown_only: bool = False):
    """Stevens-style ladder: client left, server right, one arrow per event, time down.

    Each arrow is labelled with flags, numbers relative to the ISNs where known,
    the frame number, and each side's state after it. Event spacing is even
    (not to time scale) so that microsecond closes stay readable; times are
    printed at the left.
    """
    events = c.events
    if teardown_only:
        events = [
            e
            for e in events
            if e.kind not in (EventKind.SYN, EventKind.SYN_ACK, EventKind.HANDSHAKE_ACK)
        ]
    fig, ax = _figure(ax, (9, 0.55 * len(events) + 1.6))
    left, right = 0.0, 1.0
    ax.plot([left, left], [0, len(events) + 0.5], color="black", lw=1.5)
    ax.plot([right, right], [0, len(events) + 0.5], color="black", lw=1.5)
    ax.text(left, -0.35, f"client\n{c.client}", ha="center", va="bottom", fontsize=9)
    ax.text(right, -0.35, f"server\n{c.server}", ha="center", va="bottom", fontsize=9)
    t0 = c.first_time
    for i, e in enumerate(events, 1):
        start, end = (left, right) if e.sender is Side.CLIENT else (right, left)
        colour = KIND_COLOURS.get(e.kind, "dimgray")
        ax.annotate(
            "",
            xy=(end, i + 0.3),
            xytext=(start, i),
            arrowprops={"arrowstyle": "->", "color": colour, "lw": 1.4},
        )
        label = f"{e.flags}  {e.kind.value}" + (f"  len={e.length}" if e.length else "")
        ax.text(0.5, i + 0.08, label, ha="center", va="bottom", fontsize=8, color=colour)
        ax.text(left - 0.03, i + 0.15, e.client_state.value, ha="right", va="center", fontsize=8)
        ax.text(right + 0.03, i + 0.15, e.server_state.value, ha="left", va="center", fontsize=8)
        ax.text(
            -0.55,
            i + 0.15,
            f"#{e.frame}  +{e.time - t0:.6f}s",
            ha="left",
            va="center",
            fontsize=7,
            color="gray",
        )
    ax.set_xlim(-0.58, 1.45)
    ax.set_ylim(len(events) + 0.8, -0.9)
    ax.axis("off")
    ax.set_title(
        f"connection {c.id}: {c.close.value}, active closer "
        f"{c.active_closer.value if c.active_closer else 'none'}",
        fontsize=10,
    )
    return fig


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
            ax.legend(loc="upper right", fontsize=8)
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
        ax.text(
            0,
            forecast,
            f" forecast at this rate: {forecast:.0f}",
            color="tab:orange",
            va="bottom",
            fontsize=8,
        )
    if limit:
        ax.axhline(limit, color="tab:red", ls="--", lw=1)
        ax.text(0, limit, f" ephemeral ports: {limit}", color="tab:red", va="bottom", fontsize=8)
    ax.set_ylabel("sockets in TIME_WAIT")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    return fig
