"""Where a run's time goes: wall-clock seconds per stage, for benchmarks.

A :class:`StageTimes` collects seconds under named stages (:data:`STAGES`) while it is
active (:func:`collecting`); code marks its stages with :func:`stage`, which costs two
clock reads and does nothing when no collection is active.  :func:`netsim.run.run_scenario`
collects the stages of each realisation where it runs (in-process or on a dask worker:
the times travel back with the realisation's result) and stores their sums in
``summary.json`` under ``"timing"``, a key that is not part of the run's results (it
differs from run to run, like the executor's address).

Example
-------
>>> with collecting() as times:
...     with stage("statistics"):
...         pass
>>> sorted(times.seconds) == sorted(STAGES)
True
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = ["STAGES", "StageTimes", "collecting", "stage"]

STAGES: tuple[str, ...] = ("truth", "sampling", "statistics", "kriging", "metrics", "outputs")
"""Stages of a run: the truth's grid fields; the stations' hourly readings; the
statement's statistics and the stations' annual means; variogram fits, kriged maps
and their checks (time-resolved maps included); NetAssess station metrics; summary
and output files."""


@dataclass
class StageTimes:
    """Seconds per stage (every stage of :data:`STAGES`, zero until timed)."""

    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    def add(self, other: Mapping[str, float]) -> None:
        """Add another collection's seconds (e.g. a realisation's)."""
        for name, value in other.items():
            self.seconds[name] = self.seconds.get(name, 0.0) + float(value)

    def rounded(self, digits: int = 3) -> dict[str, float]:
        """The seconds rounded for ``summary.json``."""
        return {name: round(value, digits) for name, value in self.seconds.items()}


_ACTIVE: ContextVar[StageTimes | None] = ContextVar("netsim_stage_times", default=None)


@contextmanager
def collecting() -> Iterator[StageTimes]:
    """Collect the stages timed inside the block into a new :class:`StageTimes`
    (nested collections are separate: an inner one does not feed the outer)."""
    times = StageTimes()
    token = _ACTIVE.set(times)
    try:
        yield times
    finally:
        _ACTIVE.reset(token)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Add the block's wall-clock seconds to stage ``name`` of the active collection."""
    times = _ACTIVE.get()
    if times is None:
        yield
        return
    start = time.perf_counter()
    try:
        yield
    finally:
        times.seconds[name] = times.seconds.get(name, 0.0) + time.perf_counter() - start
