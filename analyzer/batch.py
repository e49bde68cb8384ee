"""Batch reports over capture directories: walk, schedule, resume, write atomically.

>>> from analyzer.batch import report
>>> summary = report(["incident/"], "incident-report", jobs=4)
>>> summary.captures, summary.unreadable, summary.exit_code()

``report`` walks the inputs (directories recursively; a file is taken when its
content starts like a pcap, pcapng or gzip of either), analyses each capture in
parallel (a local process pool, or a Dask cluster with ``scheduler=``) and
writes, into ``out``:

- ``captures/<name>.json``: each capture's ``teardown analyze --format json``
  document, put in place (``os.replace``) as soon as it is finished;
- ``.teardown-report/<name>.rows.csv`` and ``<name>.findings.jsonl``: its
  rows of connections.csv and its findings, put in place with it (a worker
  streams all three to temporary files, ``report.worker``);
- ``.teardown-report/<name>.json``: what else the report needs of that
  capture (file hash, options, counts, ladder diagrams); written last, it is
  the mark that the capture is done, which ``resume=True`` trusts when the
  file's content hash and the options are the same;
- ``summary.json``, ``connections.csv``, ``findings.jsonl``, ``errors.json``,
  ``index.html``: across all captures, written at the end, also after Ctrl-C
  (from what was finished).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .capture.pcap import is_pcap
from .capture.pcapng import is_pcapng
from .parameters import Parameters
from .vocabulary import SEVERITY_RANK, Severity

STATE_DIR = ".teardown-report"
CAPTURES_DIR = "captures"
GZIP_MAGIC = b"\x1f\x8b"
_UMASK = os.umask(0o022)
os.umask(_UMASK)


class ReportUsageError(ValueError):
    """The inputs or options cannot make a report (exit status 2 on the command line)."""


# --- walking -----------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    path: str  # as the reader opens it
    name: str  # how the report names it: relative to its input's parent


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def sniff(path: str) -> str | None:
    """Why ``path`` is not a capture, or None when its content says it is one.

    pcap and pcapng are told by their magic numbers; a gzip file by the magic
    of what it decompresses to (a gzip too damaged to tell is let through, so
    that the reader reports the damage).
    """
    try:
        with open(path, "rb") as f:
            head = f.read(64 * 1024 if _peek_gzip(f) else 4)
    except OSError as e:
        return f"cannot open: {e.strerror or e}"
    if not head:
        return "empty file"
    if head[:2] == GZIP_MAGIC:
        try:
            inner = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 4)
        except zlib.error:
            return None
        if len(inner) < 4 or is_pcap(inner) or is_pcapng(inner):
            return None
        return "gzip of something that is not a capture"
    if is_pcap(head) or is_pcapng(head):
        return None
    return "not a capture (no pcap, pcapng or gzip magic number)"


def _peek_gzip(f) -> bool:
    is_gzip = f.read(2) == GZIP_MAGIC
    f.seek(0)
    return is_gzip


def walk(
    inputs: Iterable[str], exclude: str | None = None
) -> tuple[list[Candidate], list[Skipped]]:
    """Captures under ``inputs`` (in name order) and the files skipped, with why.

    A file named as an input is always taken (the reader says what is wrong
    with it); files found in directories are taken by content. Directory
    symlinks are not followed; special files (FIFOs, devices) are skipped.
    ``exclude`` is a directory not to enter (the report's own output).
    """
    candidates: list[Candidate] = []
    skipped: list[Skipped] = []
    excluded = os.path.realpath(exclude) if exclude else None
    for given in inputs:
        if given == "-":
            raise ReportUsageError("report reads files and directories, not standard input")
        if not os.path.exists(given):
            raise ReportUsageError(f"{given}: no such file or directory")
        if not os.path.isdir(given):
            candidates.append(Candidate(given, os.path.normpath(given)))
            continue
        root = os.path.normpath(given)
        label = os.path.basename(os.path.abspath(root)) or root
        for dirpath, dirnames, filenames in os.walk(root):
            if excluded:
                dirnames[:] = [
                    d for d in dirnames if os.path.realpath(os.path.join(dirpath, d)) != excluded
                ]
            dirnames.sort()
            for filename in sorted(filenames):
                path = os.path.join(dirpath, filename)
                try:
                    mode = os.stat(path).st_mode
                except OSError as e:
                    skipped.append(Skipped(path, f"cannot stat: {e.strerror or e}"))
                    continue
                if not stat.S_ISREG(mode):
                    skipped.append(Skipped(path, "not a regular file"))
                    continue
                reason = sniff(path)
                if reason:
                    skipped.append(Skipped(path, reason))
                else:
                    name = os.path.join(label, os.path.relpath(path, root))
                    candidates.append(Candidate(path, name))
    seen: set[str] = set()
    unique = []
    for c in sorted(candidates, key=lambda c: c.name):
        key = os.path.realpath(c.path)
        if key not in seen:
            seen.add(key)
            unique.append(c)
    return unique, skipped


def slugs(names: list[str]) -> dict[str, str]:
    """File-system-safe, unique, stable names for the per-capture files."""
    raw = {}
    for name in names:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name.replace(os.sep, "__")).strip("._") or "capture"
        raw[name] = slug[:120]
    counts: dict[str, int] = {}
    for slug in raw.values():
        counts[slug] = counts.get(slug, 0) + 1
    out = {}
    for name, slug in raw.items():
        if counts[slug] > 1 or len(slug) == 120:
            slug = f"{slug}-{hashlib.sha1(name.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}"
        out[name] = slug
    return out


# --- atomic files --------------------------------------------------------------


@contextlib.contextmanager
def atomic_writer(path: Path, mode: str = "w") -> Iterator[Any]:
    """Write ``path`` through a temporary file beside it, then os.replace it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        kwargs = {"encoding": "utf-8", "newline": ""} if "b" not in mode else {}
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
        os.chmod(tmp, 0o666 & ~_UMASK)  # as open() would have made it
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_json_atomic(path: Path, value: Any, indent: int | None = None) -> None:
    with atomic_writer(path) as f:
        json.dump(value, f, indent=indent, separators=None if indent else (",", ":"))
        f.write("\n")


# --- resume --------------------------------------------------------------------


def options_key(options: dict[str, Any]) -> str:
    """What must be equal for a stored result to stand for a new one."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        tool = version("teardown")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        tool = "unknown"
    text = json.dumps({"options": options, "tool": tool}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# Errors that the same file and options would give again: not retried on resume.
FINAL_ERRORS = {"unreadable"}


def _reusable(state: dict[str, Any] | None, out: Path, path: str, key: str) -> bool:
    if not state or state.get("options_key") != key:
        return False
    if state["status"] == "ok":
        if not all((out / place).is_file() for place in _places(state["slug"]).values()):
            return False
    elif state.get("error_kind") not in FINAL_ERRORS or "sha256" not in state:
        return False
    from .report.worker import file_identity

    try:
        if os.path.getsize(path) != state.get("size"):
            return False
        return file_identity(path)[0] == state["sha256"]
    except OSError:
        return False


def read_state(out: Path, slug: str) -> dict[str, Any] | None:
    try:
        with open(out / STATE_DIR / f"{slug}.json", encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _places(slug: str) -> dict[str, str]:
    """Where a finished capture's files go, relative to the report's directory."""
    return {
        "document": f"{CAPTURES_DIR}/{slug}.json",
        "rows": f"{STATE_DIR}/{slug}.rows.csv",
        "findings": f"{STATE_DIR}/{slug}.findings.jsonl",
    }


def save_result(out: Path, result: dict[str, Any], key: str) -> dict[str, Any]:
    """Put one capture's files in place, then write its state (the 'done' mark)."""
    state = {k: v for k, v in result.items() if k != "files"}
    state["options_key"] = key
    if result["status"] == "ok":
        places = _places(result["slug"])
        for name, partial in result["files"].items():
            os.chmod(partial, 0o666 & ~_UMASK)  # as open() would have made it
            os.replace(partial, out / places[name])
        state.update(places)
    else:
        state["document"] = None
    write_json_atomic(out / STATE_DIR / f"{result['slug']}.json", state)
    return state


def remove_partial_files(out: Path) -> None:
    """What workers stopped mid-way (killed, timed out) left behind."""
    from .report.worker import PARTIAL_SUFFIX

    for path in (out / STATE_DIR).glob(f".*{PARTIAL_SUFFIX}"):
        with contextlib.suppress(OSError):
            path.unlink()


# --- the report ----------------------------------------------------------------


@dataclass
class ReportSummary:
    """What a report run did; ``summary.json`` has the same and more."""

    out: Path
    found: int  # captures found in the inputs
    captures: int  # captures with a result (analysed now or before)
    analysed: list[str] = field(default_factory=list)  # names analysed in this run
    reused: list[str] = field(default_factory=list)  # names whose stored result was kept
    unreadable: list[dict[str, Any]] = field(default_factory=list)  # name, path, error
    skipped: list[dict[str, str]] = field(default_factory=list)  # path, reason
    pending: list[str] = field(default_factory=list)  # not done (the run was interrupted)
    packets: int = 0
    connections: int = 0
    findings: dict[str, int] = field(default_factory=dict)  # severity -> count
    interrupted: bool = False
    seconds: float = 0.0

    def exit_code(self, fail_on: str | None = None) -> int:
        """0; 1 when a finding at or above ``fail_on`` exists; 3 when nothing could be read."""
        if not self.captures:
            return 3
        if fail_on:
            rank = SEVERITY_RANK[Severity(fail_on)]
            if any(SEVERITY_RANK[Severity(s)] >= rank and n for s, n in self.findings.items()):
                return 1
        return 0

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["out"] = str(self.out)
        return d


Scheduler = Callable[[list[dict[str, Any]]], Iterator[dict[str, Any]]]


def default_timeout(size: int) -> float:
    """A safety net against a capture that never finishes: 2 min + 2 s per MB.

    The analyzer runs at tens of MB per second, so this only stops what is stuck.
    """
    return 120.0 + 2.0 * size / 1e6


def _scheduler(jobs: int, scheduler: str | None) -> Scheduler:
    from .report import schedulers

    if scheduler:
        return lambda tasks: schedulers.run_dask(tasks, scheduler, jobs)
    return lambda tasks: schedulers.run_local(tasks, jobs)


def report(
    inputs: Iterable[str] | str,
    out: str | os.PathLike,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    timeout: float | None = None,
    progress: bool | None = None,
    on_result: Callable[[dict[str, Any]], None] | None = None,
    **analysis_options: Any,
) -> ReportSummary:
    """Analyse every capture under ``inputs`` and write the report into ``out``.

    ``jobs``: worker processes (default: all cores; with a Dask ``scheduler``,
    the LocalCluster's workers). ``scheduler``: a Dask scheduler address, or
    "local" for a Dask LocalCluster; None for the local process pool.
    ``resume``: keep stored results of the same file content and options.
    ``timeout``: seconds per capture before its worker is stopped (local pool
    only; default: 2 min + 2 s per MB of capture; 0: no limit). ``progress``: a
    progress bar on a terminal, log lines otherwise (default: on the command
    line only, see cli.py). ``on_result(state)`` is called after each capture's
    result is written. ``analysis_options`` are ``analyzer.analyze``'s.
    A KeyboardInterrupt stops the run; the report is written from what was
    finished and the summary says ``interrupted``.
    """
    from .report import schedulers, tables
    from .report.html import write_index
    from .report.progress import Progress

    started = time.monotonic()
    if isinstance(inputs, str | os.PathLike):
        inputs = [os.fspath(inputs)]
    inputs = [os.fspath(i) for i in inputs]
    if not inputs:
        raise ReportUsageError("no inputs")
    jobs = jobs or schedulers.default_jobs()
    if jobs < 1:
        raise ReportUsageError(f"jobs must be at least 1, not {jobs}")
    params = Parameters(**analysis_options)
    options = params.as_dict()
    key = options_key(options)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ReportUsageError(f"{out}: exists and is not a directory")
    candidates, skipped = walk(inputs, exclude=str(out))
    names = slugs([c.name for c in candidates])
    (out / STATE_DIR).mkdir(parents=True, exist_ok=True)
    (out / CAPTURES_DIR).mkdir(exist_ok=True)
    remove_partial_files(out)
    scratch = str((out / STATE_DIR).resolve())

    states: dict[str, dict[str, Any]] = {}
    reused: list[str] = []
    todo: list[dict[str, Any]] = []
    for c in candidates:
        slug = names[c.name]
        state = read_state(out, slug) if resume else None
        if state and _reusable(state, out, c.path, key) and state.get("name") == c.name:
            states[c.name] = _light(state)
            reused.append(c.name)
        else:
            task = {"path": c.path, "name": c.name, "slug": slug, "options": options}
            todo.append({**task, "scratch": scratch})

    bar = Progress(
        total=len(todo),
        total_bytes=sum(_size(t["path"]) for t in todo),
        enabled=progress,
        stream=sys.stderr,
    )
    if reused:
        bar.note(f"resuming: {len(reused)} captures already done, {len(todo)} to analyse")
    if skipped:
        bar.note(f"skipped {len(skipped)} files that are not captures")
    analysed: list[str] = []
    interrupted = False
    # Cores the pool leaves idle (fewer captures than jobs) walk connections
    # inside the captures: one capture of millions of packets gets them all.
    # Not on Dask, whose worker processes may not start processes of their own.
    walkers = jobs // min(jobs, len(todo)) if todo and not scheduler else 1
    for task in todo:
        task["workers"] = walkers if walkers > 1 else 0
        if timeout is None:
            task["timeout"] = default_timeout(_size(task["path"]))
        else:
            task["timeout"] = timeout or None  # 0: no limit
    run = _scheduler(jobs, scheduler)(todo) if todo else iter(())
    try:
        for result in run:
            state = save_result(out, result, key)
            states[result["name"]] = _light(state)
            analysed.append(result["name"])
            bar.update(state, _size(result["path"]))
            if on_result is not None:
                on_result(state)
    except KeyboardInterrupt:
        interrupted = True
        bar.note("interrupted: writing the report from the captures finished so far")
    finally:
        close = getattr(run, "close", None)
        if close:
            close()
        bar.close()
        remove_partial_files(out)

    pending = [c.name for c in candidates if c.name not in states]
    ordered = [(c, states[c.name]) for c in candidates if c.name in states]
    meta = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "inputs": inputs,
        "parameters": options,
        "scheduler": scheduler or "processes",
        "jobs": jobs,
        "analysed": analysed,
        "reused": reused,
        "pending": pending,
        "interrupted": interrupted,
        "seconds": round(time.monotonic() - started, 3),
    }
    aggregate = tables.write_tables(out, ordered, [asdict(s) for s in skipped], meta)
    write_index(out, aggregate)
    unreadable = [
        {"name": s["name"], "path": s["path"], "error": s["error"]}
        for _, s in ordered
        if s["status"] != "ok"
    ]
    summary = ReportSummary(
        out=out,
        found=len(candidates),
        captures=sum(1 for _, s in ordered if s["status"] == "ok"),
        analysed=analysed,
        reused=reused,
        unreadable=unreadable,
        skipped=[asdict(s) for s in skipped],
        pending=pending,
        packets=aggregate["totals"]["packets"],
        connections=aggregate["totals"]["connections"],
        findings=aggregate["totals"]["findings"],
        interrupted=interrupted,
        seconds=time.monotonic() - started,
    )
    bar.note(
        f"report: {out / 'index.html'} ({summary.captures} captures, "
        f"{len(unreadable)} unreadable, {len(skipped)} files skipped)"
    )
    return summary


def _light(state: dict[str, Any]) -> dict[str, Any]:
    """A state without its ladders and TIME_WAIT plots, which stay on disk until
    the tables need them."""
    return {k: v for k, v in state.items() if k not in ("ladders", "time_wait")}


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
