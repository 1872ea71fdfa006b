"""Process memory: hand freed heap back to the operating system.

A realisation allocates and frees tens of MB of NumPy and pandas temporaries, and a
drawing job several MB of image buffers.  glibc's allocator, and Arrow's (pandas' string
columns), keep freed pages for reuse, so a process at rest would keep holding its peak
while another process of the run (the run's own, writing its outputs, or a helper
worker, :mod:`netsim.workers`) reaches its own.  :func:`release_free_heap` after each
task returns those pages.

Some caches serve one kind of work only: the truth world a process builds for its
realisations (:mod:`netsim.run`) is of no use to it while it writes outputs or draws.
Such caches are marked :func:`rebuildable`; :func:`drop_rebuildable_caches` empties
them when a process moves on (a sweep's next scenario builds its world again).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

__all__ = ["collector_paused", "drop_rebuildable_caches", "rebuildable", "release_free_heap"]

_rebuildable: list = []


@cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None


def release_free_heap() -> bool:
    """Return the free pages of Arrow's memory pool and of the C heap (glibc
    ``malloc_trim(0)``) to the operating system.

    A few milliseconds; nothing a process still uses is touched.

    Returns
    -------
    bool
        True when the C library has ``malloc_trim`` (glibc); False elsewhere, a no-op.
    """
    arrow = sys.modules.get("pyarrow")
    if arrow is not None:  # imported by pandas for its string columns
        arrow.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def rebuildable(cached):
    """Mark a :func:`functools.lru_cache`-decorated function as a cache its process can
    rebuild when it needs it again (a decorator; returns ``cached``)."""
    _rebuildable.append(cached)
    return cached


def drop_rebuildable_caches() -> bool:
    """Empty every :func:`rebuildable` cache and, when any held entries,
    :func:`release_free_heap` (~15 ms after a picture, whose pages the next one uses again).

    Returns
    -------
    bool
        True when a cache held entries.
    """
    held = [cached for cached in _rebuildable if cached.cache_info().currsize]
    for cached in held:
        cached.cache_clear()
    if held:
        release_free_heap()
    return bool(held)


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector paused for the block, then its youngest generation
    collected (:func:`gc.collect` ``(0)``), where the block's objects still are.

    For work that allocates many short-lived objects at once (a picture, a run's
    outputs): the collector's automatic passes would promote them, and count towards
    full collections of the whole heap.  The collector is on again afterwards, also when
    the block fails; a caller that had turned it off finds it off."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
    gc.collect(0)
