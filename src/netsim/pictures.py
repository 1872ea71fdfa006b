"""Draw a run's PNGs in worker processes while the run writes everything else.

Matplotlib draws one picture at a time per process (about 0.3 s for a two-panel map),
and a scenario run has up to ~20 of them.  :class:`Pictures` queues the drawing jobs
(:func:`netsim.maps.static_map`, :func:`netsim.charts.changes_chart`) to a pool of
worker processes, lets the run write its tables, GeoTIFFs and web map meanwhile, then
draws in-process whatever no worker has started, and waits for the rest.

* The workers are forked from a ``forkserver`` that imported matplotlib and netsim's
  drawing modules once, at low priority, while the realisations ran (:func:`warm`),
  never from the run's process with its numba and BLAS threads; the workers keep the
  low priority (``nice`` 10).  The pool lives as long as the process (``netsim sweep`` reuses it).
* Workers: ``NETSIM_PICTURE_WORKERS`` if set (``0`` = draw everything in-process),
  else one less than the CPUs this process may use (none on one CPU); none in a
  daemonic process such as a dask worker.
* Starting a worker never runs the caller's ``__main__`` script again (as
  multiprocessing's spawn and forkserver do): a planner's script needs no
  ``if __name__ == "__main__"`` guard.
* A picture does not depend on where it is drawn: same job, same bytes.
* A worker's error is raised in the run, as it would be in-process; the run
  directory is then discarded (:mod:`netsim.atomic`).
"""

from __future__ import annotations

import importlib
import os
import sys
import types
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from netsim.errors import FontWarning

__all__ = ["Pictures", "picture_workers", "warm", "workers_peak_rss_mb"]

_PRELOAD = ["netsim._picture_preload"]
_pool: ProcessPoolExecutor | None = None
_pool_workers = 0


def picture_workers() -> int:
    """Worker processes for pictures: ``NETSIM_PICTURE_WORKERS``, else CPUs − 1 (≥ 0);
    none in a daemonic process (e.g. a dask worker running a sweep's scenario), which may
    not start processes of its own."""
    import multiprocessing

    if multiprocessing.current_process().daemon:
        return 0
    setting = os.environ.get("NETSIM_PICTURE_WORKERS", "").strip()
    if setting:
        try:
            return max(0, int(setting))
        except ValueError:
            from netsim.errors import NetsimError

            raise NetsimError(f"NETSIM_PICTURE_WORKERS={setting!r}: expected a whole number "
                              "of worker processes (0 = draw in-process)") from None
    return max(0, len(os.sched_getaffinity(0)) - 1)


def _executor() -> ProcessPoolExecutor | None:
    """The process-wide pool (created on first use, and again after a worker died, e.g.
    of Ctrl-C), None with no workers."""
    global _pool, _pool_workers
    workers = picture_workers()
    if workers == 0:
        return None
    if _pool is None or _pool_workers != workers or getattr(_pool, "_broken", False):
        import multiprocessing

        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        _pool, _pool_workers = ProcessPoolExecutor(workers, mp_context=context), workers
    return _pool


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


def _submit(pool: ProcessPoolExecutor, job: Callable[..., Any], *args: Any) -> Future:
    """``pool.submit``, which starts a worker when none is idle."""
    with _main_hidden():
        return pool.submit(job, *args)


def warm() -> None:
    """Start the workers' forkserver now, without waiting: it imports matplotlib and the
    drawing modules at low priority while the run's realisations go on."""
    if _executor() is not None:
        from multiprocessing import forkserver

        forkserver.ensure_running()


def workers_peak_rss_mb() -> list[float]:
    """Peak resident memory (MB) of each live drawing worker (``VmHWM`` of Linux's
    ``/proc``; empty without workers or elsewhere): what a run used beyond its own
    process."""
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


Job = Callable[..., Any] | str
"""A drawing function, or its name ``"module:function"`` (queued without importing
matplotlib in the run's process)."""


def _resolve(job: Job) -> Callable[..., Any]:
    if callable(job):
        return job
    module, _, name = job.partition(":")
    return getattr(importlib.import_module(module), name)


def _draw(job: Job, args: tuple, kwargs: dict) -> tuple[Any, list[str]]:
    """Run one drawing job in a worker; returns its result and the font warnings it gave
    (relayed by the run's process, which shows them)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FontWarning)
        result = _resolve(job)(*args, **kwargs)
    return result, [str(w.message) for w in caught if issubclass(w.category, FontWarning)]


_relayed: set[str] = set()


def _relay(messages: list[str]) -> None:
    """Show a worker's font warnings here, each once per process."""
    for message in messages:
        if message not in _relayed:
            _relayed.add(message)
            warnings.warn(message, FontWarning, stacklevel=3)


class Pictures:
    """The drawing jobs of one run: ``add`` them, then leave the ``with`` block.

    Leaving the block draws in-process the jobs no worker has started and waits for the
    others; the first error (in submission order) is raised.  Importing matplotlib is
    left to whichever process draws.
    """

    def __init__(self) -> None:
        self._pool = _executor()
        self._jobs: list[tuple[Job, tuple, dict, Future]] = []

    def add(self, job: Job, *args: Any, **kwargs: Any) -> None:
        """Queue ``job(*args, **kwargs)`` (drawn at once when there are no workers)."""
        if self._pool is None:
            _resolve(job)(*args, **kwargs)
            return
        self._jobs.append((job, args, kwargs, _submit(self._pool, _draw, job, args, kwargs)))

    def finish(self) -> None:
        """Draw the jobs not started in-process, newest first; wait for the rest (also
        when an in-process job fails); raise the first worker error."""
        jobs, self._jobs = self._jobs, []
        try:
            for job, args, kwargs, future in reversed(jobs):
                if future.cancel():
                    _resolve(job)(*args, **kwargs)
        finally:
            done = [future for *_, future in jobs if not future.cancelled()]
            errors = [future.exception() for future in done]
        first = next((error for error in errors if error is not None), None)
        if first is not None:
            raise first
        for future in done:
            _relay(future.result()[1])

    def __enter__(self) -> Pictures:
        return self

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if kind is None:
            self.finish()
            return
        jobs, self._jobs = self._jobs, []
        for *_, future in jobs:  # the run failed: drop the queued jobs and let the
            future.cancel()      # running ones end before the run directory goes
        for *_, future in jobs:
            if not future.cancelled():
                future.exception()
