"""The ``teardown`` command line.

Exit status: 0 success; 1 a finding at or above ``--fail-on``; 2 usage error
or unreadable input (one line on stderr naming the file and byte offset); for
``report`` also 3 when no capture could be read (``batch.ReportSummary``) and
130 when interrupted (finished captures are kept).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from functools import partial

from .allocator import tune_allocator
from .analysis import Analysis, stream_analysis
from .capture import CaptureError, read_capture
from .output import segments as segment_output
from .output.document import connection_json_bytes, numbered_json, write_json, write_jsonl
from .output.ladder import ladder
from .output.spool import ConnectionSpool, pickled
from .output.table import ROW_FIELDS, csv_line, csv_text
from .output.text import TABLE_LIMIT, table_line, write_text_from
from .output.zeek import ConnLogSpool, write_conn_log_from
from .parameters import DEFAULT_MAX_CONNECTIONS, LINUX_PORT_RANGE, LINUX_TIME_WAIT, Parameters
from .streamed import StreamedAnalysis
from .vocabulary import SEVERITY_RANK, Severity

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_UNREADABLE = 2


def _cmd_segments(args: argparse.Namespace) -> int:
    capture = read_capture(args.file)
    segment_output.WRITERS[args.format](capture.segments, sys.stdout)
    for warning in capture.info.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_OK


def _cmd_info(args: argparse.Namespace) -> int:
    info = read_capture(args.file).info
    from .capture.linklayer import NAMES

    links = ", ".join(f"{NAMES.get(lt, 'unknown')} ({lt})" for lt in info.link_types)
    span = (
        f"{info.first_time:.6f} .. {info.last_time:.6f} ({info.last_time - info.first_time:.3f} s)"
        if info.first_ns is not None
        else "no frames"
    )
    lines = [
        ("file", info.path),
        ("format", info.format + (" (gzip)" if info.compressed else "")),
        ("byte order", info.byte_order),
        ("time resolution", info.time_resolution),
        ("link types", links),
        ("frames", info.frames),
        ("tcp segments", info.tcp_segments),
        ("ip fragments", info.fragments),
        ("other frames", info.non_tcp_frames),
        ("undecodable tcp", info.undecodable),
        ("time span", span),
        ("truncated", "yes" if info.truncated else "no"),
    ]
    for name, value in lines:
        print(f"{name + ':':17}{value}")
    for warning in info.warnings:
        print(f"warning: {warning}")
    return EXIT_OK


ANALYZE_FORMATS = ("text", "json", "jsonl", "csv", "zeek")


def _analysis_options(args: argparse.Namespace) -> dict:
    return {
        "time_wait": args.time_wait,
        "port_range": args.port_range,
        "port_share": args.port_share,
        "close_wait_threshold": args.close_wait_threshold,
        "max_connections": args.max_connections,
    }


def _port_range(text: str) -> tuple[int, int]:
    try:
        low, high = (int(x) for x in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LOW-HIGH, got {text!r}") from None
    if not 0 < low <= high <= 65535:
        raise argparse.ArgumentTypeError(f"not a port range: {text!r}")
    return low, high


def _share(text: str) -> float:
    value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a share in (0, 1] or a percentage: {text!r}")
    return value


def add_analysis_options(p: argparse.ArgumentParser) -> None:
    """The knobs of an analysis, shared by `analyze` and `report`."""
    p.add_argument(
        "--time-wait",
        type=float,
        default=LINUX_TIME_WAIT,
        metavar="SECONDS",
        help="TIME_WAIT length, 2*MSL (default: Linux's fixed 60 s)",
    )
    p.add_argument(
        "--port-range",
        type=_port_range,
        default=LINUX_PORT_RANGE,
        metavar="LOW-HIGH",
        help="the clients' ephemeral port range (default: Linux's 32768-60999)",
    )
    p.add_argument(
        "--port-share",
        type=_share,
        default=0.5,
        metavar="SHARE",
        help="report port exhaustion risk from this share of the range (default 50%%)",
    )
    p.add_argument(
        "--close-wait-threshold",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="CLOSE_WAIT longer than this is a warning (default 10 s)",
    )
    p.add_argument(
        "--max-connections",
        type=int,
        default=DEFAULT_MAX_CONNECTIONS,
        metavar="N",
        help="analyse at most N connections per capture, the earliest "
        "(default 1,000,000; a warning says how many were left out)",
    )
    p.add_argument(
        "--fail-on",
        choices=("warning", "error"),
        help="exit 1 when a finding of this severity or worse exists",
    )


def _fails(analyses: list[Analysis], threshold: str | None) -> bool:
    if threshold is None:
        return False
    rank = SEVERITY_RANK[Severity(threshold)]
    return any(SEVERITY_RANK[f.severity] >= rank for a in analyses for f in a.findings)


# Each worker keeps 60-120 MB of its own (3M benchmark: the segments and
# products of the slice it walks, the heap it reuses): on a many-core host
# the default stays within memory; --jobs asks for more.
MAX_DEFAULT_JOBS = 4

# What the streaming formats keep of each connection until ids are known
# (zeek: of each conn.log record, ``ConnLogSpool``).
STREAMED = {
    "json": connection_json_bytes,
    "jsonl": connection_json_bytes,
    "text": table_line,
    "csv": csv_line,
}


def _cmd_analyze(args: argparse.Namespace) -> int:
    """Each capture streamed: no connection is held in memory, whatever the output."""
    tune_allocator()
    ladder_of = args.conn
    out, many = sys.stdout, len(args.files) > 1 and args.format == "json" and ladder_of is None
    analyses, unreadable = [], 0
    out.write("[" if many else "")
    header = csv_text(["capture", *ROW_FIELDS]) if args.format == "csv" else ""
    conn_logs = []  # (ConnLogSpool, the positions to write): written once all are read
    for path in args.files:
        if ladder_of is not None:
            spool = ConnectionSpool(pickled, as_text=False)
        elif args.format == "zeek":
            spool = ConnLogSpool()
        else:
            spool = ConnectionSpool(STREAMED[args.format])
        try:
            params = Parameters(**_analysis_options(args))
            workers = args.jobs if args.jobs > 1 else 0  # 1: all in this process
            a, outcome = stream_analysis(path, spool, params, workers=workers)
            kept = outcome.first_frames
            if ladder_of is not None:
                out.write(_ladder(a, spool, kept, ladder_of))
            elif args.format == "zeek":
                conn_logs.append((spool, spool.kept(outcome.left_out_from)))
                spool = None  # closed once the conn.log is written
            elif args.format == "json":
                out.write("," if analyses and many else "")
                write_json(a, out, spool.json_runs(kept))
                out.write("" if many else "\n")
            elif args.format == "jsonl":
                write_jsonl(a, out, numbered_json(spool.numbered(kept)))
            elif args.format == "csv":
                out.write("" if analyses else header)
                capture = csv_text([a.capture.path])[:-1]
                for new_id, line in spool.numbered(kept):
                    out.write(f"{capture},{new_id},{line}")
            else:
                out.write("\n" if analyses else "")
                limit = None if args.all else TABLE_LIMIT
                write_text_from(a, out, partial(spool.numbered, kept), limit=limit)
        except CaptureError as e:
            print(f"teardown: {e}", file=sys.stderr)
            unreadable += 1
            continue
        finally:
            if spool is not None:
                spool.close()
        analyses.append(a)
    out.write("]\n" if many else "")
    if conn_logs:
        write_conn_log_from(conn_logs, out)
        for spool, _ in conn_logs:
            spool.close()
    if unreadable:
        return EXIT_UNREADABLE
    return EXIT_FINDINGS if _fails(analyses, args.fail_on) else EXIT_OK


def _ladder(a: Analysis, spool: ConnectionSpool, kept, wanted: int) -> str:
    """Connection ``wanted``'s ladder, from a spool of pickled connections."""
    try:
        conn = StreamedAnalysis(a, spool, kept).connection(wanted)
    except IndexError as e:
        print(f"teardown: {e}", file=sys.stderr)
        raise SystemExit(2) from None  # a usage error: exit status 2, as argparse gives
    return ladder(conn)


def _cmd_report(args: argparse.Namespace) -> int:
    import signal

    from .batch import ReportUsageError, report

    # A polite kill (SIGTERM) stops the run like Ctrl-C: finished work is kept.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        summary = report(
            args.inputs,
            args.out,
            jobs=args.jobs,
            scheduler=args.scheduler,
            resume=args.resume,
            timeout=args.timeout,
            progress=not args.quiet,
            **_analysis_options(args),
        )
    except (ReportUsageError, RuntimeError) as e:
        print(f"teardown: {e}", file=sys.stderr)
        return EXIT_UNREADABLE
    if summary.interrupted:
        return 130
    return summary.exit_code(args.fail_on)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="teardown", description="How every TCP connection in a capture ended."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("analyze", help="how every TCP connection in the capture(s) ended")
    p.add_argument("files", nargs="+", metavar="FILE", help="captures; - for stdin")
    p.add_argument("--format", choices=ANALYZE_FORMATS, default="text")
    p.add_argument("--conn", type=int, metavar="ID", help="ladder diagram of one connection")
    p.add_argument("--all", action="store_true", help="list every connection in text output")
    p.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=min(os.cpu_count() or 1, MAX_DEFAULT_JOBS),
        metavar="N",
        help="processes walking connections for text, json and jsonl "
        f"(default: one per core, at most {MAX_DEFAULT_JOBS})",
    )
    add_analysis_options(p)
    p.set_defaults(run=_cmd_analyze)

    p = sub.add_parser("segments", help="print the TCP segment table of a capture")
    p.add_argument("file", help="pcap, pcapng or gzip of either; - for stdin")
    p.add_argument("--format", choices=sorted(segment_output.WRITERS), default="table")
    p.set_defaults(run=_cmd_segments)

    p = sub.add_parser("info", help="format, link types, counts, time span, warnings")
    p.add_argument("file", help="pcap, pcapng or gzip of either; - for stdin")
    p.set_defaults(run=_cmd_info)

    p = sub.add_parser(
        "report",
        help="one report (HTML, JSON, CSV) over many captures, in parallel",
        description="Walk capture files and directories (recursively; pcap, pcapng, gzip, "
        "told by content), analyse each capture in parallel and write OUT/index.html, "
        "summary.json, connections.csv, findings.jsonl, errors.json and captures/*.json. "
        "Exit status: 0; 1 with --fail-on; 2 usage; 3 no capture could be read; "
        "130 interrupted (finished captures are kept: rerun with --resume).",
    )
    p.add_argument("inputs", nargs="+", metavar="PATH", help="capture files or directories")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="the report directory")
    p.add_argument(
        "--jobs", type=_positive_int, metavar="N", help="worker processes (default: all cores)"
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on a Dask distributed scheduler (tcp://host:8786), or 'local' for a "
        "Dask LocalCluster (needs the dask extra)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="keep results already in OUT for the same file content and options",
    )
    p.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="give up on a capture after this long (local pool; default 2 min + 2 s per MB; "
        "0: no limit)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    add_analysis_options(p)
    p.set_defaults(run=_cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CaptureError as e:
        print(f"teardown: {e}", file=sys.stderr)
        return EXIT_UNREADABLE
    except BrokenPipeError:
        # `teardown segments big.pcap | head`: the reader went away; not an error.
        sys.stderr.close()
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
