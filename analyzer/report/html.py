"""index.html: one self-contained page (inline CSS, images as data: URIs, no script).

What an on-call engineer needs first comes first: whether the run is complete,
the port-exhaustion risks, the totals, then findings by kind and severity
(each linking to its connection's ladder diagram), TIME_WAIT occupancy of the
busiest hosts and destinations, and the captures one by one. Every text that
comes from a file name or a capture is escaped; plots are drawn by matplotlib
(``analyzer.plots``).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from ..timewait import Occupancy
from ..vocabulary import CloseKind, Severity

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;
margin:0;background:#f4f5f7}
main{max-width:1180px;margin:0 auto;padding:18px 24px 60px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;padding-bottom:4px;
border-bottom:1px solid #d5d9e0}h3{font-size:14px;margin:14px 0 6px}
.sub{color:#5b6472;font-size:13px}
.banner{padding:10px 14px;border-radius:6px;margin:12px 0;font-weight:600}
.banner.ok{background:#e3f4e8;border:1px solid #9bd3ad}
.banner.bad{background:#fde7e7;border:1px solid #e99a9a}
.banner.warn{background:#fff4dc;border:1px solid #f0c36a}
.cards{display:flex;flex-wrap:wrap;gap:8px;margin:10px 0}
.card{background:#fff;border:1px solid #d5d9e0;border-radius:6px;padding:8px 12px;flex:1 1 0;
min-width:96px}
.card b{display:block;font-size:22px}.card span{color:#5b6472;font-size:12px}
.card.error b{color:#b3261e}.card.warning b{color:#a05a00}
table{border-collapse:collapse;background:#fff;width:100%;font-size:13px}
th,td{border:1px solid #dde1e7;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#eef0f4;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
td.z{color:#b8bec8}
.sev{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px;font-weight:600}
.sev.error{background:#b3261e;color:#fff}.sev.warning{background:#f0a020;color:#1d2330}
.sev.info{background:#dfe3ea;color:#1d2330}
.risk{background:#fff;border:2px solid #b3261e;border-radius:6px;padding:10px 14px;margin:10px 0}
.risk.warning{border-color:#f0a020}.risk .row{display:flex;gap:16px;align-items:flex-start}
.risk .row>div{flex:1 1 0}.risk img{width:480px;height:auto}
td.name{min-width:190px}
.plots{display:flex;flex-wrap:wrap;gap:12px}
.plot{background:#fff;border:1px solid #d5d9e0;border-radius:6px;padding:6px}
.plot img{display:block;max-width:560px;height:auto}
.ladder{background:#fff;border:1px solid #d5d9e0;border-radius:6px;padding:8px;margin:10px 0}
.ladder img{max-width:100%;height:auto}
code{font:12px ui-monospace,Menlo,Consolas,monospace;background:#eef0f4;padding:0 3px}
.mono{font:12px ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
a{color:#1b5fc1}details{margin:6px 0}
.wide{overflow-x:auto}.name{min-width:240px;overflow-wrap:anywhere}
table.caps th{font-size:12px;text-align:center}table.caps td.n{padding:3px 5px}
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _n(value: int | float) -> str:
    return f"{value:,}"


def _num_cell(value: int) -> str:
    return f'<td class="n{" z" if not value else ""}">{_n(value)}</td>'


def _sev(severity: str) -> str:
    return f'<span class="sev {esc(severity)}">{esc(severity)}</span>'


def _ladder_id(slug: str, conn: Any) -> str:
    return f"ladder-{slug}-{conn}"


def _occupancy_plot(entry: dict[str, Any], title: str, limit: int | None = None) -> str:
    from .. import plots

    occ = Occupancy.from_series(entry["series"], entry["peak"], entry["peak_time"])
    fig = plots.occupancy_figure(
        occ,
        title=title,
        limit=limit,
        capture_end=entry.get("end"),
        forecast=entry.get("forecast"),
    )
    fig.set_size_inches(6.4, 2.9)
    return plots.figure_data_uri(fig, "png", dpi=90)


def _img(uri: str, alt: str) -> str:
    return f'<img src="{uri}" alt="{esc(alt)}">'


def _header(a: dict[str, Any]) -> list[str]:
    t, run = a["totals"], a["run"]
    parts = [
        "<h1>teardown report</h1>",
        f'<div class="sub">{_n(t["captures"])} captures, generated {esc(run["generated_at"])}'
        f" &middot; inputs: {esc(', '.join(run['inputs']))}</div>",
    ]
    if run["interrupted"] or t["pending"]:
        parts.append(
            f'<div class="banner warn">Incomplete: the run was interrupted with '
            f"{_n(t['pending'])} captures not analysed. Run again with --resume to finish.</div>"
        )
    if not t["captures"]:
        parts.append('<div class="banner bad">No capture could be read.</div>')
    return parts


def _cards(a: dict[str, Any]) -> str:
    t = a["totals"]
    f = t["findings"]
    cards = [
        ("", t["captures"], "captures read"),
        ("error" if t["unreadable"] else "", t["unreadable"], "unreadable"),
        ("", t["skipped"], "files skipped"),
        ("", t["packets"], "packets"),
        ("", t["connections"], "connections"),
        ("error" if f["error"] else "", f["error"], "error findings"),
        ("warning" if f["warning"] else "", f["warning"], "warning findings"),
        ("", f["info"], "info findings"),
    ]
    inner = "".join(
        f'<div class="card {cls}"><b>{_n(value)}</b><span>{esc(label)}</span></div>'
        for cls, value, label in cards
    )
    return f'<div class="cards">{inner}</div>'


def _risks(a: dict[str, Any], port_limit: int) -> list[str]:
    parts = ["<h2>Port-exhaustion risk</h2>"]
    risks = a["port_exhaustion_risks"]
    if not risks:
        parts.append(
            '<div class="banner ok">No port-exhaustion risk: no destination\'s TIME_WAIT '
            "population comes near the ephemeral port range in any capture.</div>"
        )
        return parts
    plotted = {_dest_key(d): d for d in a["busiest_destinations"]}
    for r in risks:
        detail = r.get("detail") or {}
        parts.append(f'<div class="risk {esc(r["severity"])}">')
        parts.append(
            f"<div>{_sev(r['severity'])} <b>{esc(detail.get('client'))} &rarr; "
            f"{esc(detail.get('server'))}</b> in <span class=mono>{esc(r['capture'])}</span></div>"
        )
        parts.append(f'<div class="row"><div><p>{esc(r["summary"])}</p>')
        if r.get("advice"):
            parts.append(f"<p><b>What to do:</b> {esc(r['advice'])}</p>")
        parts.append("</div>")
        d = plotted.get((r["capture"], detail.get("client"), detail.get("server")))
        if d is not None and d["series"]:
            title = f"TIME_WAIT to {d['server']} on client {d['client']}"
            parts.append(_img(_occupancy_plot(d, title, port_limit), title))
        parts.append("</div></div>")
    return parts


def _errors(a: dict[str, Any]) -> list[str]:
    parts = []
    if a["errors"]:
        parts.append(f'<h2 id="unreadable">Unreadable captures ({len(a["errors"])})</h2>')
        parts.append(
            '<div class="banner bad">These captures could not be read; their traffic is '
            "missing from this report. Details: errors.json.</div>"
        )
        rows = "".join(
            f"<tr><td class='mono name'>{esc(e['name'])}</td><td>{esc(e['error_kind'])}</td>"
            f"<td>{esc(e['error'])}</td></tr>"
            for e in a["errors"]
        )
        parts.append(f"<table><tr><th>capture</th><th>problem</th><th>why</th></tr>{rows}</table>")
    if a["skipped"]:
        items = "".join(
            f"<li><span class=mono>{esc(s['path'])}</span>: {esc(s['reason'])}</li>"
            for s in a["skipped"][:500]
        )
        parts.append(
            f"<details><summary>{len(a['skipped'])} files skipped (not captures)</summary>"
            f"<ul>{items}</ul></details>"
        )
    return parts


def _findings(a: dict[str, Any]) -> list[str]:
    parts = ["<h2>Findings by kind and severity</h2>"]
    by_kind = a["findings_by_kind"]
    if not by_kind:
        parts.append('<div class="banner ok">No findings in any capture.</div>')
        return parts
    sevs = [s.value for s in reversed(Severity)]
    head = "".join(f"<th>{_sev(s)}</th>" for s in sevs)
    rows = "".join(
        f"<tr><td>{esc(kind)}</td>"
        + "".join(_num_cell(counts.get(s, 0)) for s in sevs)
        + f"{_num_cell(sum(counts.values()))}</tr>"
        for kind, counts in by_kind.items()
    )
    parts.append(f"<table><tr><th>kind</th>{head}<th>total</th></tr>{rows}</table>")
    shown = a["findings_shown"]
    total = sum(a["totals"]["findings"].values())
    more = f" (the {len(shown)} most severe of {_n(total)}; all in findings.jsonl)"
    parts.append(f"<h3>Findings{more if total > len(shown) else ''}</h3>")
    body = []
    for f in shown:
        conn = f["connection"]
        if conn is None:
            conn_cell = "&ndash;"
        elif f["ladder"]:
            conn_cell = f'<a href="#{esc(_ladder_id(f["slug"], conn))}">#{esc(conn)} ladder</a>'
        else:
            conn_cell = f"#{esc(conn)}"
        frames = ", ".join(str(x) for x in f["frames"][:6]) + (
            " &hellip;" if len(f["frames"]) > 6 else ""
        )
        body.append(
            f"<tr><td>{_sev(f['severity'])}</td><td>{esc(f['kind'])}</td>"
            f"<td class='mono name'>{esc(f['capture'])}</td><td>{conn_cell}</td>"
            f"<td>{frames}</td><td>{esc(f['summary'])}</td></tr>"
        )
    parts.append(
        '<div class="wide"><table><tr><th>severity</th><th>kind</th><th>capture</th>'
        "<th>connection</th><th>frames</th><th>what happened</th></tr>"
        f"{''.join(body)}</table></div>"
    )
    return parts


def _dest_key(d: dict[str, Any]) -> tuple:
    return (d["capture"], d["client"], d["server"])


def _risk_keys(a: dict[str, Any]) -> set[tuple]:
    keys = set()
    for r in a["port_exhaustion_risks"]:
        detail = r.get("detail") or {}
        keys.add((r["capture"], detail.get("client"), detail.get("server")))
    return keys


def _worth_plotting(entries: list[dict[str, Any]], size) -> list[dict[str, Any]]:
    """The busiest, and the others that are at least a tenth as busy and more than 1."""
    if not entries:
        return []
    top = size(entries[0])
    return [e for i, e in enumerate(entries) if not i or (size(e) > 1 and size(e) >= top / 10)]


def _occupancy(a: dict[str, Any]) -> list[str]:
    parts = ["<h2>TIME_WAIT occupancy</h2>"]
    hosts = _worth_plotting(a["busiest_hosts"], lambda e: e["peak"])
    plotted = _risk_keys(a)  # already drawn under the risk that names them
    dests = _worth_plotting(
        [d for d in a["busiest_destinations"] if _dest_key(d) not in plotted],
        lambda e: max(e["peak"], e["forecast"] or 0),
    )
    if not hosts and not dests:
        parts.append("<p>No connection left a side in TIME_WAIT.</p>")
        return parts
    for title, entries, label in (
        ("Busiest hosts (all TIME_WAIT sockets they hold)", hosts, "host"),
        ("Busiest destinations (client ports pinned per server ip:port)", dests, "dest"),
    ):
        if not entries:
            continue
        parts.append(f"<h3>{esc(title)}</h3><div class=plots>")
        for e in entries:
            if label == "host":
                name = f"{e['host']}: peak {e['peak']}"
            else:
                name = f"{e['client']} -> {e['server']}: peak {e['peak']}"
            caption = f"{name} ({e['capture']})"
            parts.append(
                f'<div class="plot">{_img(_occupancy_plot(e, name), caption)}'
                f"<div class=mono>{esc(e['capture'])}</div></div>"
            )
        parts.append("</div>")
    return parts


def _closes(a: dict[str, Any]) -> list[str]:
    from .. import plots

    parts = ["<h2>Close kinds and active closers</h2>"]
    if a["totals"]["connections"]:
        fig = plots.close_kinds_figure(a["closes"])
        parts.append(f'<div class="plot">{_img(plots.figure_data_uri(fig, "svg"), "closes")}</div>')
    kinds = [k.value for k in CloseKind]
    closers = ["client", "server", "both", "none"]
    sevs = [s.value for s in reversed(Severity)]
    short = {"simultaneous": "simult.", "incomplete": "incompl."}
    head1 = (
        '<tr><th rowspan="2">capture</th><th rowspan="2">packets</th>'
        '<th rowspan="2">conn&shy;ections</th>'
        f'<th colspan="{len(kinds)}">close kinds</th>'
        f'<th colspan="{len(closers)}">active closer</th>'
        f'<th colspan="{len(sevs)}">findings</th><th rowspan="2">notes</th></tr>'
    )
    head2 = (
        "<tr>"
        + "".join(f'<th title="{k}">{short.get(k, k)}</th>' for k in kinds)
        + "".join(f"<th>{c}</th>" for c in closers)
        + "".join(f"<th>{_sev(s)}</th>" for s in sevs)
        + "</tr>"
    )
    rows = []
    captures = sorted(
        a["captures"],
        key=lambda c: tuple(-c["findings"][s] for s in sevs) + (c["name"],),
    )
    for c in captures:
        notes = []
        if c["truncated"]:
            notes.append("truncated")
        if c["compressed"]:
            notes.append("gzip")
        notes_text = esc(", ".join(notes))
        if c["warnings"]:
            notes_text += f' <span title="{esc("; ".join(c["warnings"]))}">&#9888;</span>'
        rows.append(
            f'<tr><td class="mono name"><a href="{esc(c["document"])}">{esc(c["name"])}</a></td>'
            f"{_num_cell(c['frames'])}{_num_cell(c['connections'])}"
            + "".join(_num_cell(c["close_kinds"].get(k, 0)) for k in kinds)
            + "".join(_num_cell(c["active_closers"].get(x, 0)) for x in closers)
            + "".join(_num_cell(c["findings"][s]) for s in sevs)
            + f"<td>{notes_text}</td></tr>"
        )
    parts.append(
        f'<h3>Per capture</h3><div class="wide"><table class="caps">{head1}{head2}'
        f"{''.join(rows)}</table></div>"
    )
    return parts


def _ladders(a: dict[str, Any], out: Path) -> list[str]:
    from ..batch import read_state

    linked = {(f["slug"], f["connection"]) for f in a["findings_shown"] if f["ladder"]}
    if not linked:
        return []
    parts = ["<h2>Ladder diagrams</h2>"]
    for c in a["captures"]:
        wanted = [conn for conn in c["ladders"] if (c["slug"], int(conn)) in linked]
        if not wanted:
            continue
        images = (read_state(out, c["slug"]) or {}).get("ladders") or {}
        for conn in wanted:
            uri = images.get(conn)
            if uri is None:
                continue
            parts.append(
                f'<div class="ladder" id="{esc(_ladder_id(c["slug"], conn))}">'
                f"<h3>connection {esc(conn)} in <span class=mono>{esc(c['name'])}</span></h3>"
                f"{_img(uri, f'ladder of connection {conn}')}</div>"
            )
    return parts


def _footer(a: dict[str, Any]) -> list[str]:
    params = a["run"]["parameters"]
    text = ", ".join(f"{k} = {v}" for k, v in params.items())
    return [
        "<h2>Files</h2>",
        "<p><code>summary.json</code> totals &middot; <code>connections.csv</code> every "
        "connection &middot; <code>findings.jsonl</code> every finding &middot; "
        "<code>errors.json</code> unreadable and skipped files &middot; <code>captures/</code> "
        "one <code>teardown analyze --format json</code> document per capture.</p>",
        f'<p class="sub">Analysis parameters: {esc(text)}</p>',
    ]


def render(a: dict[str, Any], out: Path) -> str:
    """The page for the aggregate of ``tables.write_tables``; ``out`` holds the ladders."""
    low, high = a["run"]["parameters"]["port_range"]
    body = (
        _header(a)
        + [_cards(a)]
        + _risks(a, high - low + 1)
        + _errors(a)
        + _findings(a)
        + _occupancy(a)
        + _closes(a)
        + _ladders(a, out)
        + _footer(a)
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>teardown report</title>"
        f"<style>{CSS}</style></head><body><main>\n" + "\n".join(body) + "\n</main></body></html>\n"
    )


def write_index(out: Path, aggregate: dict[str, Any]) -> Path:
    from ..batch import atomic_writer

    path = out / "index.html"
    with atomic_writer(path) as f:
        f.write(render(aggregate, out))
    return path
