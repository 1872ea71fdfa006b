"""The process's helper processes: a small pool that draws a run's pictures and shares
its realisations.

A 2-core machine runs a scenario's Python-heavy realisations on one core unless a second
process takes some of them (numba's threads only help inside the kernels).  This module
owns one process-wide :class:`~concurrent.futures.ProcessPoolExecutor`:

* :mod:`netsim.pictures` queues PNG drawing jobs to it;
* :class:`netsim.distributed.LocalExecutor` (``netsim run``'s in-process default) lets
  its workers take realisations from the end of the list while the run's own process
  works from the start (:func:`share`).  A task is a pure function of its arguments,
  so a realisation has the same bits wherever it runs.

* Workers: ``NETSIM_WORKERS`` if set (``0`` = everything in-process; the older name
  ``NETSIM_PICTURE_WORKERS`` is read when it is not), else one less than the CPUs this
  process may use (none on one CPU); none in a daemonic process such as a dask worker,
  which may not start processes of its own.
* The workers are forked from a small ``forkserver``, never from the run's process with
  its numba and BLAS threads.  :func:`warm` starts them while the run's process imports
  its own modules; each imports matplotlib and netsim's realisation modules once, and
  runs numba on one thread.  The pool lives as long as the process (``netsim sweep`` reuses it).
* Starting a worker never runs the caller's ``__main__`` script again (as
  multiprocessing's spawn and forkserver do): a planner's script needs no
  ``if __name__ == "__main__"`` guard.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

__all__ = ["WORKERS_ENV", "helper_workers", "pool", "submit", "warm", "workers_peak_rss_mb"]

WORKERS_ENV = "NETSIM_WORKERS"
"""Environment variable: helper processes of a run (0 = draw and compute in-process)."""
_OLD_WORKERS_ENV = "NETSIM_PICTURE_WORKERS"

_PRELOAD = ["netsim._worker_preload"]
_pool: ProcessPoolExecutor | None = None
_pool_workers = 0


def helper_workers() -> int:
    """Helper processes: ``NETSIM_WORKERS`` (or ``NETSIM_PICTURE_WORKERS``), else CPUs − 1
    (≥ 0); none in a daemonic process (e.g. a dask worker running a sweep's scenario).

    Raises
    ------
    NetsimError
        The setting is not a whole number.
    """
    import multiprocessing

    if multiprocessing.current_process().daemon:
        return 0
    for name in (WORKERS_ENV, _OLD_WORKERS_ENV):
        setting = os.environ.get(name, "").strip()
        if setting:
            try:
                return max(0, int(setting))
            except ValueError:
                from netsim.errors import NetsimError

                raise NetsimError(f"{name}={setting!r}: expected a whole number of worker "
                                  "processes (0 = draw and compute in-process)") from None
    return max(0, len(os.sched_getaffinity(0)) - 1)


def pool() -> ProcessPoolExecutor | None:
    """The process-wide pool (created on first use, and again after a worker died, e.g.
    of Ctrl-C), None with no workers."""
    global _pool, _pool_workers
    workers = helper_workers()
    if workers == 0:
        return None
    if _pool is None or _pool_workers != workers or getattr(_pool, "_broken", False):
        import multiprocessing

        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        _pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_start,
                                    initargs=(os.getpid(),))
        _pool_workers = workers
    return _pool


def _worker_start(run_pid: int) -> None:
    """A worker runs numba on one thread; it leaves Ctrl-C to the run's process, which
    stops the workers it was using (:func:`share`) and reports the interruption in one
    line; and it ends when the run's process is gone, even killed outright (the forkserver
    lives as long as its workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(run_pid,), daemon=True,
                     name="netsim-orphan-watch").start()
    _import_task_modules()
    _start_numba_threads_untracked()
    import numba

    numba.set_num_threads(1)  # the run's process has the other core; its tasks run here


def _import_task_modules() -> None:
    """Import what a worker's tasks need once, before its first task: the realisation
    modules (and ``threadpoolctl``, which a realisation's first BLAS setting imports) and
    matplotlib's drawing modules; then freeze them (:func:`gc.freeze`): the worker keeps
    them for life, and the cyclic collector's full passes skip them.  The collector is paused
    while they are imported (:func:`netsim.memory.collector_paused`: ~0.2 s of CPU less on
    the 2-core EPYC)."""
    import gc

    from netsim.memory import collector_paused

    with collector_paused():
        import threadpoolctl  # noqa: F401

        import netsim.charts
        import netsim.maps
        import netsim.run  # noqa: F401
    gc.freeze()


def _start_numba_threads_untracked() -> None:
    """Start numba's thread pool with its start-up lock made as in a forked process.

    In a forkserver child numba makes that lock a named semaphore, which multiprocessing's
    resource tracker records; a worker ended by :func:`_stop_workers` (Ctrl-C, SIGTERM)
    never releases it, and the tracker then prints "There appear to be 1 leaked semaphore
    objects" on the run's stderr after its one-line report.  A "fork" context's semaphore
    is unlinked at once and not recorded; the workers start no processes of their own.
    """
    import multiprocessing

    from numba.np.ufunc import parallel

    method = multiprocessing.get_start_method(allow_none=True)
    multiprocessing.set_start_method("fork", force=True)
    try:
        parallel._launch_threads()
    finally:
        multiprocessing.set_start_method(method, force=True)


def _exit_with(pid: int) -> None:
    from netsim.atomic import process_alive

    while process_alive(pid):
        time.sleep(0.5)
    os._exit(0)


@contextmanager
def _main_hidden() -> Iterator[None]:
    """Let a new worker start without importing the caller's ``__main__`` (a script
    without a main guard would run again in every worker)."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


_submitting = threading.Lock()
"""One submission at a time (the run's thread or a feeder): each hides ``__main__``."""


def submit(executor: ProcessPoolExecutor, job: Callable[..., Any], *args: Any) -> Future:
    """``executor.submit``, which starts a worker when none is idle."""
    with _submitting, _main_hidden():
        return executor.submit(job, *args)


def warm(prepare: tuple[str, tuple] | tuple[str, tuple, dict] | None = None) -> None:
    """Start the helper workers now, without waiting: they import matplotlib and the
    realisation modules while the run's process imports its own and begins.

    ``prepare``: a task ``("module:function", args[, kwargs])`` each worker runs first (or
    next, when it is running already), e.g. building the layers and figures every map of
    the run shares while the realisations run (:func:`netsim.maps.prepare_pictures`)."""
    executor = pool()
    if executor is None:
        return
    started = len(getattr(executor, "_processes", None) or {})
    tasks = _pool_workers if prepare is not None else _pool_workers - started
    for _ in range(tasks):
        submit(executor, _started, *(prepare or ()))


def _started(job: str | None = None, args: tuple = (), kwargs: dict | None = None) -> None:
    """A task that makes the pool start a worker (:func:`warm`) and runs
    ``job(*args, **kwargs)`` (``"module:function"``) there."""
    if job is not None:
        resolve(job)(*args, **(kwargs or {}))


def resolve(job: Callable[..., Any] | str) -> Callable[..., Any]:
    """``job`` itself, or the function its name ``"module:function"`` names (imported
    here: a task queued by name leaves the import to the process that runs it)."""
    if callable(job):
        return job
    import importlib

    module, _, name = job.partition(":")
    return getattr(importlib.import_module(module), name)


def workers_peak_rss_mb() -> list[float]:
    """Peak resident memory (MB) of each live worker (``VmHWM`` of Linux's ``/proc``;
    empty without workers or elsewhere): what a run used beyond its own process."""
    peaks = []
    for pid in list(getattr(_pool, "_processes", None) or {}):  # the executor's workers
        try:
            status = open(f"/proc/{pid}/status", encoding="ascii").read()
        except OSError:
            continue
        kb = next((line.split()[1] for line in status.splitlines()
                   if line.startswith("VmHWM:")), None)
        if kb is not None:
            peaks.append(int(kb) / 1024)
    return peaks


# ----------------------------------------------------------------------------
# Sharing a list of tasks with the workers
# ----------------------------------------------------------------------------


@contextmanager
def _numba_threads(n: int) -> Iterator[None]:
    """Numba's thread count of the calling thread at most ``n``, restored afterwards."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(min(n, before))
    try:
        yield
    finally:
        numba.set_num_threads(before)


class _Claims:
    """Who computes which item: this process claims from the front, the feeder thread
    from the back (for the workers); ``futures`` holds the workers' submitted items."""

    def __init__(self, n: int) -> None:
        self.changed = threading.Condition()
        self.first, self.end = 0, n  # items[first:end] are nobody's yet
        self.futures: dict[int, Future] = {}
        self.stopped = False
        self.worker_ready = False  # a worker has finished a task: it is worth waiting for

    def claim(self, i: int, wait: bool) -> Future | None:
        """The worker's future of item ``i`` (waited for while not yet submitted, if
        ``wait``), or None: this process computes it (claimed here if nobody had it)."""
        with self.changed:
            if i < self.end:
                self.first = i + 1
                return None
            while wait and i not in self.futures:
                self.changed.wait()
            return self.futures.pop(i, None)

    def next_for_workers(self) -> int | None:
        """The last unclaimed item, claimed for the workers (None: leave the rest here)."""
        with self.changed:
            if self.stopped or self.end - self.first <= 1:
                return None
            self.end -= 1
            return self.end

    def submitted(self, i: int, future: Future | None) -> None:
        """Item ``i`` went to the workers (None: it could not; this process does it)."""
        with self.changed:
            self.futures[i] = future
            self.changed.notify_all()
        if future is not None:
            future.add_done_callback(self._finished)

    def _finished(self, future: Future) -> None:
        if not future.cancelled() and future.exception() is None:
            self.worker_ready = True

    def busy(self) -> list[Future]:
        with self.changed:
            return [f for f in self.futures.values() if f is not None and not f.done()]


def _feed(claims: _Claims, func: Callable[..., Any], items: list[Any], args: tuple,
          executor: ProcessPoolExecutor) -> None:
    """Submit items from the back, keeping each worker one task ahead (a thread: a worker
    that is still importing its modules keeps its queue full, and this process must not
    wait for it)."""
    from concurrent.futures import FIRST_COMPLETED, wait

    outstanding = 2 * executor._max_workers  # type: ignore[attr-defined]
    while (i := claims.next_for_workers()) is not None:
        try:
            future = submit(executor, func, items[i], *args)
        except BaseException:  # a broken or shut pool: the rest is done here
            claims.submitted(i, None)
            return
        claims.submitted(i, future)
        while len(busy := claims.busy()) >= outstanding and not claims.stopped:
            wait(busy, timeout=0.5, return_when=FIRST_COMPLETED)


def share(func: Callable[..., Any], items: list[Any], args: tuple,
          executor: ProcessPoolExecutor, *, idle: Callable[[], None] | None = None
          ) -> Iterator[Any]:
    """Yield ``func(item, *args)`` in item order, computed here from the first item on and
    by ``executor``'s workers from the last item back.

    ``idle`` is called once, the first time this process would wait for a worker's result
    (it has no item of its own left): work its caller would do next anyway.

    A feeder thread keeps each worker one task ahead, taken from the end of the list;
    where the two meet, this process waits for the workers' results.  A worker that has
    not yet returned anything (still starting) is not waited for: this process computes
    that item itself.  A broken pool (a worker killed) leaves the remaining items to this
    process.  While workers help, this process runs numba on one thread.  An interrupted
    or failed iteration stops the workers (:func:`pool` starts new ones when next needed).
    """
    claims = _Claims(len(items))
    threading.Thread(target=_feed, args=(claims, func, items, args, executor), daemon=True,
                     name="netsim-share").start()
    finished = False
    try:
        for i in range(len(items)):
            future = claims.claim(i, wait=claims.worker_ready)
            if future is not None and (claims.worker_ready or future.done()):
                if idle is not None and not future.done():
                    idle()
                    idle = None
                result = _worker_result(future, func, items[i], args)
            else:
                if future is not None:
                    future.cancel()
                with _numba_threads(1):
                    result = func(items[i], *args)
            yield result
        finished = True
    finally:
        with claims.changed:
            claims.stopped = True
            left = list(claims.futures.values())
        if finished:
            for future in left:
                if future is not None:
                    future.cancel()
        else:  # the stopped pool fails what it had; a future cancelled here instead would
            _stop_workers(executor)  # make its manager thread raise (CPython 3.11)


def _worker_result(future: Future, func: Callable[..., Any], item: Any, args: tuple) -> Any:
    """A worker's result; the item computed here if the pool broke (a worker died)."""
    from concurrent.futures.process import BrokenProcessPool

    try:
        return future.result()
    except BrokenProcessPool:
        return func(item, *args)


def _stop_workers(executor: ProcessPoolExecutor) -> None:
    """End the workers, and the forkserver that may be starting one, of an interrupted or
    failed iteration: nothing they compute will be read, and a worker born after this
    process ended would complain on its stderr."""
    global _pool
    from multiprocessing import forkserver

    for process in list((getattr(executor, "_processes", None) or {}).values()):
        process.terminate()
    server = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if server is not None:
        with contextlib.suppress(OSError):
            os.kill(server, signal.SIGTERM)
        with contextlib.suppress(OSError, AttributeError):
            forkserver._forkserver._stop()  # reaped; the next worker gets a new server
    if executor is _pool:
        _pool = None
    executor.shutdown(wait=False, cancel_futures=True)
