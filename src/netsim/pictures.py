"""Draw a run's PNGs in worker processes while the run writes everything else.

Matplotlib draws one picture at a time per process (about 0.1 s for a two-panel map),
and a scenario run has up to ~20 of them.  :class:`Pictures` queues the drawing jobs
(:func:`netsim.maps.static_map`, :func:`netsim.charts.changes_chart`) to a pool of
worker processes, lets the run write its tables, GeoTIFFs and web map meanwhile, then
draws in-process the newest of the jobs no worker has started (all but the
:data:`LEFT_TO_WORKERS` oldest), and waits for the rest.

* The workers are the process's helper workers (:mod:`netsim.workers`), which imported
  matplotlib once, while the run began; ``NETSIM_WORKERS`` sets how many (``0`` = draw
  everything in-process).
* A picture does not depend on where it is drawn: same job, same bytes.
* A worker's error is raised in the run, as it would be in-process; the run
  directory is then discarded (:mod:`netsim.atomic`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from netsim import workers
from netsim.errors import FontWarning
from netsim.memory import collector_paused, drop_rebuildable_caches
from netsim.workers import warm, workers_peak_rss_mb

__all__ = ["Pictures", "picture_workers", "warm", "workers_peak_rss_mb"]


def picture_workers() -> int:
    """Worker processes that draw pictures: :func:`netsim.workers.helper_workers`."""
    return workers.helper_workers()


Job = Callable[..., Any] | str
"""A drawing function, or its name ``"module:function"`` (queued without importing
matplotlib in the run's process)."""


def _draw(job: Job, args: tuple, kwargs: dict) -> tuple[Any, list[str]]:
    """Run one drawing job in a worker; returns its result and the font warnings it gave
    (relayed by the run's process, which shows them)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FontWarning)
        result = _drawn(job, args, kwargs)
    return result, [str(w.message) for w in caught if issubclass(w.category, FontWarning)]


def _drawn(job: Job, args: tuple, kwargs: dict) -> Any:
    """``job(*args, **kwargs)`` with the cyclic collector paused, then what the picture
    left freed (:func:`netsim.memory.collector_paused`), and a worker's caches of other
    work (the truth world of its realisations: :func:`netsim.memory.drop_rebuildable_caches`).

    Drawing allocates ~100,000 short-lived objects a picture; the collector's automatic
    passes promoted them, and the collections of the young generation after each
    picture counted towards full ones: two full collections in a helper's 19 pictures
    of ``fyp14_expansion`` took 52 and 85 ms (traced, EPYC).  Paused, a picture's objects
    stay in the youngest generation, and one collection of it frees the picture's
    garbage, ``changes.png``'s whole figure included (the helper's collections during
    those 19 pictures then took ~20 ms in all, none of them full).  A map is shown on a
    figure its process reuses (:func:`netsim.maps.static_map`), so little of it is
    garbage: after 54 maps so drawn, a full collection found 2,640 unreachable objects
    and left the resident memory where collecting the two young generations after each
    map had left it (359 MB)."""
    with collector_paused():
        result = workers.resolve(job)(*args, **kwargs)
    drop_rebuildable_caches()
    return result


_relayed: set[str] = set()


def _relay(messages: list[str]) -> None:
    """Show a worker's font warnings here, each once per process."""
    for message in messages:
        if message not in _relayed:
            _relayed.add(message)
            warnings.warn(message, FontWarning, stacklevel=3)


LEFT_TO_WORKERS = 8
"""Jobs not yet started that :meth:`Pictures.finish` leaves to the workers.  A process
that has not drawn yet spends ~0.7 s importing netsim's drawing modules and building its
first figure before its first map is written (EPYC, traced in ``fyp14_expansion``): about
what a worker takes for eight maps (0.07-0.12 s each).  ``changes.png``, the largest job,
is queued ahead of the maps (:meth:`Pictures.add_first`), so it is never the one left."""


class Pictures:
    """The drawing jobs of one run: ``add`` them, then leave the ``with`` block.

    Leaving the block draws in-process the jobs no worker has started beyond the
    :data:`LEFT_TO_WORKERS` oldest and waits for the others; the first error (in
    submission order) is raised.  Importing matplotlib is
    left to whichever process draws.
    """

    def __init__(self) -> None:
        self._pool = workers.pool()
        self._jobs: list[tuple[Job, tuple, dict, Future]] = []

    def add(self, job: Job, *args: Any, **kwargs: Any) -> None:
        """Queue ``job(*args, **kwargs)`` (drawn at once when there are no workers)."""
        if self._pool is None:
            workers.resolve(job)(*args, **kwargs)
            return
        self._jobs.append((job, args, kwargs, workers.submit(self._pool, _draw, job, args, kwargs)))

    def add_first(self, job: Job, *args: Any, **kwargs: Any) -> None:
        """Queue ``job(*args, **kwargs)`` ahead of the jobs no worker has started.

        For a long job queued late (``changes.png``, once the run has summarised): started
        by a worker next, it is not left last, to one worker, while the others are done."""
        behind = [entry for entry in self._jobs if entry[3].cancel()]
        self._jobs = [entry for entry in self._jobs if not entry[3].cancelled()]
        self.add(job, *args, **kwargs)
        for queued_job, queued_args, queued_kwargs, _ in behind:
            self.add(queued_job, *queued_args, **queued_kwargs)

    def finish(self) -> None:
        """Draw in-process, newest first, the jobs not started beyond the
        :data:`LEFT_TO_WORKERS` oldest; wait for the rest (also when an in-process job
        fails); raise the first worker error."""
        jobs, self._jobs = self._jobs, []
        try:
            waiting = [entry for entry in jobs if not entry[3].running()
                       and not entry[3].done()]
            for job, args, kwargs, future in reversed(waiting[LEFT_TO_WORKERS:]):
                if future.cancel():
                    _drawn(job, args, kwargs)
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
