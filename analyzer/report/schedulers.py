"""Run capture analyses in parallel and yield their results as each finishes.

Two schedulers with one contract, ``run(tasks) -> iterator of result dicts``:

- ``run_local``: a pool of worker processes on this machine. Each worker is fed
  one task at a time over its own pipe, so the parent always knows which
  capture a worker holds: a worker that dies (killed, out of memory, a crash in
  native code) or overruns ``timeout`` costs only that capture, which comes
  back as an error result, and a fresh worker takes its place.
- ``run_dask``: the same tasks on a Dask distributed cluster (an existing
  scheduler's address, or "local" for a LocalCluster of worker processes);
  results stream back with ``distributed.as_completed``. Needs the ``dask``
  extra. The workers read the captures by path: on a real cluster the paths
  must be readable on every worker (shared storage).

Closing the iterator early (Ctrl-C, an error in the consumer) stops the workers.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import time
import uuid
from collections import deque
from collections.abc import Iterator
from multiprocessing.connection import wait
from typing import Any

from .worker import analyse_capture, error_result

Task = dict[str, Any]
Result = dict[str, Any]


def _serve(conn) -> None:
    """A worker's loop: tasks in, results out, until None or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    # Its own process group: stopping it stops the processes its analysis
    # started (``engine``) too.
    os.setpgid(0, 0)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        conn.send(analyse_capture(task))


def _context():
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        # Each worker forks from a server that has these imported already.
        ctx.set_forkserver_preload(["analyzer.report.worker", "analyzer.plots", "matplotlib"])
        return ctx
    return mp.get_context("spawn")


class _Worker:
    def __init__(self, ctx) -> None:
        self.conn, child = ctx.Pipe()
        # Not a daemon: a daemon may not start processes, and the analysis of a
        # large capture does. ``stop`` ends it, whatever happens.
        self.process = ctx.Process(target=_serve, args=(child,), daemon=False)
        self.process.start()
        child.close()
        self.task: Task | None = None
        self.deadline = float("inf")

    def give(self, task: Task) -> None:
        self.task = task
        self.deadline = time.monotonic() + (task.get("timeout") or float("inf"))
        self.conn.send(task)

    def stop(self, kill: bool = False) -> None:
        if kill:
            self._kill()
        else:
            with contextlib.suppress(OSError):
                self.conn.send(None)
        self.process.join(timeout=2)
        if self.process.is_alive():
            self._kill()
            self.process.join(timeout=2)
        self.conn.close()

    def _kill(self) -> None:
        """The worker and every process of its group (its analysis's workers)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):  # gone, or not yet its own group
            self.process.kill()


def _death(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def run_local(tasks: list[Task], jobs: int) -> Iterator[Result]:
    """Analyse ``tasks`` in ``jobs`` worker processes; yield results as they finish.

    A task's ``timeout`` (seconds, optional) bounds its analysis: past it the
    worker is killed and the capture comes back as an error.
    """
    queue = deque(tasks)
    if not queue:
        return
    ctx = _context()
    workers = [_Worker(ctx) for _ in range(max(1, min(jobs, len(queue))))]
    try:
        while True:
            for i, w in enumerate(workers):
                if w.task is None and queue:
                    if not w.process.is_alive():
                        w.stop()
                        workers[i] = w = _Worker(ctx)
                    w.give(queue.popleft())
            busy = [w for w in workers if w.task is not None]
            if not busy:
                return
            first = min(w.deadline for w in busy)
            wait_for = None if first == float("inf") else max(0.0, first - time.monotonic())
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy], wait_for))
            for i, w in enumerate(workers):
                task = w.task
                if task is None:
                    continue
                result = None
                if w.conn in ready:
                    try:
                        result = w.conn.recv()
                    except (EOFError, OSError):
                        result = None
                if result is not None:
                    w.task = None
                    yield result
                    continue
                died = w.conn in ready or w.process.sentinel in ready
                late = time.monotonic() >= w.deadline
                if not (died or late):
                    continue
                if died:
                    w.process.join(timeout=2)
                    message = (
                        f"{task['path']}: the worker process died while analysing it "
                        f"({_death(w.process.exitcode)})"
                    )
                    kind = "worker_died"
                else:
                    message = (
                        f"{task['path']}: analysis took longer than {task['timeout']:g} s; stopped"
                    )
                    kind = "timeout"
                w.stop(kill=True)
                workers[i] = _Worker(ctx)
                yield error_result(task, kind, message)
    finally:
        for w in workers:
            w.stop(kill=w.task is not None)


def run_dask(tasks: list[Task], address: str, jobs: int) -> Iterator[Result]:
    """Analyse ``tasks`` on a Dask cluster; ``address`` "local" starts a LocalCluster."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "--scheduler needs Dask distributed: pip install 'teardown[dask]'"
        ) from e
    if not tasks:
        return
    cluster = None
    if address == "local":
        cluster = LocalCluster(
            n_workers=max(1, min(jobs, len(tasks))),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        client = Client(cluster)
    else:
        try:
            client = Client(address, timeout="20s")
        except (OSError, TimeoutError) as e:
            raise RuntimeError(f"cannot reach the Dask scheduler at {address}: {e}") from None
    futures = []
    try:
        run = uuid.uuid4().hex[:8]
        by_key = {}
        for task in tasks:
            # One task per capture; not pure: the file may have changed since.
            future = client.submit(analyse_capture, task, key=f"teardown-{run}-{task['slug']}")
            by_key[future.key] = task
            futures.append(future)
        for future in as_completed(futures):
            task = by_key[future.key]
            try:
                result = future.result()
            except Exception as e:  # KilledWorker and the like: lose this capture only
                result = error_result(
                    task, "worker_died", f"{task['path']}: {type(e).__name__}: {e}"
                )
            future.release()
            yield result
    finally:
        for future in futures:
            future.cancel()
        client.close()
        if cluster is not None:
            cluster.close()


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
